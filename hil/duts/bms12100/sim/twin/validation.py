"""Consistency checks on a settings set, as the firmware would refuse an impossible parameter.

Pydantic checks types; these check what types cannot: threshold order per monitor direction,
non-negative times, percentages, the seed's 5–300 Ah capacity range, effective-current hysteresis,
lock counts of at least 1, balancing end difference <= open difference and temperature ban order.
"""

from __future__ import annotations

from hil.duts.bms12100.config import Settings
from hil.duts.bms12100.sim.twin.monitor import Direction, resolve
from hil.duts.bms12100.sim.twin.tables import ALL_MONITORS

RATED_AH_RANGE = (5.0, 300.0)  # seed §6.1 "Battery rated capacity 100Ah, 5Ah~300Ah"
_NON_NEGATIVE_SUFFIXES = ("_ms", "_us", "_s", "_h", "_count")
_NON_NEGATIVE_NAMES = ("release_charge_a", "release_discharge_a")


def validate_settings(settings: Settings) -> list[str]:
    """Every problem found, as readable sentences; empty if the set is usable."""
    problems: list[str] = []
    for spec in ALL_MONITORS:
        trigger, release = resolve(settings, spec.trigger), resolve(settings, spec.release)
        if trigger is None or release is None:
            continue
        if spec.direction.beyond(release, trigger):
            side = "above" if spec.direction is Direction.ABOVE else "below"
            problems.append(f"{spec.rid}: release {release:g} is {side} trigger {trigger:g}")
    for section in Settings.model_fields:
        for name, value in getattr(settings, section):
            path = f"{section}.{name}"
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if (name.endswith(_NON_NEGATIVE_SUFFIXES) or name in _NON_NEGATIVE_NAMES) and value < 0:
                problems.append(f"{path}: must not be negative, got {value}")
            if name.endswith("_pct") and not 0.0 <= value <= 100.0:
                problems.append(f"{path}: must be within 0..100 %, got {value}")
    low, high = RATED_AH_RANGE
    if not low <= settings.capacity.rated_ah <= high:
        problems.append(f"capacity.rated_ah: must be within {low:g}..{high:g} Ah")
    if settings.capacity.cycle_threshold_pct <= 0.0:
        problems.append("capacity.cycle_threshold_pct: must be above 0 %")
    for section in ("transient_overcurrent_protection", "short_circuit_protection"):
        if settings.get(f"{section}.lock_count") < 1:
            problems.append(f"{section}.lock_count: must be at least 1")
    bal = settings.balancing
    if bal.end_diff_mv > bal.open_diff_mv:
        problems.append("balancing: needs end_diff_mv <= open_diff_mv")
    if bal.low_temp_ban_c >= bal.high_temp_ban_c:
        problems.append("balancing: needs low_temp_ban_c < high_temp_ban_c")
    chg, dsg = settings.effective_charge_current, settings.effective_discharge_current
    if not chg.enter_ma >= chg.exit_ma >= 0:
        problems.append("effective_charge_current: needs enter_ma >= exit_ma >= 0")
    if not dsg.enter_ma <= dsg.exit_ma <= 0:
        problems.append("effective_discharge_current: needs enter_ma <= exit_ma <= 0")
    return problems
