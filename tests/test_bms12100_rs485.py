"""12100 RS-485 command set: published Pylontech frames, round trips both ways, ID flags, errors."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
import serial
from hypothesis import given
from hypothesis import strategies as st

from hil.duts.bms12100.client import close_port
from hil.duts.bms12100.config import PARAMETERS, PARAMETERS_BY_PATH, Parameter, Settings, from_wire
from hil.duts.bms12100.protocol import rs485
from hil.duts.bms12100.protocol.rs485 import (
    ALARM_FLAG_BITS,
    CID1,
    VER,
    AlarmInfo,
    AlarmInfoRequest,
    AnalogValues,
    AnalogValuesRequest,
    ChargeManagement,
    ChargeManagementRequest,
    Cid2,
    EventKind,
    GetAlarmInfo,
    GetAnalogValues,
    GetChargeManagement,
    GetHistoryCount,
    GetManufacturerInfo,
    GetProtocolVersion,
    GetSerialNumber,
    GetSystemParameters,
    HistoryCountRequest,
    HistoryRecord,
    InfoError,
    LimitStatus,
    ManufacturerInfo,
    ManufacturerInfoRequest,
    ParameterValue,
    ProtocolVersionRequest,
    ReadHistory,
    ReadHistoryRequest,
    ReadParameter,
    ReadParameterRequest,
    RtnError,
    SerialNumber,
    SerialNumberRequest,
    SetRemainingCapacity,
    SetRemainingCapacityRequest,
    Status1,
    Status2,
    Status3,
    SystemParametersRequest,
    WriteParameter,
    WriteParameterRequest,
)
from hil.duts.bms12100.protocol.snapshot import Mode, Telemetry
from hil.duts.bms12100.sim import answers
from hil.protocols.yd1363 import Frame, FrameError, FrameReader, Rtn, decode, encode


def wire(frame: Frame) -> Frame:
    """The frame as the far end sees it: encoded, sent, decoded."""
    return decode(encode(frame))


def telemetry(**changes: Any) -> Telemetry:
    base = Telemetry(
        cell_mv=[3301, 3305, 3298, 3310],
        temperatures_c=[25.3, 26.1, 22.0, 31.5],
        pack_v=13.21,
        current_a=-12.34,
        soc_pct=64.2,
        soh_pct=99.0,
        remaining_ah=64.2,
        full_ah=100.0,
        cycles=17,
        mode=Mode.DISCHARGE,
        charge_fet=True,
        discharge_fet=True,
    )
    return replace(base, **changes)


# --- published Pylontech frames (martiby/ess pylontech.py docstrings; FHEM 70_PylonLowVoltage.pm) --


@pytest.mark.parametrize(
    ("frame", "raw"),
    [
        (GetAnalogValues.request(2), b"~20024642E00202FD33\r"),
        (GetAlarmInfo.request(2), b"~20024644E00202FD31\r"),
        (GetSerialNumber.request(2), b"~20024693E00202FD2D\r"),
        (GetSerialNumber.request(3), b"~20034693E00203FD2B\r"),
        (GetManufacturerInfo.request(2), b"~200246510000FDAC\r"),
        (GetProtocolVersion.request(2, ver=0x00), b"~0002464F0000FD9A\r"),
        (GetSystemParameters.request(2), b"~20024647E00202FD2E\r"),
        (GetChargeManagement.request(2), b"~20024692E00202FD2E\r"),
    ],
)
def test_requests_match_published_frames(frame: Frame, raw: bytes) -> None:
    assert encode(frame) == raw


def test_published_analog_response_us2000() -> None:
    # martiby/ess: a US2000 (15 cells, 5 NTCs, user-defined 2) answering 0x42.
    raw = (
        b"~20024600C06E10020F0C9A0C980C990C980C9A0C9A0C990C9B0C9C0C9A0C9B0C9B0C9B0C9B0C99050B740B55"
        b"0B570B530B630000BD06190F02C3500084E545\r"
    )
    values = GetAnalogValues.parse_response(decode(raw))
    assert values.info_flag == 0x10
    assert values.pack == 2
    assert values.cell_mv[:3] == (3226, 3224, 3225)
    assert len(values.cell_mv) == 15
    assert values.temperatures_c == (20.1, 17.0, 17.2, 16.8, 18.4)
    assert values.current_a == 0.0
    assert values.pack_v == 48.39
    assert (values.remaining_ah, values.full_ah, values.cycles) == (6.415, 50.0, 132)
    assert values.user_defined == 2
    assert encode(GetAnalogValues.response(2, values)) == raw


def test_published_alarm_response_us2000() -> None:
    # martiby/ess: a healthy US2000 answering 0x44; its trailing 00 reads as "no flag bytes".
    raw = b"~20024600A04210020F000000000000000000000000000000050000000000000000000E00000000F108\r"
    info = GetAlarmInfo.parse_response(decode(raw))
    assert set(info.cell_status) == {LimitStatus.NORMAL}
    assert len(info.temperature_status) == 5
    assert info.status2 == Status2.CHARGE_MOSFET | Status2.DISCHARGE_MOSFET | Status2.USING_BATTERY_POWER
    assert info.charge_fet
    assert info.discharge_fet
    assert info.flags == b""
    assert rs485.active_ids_from_alarm_info(info) == frozenset()
    assert encode(GetAlarmInfo.response(2, info)) == raw


def test_published_manufacturer_and_serial_responses() -> None:
    raw51 = b"~20024600C04055533230303043000000010750796C6F6E2D2D2D2D2D2D2D2D2D2D2D2D2D2D2DEFBD\r"
    info = GetManufacturerInfo.parse_response(decode(raw51))
    assert info == ManufacturerInfo("US2000C", (1, 7), "Pylon---------------")
    assert encode(GetManufacturerInfo.response(2, info)) == raw51
    raw93 = b"~20024600C0220248505443523033313731313132353930F6D2\r"
    serial = GetSerialNumber.parse_response(decode(raw93))
    assert serial == SerialNumber(2, "HPTCR03171112590")
    assert encode(GetSerialNumber.response(2, serial)) == raw93


# --- every command, both directions ---------------------------------------------------------


def test_protocol_version_round_trip_accepts_any_request_ver() -> None:
    assert rs485.parse_request(wire(GetProtocolVersion.request(4, ver=0))) == ProtocolVersionRequest(4, 0)
    assert rs485.parse_request(wire(GetProtocolVersion.request(4))) == ProtocolVersionRequest(4, VER)
    assert GetProtocolVersion.parse_response(wire(GetProtocolVersion.response(4))) == VER
    assert GetProtocolVersion.parse_response(wire(GetProtocolVersion.response(4, version=0x35))) == 0x35


def test_manufacturer_info_round_trip() -> None:
    assert rs485.parse_request(wire(GetManufacturerInfo.request(1))) == ManufacturerInfoRequest(1)
    info = ManufacturerInfo("12100-1CA", (1, 3), "Shanghai energy")
    assert GetManufacturerInfo.parse_response(wire(GetManufacturerInfo.response(1, info))) == info


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (GetAnalogValues.request, AnalogValuesRequest),
        (GetAlarmInfo.request, AlarmInfoRequest),
        (GetSystemParameters.request, SystemParametersRequest),
        (GetChargeManagement.request, ChargeManagementRequest),
        (GetSerialNumber.request, SerialNumberRequest),
    ],
)
def test_pack_requests_carry_the_pack_address(build: Callable[..., Frame], expected: type[Any]) -> None:
    assert rs485.parse_request(wire(build(3))) == expected(adr=3, pack=3)
    assert rs485.parse_request(wire(build(3, pack=0xFF))) == expected(adr=3, pack=0xFF)
    assert build(3).info == b"\x03"


def test_analog_values_round_trip_from_telemetry() -> None:
    t = telemetry()
    values = answers.analog_from_telemetry(t, pack=1)
    frame = wire(GetAnalogValues.response(1, values))
    assert frame.info[:3] == b"\x00\x01\x04"  # INFOFLAG, pack, 4 cells
    got = GetAnalogValues.parse_response(frame)
    assert got == values
    assert got.user_defined == 4
    assert rs485.apply_analog(t, got) == replace(t, soc_pct=64.2)
    assert rs485.telemetry_fields_from_analog(got)["temperatures_c"] == [25.3, 26.1, 22.0, 31.5]


def test_analog_wide_variant_carries_capacities_above_65_ah() -> None:
    values = answers.analog_from_telemetry(telemetry(remaining_ah=99.99, full_ah=100.0), pack=1)
    frame = wire(GetAnalogValues.response(1, values))
    assert frame.info[-13:-8] == b"\xff\xff\x04\xff\xff"  # 2-byte fields saturate, count 4
    assert frame.info[-6:] == (99990).to_bytes(3, "big") + (100000).to_bytes(3, "big")
    got = GetAnalogValues.parse_response(frame)
    assert (got.remaining_ah, got.full_ah, got.soc_pct) == (99.99, 100.0, 100.0)


def test_analog_current_saturates_at_the_wire_range() -> None:
    values = answers.analog_from_telemetry(telemetry(current_a=-400.0), pack=1)
    assert values.current_a == -327.68
    assert GetAnalogValues.parse_response(wire(GetAnalogValues.response(1, values))).current_a == -327.68


def test_analog_narrow_variant_refuses_capacities_that_do_not_fit() -> None:
    values = replace(answers.analog_from_telemetry(telemetry(), pack=1), user_defined=2)
    with pytest.raises(ValueError, match="full mAh = 100000 does not fit 2"):
        GetAnalogValues.response(1, values)
    small = replace(values, remaining_ah=6.4, full_ah=50.0)
    assert GetAnalogValues.parse_response(wire(GetAnalogValues.response(1, small))) == small


def test_temperature_offset_is_tenths_of_kelvin() -> None:
    values = answers.analog_from_telemetry(telemetry(temperatures_c=[-20.0, 0.0, 20.1, 100.0]), pack=1)
    info = GetAnalogValues.response(1, values).info
    temps = info[3 + 8 + 1 : 3 + 8 + 1 + 8]
    assert [int.from_bytes(temps[i : i + 2], "big") for i in range(0, 8, 2)] == [2531, 2731, 2932, 3731]


def test_system_parameters_from_default_settings() -> None:
    params = answers.system_parameters_from_settings(Settings())
    assert params == rs485.SystemParameters(
        cell_high_voltage_limit_mv=3650,
        cell_low_voltage_limit_mv=2900,
        cell_under_voltage_limit_mv=2800,
        charge_high_temperature_limit_c=60.0,
        charge_low_temperature_limit_c=-10.0,
        charge_current_limit_a=100.0,
        pack_high_voltage_limit_v=14.5,
        pack_low_voltage_limit_v=11.8,
        pack_under_voltage_limit_v=11.4,
        discharge_high_temperature_limit_c=60.0,
        discharge_low_temperature_limit_c=-20.0,
        discharge_current_limit_a=-110.0,
    )
    frame = wire(GetSystemParameters.response(2, params))
    assert len(frame.info) == 25
    assert frame.info[1:3] == (3650).to_bytes(2, "big")
    assert GetSystemParameters.parse_response(frame) == params


def test_charge_management_round_trip_and_status_bits() -> None:
    cm = answers.charge_management_from_telemetry(telemetry(soc_pct=7.0, charge_fet=False), pack=2)
    assert cm == ChargeManagement(
        pack=2,
        charge_voltage_limit_v=14.2,
        discharge_voltage_limit_v=11.2,
        charge_current_limit_a=100.0,
        discharge_current_limit_a=-100.0,
        charge_enable=False,
        discharge_enable=True,
        charge_immediately=True,
    )
    frame = wire(GetChargeManagement.response(2, cm))
    assert frame.info[-1] == 0x40 | 0x20
    assert GetChargeManagement.parse_response(frame) == cm
    every = replace(cm, charge_enable=True, charge_immediately_2=True, full_charge_request=True)
    assert GetChargeManagement.response(2, every).info[-1] == 0xF8
    assert GetChargeManagement.parse_response(wire(GetChargeManagement.response(2, every))) == every


def test_charge_management_rejects_reserved_status_bits() -> None:
    cm = answers.charge_management_from_telemetry(telemetry(), pack=2)
    frame = GetChargeManagement.response(2, cm)
    bad = replace(frame, info=frame.info[:-1] + bytes([frame.info[-1] | 0x01]))
    with pytest.raises(InfoError, match="reserved status bits 0x01"):
        GetChargeManagement.parse_response(wire(bad))


def test_serial_number_round_trip() -> None:
    sn = SerialNumber(5, "12100CA231100042")
    assert GetSerialNumber.parse_response(wire(GetSerialNumber.response(5, sn))) == sn
    short = SerialNumber(5, "SN1")
    assert GetSerialNumber.response(5, short).info == b"\x05SN1" + bytes(13)
    assert GetSerialNumber.parse_response(wire(GetSerialNumber.response(5, short))) == short
    with pytest.raises(ValueError, match="serial"):
        GetSerialNumber.response(5, SerialNumber(5, "X" * 17))


def test_read_and_write_parameter_round_trip_with_settings() -> None:
    param = PARAMETERS_BY_PATH["cell_overvoltage_protection.trigger"]
    assert rs485.parse_request(wire(ReadParameter.request(1, param.pid))) == ReadParameterRequest(
        1, param.pid
    )
    value = answers.parameter_value_from_settings(Settings(), param.pid)
    assert value == ParameterValue(param.pid, 3650)
    got = ReadParameter.parse_response(wire(ReadParameter.response(1, value)))
    assert got == value
    assert got.value == 3650.0
    assert got.parameter is param

    current = PARAMETERS_BY_PATH["discharge_overcurrent_protection.trigger_a"]
    request = wire(WriteParameter.request(1, current.pid, -12000))
    assert request.info == current.pid.to_bytes(2, "big") + (-12000).to_bytes(4, "big", signed=True)
    assert rs485.parse_request(request) == WriteParameterRequest(1, current.pid, -12000)
    echo = WriteParameter.parse_response(
        wire(WriteParameter.response(1, ParameterValue(current.pid, -12000)))
    )
    assert echo.value == from_wire(current, -12000) == -120.0


@pytest.mark.parametrize("param", PARAMETERS, ids=lambda p: p.path)
def test_every_parameter_value_round_trips(param: Parameter) -> None:
    raw = answers.parameter_value_from_settings(Settings(), param.pid).raw
    frame = wire(ReadParameter.response(1, ParameterValue(param.pid, raw)))
    assert ReadParameter.parse_response(frame) == ParameterValue(param.pid, raw)


def test_unknown_parameter_is_invalid_data_both_ways() -> None:
    with pytest.raises(InfoError, match="unknown parameter number 0x7fff") as err:
        rs485.parse_request(wire(ReadParameter.request(1, 0x7FFF)))
    assert err.value.rtn is Rtn.INVALID_DATA
    with pytest.raises(InfoError) as err:
        rs485.parse_request(wire(WriteParameter.request(1, 0x7FFF, 1)))
    assert err.value.rtn is Rtn.INVALID_DATA
    answer = wire(rs485.error_response(1, err.value.rtn))
    with pytest.raises(RtnError, match="RTN 0x06 \\(INVALID_DATA\\)") as refused:
        WriteParameter.parse_response(answer)
    assert refused.value.rtn == Rtn.INVALID_DATA


def test_int32_range_is_checked() -> None:
    with pytest.raises(ValueError, match="value"):
        WriteParameter.request(1, 0x0100, 1 << 31)


def test_history_round_trip() -> None:
    assert rs485.parse_request(wire(GetHistoryCount.request(2))) == HistoryCountRequest(2)
    assert GetHistoryCount.parse_response(wire(GetHistoryCount.response(2, 512))) == 512
    assert rs485.parse_request(wire(ReadHistory.request(2, 511))) == ReadHistoryRequest(2, 511)
    record = answers.history_record_from_telemetry(
        telemetry(time_s=86_400.7), index=511, kind=EventKind.TRIGGER, requirement_id="CV-OVP"
    )
    assert record == HistoryRecord(
        511,
        86_400,
        EventKind.TRIGGER,
        "CV-OVP",
        (3301, 3305, 3298, 3310),
        13.21,
        -12.34,
        (25.3, 26.1, 22.0, 31.5),
    )
    frame = wire(ReadHistory.response(2, record))
    assert len(frame.info) == 37
    assert frame.info[7:17] == b"CV-OVP    "
    assert ReadHistory.parse_response(frame) == record
    release = replace(record, kind=EventKind.RELEASE, requirement_id="SCP-LOCK")
    assert ReadHistory.parse_response(wire(ReadHistory.response(2, release))) == release


def test_history_record_field_checks() -> None:
    record = answers.history_record_from_telemetry(telemetry(), 0, EventKind.RELEASE, "PV-LA")
    with pytest.raises(ValueError, match="requirement_id"):
        ReadHistory.response(1, replace(record, requirement_id="TOO-LONG-ID"))
    with pytest.raises(ValueError, match="requirement_id"):
        ReadHistory.response(1, replace(record, requirement_id="PV-LA "))
    frame = ReadHistory.response(1, record)
    bad_kind = replace(frame, info=frame.info[:6] + b"\x03" + frame.info[7:])
    with pytest.raises(InfoError, match="event kind 3"):
        ReadHistory.parse_response(wire(bad_kind))


def test_set_remaining_capacity_round_trip() -> None:
    request = wire(SetRemainingCapacity.request(3, 42.37))
    assert request.info == (4237).to_bytes(4, "big")
    assert rs485.parse_request(request) == SetRemainingCapacityRequest(3, 42.37)
    assert SetRemainingCapacity.parse_response(wire(SetRemainingCapacity.response(3, 42.37))) == 42.37


# --- Telemetry.active through 0x44 ----------------------------------------------------------

# Every requirement ID of the spec (bms-12100.md) that names an alarm, protection or lock state.
EXPECTED_IDS = {
    "CV-HA", "CV-LA", "CV-OVP", "CV-UVP", "PV-HA", "PV-LA", "PV-OVP", "PV-UVP", "CHG-HV",
    "TC-HA", "TC-OTP", "TC-LA", "TC-UTP", "TD-HA", "TD-OTP", "TD-LA", "TD-UTP",
    "TE-HA", "TE-OTP", "TE-LA", "TE-UTP", "TP-HA", "TP-OTP",
    "IC-A", "IC-OCP", "ID-A", "ID-OCP", "ID-TOCP", "ID-TLOCK", "SCP", "SCP-LOCK",
    "CELL-FAIL", "SOC-LA", "SOC-LP",
}  # fmt: skip


def through_0x44(t: Telemetry) -> frozenset[str]:
    info = answers.alarm_info_from_telemetry(t, pack=1)
    return rs485.active_ids_from_alarm_info(GetAlarmInfo.parse_response(wire(GetAlarmInfo.response(1, info))))


def test_every_alarm_id_has_its_own_bit() -> None:
    assert set(ALARM_FLAG_BITS) == EXPECTED_IDS
    assert len(set(ALARM_FLAG_BITS.values())) == len(ALARM_FLAG_BITS)
    assert all(0 <= byte < rs485.ALARM_FLAG_BYTES and 0 <= bit < 8 for byte, bit in ALARM_FLAG_BITS.values())


@pytest.mark.parametrize("rid", sorted(EXPECTED_IDS))
def test_each_id_round_trips_alone(rid: str) -> None:
    assert through_0x44(telemetry(active=frozenset({rid}))) == {rid}


def test_all_ids_at_once_and_none_round_trip() -> None:
    assert through_0x44(telemetry(active=frozenset(EXPECTED_IDS))) == EXPECTED_IDS
    assert through_0x44(telemetry()) == frozenset()


@given(st.frozensets(st.sampled_from(sorted(EXPECTED_IDS))))
def test_any_set_of_ids_round_trips(active: frozenset[str]) -> None:
    assert through_0x44(telemetry(active=active)) == active


def test_flag_bytes_follow_the_table() -> None:
    info = answers.alarm_info_from_telemetry(telemetry(active=frozenset({"CV-OVP", "SCP-LOCK", "CHG-HV"})), 1)
    assert info.flags == bytes([0x04, 0x00, 0x00, 0x80, 0x08])
    assert GetAlarmInfo.response(1, info).info[-6:] == b"\x05" + info.flags


def test_unmapped_id_is_refused_when_building_0x44() -> None:
    with pytest.raises(ValueError, match="BAL-START"):
        answers.alarm_info_from_telemetry(telemetry(active=frozenset({"BAL-START"})), pack=1)


def test_reserved_flag_bit_is_rejected() -> None:
    info = AlarmInfo(1, (LimitStatus.NORMAL,) * 4, (LimitStatus.NORMAL,) * 4, flags=b"\x00\x00\x40")
    with pytest.raises(InfoError, match="reserved flag bit 6 of flag byte 2"):
        rs485.active_ids_from_alarm_info(info)


def test_pylontech_fields_show_the_extreme_cell_and_ntc() -> None:
    t = telemetry(active=frozenset({"CV-OVP", "TC-OTP", "TE-LA", "SCP", "PV-UVP", "IC-A"}), mode=Mode.CHARGE)
    answer = GetAlarmInfo.response(1, answers.alarm_info_from_telemetry(t, 1))
    info = GetAlarmInfo.parse_response(wire(answer))
    assert info.cell_status == (0, 0, 0, LimitStatus.ABOVE_UPPER)  # cell 4 is the highest
    assert info.temperature_status == (0, LimitStatus.ABOVE_UPPER, LimitStatus.BELOW_LOWER, 0)
    assert info.discharge_current_status is LimitStatus.ABOVE_UPPER
    assert info.charge_current_status is LimitStatus.ABOVE_UPPER
    assert info.pack_voltage_status is LimitStatus.BELOW_LOWER
    assert info.status1 == Status1.CHARGE_OVER_TEMPERATURE | Status1.DISCHARGE_OVER_CURRENT | (
        Status1.MODULE_UNDER_VOLTAGE
    )
    assert info.status3 == Status3.EFFECTIVE_CHARGE_CURRENT


def test_cell_failure_marks_the_outlier_cell() -> None:
    t = telemetry(cell_mv=[3300, 3301, 2700, 3302], active=frozenset({"CELL-FAIL", "CV-LA"}))
    info = answers.alarm_info_from_telemetry(t, 1)
    assert info.cell_status == (0, 0, LimitStatus.BELOW_LOWER, 0)  # CV-LA comes first in bit order
    assert info.cell_errors == 0b0100
    got = GetAlarmInfo.parse_response(wire(GetAlarmInfo.response(1, info)))
    assert got.cell_errors == 0b0100
    assert got.flags == info.flags


def test_fet_and_mode_bits() -> None:
    t = telemetry(charge_fet=False, discharge_fet=True, mode=Mode.SHUTDOWN, soc_pct=100.0)
    answer = GetAlarmInfo.response(1, answers.alarm_info_from_telemetry(t, 1))
    info = GetAlarmInfo.parse_response(wire(answer))
    assert not info.charge_fet
    assert info.discharge_fet
    assert info.status2 == Status2.DISCHARGE_MOSFET
    assert info.status3 == Status3.FULLY_CHARGED


def test_alarm_state_byte_must_be_known() -> None:
    frame = GetAlarmInfo.response(1, answers.alarm_info_from_telemetry(telemetry(), 1))
    bad = replace(frame, info=frame.info[:3] + b"\x07" + frame.info[4:])
    with pytest.raises(InfoError, match="cell 1 state = 0x07"):
        GetAlarmInfo.parse_response(wire(bad))


# --- header checks and dispatch -------------------------------------------------------------


def test_dispatcher_returns_the_typed_request_of_every_command() -> None:
    requests = [
        GetProtocolVersion.request(1),
        GetManufacturerInfo.request(1),
        GetAnalogValues.request(1),
        GetAlarmInfo.request(1),
        GetSystemParameters.request(1),
        GetChargeManagement.request(1),
        GetSerialNumber.request(1),
        ReadParameter.request(1, PARAMETERS[0].pid),
        WriteParameter.request(1, PARAMETERS[0].pid, 1),
        GetHistoryCount.request(1),
        ReadHistory.request(1, 0),
        SetRemainingCapacity.request(1, 1.0),
    ]
    parsed = [rs485.parse_request(wire(frame)) for frame in requests]
    assert [p.command for p in parsed] == [Cid2(frame.cid2) for frame in requests]
    assert {p.command for p in parsed} == set(Cid2)
    assert len({type(p) for p in parsed}) == len(Cid2)


@pytest.mark.parametrize(
    ("frame", "rtn", "message"),
    [
        (Frame(VER, 1, CID1, 0x99), Rtn.CID2_INVALID, "CID2 0x99 is not a command"),
        (Frame(VER, 1, 0x4A, 0x42, b"\x01"), Rtn.CID2_INVALID, "CID1 0x4a"),
        (Frame(0x21, 1, CID1, 0x42, b"\x01"), Rtn.VER_ERROR, "VER 0x21"),
        (Frame(VER, 1, CID1, 0x42), Rtn.COMMAND_FORMAT_ERROR, "INFO ends before pack address"),
        (Frame(VER, 1, CID1, 0x47, b"\x01\x02"), Rtn.COMMAND_FORMAT_ERROR, "1 unexpected byte(s)"),
        (Frame(VER, 1, CID1, 0x51, b"\x01"), Rtn.COMMAND_FORMAT_ERROR, "unexpected byte"),
    ],
)
def test_bad_requests_name_the_fault_and_the_rtn_to_answer(frame: Frame, rtn: Rtn, message: str) -> None:
    with pytest.raises(InfoError) as err:
        rs485.parse_request(wire(frame))
    assert message in str(err.value)
    assert err.value.rtn is rtn
    assert err.value.adr == 1


def test_responses_with_a_return_code_raise_rtn_error() -> None:
    with pytest.raises(RtnError, match="GET_ANALOG_VALUES: ADR 2 answered RTN 0x90 \\(ADR_ERROR\\)"):
        GetAnalogValues.parse_response(wire(rs485.error_response(2, Rtn.ADR_ERROR)))
    with pytest.raises(RtnError, match="unknown code"):
        GetAnalogValues.parse_response(Frame(VER, 2, CID1, 0x77))


def test_truncated_response_names_the_missing_field() -> None:
    frame = GetAnalogValues.response(1, answers.analog_from_telemetry(telemetry(), 1))
    with pytest.raises(InfoError, match="INFO ends before cycles"):
        GetAnalogValues.parse_response(wire(replace(frame, info=frame.info[:-8])))


def test_request_address_is_the_dip_switch_address() -> None:
    with pytest.raises(ValueError, match="DIP-switch"):
        GetAnalogValues.request(0)
    with pytest.raises(ValueError, match="DIP-switch"):
        GetAnalogValues.request(9)
    assert GetAnalogValues.request(8).adr == 8


# --- properties -----------------------------------------------------------------------------

analog_values = st.builds(
    AnalogValues,
    pack=st.integers(0, 255),
    cell_mv=st.lists(st.integers(0, 0xFFFF), max_size=16).map(tuple),
    temperatures_c=st.lists(st.integers(-2731, 0xFFFF - 2731).map(lambda d: d / 10), max_size=8).map(tuple),
    current_a=st.integers(-0x8000, 0x7FFF).map(lambda c: c / 100),
    pack_v=st.integers(0, 0xFFFF).map(lambda mv: mv / 1000),
    remaining_ah=st.integers(0, 0xFFFFFF).map(lambda mah: mah / 1000),
    full_ah=st.integers(0, 0xFFFFFF).map(lambda mah: mah / 1000),
    cycles=st.integers(0, 0xFFFF),
    info_flag=st.integers(0, 255),
)


@given(analog_values)
def test_any_analog_values_on_the_grid_round_trip(values: AnalogValues) -> None:
    assert GetAnalogValues.parse_response(wire(GetAnalogValues.response(1, values))) == values


limit_states = st.sampled_from(list(LimitStatus))
alarm_infos = st.builds(
    AlarmInfo,
    pack=st.integers(0, 255),
    cell_status=st.lists(limit_states, max_size=16).map(tuple),
    temperature_status=st.lists(limit_states, max_size=8).map(tuple),
    charge_current_status=limit_states,
    pack_voltage_status=limit_states,
    discharge_current_status=limit_states,
    status1=st.integers(0, 255).map(Status1),
    status2=st.integers(0, 255).map(Status2),
    status3=st.integers(0, 255).map(Status3),
    cell_errors=st.integers(0, 0xFFFF),
    flags=st.binary(max_size=8),
    info_flag=st.integers(0, 255),
)


@given(alarm_infos)
def test_any_alarm_info_round_trips(info: AlarmInfo) -> None:
    assert GetAlarmInfo.parse_response(wire(GetAlarmInfo.response(1, info))) == info


def test_client_and_twin_exchange_over_a_byte_stream() -> None:
    """How the two ends use the codec: bytes in, typed request, response bytes out, typed result."""
    unit = telemetry(active=frozenset({"TD-LA", "ID-TLOCK"}))

    def twin(data: bytes, reader: FrameReader) -> bytes:
        out = b""
        for event in reader.feed_events(data):
            if isinstance(event, FrameError):
                out += encode(rs485.error_response(event.adr or 1, event.rtn))
                continue
            try:
                request = rs485.parse_request(event)
            except InfoError as err:
                out += encode(rs485.error_response(event.adr, err.rtn))
                continue
            if isinstance(request, AlarmInfoRequest):
                out += encode(
                    GetAlarmInfo.response(request.adr, answers.alarm_info_from_telemetry(unit, request.pack))
                )
            else:
                out += encode(rs485.error_response(request.adr, Rtn.CID2_INVALID))
        return out

    twin_reader, client_reader = FrameReader(), FrameReader()
    sent = b"\x00junk" + encode(GetAlarmInfo.request(1)) + b"~20014644E00201FD00\r"
    replies = client_reader.feed(twin(sent, twin_reader))
    assert rs485.active_ids_from_alarm_info(GetAlarmInfo.parse_response(replies[0])) == unit.active
    with pytest.raises(RtnError) as refused:
        GetAlarmInfo.parse_response(replies[1])
    assert refused.value.rtn == Rtn.CHKSUM_ERROR


@pytest.mark.parametrize("command", [rs485.Cid2.GET_ANALOG_VALUES, rs485.Cid2.GET_ALARM_INFO])
def test_two_byte_pack_info_is_answered_as_real_packs_do(command: rs485.Cid2) -> None:
    """Third-party hosts ask 0x42/0x44 with INFO = pack address, pack number: the pack's answer."""
    one = Frame(0x20, 2, 0x46, int(command), bytes([2]))
    two = Frame(0x20, 2, 0x46, int(command), bytes([2, 1]))
    assert rs485.parse_request(two) == rs485.parse_request(one)
    assert encode(two) == b"~200246" + f"{int(command):02X}".encode() + b"C0040201" + encode(two)[17:]
    from hil.duts.bms12100.sim.responder import Rs485Responder
    from hil.duts.bms12100.sim.twin import Bms12100Twin

    responder = Rs485Responder(Bms12100Twin(Settings(), 1), 2)
    answers = [responder.answer(one), responder.answer(two)]
    assert [a.cid2 for a in answers] == [Rtn.NORMAL, Rtn.NORMAL]  # not RTN 05
    assert len(answers[0].info) == len(answers[1].info)


