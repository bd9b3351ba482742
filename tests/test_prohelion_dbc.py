"""The Prohelion BMS D1000 Gen2 CAN layout: the DBC generator, ID collisions and the codec.

The documented IDs are embedded below so the core checks run without the shared folder; the
vendor's message table (references/prohelion-d1000-gen2/Messages_and_Signals.md) is also parsed and
every message and signal compared field by field; without the shared documents (a clone alone)
that comparison is skipped, saying why.
"""

from __future__ import annotations

import math
import re
import struct
from pathlib import Path
from typing import Any

import can
import cantools
import pytest
from cantools.database.can import Database
from hypothesis import given, settings
from hypothesis import strategies as st
from shared_docs import SHARED, require_shared

from hil.duts.prohelion_d1000_gen2.protocol import dbc
from hil.duts.prohelion_d1000_gen2.protocol.can_codec import (
    CanEncodeError,
    D1000CanCodec,
    DecodedFrame,
    EncodedFrame,
)
from hil.duts.prohelion_d1000_gen2.protocol.dbc import (
    CanIdCollisionError,
    CanIdConfigError,
    CanIdRangeError,
    build_database,
    layout,
    max_node_count,
    render_dbc,
)
from hil.errors import ConfigError, ProtocolError
from hil.protocols.can_errors import CanFrameError, FrameLengthError, UnknownFrameError

MESSAGES_MD = SHARED / "references/prohelion-d1000-gen2/Messages_and_Signals.md"

# Messages_and_Signals.md "Contents", default base 0x600: fixed messages and node 0's messages.
DOCUMENTED_IDS: dict[str, int] = {
    "DeviceHeartbeat": 0x600,
    "DeviceFirmwareInfo": 0x601,
    "BMSInfo": 0x606,
    "BMSCurrentData": 0x607,
    "BMSVoltageData": 0x608,
    "BMSAuxiliaryData": 0x609,
    "BMSSoCData": 0x60A,
    "BMSSoPData": 0x60C,
    "NodeInfo": 0x60D,
    "NodeCellInfo": 0x60E,
    "NodeTempInfo": 0x60F,
    "Node0VoltageInfo": 0x610,
    "Node0CellVoltages1": 0x611,
    "Node0CellVoltages2": 0x612,
    "Node0CellVoltages3": 0x613,
    "Node0CellVoltages4": 0x614,
    "Node0CellTemps": 0x615,
    "Node0Stats": 0x616,
    "Node0Diagnostics": 0x617,
    "HVILInfo": 0x6EF,
    "ContactorInfo": 0x6F0,
    "DeviceWatchdogInfo": 0x6F1,
    "DeviceSelftestInfo": 0x6F2,
    "NodeDiagnostics": 0x6F3,
    "NodeStats": 0x6F4,
    "NodeCellStats": 0x6F5,
    "NodeTempStats": 0x6F6,
    "NodeStatusRegisters": 0x6F7,
    "SensorData1": 0x6F8,
    "SensorData2": 0x6F9,
    "BMSCommands": 0x6FA,
}
NODE_KIND_OFFSETS = {
    "VoltageInfo": 0,
    "CellVoltages1": 1,
    "CellVoltages2": 2,
    "CellVoltages3": 3,
    "CellVoltages4": 4,
    "CellTemps": 5,
    "Stats": 6,
    "Diagnostics": 7,
}
FIXED_COUNT = 23


@pytest.fixture(scope="module")
def default_db() -> Database:
    return build_database(0x600, 1)


@pytest.fixture(scope="module")
def codec() -> D1000CanCodec:
    return D1000CanCodec(0x600, 3)


# ------------------------------------------------------------------ the vendor's table, parsed


