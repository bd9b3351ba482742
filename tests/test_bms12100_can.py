"""The 12100 BMS CAN layout (DBC), its codec and the inverter's view of the battery."""

from __future__ import annotations

import dataclasses
import re
import uuid
from pathlib import Path
from typing import Any

import can
import cantools
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hil.duts.bms12100.protocol.can_codec import (
    BMS_FRAME_IDS,
    DBC_PATH,
    FLAG_BITS,
    FLAG_IDS,
    FLAG_SIGNALS,
    MANUFACTURER_KEY,
    InverterView,
    decode_frame,
    encode_telemetry,
    flag_ids,
    load_database,
)
from hil.duts.bms12100.protocol.snapshot import Mode, Telemetry
from hil.errors import ProtocolError
from hil.protocols.can_errors import FrameContentError, FrameLengthError, UnknownFrameError

DOC = Path(__file__).resolve().parents[1] / "docs" / "protocols" / "bms12100-can.md"

# The Pylontech LV layout of 0x359 written out independently of the DBC: signal -> (byte, bit).
PYLON_359_BITS = {
    "ProtOverVoltage": (0, 1),
    "ProtUnderVoltage": (0, 2),
    "ProtOverTemperature": (0, 3),
    "ProtUnderTemperature": (0, 4),
    "ProtDischargeOverCurrent": (0, 7),
    "ProtChargeOverCurrent": (1, 0),
    "ProtSystemError": (1, 3),
    "AlarmHighVoltage": (2, 1),
    "AlarmLowVoltage": (2, 2),
    "AlarmHighTemperature": (2, 3),
    "AlarmLowTemperature": (2, 4),
    "AlarmDischargeHighCurrent": (2, 7),
    "AlarmChargeHighCurrent": (3, 0),
    "AlarmInternalCommFail": (3, 3),
}

# Every requirement ID the twin can put in Telemetry.active.
ALL_ACTIVE_IDS = {
    *("CV-OVP", "PV-OVP", "CV-UVP", "PV-UVP", "CV-HA", "CV-LA", "PV-HA", "PV-LA"),
    *("TC-OTP", "TC-UTP", "TD-OTP", "TD-UTP", "TE-OTP", "TE-UTP", "TP-OTP"),
    *("TC-HA", "TC-LA", "TD-HA", "TD-LA", "TE-HA", "TE-LA", "TP-HA"),
    *("IC-A", "IC-OCP", "ID-A", "ID-OCP", "ID-TOCP", "SCP", "CHG-HV", "CELL-FAIL"),
    *("SOC-LA", "SOC-LP", "ID-TLOCK", "SCP-LOCK"),
}


def telemetry(**changes: Any) -> Telemetry:
    """A plausible snapshot of a pack discharging at room temperature."""
    base = Telemetry(
        cell_mv=[3320, 3321, 3319, 3320],
        temperatures_c=[25.4, 24.9, 23.0, 31.0],
        pack_v=13.28,
        current_a=-12.3,
        soc_pct=55.4,
        soh_pct=98.0,
        remaining_ah=55.4,
        full_ah=100.0,
        cycles=12,
        mode=Mode.DISCHARGE,
        charge_fet=True,
        discharge_fet=True,
    )
    return dataclasses.replace(base, **changes)


def frames(t: Telemetry, **kwargs: Any) -> dict[int, bytes]:
    return dict(encode_telemetry(t, **kwargs))


def view_of(t: Telemetry) -> InverterView:
    view = InverterView()
    for frame_id, data in encode_telemetry(t):
        view.update(frame_id, data, 0.0)
    return view


# --- the DBC -------------------------------------------------------------------------------------


def test_dbc_loads_in_strict_mode_with_nodes_comments_and_cycle_times() -> None:
    db = cantools.database.load_file(DBC_PATH, database_format="dbc", strict=True)
    assert isinstance(db, cantools.database.can.Database)
    assert {n.name for n in db.nodes} == {"BMS12100", "INVERTER"}
    assert {m.frame_id for m in db.messages} == {*BMS_FRAME_IDS, 0x305}
    for msg in db.messages:
        assert msg.comment, msg.name
        assert msg.senders == (["INVERTER"] if msg.frame_id == 0x305 else ["BMS12100"])
        assert all(s.byte_order == "little_endian" for s in msg.signals), msg.name
        assert all(s.receivers for s in msg.signals), msg.name
        if msg.frame_id != 0x305:
            assert msg.cycle_time == 1000
    text = DBC_PATH.read_text(encoding="ascii")
    assert re.search(r'^CM_ ".*Pylontech.*confirmed against the vendor', text, re.MULTILINE)


