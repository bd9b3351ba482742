"""What the twin puts into its RS-485 answers: snapshot and settings mapped onto the wire's grid.

Only the simulator needs these (the real BMS fills its answers itself); the client reads answers
with the layouts alone (hil/duts/bms12100/protocol/layouts.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal

from hil.duts.bms12100 import NTC_NAMES
from hil.duts.bms12100.config import PARAMETERS_BY_PID, Settings, to_wire
from hil.duts.bms12100.protocol.codes import (
    ALARM_FLAG_BITS,
    CURRENT_SCALE,
    EventKind,
    LimitStatus,
    Status1,
    Status2,
    Status3,
    alarm_flags,
)
from hil.duts.bms12100.protocol.layouts import (
    AlarmInfo,
    AnalogValues,
    ChargeManagement,
    HistoryRecord,
    ParameterValue,
    SystemParameters,
)
from hil.duts.bms12100.protocol.snapshot import Mode, Telemetry

# Where an active ID also shows in Pylontech's standard 0x44 fields, for third-party hosts.
# Targets: the highest/lowest cell, the cell furthest from the mean, the warmer/colder cell NTC,
# the ambient or power NTC, or one of the three pack-level state bytes.
_Target = Literal[
    "cell_high", "cell_low", "cell_outlier", "ntc_cell_high", "ntc_cell_low",
    "ntc_ambient", "ntc_power", "charge_current", "pack_voltage", "discharge_current",
]  # fmt: skip
_LIMIT_STATUS_BY_ID: dict[str, tuple[_Target, LimitStatus]] = {
    "CV-HA": ("cell_high", LimitStatus.ABOVE_UPPER),
    "CV-OVP": ("cell_high", LimitStatus.ABOVE_UPPER),
    "CV-LA": ("cell_low", LimitStatus.BELOW_LOWER),
    "CV-UVP": ("cell_low", LimitStatus.BELOW_LOWER),
    "PV-HA": ("pack_voltage", LimitStatus.ABOVE_UPPER),
    "PV-OVP": ("pack_voltage", LimitStatus.ABOVE_UPPER),
    "PV-LA": ("pack_voltage", LimitStatus.BELOW_LOWER),
    "PV-UVP": ("pack_voltage", LimitStatus.BELOW_LOWER),
    "TC-HA": ("ntc_cell_high", LimitStatus.ABOVE_UPPER),
    "TC-OTP": ("ntc_cell_high", LimitStatus.ABOVE_UPPER),
    "TD-HA": ("ntc_cell_high", LimitStatus.ABOVE_UPPER),
    "TD-OTP": ("ntc_cell_high", LimitStatus.ABOVE_UPPER),
    "TC-LA": ("ntc_cell_low", LimitStatus.BELOW_LOWER),
    "TC-UTP": ("ntc_cell_low", LimitStatus.BELOW_LOWER),
    "TD-LA": ("ntc_cell_low", LimitStatus.BELOW_LOWER),
    "TD-UTP": ("ntc_cell_low", LimitStatus.BELOW_LOWER),
    "TE-HA": ("ntc_ambient", LimitStatus.ABOVE_UPPER),
    "TE-OTP": ("ntc_ambient", LimitStatus.ABOVE_UPPER),
    "TE-LA": ("ntc_ambient", LimitStatus.BELOW_LOWER),
    "TE-UTP": ("ntc_ambient", LimitStatus.BELOW_LOWER),
    "TP-HA": ("ntc_power", LimitStatus.ABOVE_UPPER),
    "TP-OTP": ("ntc_power", LimitStatus.ABOVE_UPPER),
    "IC-A": ("charge_current", LimitStatus.ABOVE_UPPER),
    "IC-OCP": ("charge_current", LimitStatus.ABOVE_UPPER),
    "ID-A": ("discharge_current", LimitStatus.ABOVE_UPPER),
    "ID-OCP": ("discharge_current", LimitStatus.ABOVE_UPPER),
    "ID-TOCP": ("discharge_current", LimitStatus.ABOVE_UPPER),
    "SCP": ("discharge_current", LimitStatus.ABOVE_UPPER),
    "CELL-FAIL": ("cell_outlier", LimitStatus.OTHER_ERROR),
}
_STATUS1_BY_ID: dict[str, Status1] = {
    "PV-OVP": Status1.MODULE_OVER_VOLTAGE,
    "CV-UVP": Status1.CELL_UNDER_VOLTAGE,
    "IC-OCP": Status1.CHARGE_OVER_CURRENT,
    "ID-OCP": Status1.DISCHARGE_OVER_CURRENT,
    "ID-TOCP": Status1.DISCHARGE_OVER_CURRENT,
    "SCP": Status1.DISCHARGE_OVER_CURRENT,
    "TD-OTP": Status1.DISCHARGE_OVER_TEMPERATURE,
    "TC-OTP": Status1.CHARGE_OVER_TEMPERATURE,
    "PV-UVP": Status1.MODULE_UNDER_VOLTAGE,
}
_CELL_NTCS = (NTC_NAMES.index("cell1"), NTC_NAMES.index("cell2"))
_AMBIENT_NTC = NTC_NAMES.index("ambient")
_POWER_NTC = NTC_NAMES.index("power")


def _quantize(value: float, scale: int) -> float:
    """`value` on the wire grid of 1/scale, as the far end will decode it."""
    return round(value * scale) / scale


def _saturate16(value: float, scale: int) -> float:
    """A signed 16-bit reading clipped to the wire range (a real BMS saturates, it does not fail)."""
    raw = max(-0x8000, min(0x7FFF, round(value * scale)))
    return raw / scale


def analog_from_telemetry(t: Telemetry, pack: int, info_flag: int = 0) -> AnalogValues:
    """What the twin reports for 0x42: the snapshot put on the wire grid (current saturates)."""
    return AnalogValues(
        pack=pack,
        cell_mv=tuple(round(mv) for mv in t.cell_mv),
        temperatures_c=tuple(_quantize(c, 10) for c in t.temperatures_c),
        current_a=_saturate16(t.current_a, CURRENT_SCALE),
        pack_v=_quantize(t.pack_v, 1000),
        remaining_ah=_quantize(t.remaining_ah, 1000),
        full_ah=_quantize(t.full_ah, 1000),
        cycles=t.cycles,
        info_flag=info_flag,
    )


def _extreme(
    values: list[float], indices: Iterable[int], pick: Callable[[Iterable[float]], float]
) -> list[int]:
    """Indices (among `indices`) holding the max or min value; all of them on a tie."""
    chosen = [i for i in indices if i < len(values)]
    if not chosen:
        return []
    best = pick(values[i] for i in chosen)
    return [i for i in chosen if values[i] == best]


def _target_indices(t: Telemetry, target: _Target) -> list[int]:
    cells = [float(mv) for mv in t.cell_mv]
    temps = t.temperatures_c
    if target == "cell_high":
        return _extreme(cells, range(len(cells)), max)
    if target == "cell_low":
        return _extreme(cells, range(len(cells)), min)
    if target == "cell_outlier":
        mean = sum(cells) / len(cells) if cells else 0.0
        return _extreme([abs(v - mean) for v in cells], range(len(cells)), max)[:1]
    if target == "ntc_cell_high":
        return _extreme(temps, _CELL_NTCS, max)
    if target == "ntc_cell_low":
        return _extreme(temps, _CELL_NTCS, min)
    if target == "ntc_ambient":
        return _extreme(temps, [_AMBIENT_NTC], max)
    if target == "ntc_power":
        return _extreme(temps, [_POWER_NTC], max)
    return []


def alarm_info_inputs(t: Telemetry, pack: int, info_flag: int = 0) -> tuple[object, ...]:
    """Everything `alarm_info_from_telemetry` reads, as a hashable key: equal keys, equal answers.

    The readings count only while an ID is active (they pick the flagged cell or NTC); without one
    every state byte is NORMAL whatever the values, so polls between trips share one answer.
    """
    cells: object = tuple(t.cell_mv) if t.active else len(t.cell_mv)
    temps: object = tuple(t.temperatures_c) if t.active else len(t.temperatures_c)
    return (
        pack,
        info_flag,
        t.active,
        cells,
        temps,
        t.charge_fet,
        t.discharge_fet,
        t.mode,
        t.soc_pct >= 100.0,
    )


def alarm_info_from_telemetry(t: Telemetry, pack: int, info_flag: int = 0) -> AlarmInfo:
    """What the twin reports for 0x44: our flag bits plus Pylontech's fields derived from them.

    Cell and NTC state bytes flag the extreme cell/NTC behind an active ID (all of them on a tie);
    the first rule that applies to a byte wins, in flag-bit order. Reads only what
    `alarm_info_inputs` names (keep the two together).
    """
    flags = alarm_flags(t.active)
    cells = [LimitStatus.NORMAL] * len(t.cell_mv)
    temps = [LimitStatus.NORMAL] * len(t.temperatures_c)
    pack_states: dict[str, LimitStatus] = dict.fromkeys(
        ("charge_current", "pack_voltage", "discharge_current"), LimitStatus.NORMAL
    )
    status1 = Status1(0)
    cell_errors = 0
    for rid in sorted(t.active, key=ALARM_FLAG_BITS.__getitem__):
        status1 |= _STATUS1_BY_ID.get(rid, Status1(0))
        rule = _LIMIT_STATUS_BY_ID.get(rid)
        if rule is None:
            continue
        target, state = rule
        if target in pack_states:
            if pack_states[target] is LimitStatus.NORMAL:
                pack_states[target] = state
            continue
        states = cells if target.startswith("cell") else temps
        for i in _target_indices(t, target):
            if states[i] is LimitStatus.NORMAL:
                states[i] = state
            if target == "cell_outlier":
                cell_errors |= 1 << i
    status2 = Status2(0)
    if t.charge_fet:
        status2 |= Status2.CHARGE_MOSFET
    if t.discharge_fet:
        status2 |= Status2.DISCHARGE_MOSFET
    if t.mode is not Mode.SHUTDOWN:
        status2 |= Status2.USING_BATTERY_POWER
    status3 = Status3(0)
    if t.mode is Mode.CHARGE:
        status3 |= Status3.EFFECTIVE_CHARGE_CURRENT
    if t.mode is Mode.DISCHARGE:
        status3 |= Status3.EFFECTIVE_DISCHARGE_CURRENT
    if t.soc_pct >= 100.0:
        status3 |= Status3.FULLY_CHARGED
    return AlarmInfo(
        pack=pack,
        cell_status=tuple(cells),
        temperature_status=tuple(temps),
        charge_current_status=pack_states["charge_current"],
        pack_voltage_status=pack_states["pack_voltage"],
        discharge_current_status=pack_states["discharge_current"],
        status1=status1,
        status2=status2,
        status3=status3,
        cell_errors=cell_errors,
        flags=flags,
        info_flag=info_flag,
    )


def system_parameters_from_settings(s: Settings, info_flag: int = 0) -> SystemParameters:
    """0x47 values for a unit's settings: high = protection, low = alarm, under = protection."""
    return SystemParameters(
        cell_high_voltage_limit_mv=round(s.cell_overvoltage_protection.trigger),
        cell_low_voltage_limit_mv=round(s.cell_low_voltage_alarm.trigger),
        cell_under_voltage_limit_mv=round(s.cell_undervoltage_protection.trigger),
        charge_high_temperature_limit_c=_quantize(s.charge_temperature.over_c, 10),
        charge_low_temperature_limit_c=_quantize(s.charge_temperature.under_c or 0.0, 10),
        charge_current_limit_a=_quantize(s.charge_overcurrent_protection.trigger_a, CURRENT_SCALE),
        pack_high_voltage_limit_v=_quantize(s.pack_overvoltage_protection.trigger, 1000),
        pack_low_voltage_limit_v=_quantize(s.pack_low_voltage_alarm.trigger, 1000),
        pack_under_voltage_limit_v=_quantize(s.pack_undervoltage_protection.trigger, 1000),
        discharge_high_temperature_limit_c=_quantize(s.discharge_temperature.over_c, 10),
        discharge_low_temperature_limit_c=_quantize(s.discharge_temperature.under_c or 0.0, 10),
        discharge_current_limit_a=_quantize(s.discharge_overcurrent_protection.trigger_a, CURRENT_SCALE),
        info_flag=info_flag,
    )