def parse_message_table(text: str) -> list[dict[str, Any]]:
    """Every message section of Messages_and_Signals.md with its signal rows (node n written as 0)."""
    text = text.replace("&#x1D45B;", "0").replace("\U0001d45b", "0")
    sections = re.split(r"^## ", text, flags=re.MULTILINE)[1:]
    messages: list[dict[str, Any]] = []
    for section in sections:
        name = section.splitlines()[0].strip()
        id_match = re.search(r"^- ID: (0x[0-9a-fA-F]+)", section, flags=re.MULTILINE)
        if id_match is None:
            continue  # the Contents table
        length = int(re.search(r"^- Length: (\d+)", section, flags=re.MULTILINE).group(1))  # type: ignore[union-attr]
        signals = []
        for line in section.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) != 11 or cells[0] in ("Name", "") or set(cells[0]) <= set("-"):
                continue
            sig_name, comment, unit, start, size, signed, scale, offset, low, high, order = cells
            signals.append(
                {
                    "name": sig_name,
                    "choices": dict((int(v), t) for v, t in re.findall(r"<li>(\d+): ([^<]+)</li>", comment)),
                    "unit": unit,
                    "start": int(start),
                    "length": int(size),
                    "signed": signed == "True",
                    "scale": float(scale),
                    "offset": float(offset),
                    "range": (low, high),
                    "order": order,
                }
            )
        messages.append(
            {"name": name, "id": int(id_match.group(1), 16), "length": length, "signals": signals}
        )
    return messages


@pytest.fixture(scope="module")
def vendor_table() -> list[dict[str, Any]]:
    require_shared(MESSAGES_MD, "the vendor's message table")
    table = parse_message_table(MESSAGES_MD.read_text(encoding="utf-8"))
    assert len(table) == 31
    return table


def test_every_documented_message_is_in_the_database_with_its_id(default_db: Database) -> None:
    got = {m.name: m.frame_id for m in default_db.messages}
    assert got == DOCUMENTED_IDS
    assert all(m.length == 8 and not m.is_extended_frame for m in default_db.messages)


def test_the_embedded_ids_equal_the_vendor_table(vendor_table: list[dict[str, Any]]) -> None:
    assert {m["name"]: m["id"] for m in vendor_table} == DOCUMENTED_IDS


def test_every_signal_equals_the_vendor_table(
    default_db: Database, vendor_table: list[dict[str, Any]]
) -> None:
    compared = 0
    for documented in vendor_table:
        msg = default_db.get_message_by_frame_id(documented["id"])
        assert msg.name == documented["name"]
        assert msg.length == documented["length"]
        assert [s.name for s in msg.signals] == [s["name"] for s in documented["signals"]], msg.name
        for want in documented["signals"]:
            sig = msg.get_signal_by_name(want["name"])
            where = f"{msg.name}.{sig.name}"
            assert want["order"] == "little_endian" and sig.byte_order == "little_endian", where
            assert (sig.start, sig.length, sig.is_signed) == (
                want["start"],
                want["length"],
                want["signed"],
            ), where
            assert math.isclose(sig.scale, want["scale"]) and math.isclose(sig.offset, want["offset"]), where
            assert (sig.unit or "") == want["unit"], where
            assert want["range"] == ("N/A", "N/A") and sig.minimum is None and sig.maximum is None, where
            assert dict(sig.choices or {}) == want["choices"], where
            compared += 1
    assert compared == 173


def test_value_tables_are_the_documented_enumerations(default_db: Database) -> None:
    commands = default_db.get_message_by_name("BMSCommands")
    assert dict(commands.get_signal_by_name("BMSCommand").choices or {}) == {
        0: "None",
        1: "Idle",
        2: "Connect",
        4: "Enable",
        8: "Charge Initialise",
        16: "Charge Enable",
    }
    assert dict(commands.get_signal_by_name("BMSCommandType").choices or {}) == {
        0: "None",
        1: "Command Update",
    }
    watchdog = default_db.get_message_by_name("DeviceWatchdogInfo")
    for sig in watchdog.signals:
        expected = (
            {1: "Fail", 0: "Ok"}
            if sig.name == "WatchdogReset"
            else {4: "Fail", 2: "Fast", 1: "Slow", 0: "Ok"}
        )
        assert dict(sig.choices or {}) == expected, sig.name


# ------------------------------------------------------------------------- per-node layout


@pytest.mark.parametrize("base_id", [0x000, 0x100, 0x600, 0x700])
@pytest.mark.parametrize("node_count", [1, 2, 10, 27])
def test_per_node_ids(base_id: int, node_count: int) -> None:
    db = build_database(base_id, node_count)
    ids = {m.name: m.frame_id for m in db.messages}
    assert len(db.messages) == FIXED_COUNT + 8 * node_count == len(set(ids.values()))
    for name, default_id in DOCUMENTED_IDS.items():
        if not name.startswith("Node0"):
            assert ids[name] == base_id + default_id - 0x600, name
    for node in range(node_count):
        for kind, offset in NODE_KIND_OFFSETS.items():
            assert ids[f"Node{node}{kind}"] == base_id + 0x10 + 8 * node + offset
            assert dbc.node_frame_id(base_id, node, kind) == base_id + 0x10 + 8 * node + offset
    assert f"Node{node_count}VoltageInfo" not in ids
    assert max(ids.values()) <= 0x7FF