def test_dbc_dlcs_follow_the_pylontech_layout() -> None:
    lengths = {m.frame_id: m.length for m in load_database().messages}
    assert lengths == {0x305: 8, 0x351: 8, 0x355: 4, 0x356: 6, 0x359: 7, 0x35C: 2, 0x35E: 8}


def test_load_database_is_loaded_once() -> None:
    assert load_database() is load_database()


# --- each message against hand-computed bytes ----------------------------------------------------


def test_0x356_hand_computed_bytes() -> None:
    # 13.28 V -> 1328 = 0x0530, -12.3 A -> -123 = 0xFF85, 25.4 degC -> 254 = 0x00FE, low byte first
    expected = bytes([0x30, 0x05, 0x85, 0xFF, 0xFE, 0x00])
    msg = load_database().get_message_by_frame_id(0x356)
    assert msg.encode({"PackVoltage": 13.28, "PackCurrent": -12.3, "PackTemperature": 25.4}) == expected
    assert frames(telemetry())[0x356] == expected
    assert decode_frame(0x356, expected) == {
        "PackVoltage": 13.28,
        "PackCurrent": -12.3,
        "PackTemperature": 25.4,
    }


def test_0x356_public_capture_of_a_pylontech_pack() -> None:
    # 0x137A = 4986, 0xFEF2 = -270, 0x016B = 363
    values = decode_frame(0x356, bytes.fromhex("7A13F2FE6B01"))
    assert values == {"PackVoltage": 49.86, "PackCurrent": -27.0, "PackTemperature": 36.3}


def test_0x351_limits() -> None:
    # 14.2 V -> 142 = 0x008E, 100 A -> 1000 = 0x03E8, 11.2 V -> 112 = 0x0070
    assert frames(telemetry())[0x351] == bytes([0x8E, 0x00, 0xE8, 0x03, 0xE8, 0x03, 0x70, 0x00])
    # public capture: 0x0214 = 53.2 V, 0x0E74 = 370.0 A twice, 0x01CC = 46.0 V
    assert decode_frame(0x351, bytes.fromhex("1402740E740ECC01")) == {
        "ChargeVoltageLimit": 53.2,
        "ChargeCurrentLimit": 370.0,
        "DischargeCurrentLimit": 370.0,
        "DischargeVoltageLimit": 46.0,
    }


def test_0x355_soc_soh() -> None:
    assert decode_frame(0x355, bytes([0x1A, 0x00, 0x64, 0x00])) == {"StateOfCharge": 26, "StateOfHealth": 100}
    assert frames(telemetry(soc_pct=55.4, soh_pct=98.0))[0x355] == bytes([55, 0, 98, 0])


def test_0x359_public_capture_and_twin_frame_without_flags() -> None:
    values = decode_frame(0x359, bytes.fromhex("0000000006504E"))
    assert all(values[f] == 0 for f in FLAG_SIGNALS)
    assert (values["ModuleCount"], values["MarkerP"], values["MarkerN"]) == (6, ord("P"), ord("N"))
    assert frames(telemetry())[0x359] == bytes([0, 0, 0, 0, 1, 0x50, 0x4E])
    assert frames(telemetry(), module_count=3)[0x359][4] == 3


@pytest.mark.parametrize("signal", FLAG_SIGNALS)
def test_0x359_each_flag_sits_on_its_pylontech_bit(signal: str) -> None:
    byte, bit = PYLON_359_BITS[signal]
    msg = load_database().get_message_by_frame_id(0x359)
    values = {s.name: 0 for s in msg.signals}
    data = msg.encode({**values, signal: 1})
    expected = bytearray(7)
    expected[byte] = 1 << bit
    assert data == bytes(expected)
    assert decode_frame(0x359, data)[signal] == 1


