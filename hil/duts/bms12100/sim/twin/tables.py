"""The firmware's alarms and protections as data: one `MonitorSpec` per requirement ID.

Thresholds, delays and switches are settings paths, so a changed setting (or a mutant firmware
file) changes the twin without code. Release rules follow specs/bms-12100.md (seed §6.1, §7.2,
§7.3) exactly; each extra alternative is named and switched by one `settings.behaviour` flag, which
applies to the cell and the pack variant alike.

OUR ASSUMPTIONS where the seed is silent: a monitor trips when the reading is strictly beyond the
trigger ("higher/lower than the set value") and recovers when strictly back beyond the release
value ("drops below the recovery value"); the seed gives no delay for the voltage protections, so
the settings' default `delay_ms` of 1000 ms is used, and a release is debounced by the same delay.

Temperature (seed §6.1, §7.6), OUR READING:
- TC-* watch the two cell NTCs for charging, TD-* for discharging: the high monitors trip when
  EITHER cell NTC is above the trigger (the warmer one) and recover when both are back below the
  release value; the low monitors likewise with the colder one. The alarms TC-HA/TC-LA trip only
  in charge mode and TD-HA/TD-LA only in discharge mode (an alarm "while charging"); once tripped
  they release only on their recovery value, the only release the seed gives (so an alarm raised
  while charging stays when a protection then stops the charge). The protections apply in every
  mode: TC-OTP/TC-UTP block charging
  and TD-OTP/TD-UTP block discharging whenever a cell NTC is beyond (§7.6.1 "When charging and
  discharging state" is read as naming what is stopped, not when it is watched).
- TE-* watch the ambient NTC, TP-* the power (MOSFET) NTC; TE-OTP, TE-UTP (by analogy, see
  spec.yaml) and TP-OTP stop charge and discharge.
- Delay: `delay_ms` of each group (default 2000 ms, the twin's assumption), releases debounced
  alike. An open NTC reads -40 °C and a shorted one 150 °C (frontend.py), so they trip the
  under/over-temperature monitors: that is the unit's reaction, not a special case.

Current (seed §6.1, §7.4, §7.5), charge positive:
- IC-A / ID-A: no delay is given; OUR CHOICE is a debounce of `CURRENT_ALARM_DELAY_MS` (1 s, the
  settings' default voltage delay) for trip and release.
- IC-OCP, ID-OCP, ID-TOCP after their settable delays, SCP after `fixed.short_circuit_delay_us`
  beyond `fixed.short_circuit_a` (both the twin's assumption; SCP cannot be disabled). SCP is a
  hardware comparator on the true current: the current ADC saturates at ±300 A (frontend.py).
- Release: the opposite current releases at once, "a charge" being a reading at or above the
  effective charging current (I-EFF-C enter, 300 mA) and "a discharge" one at or below the
  effective discharge current (I-EFF-D enter, -200 mA); otherwise the release is automatic
  `auto_release_s` (60 s) after the trip. The BMS then re-checks: an over-current still present
  trips again after its delay. Each alternative has its own behaviour flag.

SOC (seed §6.1): SOC-LA alarms and SOC-LP (disabled by default) turns the output off (blocks
discharging) when the firmware's SOC is below the threshold for `SOC_DELAY_MS`. No recovery is
given: OUR READING is that both release when the SOC is back strictly above the threshold, which
in operation means a charge has raised it (or the host set the remaining capacity).

CELL-FAIL: an alarm when the spread of the cell readings exceeds `trigger_diff_mv`, released
below `release_diff_mv`, with a debounce of `CELL_FAIL_DELAY_MS` (no delay given).
"""

from __future__ import annotations

from typing import Any

from hil.duts.bms12100 import NTC_NAMES
from hil.duts.bms12100.protocol.snapshot import Mode
from hil.duts.bms12100.rules import THRESHOLDS
from hil.duts.bms12100.sim.twin.frontend import Readings
from hil.duts.bms12100.sim.twin.monitor import (
    Block,
    Direction,
    MonitorSpec,
    Phase,
    Quantity,
    ReleaseAlternative,
    ReleaseContext,
    Scaled,
    recovery,
)

# OUR ASSUMPTION: the seed gives no trip delay for CHG-HV (fixed in firmware); like the settable
# voltage delays (default 1000 ms in settings) it is taken as 1 s.
CHG_HV_DELAY_MS = 1000.0
# OUR ASSUMPTIONS (no delay in the seed): debounce of the current alarms, SOC monitors, CELL-FAIL.
CURRENT_ALARM_DELAY_MS = 1000.0
SOC_DELAY_MS = 1000.0
CELL_FAIL_DELAY_MS = 1000.0
# Bands in which the reading may cross a threshold before the true value does (≈ the error budget).
CELL_NEAR_MV = 15.0
PACK_NEAR_V = 0.05
CHARGER_NEAR_V = 0.06
TEMPERATURE_NEAR_C = 1.5
CURRENT_NEAR_A = 3.0
SPREAD_NEAR_MV = 2 * CELL_NEAR_MV