def test_per_node_signal_names_carry_the_node_number() -> None:
    db = build_database(0x600, 12)
    msg = db.get_message_by_name("Node11CellTemps")
    assert msg.frame_id == 0x610 + 8 * 11 + 5
    assert [s.name for s in msg.signals] == [f"Node11Temp0{i}" for i in range(1, 5)]
    assert db.get_message_by_name("Node11CellVoltages4").signal_tree == ["Node11Cell13", "Node11Cell14"]


def test_node_frame_id_rejects_an_unknown_kind() -> None:
    with pytest.raises(KeyError, match="CellVoltages5"):
        dbc.node_frame_id(0x600, 0, "CellVoltages5")


# ------------------------------------------------------------------------ refused configurations


@pytest.mark.parametrize("node_count", [28, 29, 32])
def test_colliding_node_counts_are_refused_naming_everything(node_count: int) -> None:
    with pytest.raises(CanIdCollisionError) as info:
        build_database(0x600, node_count)
    err = info.value
    assert isinstance(err, CanIdConfigError) and isinstance(err, ConfigError)
    assert (err.base_id, err.node_count, err.node) == (0x600, node_count, 27)
    assert (err.message, err.other, err.can_id) == ("Node27Diagnostics", "HVILInfo", 0x6EF)
    text = str(err)
    for part in (
        "0x600",
        f"got {node_count}",
        "node 27",
        "Node27Diagnostics",
        "HVILInfo",
        "0x6EF",
        "at most 27",
    ):
        assert part in text, part
    assert err.field == "numCMUNodes"


def test_the_collision_follows_the_base_id() -> None:
    with pytest.raises(CanIdCollisionError) as info:
        layout(0x100, 30, source="pack.yaml")
    assert (info.value.can_id, info.value.other) == (0x1EF, "HVILInfo")
    assert str(info.value).startswith("pack.yaml: numCMUNodes: ")
    assert info.value.file == "pack.yaml"


def test_27_nodes_is_the_limit_for_every_base_id() -> None:
    for base_id in [*range(0x000, 0x701, 0x40), 0x6FF, 0x700]:
        assert max_node_count(base_id) == 27, hex(base_id)
        placed = layout(base_id, 27)
        ids = [p.frame_id for p in placed]
        assert len(ids) == len(set(ids)) == FIXED_COUNT + 8 * 27
        assert max(ids) <= 0x7FF and min(ids) >= 0
        with pytest.raises(CanIdCollisionError):
            layout(base_id, 28)


@pytest.mark.parametrize("base_id", [0x701, 0x780, 0x7FF, 0x800, -1])
def test_a_base_id_outside_its_range_is_refused(base_id: int) -> None:
    with pytest.raises(CanIdRangeError) as info:
        build_database(base_id, 1)
    assert info.value.field == "nodeID"
    assert (info.value.base_id, info.value.node_count) == (base_id, 1)
    assert "0x000-0x700" in str(info.value)
    if base_id + 0xFA > 0x7FF:
        assert "BMSCommands" in str(info.value) and "11-bit" in str(info.value)


@pytest.mark.parametrize("node_count", [0, -1, 33, 100])
def test_a_node_count_outside_its_range_is_refused(node_count: int) -> None:
    with pytest.raises(CanIdRangeError) as info:
        render_dbc(0x600, node_count)
    assert info.value.field == "numCMUNodes"
    assert f"got {node_count}" in str(info.value)


@pytest.mark.parametrize(("base_id", "node_count"), [(0x600, 1.0), ("0x600", 1), (0x600, True)])
def test_non_integers_are_refused(base_id: Any, node_count: Any) -> None:
    with pytest.raises(CanIdRangeError):
        layout(base_id, node_count)


def test_the_codec_refuses_a_colliding_configuration() -> None:
    with pytest.raises(CanIdCollisionError):
        D1000CanCodec(0x600, 28)