def test_0x35c_request_bits() -> None:
    values = decode_frame(0x35C, bytes([0xC0, 0x00]))
    assert values == {
        "ChargeEnable": 1,
        "DischargeEnable": 1,
        "ForceChargeRequestI": 0,
        "ForceChargeRequestII": 0,
        "FullChargeRequest": 0,
    }
    assert decode_frame(0x35C, bytes([0x38, 0x00]))["FullChargeRequest"] == 1
    assert frames(telemetry())[0x35C] == bytes([0xC0, 0x00])
    assert frames(telemetry(charge_fet=False))[0x35C] == bytes([0x40, 0x00])
    assert frames(telemetry(discharge_fet=False, active=frozenset({"PV-UVP"})))[0x35C] == bytes([0x90, 0])
    assert frames(telemetry(active=frozenset({"SOC-LA"})))[0x35C] == bytes([0xE0, 0x00])


def test_0x35e_manufacturer() -> None:
    assert frames(telemetry())[0x35E] == b"PYLON   "
    assert frames(telemetry(), manufacturer="ACME")[0x35E] == b"ACME    "
    values = decode_frame(0x35E, b"PYLON   ")
    assert values[MANUFACTURER_KEY] == "PYLON"
    assert values["ManufacturerChar0"] == ord("P")
    assert decode_frame(0x35E, b"ABC\x00\x00\x00\x00\x00")[MANUFACTURER_KEY] == "ABC"


def test_0x305_keepalive_from_the_inverter() -> None:
    assert decode_frame(0x305, bytes(8)) == {"KeepAliveData": 0}
    view = InverterView()
    view.update(0x305, bytes(8), 7.5)
    assert view.updated == {0x305: 7.5}


# --- encode_telemetry -> InverterView round trip -------------------------------------------------


def test_encode_telemetry_sends_the_six_frames_in_id_order() -> None:
    out = encode_telemetry(telemetry())
    assert [i for i, _ in out] == list(BMS_FRAME_IDS)
    lengths = {m.frame_id: m.length for m in load_database().messages}
    assert all(len(data) == lengths[i] for i, data in out)


@settings(max_examples=200, deadline=None)
@given(
    pack_v=st.floats(0.0, 30.0),
    current_a=st.floats(-300.0, 300.0),
    cell1=st.floats(-40.0, 120.0),
    cell2=st.floats(-40.0, 120.0),
    soc=st.floats(0.0, 100.0),
    soh=st.floats(0.0, 100.0),
    cvl=st.floats(0.0, 20.0),
    ccl=st.floats(0.0, 200.0),
    dcl=st.floats(0.0, 200.0),
    dvl=st.floats(0.0, 20.0),
    chg=st.booleans(),
    dsg=st.booleans(),
)
def test_round_trip_recovers_values_within_resolution(
    pack_v: float,
    current_a: float,
    cell1: float,
    cell2: float,
    soc: float,
    soh: float,
    cvl: float,
    ccl: float,
    dcl: float,
    dvl: float,
    chg: bool,
    dsg: bool,
) -> None:
    t = telemetry(
        pack_v=pack_v,
        current_a=current_a,
        temperatures_c=[cell1, cell2, 20.0, 150.0],
        soc_pct=soc,
        soh_pct=soh,
        charge_voltage_limit_v=cvl,
        charge_current_limit_a=ccl,
        discharge_current_limit_a=dcl,
        discharge_voltage_limit_v=dvl,
        charge_fet=chg,
        discharge_fet=dsg,
    )
    view = view_of(t)
    eps = 1e-9
    assert view.voltage_v is not None and abs(view.voltage_v - pack_v) <= 0.005 + eps
    assert view.current_a is not None and abs(view.current_a - current_a) <= 0.05 + eps
    assert view.temperature_c is not None and abs(view.temperature_c - max(cell1, cell2)) <= 0.05 + eps
    assert view.soc_pct is not None and abs(view.soc_pct - soc) <= 0.5 + eps
    assert view.soh_pct is not None and abs(view.soh_pct - soh) <= 0.5 + eps
    assert view.charge_voltage_limit_v is not None and abs(view.charge_voltage_limit_v - cvl) <= 0.05 + eps
    assert view.charge_current_limit_a is not None and abs(view.charge_current_limit_a - ccl) <= 0.05 + eps
    assert view.discharge_current_limit_a is not None
    assert abs(view.discharge_current_limit_a - dcl) <= 0.05 + eps
    assert view.discharge_voltage_limit_v is not None
    assert abs(view.discharge_voltage_limit_v - dvl) <= 0.05 + eps
    assert ("ChargeEnable" in view.requests) is chg
    assert ("DischargeEnable" in view.requests) is dsg
    assert view.flags == frozenset()
    assert (view.module_count, view.marker, view.manufacturer) == (1, "PN", "PYLON")