@pytest.mark.parametrize(
    "command",
    [rs485.Cid2.GET_SYSTEM_PARAMETERS, rs485.Cid2.GET_CHARGE_MANAGEMENT, rs485.Cid2.GET_SERIAL_NUMBER],
)
def test_an_empty_info_asks_the_addressed_pack_as_v3_3_documents(command: rs485.Cid2) -> None:
    """Pylontech v3.3 asks 0x47 with an empty INFO (`~200246470000FDA7`); public hosts ask 0x92/0x93 so."""
    empty = Frame(0x20, 2, 0x46, int(command))
    assert rs485.parse_request(empty) == rs485.parse_request(Frame(0x20, 2, 0x46, int(command), bytes([2])))
    if command == rs485.Cid2.GET_SYSTEM_PARAMETERS:
        assert encode(empty) == b"~200246470000FDA7\r"
    from hil.duts.bms12100.sim.responder import Rs485Responder
    from hil.duts.bms12100.sim.twin import Bms12100Twin

    answer = Rs485Responder(Bms12100Twin(Settings(), 1), 2).answer(empty)
    assert answer.cid2 == Rtn.NORMAL and answer.info


def test_empty_info_is_refused_where_the_pack_address_is_required() -> None:
    with pytest.raises(rs485.InfoError) as info_error:
        rs485.parse_request(Frame(0x20, 2, 0x46, int(rs485.Cid2.GET_ANALOG_VALUES)))
    assert info_error.value.rtn == Rtn.COMMAND_FORMAT_ERROR


