"""The firmware's alarms and protections as data: one `MonitorSpec` per requirement ID.

Thresholds, delays and switches are settings paths, so a changed setting (or a mutant firmware
file) changes the twin without code. Release rules follow specs/bms-12100.md (seed §6.1, §7.2,
§7.3) exactly; each extra alternative is named and switched by one `settings.behaviour` flag, which
applies to the cell and the pack variant alike.

OUR ASSUMPTIONS where the seed is silent: a monitor trips when the reading is strictly beyond the
trigger ("higher/lower than the set value") and recovers when strictly back beyond the release
value ("drops below the recovery value"); the seed gives no delay for the voltage protections, so
the settings' default `delay_ms` of 1000 ms is used, and a release is debounced by the same delay.
"""

from __future__ import annotations

from hil.duts.bms12100.twin.measurement import Measurement
from hil.duts.bms12100.twin.monitor import (
    Block,
    Direction,
    MonitorSpec,
    Phase,
    Quantity,
    ReleaseAlternative,
    ReleaseContext,
    recovery,
)

# OUR ASSUMPTION: the seed gives no trip delay for CHG-HV (fixed in firmware); like the settable
# voltage delays (default 1000 ms in settings) it is taken as 1 s.
CHG_HV_DELAY_MS = 1000.0
# Bands in which the reading may cross a threshold before the true value does (≈ the error budget).
CELL_NEAR_MV = 15.0
PACK_NEAR_V = 0.05
CHARGER_NEAR_V = 0.06


def max_cell_mv(m: Measurement) -> float:
    """Highest cell reading (mV)."""
    return float(m.max_cell_mv)


def min_cell_mv(m: Measurement) -> float:
    """Lowest cell reading (mV)."""
    return float(m.min_cell_mv)


def pack_v(m: Measurement) -> float:
    """Pack voltage reading (V)."""
    return m.pack_v


def charger_v(m: Measurement) -> float:
    """P+/P- voltage reading (V)."""
    return m.charger_v


def recovered_and_soc_below(section: str) -> ReleaseAlternative:
    """OVP: back below the release value AND SOC below `release_soc_pct` (both needed)."""

    def test(ctx: ReleaseContext) -> bool:
        return ctx.recovered and ctx.m.soc_pct < ctx.number(f"{section}.release_soc_pct")

    return ReleaseAlternative(
        "recovery and SOC below release", test, flag="ovp_release_on_recovery", watches_release=True
    )


def discharge_current(section: str, *, inclusive: bool) -> ReleaseAlternative:
    """OVP: a discharge current beyond `release_discharge_a` releases it."""

    def test(ctx: ReleaseContext) -> bool:
        discharge = -ctx.m.current_a
        limit = ctx.number(f"{section}.release_discharge_a")
        return discharge >= limit if inclusive else discharge > limit

    name = "discharge current >= release" if inclusive else "discharge current > release"
    return ReleaseAlternative(name, test, flag="ovp_release_on_discharge")


def charge_current(section: str) -> ReleaseAlternative:
    """UVP: a charging current of at least `release_charge_a` releases it."""

    def test(ctx: ReleaseContext) -> bool:
        return ctx.m.current_a >= ctx.number(f"{section}.release_charge_a")

    return ReleaseAlternative("charge current >= release", test, flag="uvp_release_on_charge")


# UVP: "press the reset button, BMS will boot to re-detect whether the battery pack voltage reaches
# the recovery value" (seed §7.3). The settings have no behaviour flag for it, so it is always on.
REBOOT_RECHECK = recovery("reboot re-check", phase=Phase.BOOT)


def alarm(rid: str, section: str, quantity: Quantity, direction: Direction, near: float) -> MonitorSpec:
    """An alarm: only flags, releases when the value is back beyond its release threshold."""
    return MonitorSpec(
        rid=rid,
        quantity=quantity,
        direction=direction,
        trigger=f"{section}.trigger",
        release=f"{section}.release",
        enabled=f"{section}.enabled",
        delay_ms=f"{section}.delay_ms",
        near=near,
    )


def overvoltage(rid: str, section: str, quantity: Quantity, near: float, *, inclusive: bool) -> MonitorSpec:
    """An over-voltage protection: blocks charging; (recovered AND SOC low) OR discharge releases it."""
    return MonitorSpec(
        rid=rid,
        quantity=quantity,
        direction=Direction.ABOVE,
        trigger=f"{section}.trigger",
        release=f"{section}.release",
        blocks=Block.CHARGE,
        enabled=f"{section}.enabled",
        delay_ms=f"{section}.delay_ms",
        alternatives=(recovered_and_soc_below(section), discharge_current(section, inclusive=inclusive)),
        near=near,
    )


def undervoltage(rid: str, section: str, quantity: Quantity, near: float) -> MonitorSpec:
    """An under-voltage protection: blocks discharging; a charge current (or a reboot re-check)
    releases it; while it is active the BMS shuts down after `shutdown_after_s` (PM-UVSD)."""
    return MonitorSpec(
        rid=rid,
        quantity=quantity,
        direction=Direction.BELOW,
        trigger=f"{section}.trigger",
        release=f"{section}.release",
        blocks=Block.DISCHARGE,
        enabled=f"{section}.enabled",
        delay_ms=f"{section}.delay_ms",
        alternatives=(charge_current(section), REBOOT_RECHECK),
        near=near,
        shutdown_after_s=f"{section}.shutdown_after_s",
    )


VOLTAGE_MONITORS: tuple[MonitorSpec, ...] = (
    alarm("CV-HA", "cell_high_voltage_alarm", max_cell_mv, Direction.ABOVE, CELL_NEAR_MV),
    alarm("CV-LA", "cell_low_voltage_alarm", min_cell_mv, Direction.BELOW, CELL_NEAR_MV),
    # Spec: CV-OVP releases on a discharge current "> 3 A" but PV-OVP on ">= 3 A" (seed §6.1 rows
    # "current>3A" and "Discharging current detected >=3 A"); the difference is kept on purpose.
    overvoltage("CV-OVP", "cell_overvoltage_protection", max_cell_mv, CELL_NEAR_MV, inclusive=False),
    undervoltage("CV-UVP", "cell_undervoltage_protection", min_cell_mv, CELL_NEAR_MV),
    alarm("PV-HA", "pack_high_voltage_alarm", pack_v, Direction.ABOVE, PACK_NEAR_V),
    alarm("PV-LA", "pack_low_voltage_alarm", pack_v, Direction.BELOW, PACK_NEAR_V),
    overvoltage("PV-OVP", "pack_overvoltage_protection", pack_v, PACK_NEAR_V, inclusive=True),
    undervoltage("PV-UVP", "pack_undervoltage_protection", pack_v, PACK_NEAR_V),
    # CHG-HV (seed §6.1): charging stops while the charger is above 18 V, resumes below it; fixed
    # in firmware, so it has no enable switch and its thresholds come from `settings.fixed`.
    MonitorSpec(
        rid="CHG-HV",
        quantity=charger_v,
        direction=Direction.ABOVE,
        trigger="fixed.charger_overvoltage_v",
        release="fixed.charger_overvoltage_v",
        blocks=Block.CHARGE,
        delay_ms=CHG_HV_DELAY_MS,
        alternatives=(recovery(flag="chg_hv_release"),),
        near=CHARGER_NEAR_V,
    ),
)

# Every monitor the twin runs; the next sections (temperature, current, SOC, cell failure) append
# their tables here.
ALL_MONITORS: tuple[MonitorSpec, ...] = VOLTAGE_MONITORS