def test_values_outside_a_field_saturate() -> None:
    view = view_of(telemetry(soc_pct=150.0, current_a=-5000.0, pack_v=400.0))
    assert (view.soc_pct, view.current_a, view.voltage_v) == (100, -3276.8, 327.67)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_values_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="PackVoltage"):
        encode_telemetry(telemetry(pack_v=bad))


@pytest.mark.parametrize("name", ["TOO-LONG-NAME", "PYL\u00d6N", "A\tB"])
def test_bad_manufacturer_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="manufacturer"):
        encode_telemetry(telemetry(), manufacturer=name)


# --- requirement IDs <-> 0x359 bits ---------------------------------------------------------------


def test_every_id_the_twin_reports_has_a_documented_bit() -> None:
    assert set(FLAG_BITS) == ALL_ACTIVE_IDS
    assert set(FLAG_BITS.values()) <= set(FLAG_SIGNALS)


@pytest.mark.parametrize("req_id", sorted(ALL_ACTIVE_IDS))
def test_each_active_id_sets_its_documented_bit_and_only_that(req_id: str) -> None:
    data = frames(telemetry(active=frozenset({req_id})))[0x359]
    byte, bit = PYLON_359_BITS[FLAG_BITS[req_id]]
    expected = bytearray([0, 0, 0, 0, 1, 0x50, 0x4E])
    expected[byte] |= 1 << bit
    assert data == bytes(expected)
    view = view_of(telemetry(active=frozenset({req_id})))
    assert view.flags == {FLAG_BITS[req_id]}
    assert req_id in flag_ids(view)
    assert flag_ids(view) == FLAG_IDS[FLAG_BITS[req_id]]


def test_flag_ids_is_the_many_to_one_inverse() -> None:
    view = view_of(telemetry(active=frozenset({"CV-OVP", "TE-HA"})))
    assert view.protections == {"ProtOverVoltage"}
    assert view.alarms == {"AlarmHighTemperature"}
    assert flag_ids(view) == {"CV-OVP", "PV-OVP", "CHG-HV", "TC-HA", "TD-HA", "TE-HA", "TP-HA"}
    assert FLAG_IDS["AlarmInternalCommFail"] == frozenset()
    comm_fail = InverterView()
    comm_fail.update(0x359, bytes([0, 0, 0, 0x08, 1, 0x50, 0x4E]), 0.0)
    assert comm_fail.flags == {"AlarmInternalCommFail"}
    assert flag_ids(comm_fail) == frozenset()


def test_ids_without_a_can_bit_are_left_out() -> None:
    assert frames(telemetry(active=frozenset({"BAL-START"})))[0x359] == bytes([0, 0, 0, 0, 1, 0x50, 0x4E])


def test_doc_table_matches_the_code_table() -> None:
    row = re.compile(r"^\| (\d)\.(\d) \| (\w+) \| [^|]+ \| ([^|]+) \|$", re.MULTILINE)
    rows = row.findall(DOC.read_text("utf-8"))
    documented = {sig: (int(b), int(bit), cell.strip()) for b, bit, sig, cell in rows}
    assert set(documented) == set(FLAG_SIGNALS)
    for sig, (byte, bit, cell) in documented.items():
        assert (byte, bit) == PYLON_359_BITS[sig]
        ids = set() if cell.startswith("—") else {i.strip() for i in cell.split(",")}
        assert ids == FLAG_IDS[sig], sig


# --- bad frames -----------------------------------------------------------------------------------


@pytest.mark.parametrize("frame_id", [0x350, 0x35A, 0x35F, 0x360, 0x000, 0x7FF])
def test_unknown_id_raises(frame_id: int) -> None:
    with pytest.raises(UnknownFrameError, match=f"{frame_id:#x}"):
        decode_frame(frame_id, bytes(8))


