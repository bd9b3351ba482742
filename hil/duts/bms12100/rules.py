"""The firmware's rules on a settings set: each monitor's threshold pair and what it refuses.

`THRESHOLDS` says, per requirement ID, which settings a monitor compares against and in which
direction it trips; the twin's monitor table (sim/twin/tables.py) takes them from here, and
`validate_settings` checks a set the way the firmware refuses an impossible parameter. Both sit
outside sim/ so the configuration (config.py) can check a file without loading the twin.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import BaseModel

RATED_AH_RANGE = (5.0, 300.0)  # seed §6.1 "Battery rated capacity 100Ah, 5Ah~300Ah"
_NON_NEGATIVE_SUFFIXES = ("_ms", "_us", "_s", "_h", "_count")
_NON_NEGATIVE_NAMES = ("release_charge_a", "release_discharge_a")


class Direction(Enum):
    """Whether a monitor trips when its quantity rises above or falls below the trigger."""

    ABOVE = "above"
    BELOW = "below"

    def beyond(self, value: float, threshold: float) -> bool:
        """Whether `value` is strictly on the tripping side of `threshold`."""
        return value > threshold if self is Direction.ABOVE else value < threshold


@dataclass(frozen=True)
class Scaled:
    """A settings path whose value is multiplied by `factor` (e.g. µs read as ms: 0.001)."""

    path: str
    factor: float


Value = str | float | Scaled  # a dotted settings path, a scaled path, or a constant fixed in firmware


def _get(settings: BaseModel, path: str) -> Any:
    return operator.attrgetter(path)(settings)


def resolve(settings: BaseModel, value: Value | None) -> float | None:
    """The number a settings path (or a constant) stands for; None if unset."""
    if value is None:
        return None
    if isinstance(value, Scaled):
        scaled = _get(settings, value.path)
        return None if scaled is None else float(scaled) * value.factor
    raw = _get(settings, value) if isinstance(value, str) else value
    return None if raw is None else float(raw)


@dataclass(frozen=True)
class Threshold:
    """A monitor's trigger and release settings paths (no release: released by other means)."""

    rid: str
    direction: Direction
    trigger: str
    release: str | None


def _pair(rid: str, direction: Direction, section: str) -> Threshold:
    return Threshold(rid, direction, f"{section}.trigger", f"{section}.release")


def _temperature(rid: str, section: str, level: str) -> Threshold:
    direction = Direction.ABOVE if level in ("high_alarm", "over") else Direction.BELOW
    return Threshold(rid, direction, f"{section}.{level}_c", f"{section}.{level}_release_c")


def _current(rid: str, direction: Direction, section: str) -> Threshold:
    return Threshold(rid, direction, f"{section}.trigger_a", f"{section}.release_a")


_UP, _DOWN = Direction.ABOVE, Direction.BELOW
_TEMPERATURE_SECTIONS = {
    "TC": "charge_temperature",
    "TD": "discharge_temperature",
    "TE": "ambient_temperature",
    "TP": "power_temperature",
}
_TEMPERATURE_LEVELS = {"HA": "high_alarm", "OTP": "over", "LA": "low_alarm", "UTP": "under"}