_CELL_NTCS = (NTC_NAMES.index("cell1"), NTC_NAMES.index("cell2"))
_AMBIENT_NTC = NTC_NAMES.index("ambient")
_POWER_NTC = NTC_NAMES.index("power")


def max_cell_mv(m: Readings) -> float:
    """Highest cell reading (mV)."""
    return float(m.max_cell_mv)


def min_cell_mv(m: Readings) -> float:
    """Lowest cell reading (mV)."""
    return float(m.min_cell_mv)


def pack_v(m: Readings) -> float:
    """Pack voltage reading (V)."""
    return m.pack_v


def charger_v(m: Readings) -> float:
    """P+/P- voltage reading (V)."""
    return m.charger_v


def warmest_cell_ntc(m: Readings) -> float:
    """The higher of the two cell NTC readings (°C)."""
    return max(m.temperatures_c[i] for i in _CELL_NTCS)


def coldest_cell_ntc(m: Readings) -> float:
    """The lower of the two cell NTC readings (°C)."""
    return min(m.temperatures_c[i] for i in _CELL_NTCS)


def ambient_c(m: Readings) -> float:
    """Ambient NTC reading (°C)."""
    return m.temperatures_c[_AMBIENT_NTC]


def power_c(m: Readings) -> float:
    """Power (MOSFET) NTC reading (°C)."""
    return m.temperatures_c[_POWER_NTC]


def current_a(m: Readings) -> float:
    """Current reading (A, + = charge)."""
    return m.current_a


def soc_pct(m: Readings) -> float:
    """The firmware's SOC (%)."""
    return m.soc_pct


def cell_spread_mv(m: Readings) -> float:
    """Highest minus lowest cell reading (mV)."""
    return float(m.max_cell_mv - m.min_cell_mv)


#: the terminal inputs (`TerminalInputs` fields) each quantity's readings, extremes and true value
#: depend on: while they hold, a sleeping monitor of that quantity stays asleep (Bms12100Twin)
QUANTITY_INPUTS: dict[Quantity, frozenset[str]] = {
    **dict.fromkeys((max_cell_mv, min_cell_mv, pack_v, cell_spread_mv), frozenset({"cell_v"})),
    **dict.fromkeys((warmest_cell_ntc, coldest_cell_ntc, ambient_c, power_c), frozenset({"ntc_ohm"})),
    charger_v: frozenset({"charger_v"}),
    current_a: frozenset({"current_a"}),
    soc_pct: frozenset({"current_a"}),  # it sleeps only while the current reads 0.00 A (`soc_bounds`)
}


def cell_spread_bounds(low: Readings, high: Readings, true_m: Readings) -> tuple[float, float]:
    """The spread of any cell readings between `low` and `high`: from the highest low reading less
    the lowest high one (or 0) up to the highest high reading less the lowest low one."""
    del true_m
    return max(0.0, float(low.max_cell_mv - high.min_cell_mv)), float(high.max_cell_mv - low.min_cell_mv)


def soc_bounds(low: Readings, high: Readings, true_m: Readings) -> tuple[float, float] | None:
    """The firmware's SOC while the inputs hold: the SOC now if the current can only read 0.00 A
    (nothing is counted, soc.py), else unbounded."""
    if low.current_a == 0.0 and high.current_a == 0.0:
        return true_m.soc_pct, true_m.soc_pct
    return None


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
# the recovery value" (seed §7.3): checked when the firmware boots (wake-up or the button).
REBOOT_RECHECK = recovery("reboot re-check", flag="uvp_release_on_reboot", phase=Phase.BOOT)


def thresholds(rid: str) -> dict[str, Any]:
    """A monitor's direction, trigger and release, as the firmware's rules name them (rules.py)."""
    t = THRESHOLDS[rid]
    return {"rid": rid, "direction": t.direction, "trigger": t.trigger, "release": t.release}


def alarm(rid: str, section: str, quantity: Quantity, near: float) -> MonitorSpec:
    """An alarm: only flags, releases when the value is back beyond its release threshold."""
    return MonitorSpec(
        **thresholds(rid),
        quantity=quantity,
        enabled=f"{section}.enabled",
        delay_ms=f"{section}.delay_ms",
        near=near,
    )


def overvoltage(rid: str, section: str, quantity: Quantity, near: float, *, inclusive: bool) -> MonitorSpec:
    """An over-voltage protection: blocks charging; (recovered AND SOC low) OR discharge releases it."""
    return MonitorSpec(
        **thresholds(rid),
        quantity=quantity,
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
        **thresholds(rid),
        quantity=quantity,
        blocks=Block.DISCHARGE,
        enabled=f"{section}.enabled",
        delay_ms=f"{section}.delay_ms",
        alternatives=(charge_current(section), REBOOT_RECHECK),
        near=near,
        shutdown_after_s=f"{section}.shutdown_after_s",
    )