def test_extended_id_raises() -> None:
    with pytest.raises(UnknownFrameError, match="extended"):
        decode_frame(0x351, bytes(8), is_extended_id=True)


@pytest.mark.parametrize(("frame_id", "length"), [(0x356, 5), (0x356, 7), (0x359, 8), (0x355, 6), (0x35C, 0)])
def test_wrong_length_raises(frame_id: int, length: int) -> None:
    with pytest.raises(FrameLengthError, match=f"{length} data bytes"):
        decode_frame(frame_id, bytes(length))


def test_non_ascii_manufacturer_raises() -> None:
    with pytest.raises(FrameContentError, match="ASCII"):
        decode_frame(0x35E, b"PYL\xd6N   ")
    with pytest.raises(FrameContentError):
        decode_frame(0x35E, b"PY\x00LON  ")


def test_codec_errors_are_protocol_errors() -> None:
    for cls in (UnknownFrameError, FrameLengthError, FrameContentError):
        assert issubclass(cls, ProtocolError)


def test_bad_frame_leaves_the_view_unchanged() -> None:
    view = view_of(telemetry())
    before = dataclasses.replace(view, updated=dict(view.updated))
    with pytest.raises(ProtocolError):
        view.update(0x356, bytes(5), 99.0)
    assert view == before


@settings(max_examples=500, deadline=None)
@given(frame_id=st.integers(0x350, 0x360), data=st.binary(min_size=0, max_size=8))
def test_random_frames_raise_nothing_but_protocol_error(frame_id: int, data: bytes) -> None:
    try:
        values = decode_frame(frame_id, data)
    except ProtocolError:
        return
    assert all(isinstance(v, int | float | str) for v in values.values())
    InverterView().update(frame_id, data, 0.0)


# --- freshness ------------------------------------------------------------------------------------


def test_stale_lists_missing_and_old_frames() -> None:
    view = InverterView()
    assert view.stale(0.0) == BMS_FRAME_IDS
    for i, (frame_id, data) in enumerate(encode_telemetry(telemetry())):
        view.update(frame_id, data, float(i))
    assert view.stale(5.0) == (0x351, 0x355)
    assert view.stale(5.0, max_age_s=10.0) == ()


# --- how a user decodes a capture with python-can and cantools -----------------------------------


def test_decode_a_captured_can_message_with_python_can_and_cantools() -> None:
    db = load_database()
    captured = can.Message(
        timestamp=1700000000.25,
        arbitration_id=0x356,
        is_extended_id=False,
        data=bytes.fromhex("300585FFFE00"),
    )
    # plain cantools: look the frame up by its ID and decode the payload
    assert db.decode_message(captured.arbitration_id, bytes(captured.data)) == pytest.approx(
        {"PackVoltage": 13.28, "PackCurrent": -12.3, "PackTemperature": 25.4}
    )
    assert db.get_message_by_frame_id(captured.arbitration_id).name == "BatteryMeasurements"
    # the codec on top: checked length and ID format, values rounded to the field's resolution
    values = decode_frame(captured.arbitration_id, captured.data, captured.is_extended_id)
    assert values["PackVoltage"] == 13.28
    view = InverterView()
    view.update(captured.arbitration_id, captured.data, captured.timestamp)
    assert (view.voltage_v, view.updated) == (13.28, {0x356: 1700000000.25})


def test_frames_over_a_virtual_bus_reach_the_inverter_view() -> None:
    channel = f"bms12100-{uuid.uuid4()}"
    with (
        can.Bus(interface="virtual", channel=channel) as bms,
        can.Bus(interface="virtual", channel=channel) as inverter,
    ):
        for frame_id, data in encode_telemetry(telemetry(active=frozenset({"IC-OCP"}))):
            bms.send(can.Message(arbitration_id=frame_id, data=data, is_extended_id=False))
        view = InverterView()
        for _ in BMS_FRAME_IDS:
            msg = inverter.recv(timeout=1.0)
            assert msg is not None
            view.update(msg.arbitration_id, msg.data, msg.timestamp)
    assert view.stale(max(view.updated.values())) == ()
    assert view.flags == {"ProtChargeOverCurrent"}
    assert flag_ids(view) == {"IC-OCP"}
    assert view.manufacturer == "PYLON"