THRESHOLDS: dict[str, Threshold] = {
    t.rid: t
    for t in (
        _pair("CV-HA", _UP, "cell_high_voltage_alarm"),
        _pair("CV-LA", _DOWN, "cell_low_voltage_alarm"),
        _pair("CV-OVP", _UP, "cell_overvoltage_protection"),
        _pair("CV-UVP", _DOWN, "cell_undervoltage_protection"),
        _pair("PV-HA", _UP, "pack_high_voltage_alarm"),
        _pair("PV-LA", _DOWN, "pack_low_voltage_alarm"),
        _pair("PV-OVP", _UP, "pack_overvoltage_protection"),
        _pair("PV-UVP", _DOWN, "pack_undervoltage_protection"),
        Threshold("CHG-HV", _UP, "fixed.charger_overvoltage_v", "fixed.charger_overvoltage_v"),
        *(
            _temperature(f"{group}-{level}", section, name)
            for group, section in _TEMPERATURE_SECTIONS.items()
            for level, name in _TEMPERATURE_LEVELS.items()
            if (group, level) not in (("TP", "LA"), ("TP", "UTP"))  # no low limits on the MOSFETs
        ),
        _current("IC-A", _UP, "charge_overcurrent_alarm"),
        Threshold("IC-OCP", _UP, "charge_overcurrent_protection.trigger_a", None),
        _current("ID-A", _DOWN, "discharge_overcurrent_alarm"),
        Threshold("ID-OCP", _DOWN, "discharge_overcurrent_protection.trigger_a", None),
        Threshold("ID-TOCP", _DOWN, "transient_overcurrent_protection.trigger_a", None),
        Threshold("SCP", _DOWN, "fixed.short_circuit_a", None),
        Threshold("SOC-LA", _DOWN, "soc_alarm.trigger_pct", "soc_alarm.trigger_pct"),
        Threshold("SOC-LP", _DOWN, "soc_protection.trigger_pct", "soc_protection.trigger_pct"),
        Threshold(
            "CELL-FAIL", _UP, "cell_failure_alarm.trigger_diff_mv", "cell_failure_alarm.release_diff_mv"
        ),
    )
}


def validate_settings(settings: BaseModel) -> list[str]:
    """Every problem the firmware finds in a settings set, as readable sentences; empty if usable.

    Pydantic checks types; these check what types cannot: threshold order per monitor direction,
    non-negative times, percentages, the seed's 5–300 Ah capacity range, effective-current
    hysteresis, lock counts of at least 1, balancing end difference <= open difference and
    temperature ban order.
    """
    problems: list[str] = []
    for spec in THRESHOLDS.values():
        trigger, release = resolve(settings, spec.trigger), resolve(settings, spec.release)
        if trigger is None or release is None:
            continue
        if spec.direction.beyond(release, trigger):
            side = "above" if spec.direction is Direction.ABOVE else "below"
            problems.append(f"{spec.rid}: release {release:g} is {side} trigger {trigger:g}")
    for section in type(settings).model_fields:
        for name, value in getattr(settings, section):
            path = f"{section}.{name}"
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if (name.endswith(_NON_NEGATIVE_SUFFIXES) or name in _NON_NEGATIVE_NAMES) and value < 0:
                problems.append(f"{path}: must not be negative, got {value}")
            if name.endswith("_pct") and not 0.0 <= value <= 100.0:
                problems.append(f"{path}: must be within 0..100 %, got {value}")
    low, high = RATED_AH_RANGE
    if not low <= _get(settings, "capacity.rated_ah") <= high:
        problems.append(f"capacity.rated_ah: must be within {low:g}..{high:g} Ah")
    if _get(settings, "capacity.cycle_threshold_pct") <= 0.0:
        problems.append("capacity.cycle_threshold_pct: must be above 0 %")
    for section in ("transient_overcurrent_protection", "short_circuit_protection"):
        if _get(settings, f"{section}.lock_count") < 1:
            problems.append(f"{section}.lock_count: must be at least 1")
    bal = _get(settings, "balancing")
    if bal.end_diff_mv > bal.open_diff_mv:
        problems.append("balancing: needs end_diff_mv <= open_diff_mv")
    if bal.low_temp_ban_c >= bal.high_temp_ban_c:
        problems.append("balancing: needs low_temp_ban_c < high_temp_ban_c")
    chg, dsg = _get(settings, "effective_charge_current"), _get(settings, "effective_discharge_current")
    if not chg.enter_ma >= chg.exit_ma >= 0:
        problems.append("effective_charge_current: needs enter_ma >= exit_ma >= 0")
    if not dsg.enter_ma <= dsg.exit_ma <= 0:
        problems.append("effective_discharge_current: needs enter_ma <= exit_ma <= 0")
    return problems