def test_the_command_line_renders_and_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pack.dbc"
    assert dbc.main(["--base-id", "0x200", "--nodes", "4", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render_dbc(0x200, 4)
    assert dbc.main(["--nodes", "28"]) == 2
    assert "Node27Diagnostics" in capsys.readouterr().err


# ------------------------------------------------------------------------------ the shipped file


def test_the_shipped_dbc_equals_the_render() -> None:
    assert dbc.DEFAULT_DBC_PATH.is_file()
    assert dbc.DEFAULT_DBC_PATH.read_text(encoding="utf-8") == render_dbc(
        dbc.DEFAULT_BASE_ID, dbc.DEFAULT_NODE_COUNT
    )


def test_the_shipped_dbc_loads_with_cantools_strict_checks() -> None:
    db = cantools.database.load_file(dbc.DEFAULT_DBC_PATH, database_format="dbc", strict=True)
    assert isinstance(db, Database)
    assert {m.name: m.frame_id for m in db.messages} == DOCUMENTED_IDS
    assert db.version is not None
    assert "base ID 0x600" in db.version and "1 CMU node" in db.version


def test_rendering_is_deterministic() -> None:
    assert render_dbc(0x300, 9) == render_dbc(0x300, 9)


# ------------------------------------------------------------------------------------- the codec


def test_signed_scaled_current_round_trips_with_the_documented_bytes(codec: D1000CanCodec) -> None:
    frame = codec.encode("BMSCurrentData", {"InstantaneousCurrent": -123.456, "FilteredCurrent": 2000.001})
    assert frame.arbitration_id == 0x607
    assert frame.data == struct.pack("<ii", -123456, 2000001)
    assert codec.decode(*frame) == (
        "BMSCurrentData",
        None,
        {"InstantaneousCurrent": -123.456, "FilteredCurrent": 2000.001},
    )


def test_tenth_scaled_signals_round_trip(codec: D1000CanCodec) -> None:
    frame = codec.encode(
        "BMSSoCData", {"SoCPercentage": 87.5, "SoCCapacity": 95.3, "OCV_mV": 3.987, "SoHPercentage": 100.0}
    )
    assert frame.data == struct.pack("<HHHH", 875, 953, 3987, 1000)
    assert codec.decode(*frame).signals == {
        "SoCPercentage": 87.5,
        "SoCCapacity": 95.3,
        "OCV_mV": 3.987,
        "SoHPercentage": 100.0,
    }


def test_negative_temperatures_round_trip(codec: D1000CanCodec) -> None:
    values = {"Temperature1": -20.0, "Temperature2": -3276.8, "Pressure": 101.3, "Humidity": 3276.7}
    frame = codec.encode("SensorData1", values)
    assert frame.arbitration_id == 0x6F8
    assert frame.data == struct.pack("<hhhh", -200, -32768, 1013, 32767)
    assert codec.decode(*frame).signals == values


def test_bit_flags_land_on_their_documented_bits(codec: D1000CanCodec) -> None:
    frame = codec.encode(
        "BMSInfo",
        {"BMSStateSAFE": 1, "BMSContactorFaultCONTACTOR1": 1, "BMSReasonHVIL": 1, "BMSReasonPRECHARGE": 1},
    )
    assert int.from_bytes(frame.data, "little") == (1 << 11) | (1 << 24) | (1 << 35) | (1 << 56)
    decoded = codec.decode(*frame).signals
    assert {k for k, v in decoded.items() if v} == {
        "BMSStateSAFE",
        "BMSContactorFaultCONTACTOR1",
        "BMSReasonHVIL",
        "BMSReasonPRECHARGE",
    }
    assert len(decoded) == 49


def test_64_bit_and_nibble_signals(codec: D1000CanCodec) -> None:
    frame = codec.encode("DeviceSelftestInfo", {"SelftestResult": 2**64 - 1})
    assert frame.data == b"\xff" * 8
    assert codec.decode(*frame).signals == {"SelftestResult": 2**64 - 1}
    contactors = codec.encode("ContactorInfo", {"ContactorTarget_2": 0xA, "ContactorState_BJU": 0x5})
    assert contactors.data == bytes([0xA0, 0, 0, 0, 0, 0, 0x50, 0])


def test_commands_accept_value_table_names(codec: D1000CanCodec) -> None:
    frame = codec.encode("BMSCommands", {"BMSCommand": "Charge Enable", "BMSCommandType": "Command Update"})
    assert frame == (0x6FA, struct.pack("<II", 16, 1))
    decoded = codec.decode(*frame)
    assert decoded.signals == {"BMSCommand": 16, "BMSCommandType": 1}
    assert codec.choice_name("BMSCommands", "BMSCommand", 16) == "Charge Enable"
    assert codec.choice_name("BMSCommands", "BMSCommand", 3) is None


def test_node_messages_encode_and_decode_with_and_without_the_prefix(codec: D1000CanCodec) -> None:
    frame = codec.encode_node("CellVoltages4", 2, {"Cell13": 4.2, "Cell14": 2.5})
    assert frame.arbitration_id == 0x610 + 16 + 4
    assert frame.data == struct.pack("<HH", 4200, 2500) + bytes(4)
    assert frame == codec.encode("Node2CellVoltages4", {"Node2Cell13": 4.2, "Node2Cell14": 2.5})
    decoded = codec.decode(*frame)
    assert (decoded.name, decoded.node, decoded.kind) == ("Node2CellVoltages4", 2, "CellVoltages4")
    assert decoded.signals == {"Node2Cell13": 4.2, "Node2Cell14": 2.5}
    assert decoded.fields == {"Cell13": 4.2, "Cell14": 2.5}
    fixed = codec.decode(0x6F4, bytes(8))
    assert (fixed.node, fixed.kind, fixed.fields) == (None, "NodeStats", fixed.signals)


def test_a_codec_with_another_base_id_decodes_its_own_ids() -> None:
    codec = D1000CanCodec(0x100, 5)
    assert codec.decode(0x100 + 0x10 + 8 * 4 + 7, bytes(8)).name == "Node4Diagnostics"
    assert codec.frame_id("BMSCommands") == 0x1FA
    with pytest.raises(UnknownFrameError):
        codec.decode(0x6FA, bytes(8))


def test_unsent_signals_encode_as_zero(codec: D1000CanCodec) -> None:
    assert codec.encode("NodeCellInfo").data == bytes(8)
    assert codec.encode("NodeCellInfo", {"MinCellVoltageCellID": 14}).data == bytes(7) + b"\x0e"


def test_encoded_frames_look_like_can_messages(codec: D1000CanCodec) -> None:
    frame = codec.encode("HVILInfo", {"HVILFlag_OpenLoop": 1})
    assert (frame.is_extended_id, frame.dlc) == (False, 8)
    msg = frame.to_can_message(timestamp=1.5)
    assert isinstance(msg, can.Message)
    assert (msg.arbitration_id, bytes(msg.data), msg.is_extended_id, msg.timestamp) == (
        0x6EF,
        frame.data,
        False,
        1.5,
    )
    assert codec.decode(msg.arbitration_id, msg.data).signals["HVILFlag_OpenLoop"] == 1


@pytest.mark.parametrize(
    ("name", "signals", "match"),
    [
        ("NoSuchMessage", {}, "not a message"),
        ("Node3CellTemps", {}, "not a message"),  # node 3 of a 3-node configuration does not exist
        ("BMSCurrentData", {"Current": 1.0}, "no signal"),
        ("BMSCurrentData", {"InstantaneousCurrent": math.nan}, "cannot encode"),
        ("BMSCurrentData", {"InstantaneousCurrent": math.inf}, "cannot encode"),
        ("BMSSoCData", {"SoCPercentage": -0.1}, "outside"),
        ("BMSSoCData", {"SoCPercentage": 6553.6}, "outside"),
        ("SensorData1", {"Temperature1": -3276.9}, "outside"),
        ("BMSCommands", {"BMSCommand": "Drive"}, "value-table"),
        ("BMSCurrentData", {"InstantaneousCurrent": "high"}, "value-table"),
    ],
)
def test_encode_refuses_what_a_frame_cannot_carry(
    codec: D1000CanCodec, name: str, signals: dict[str, Any], match: str
) -> None:
    with pytest.raises(CanEncodeError, match=match) as info:
        codec.encode(name, signals)
    assert isinstance(info.value, ValueError)


def test_encode_node_refuses_unknown_kinds_and_nodes(codec: D1000CanCodec) -> None:
    with pytest.raises(CanEncodeError, match="no per-node message"):
        codec.encode_node("CellVoltages9", 0)
    with pytest.raises(CanEncodeError, match="outside"):
        codec.encode_node("CellTemps", 3)


def test_saturate_clamps_to_the_raw_range(codec: D1000CanCodec) -> None:
    frame = codec.encode("BMSSoCData", {"SoCPercentage": 7000.0, "SoCCapacity": -5.0}, saturate=True)
    assert codec.decode(*frame).signals["SoCPercentage"] == 6553.5
    assert codec.decode(*frame).signals["SoCCapacity"] == 0.0


# -------------------------------------------------------------------------------- decode errors


@pytest.mark.parametrize("can_id", [0x5FF, 0x602, 0x60B, 0x6EE, 0x6FB, 0x7FF, 0x000])
def test_unknown_ids_raise_the_declared_error(codec: D1000CanCodec, can_id: int) -> None:
    with pytest.raises(UnknownFrameError) as info:
        codec.decode(can_id, bytes(8))
    assert isinstance(info.value, CanFrameError) and isinstance(info.value, ProtocolError)


def test_a_node_beyond_the_configured_count_is_named(codec: D1000CanCodec) -> None:
    with pytest.raises(UnknownFrameError, match=r"node 3's VoltageInfo.*numCMUNodes is 3"):
        codec.decode(0x610 + 24, bytes(8))


def test_an_extended_id_is_unknown(codec: D1000CanCodec) -> None:
    with pytest.raises(UnknownFrameError, match="extended"):
        codec.decode(0x606, bytes(8), is_extended_id=True)


@pytest.mark.parametrize("length", [0, 1, 7, 9, 64])
def test_wrong_lengths_raise_the_declared_error(codec: D1000CanCodec, length: int) -> None:
    with pytest.raises(FrameLengthError, match=f"{length} data bytes"):
        codec.decode(0x606, bytes(length))


@pytest.mark.parametrize("data", [8, "abcdefgh", None, [0] * 8])
def test_non_bytes_payloads_raise_the_declared_error(codec: D1000CanCodec, data: Any) -> None:
    with pytest.raises(CanFrameError):
        codec.decode(0x606, data)


@pytest.mark.parametrize("can_id", ["0x606", None, 1536.0])
def test_non_integer_ids_raise_the_declared_error(codec: D1000CanCodec, can_id: Any) -> None:
    with pytest.raises(UnknownFrameError):
        codec.decode(can_id, bytes(8))


@settings(max_examples=400, deadline=None)
@given(
    can_id=st.one_of(st.integers(0x5F0, 0x70F), st.integers(-(2**31), 2**31)),
    data=st.binary(max_size=16),
    extended=st.booleans(),
)
def test_decode_raises_nothing_but_declared_errors_on_any_input(
    can_id: int, data: bytes, extended: bool
) -> None:
    codec = D1000CanCodec(0x600, 3)
    try:
        result = codec.decode(can_id, data, is_extended_id=extended)
    except CanFrameError:
        return
    assert isinstance(result, DecodedFrame)
    assert len(data) == 8 and not extended


def _used_bits(msg: Any) -> int:
    mask = 0
    for sig in msg.signals:
        mask |= ((1 << sig.length) - 1) << sig.start
    return mask


@settings(max_examples=300, deadline=None)
@given(index=st.integers(0, FIXED_COUNT + 3 * 8 - 1), payload=st.binary(min_size=8, max_size=8))
def test_decode_then_encode_gives_back_the_used_bits(index: int, payload: bytes) -> None:
    codec = D1000CanCodec(0x600, 3)
    placed = codec.messages[index]
    msg = codec.database.get_message_by_frame_id(placed.frame_id)
    data = (int.from_bytes(payload, "little") & _used_bits(msg)).to_bytes(8, "little")
    decoded = codec.decode(placed.frame_id, data)
    assert decoded.name == placed.name and decoded.node == placed.node
    reference = msg.decode(data, decode_choices=False)
    assert isinstance(reference, dict)
    for name, value in decoded.signals.items():
        want = reference[name]
        assert isinstance(want, int | float)
        assert math.isclose(value, want, rel_tol=1e-12, abs_tol=1e-9), name
    assert codec.encode(decoded.name, decoded.signals) == EncodedFrame(placed.frame_id, data)