def charge_management_from_telemetry(
    t: Telemetry, pack: int, full_charge_request: bool = False
) -> ChargeManagement:
    """0x92 values for a snapshot: limits as reported, enables from the FETs, SOC-band requests."""
    return ChargeManagement(
        pack=pack,
        charge_voltage_limit_v=_quantize(t.charge_voltage_limit_v, 1000),
        discharge_voltage_limit_v=_quantize(t.discharge_voltage_limit_v, 1000),
        charge_current_limit_a=_saturate16(abs(t.charge_current_limit_a), CURRENT_SCALE),
        discharge_current_limit_a=_saturate16(-abs(t.discharge_current_limit_a), CURRENT_SCALE),
        charge_enable=t.charge_fet,
        discharge_enable=t.discharge_fet,
        charge_immediately=5.0 <= t.soc_pct < 9.0,
        charge_immediately_2=9.0 <= t.soc_pct < 13.0,
        full_charge_request=full_charge_request,
    )


def parameter_value_from_settings(s: Settings, pid: int) -> ParameterValue:
    """The 0xD0 answer for a parameter of a unit's settings (KeyError if the number is unknown)."""
    return ParameterValue(pid, to_wire(s, PARAMETERS_BY_PID[pid]))


def history_record_from_telemetry(
    t: Telemetry, index: int, kind: EventKind, requirement_id: str
) -> HistoryRecord:
    """A record of `requirement_id` with the snapshot's measurements on the wire grid."""
    return HistoryRecord(
        index=index,
        time_s=int(t.time_s),
        kind=kind,
        requirement_id=requirement_id,
        cell_mv=tuple(round(mv) for mv in t.cell_mv),
        pack_v=_quantize(t.pack_v, 1000),
        current_a=_saturate16(t.current_a, CURRENT_SCALE),
        temperatures_c=tuple(_quantize(c, 10) for c in t.temperatures_c),
    )