def test_three_byte_pack_info_and_two_bytes_elsewhere_are_refused() -> None:
    refused = (
        (rs485.Cid2.GET_ANALOG_VALUES, bytes([2, 1, 0])),
        (rs485.Cid2.GET_SERIAL_NUMBER, bytes([2, 1])),
    )
    for command, info in refused:
        with pytest.raises(rs485.InfoError) as info_error:
            rs485.parse_request(Frame(0x20, 2, 0x46, int(command), info))
        assert info_error.value.rtn == Rtn.COMMAND_FORMAT_ERROR


def test_a_repeated_0x44_poll_answers_what_the_bms_shows_now() -> None:
    """The twin keeps its last 0x44 answer while nothing it says changed: after every change
    (an alarm, the flagged cell moving, a FET, the mode, full charge) the answer is built again."""
    from hil.duts.bms12100.sim.responder import Rs485Responder

    class Twin:
        mode = Mode.DISCHARGE
        now = telemetry()

        def telemetry(self) -> Telemetry:
            return self.now

    states = [
        telemetry(),
        telemetry(cell_mv=[3300, 3306, 3297, 3311]),  # new readings, nothing active: same answer
        telemetry(active=frozenset({"CV-HA"})),
        telemetry(
            active=frozenset({"CV-HA"}), cell_mv=[3320, 3305, 3298, 3310]
        ),  # cell 1 is now the high one
        telemetry(active=frozenset({"CV-HA", "TC-HA"}), cell_mv=[3320, 3305, 3298, 3310]),
        telemetry(active=frozenset({"CV-HA", "TC-HA"}), temperatures_c=[27.0, 26.1, 22.0, 31.5]),
        telemetry(discharge_fet=False),
        telemetry(mode=Mode.CHARGE),
        telemetry(soc_pct=100.0),
        telemetry(),
    ]
    twin = Twin()
    responder = Rs485Responder(twin, 2)  # type: ignore[arg-type]
    reader = FrameReader()
    for state in states + states[::-1]:
        twin.now = state
        (answer,) = reader.feed(responder.feed(0.0, encode(GetAlarmInfo.request(2))))
        assert GetAlarmInfo.parse_response(answer) == answers.alarm_info_from_telemetry(state, 2)


def test_closing_a_socket_port_closes_its_connection_and_a_second_close_is_harmless() -> None:
    """`close_port` on a `socket://` port: the far end sees the connection end, the port says it is
    closed, and pyserial's own close afterwards does nothing (no error)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = serial.serial_for_url(f"socket://127.0.0.1:{listener.getsockname()[1]}", timeout=1)
        conn, _ = listener.accept()
        with conn:
            port.write(b"~")
            assert conn.recv(1) == b"~"
            close_port(port)
            conn.settimeout(5)
            assert conn.recv(1) == b""  # end of stream: the port's socket was shut and closed
        assert not port.is_open
        port.close()
        assert not port.is_open