VOLTAGE_MONITORS: tuple[MonitorSpec, ...] = (
    alarm("CV-HA", "cell_high_voltage_alarm", max_cell_mv, CELL_NEAR_MV),
    alarm("CV-LA", "cell_low_voltage_alarm", min_cell_mv, CELL_NEAR_MV),
    # Spec: CV-OVP releases on a discharge current "> 3 A" but PV-OVP on ">= 3 A" (seed §6.1 rows
    # "current>3A" and "Discharging current detected >=3 A"); the difference is kept on purpose.
    overvoltage("CV-OVP", "cell_overvoltage_protection", max_cell_mv, CELL_NEAR_MV, inclusive=False),
    undervoltage("CV-UVP", "cell_undervoltage_protection", min_cell_mv, CELL_NEAR_MV),
    alarm("PV-HA", "pack_high_voltage_alarm", pack_v, PACK_NEAR_V),
    alarm("PV-LA", "pack_low_voltage_alarm", pack_v, PACK_NEAR_V),
    overvoltage("PV-OVP", "pack_overvoltage_protection", pack_v, PACK_NEAR_V, inclusive=True),
    undervoltage("PV-UVP", "pack_undervoltage_protection", pack_v, PACK_NEAR_V),
    # CHG-HV (seed §6.1): charging stops while the charger is above 18 V, resumes below it; fixed
    # in firmware, so it has no enable switch and its thresholds come from `settings.fixed`.
    MonitorSpec(
        **thresholds("CHG-HV"),
        quantity=charger_v,
        blocks=Block.CHARGE,
        delay_ms=CHG_HV_DELAY_MS,
        alternatives=(recovery(flag="chg_hv_release"),),
        near=CHARGER_NEAR_V,
    ),
)


# --- temperature ---------------------------------------------------------------------------------
_CHARGING = frozenset({Mode.CHARGE})
_DISCHARGING = frozenset({Mode.DISCHARGE})
TEMPERATURE_RECOVERY = recovery(flag="temperature_release_on_recovery")


def temperature_monitor(
    rid: str,
    section: str,
    quantity: Quantity,
    *,
    blocks: Block = Block.NONE,
    modes: frozenset[Mode] | None = None,
) -> MonitorSpec:
    """One temperature alarm or protection (its settings pair: rules.THRESHOLDS); a protection
    (blocks != NONE) releases on recovery (flag)."""
    return MonitorSpec(
        **thresholds(rid),
        quantity=quantity,
        blocks=blocks,
        enabled=f"{section}.enabled",
        delay_ms=f"{section}.delay_ms",
        alternatives=(TEMPERATURE_RECOVERY,) if blocks is not Block.NONE else (recovery(),),
        near=TEMPERATURE_NEAR_C,
        modes=modes,
    )


_CHG_T, _DSG_T, _AMB_T, _PWR_T = (
    "charge_temperature", "discharge_temperature", "ambient_temperature", "power_temperature"
)  # fmt: skip
TEMPERATURE_MONITORS: tuple[MonitorSpec, ...] = (
    temperature_monitor("TC-HA", _CHG_T, warmest_cell_ntc, modes=_CHARGING),
    temperature_monitor("TC-OTP", _CHG_T, warmest_cell_ntc, blocks=Block.CHARGE),
    temperature_monitor("TC-LA", _CHG_T, coldest_cell_ntc, modes=_CHARGING),
    temperature_monitor("TC-UTP", _CHG_T, coldest_cell_ntc, blocks=Block.CHARGE),
    temperature_monitor("TD-HA", _DSG_T, warmest_cell_ntc, modes=_DISCHARGING),
    temperature_monitor("TD-OTP", _DSG_T, warmest_cell_ntc, blocks=Block.DISCHARGE),
    temperature_monitor("TD-LA", _DSG_T, coldest_cell_ntc, modes=_DISCHARGING),
    temperature_monitor("TD-UTP", _DSG_T, coldest_cell_ntc, blocks=Block.DISCHARGE),
    temperature_monitor("TE-HA", _AMB_T, ambient_c),
    temperature_monitor("TE-OTP", _AMB_T, ambient_c, blocks=Block.BOTH),
    temperature_monitor("TE-LA", _AMB_T, ambient_c),
    temperature_monitor("TE-UTP", _AMB_T, ambient_c, blocks=Block.BOTH),
    temperature_monitor("TP-HA", _PWR_T, power_c),
    temperature_monitor("TP-OTP", _PWR_T, power_c, blocks=Block.BOTH),
)


# --- current -------------------------------------------------------------------------------------
def charge_present(ctx: ReleaseContext) -> bool:
    """A charge: the current reading is at or above the effective charging current (I-EFF-C)."""
    return ctx.m.current_a >= ctx.settings.effective_charge_current.enter_ma / 1000.0


def discharge_present(ctx: ReleaseContext) -> bool:
    """A discharge: the current reading is at or below the effective discharge current (I-EFF-D)."""
    return ctx.m.current_a <= ctx.settings.effective_discharge_current.enter_ma / 1000.0


def current_alarm(rid: str, section: str) -> MonitorSpec:
    """IC-A / ID-A: flags only, debounced by `CURRENT_ALARM_DELAY_MS`."""
    return MonitorSpec(
        **thresholds(rid),
        quantity=current_a,
        enabled=f"{section}.enabled",
        delay_ms=CURRENT_ALARM_DELAY_MS,
        near=CURRENT_NEAR_A,
    )


def overcurrent(
    rid: str,
    *,
    delay_ms: str | Scaled,
    enabled: str | None,
    auto_release_s: str,
    flag_prefix: str,
    comparator: bool = False,
) -> MonitorSpec:
    """An over-current protection: the opposite current releases it at once, otherwise the release
    is automatic after `auto_release_s` (each alternative switched by its own flag)."""
    charging = THRESHOLDS[rid].direction is Direction.ABOVE
    opposite = ReleaseAlternative(
        "discharge present" if charging else "charge present",
        discharge_present if charging else charge_present,
        flag=f"{flag_prefix}_release_on_{'discharge' if charging else 'charge'}",
        debounce=False,
    )
    automatic = ReleaseAlternative(
        "automatic release",
        lambda ctx: True,
        flag=f"{flag_prefix}_auto_release",
        debounce=False,
        after_s=auto_release_s,
    )
    return MonitorSpec(
        **thresholds(rid),
        quantity=current_a,
        blocks=Block.CHARGE if charging else Block.DISCHARGE,
        enabled=enabled,
        delay_ms=delay_ms,
        alternatives=(opposite, automatic),
        near=CURRENT_NEAR_A,
        comparator=comparator,
    )


def section_overcurrent(rid: str, section: str, flag_prefix: str) -> MonitorSpec:
    """An over-current protection whose values all sit in one settings section."""
    return overcurrent(
        rid,
        delay_ms=f"{section}.delay_ms",
        enabled=f"{section}.enabled",
        auto_release_s=f"{section}.auto_release_s",
        flag_prefix=flag_prefix,
    )


CURRENT_MONITORS: tuple[MonitorSpec, ...] = (
    current_alarm("IC-A", "charge_overcurrent_alarm"),
    section_overcurrent("IC-OCP", "charge_overcurrent_protection", "ic_ocp"),
    current_alarm("ID-A", "discharge_overcurrent_alarm"),
    section_overcurrent("ID-OCP", "discharge_overcurrent_protection", "id_ocp"),
    section_overcurrent("ID-TOCP", "transient_overcurrent_protection", "id_tocp"),
    # SCP: current and delay fixed in firmware; cannot be disabled (no enable switch).
    overcurrent(
        "SCP",
        delay_ms=Scaled("fixed.short_circuit_delay_us", 0.001),
        enabled=None,
        auto_release_s="short_circuit_protection.auto_release_s",
        flag_prefix="scp",
        comparator=True,
    ),
)


# --- SOC and cell failure ------------------------------------------------------------------------
SOC_MONITORS: tuple[MonitorSpec, ...] = (
    MonitorSpec(
        **thresholds("SOC-LA"),
        quantity=soc_pct,
        enabled="soc_alarm.enabled",
        delay_ms=SOC_DELAY_MS,
        from_channels=False,
        bounds=soc_bounds,
    ),
    MonitorSpec(
        **thresholds("SOC-LP"),
        quantity=soc_pct,
        blocks=Block.DISCHARGE,
        enabled="soc_protection.enabled",
        delay_ms=SOC_DELAY_MS,
        alternatives=(recovery(flag="soc_lp_release_on_recovery"),),
        from_channels=False,
        bounds=soc_bounds,
    ),
    MonitorSpec(
        **thresholds("CELL-FAIL"),
        quantity=cell_spread_mv,
        enabled="cell_failure_alarm.enabled",
        delay_ms=CELL_FAIL_DELAY_MS,
        near=SPREAD_NEAR_MV,
        from_channels=False,
        bounds=cell_spread_bounds,
    ),
)

# Every monitor the twin runs (the locks, balancing and power management are in their own modules).
ALL_MONITORS: tuple[MonitorSpec, ...] = (
    VOLTAGE_MONITORS + TEMPERATURE_MONITORS + CURRENT_MONITORS + SOC_MONITORS
)
