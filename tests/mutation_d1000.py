"""Non-conforming Prohelion D1000 Gen2 units generated from the documented default configuration.

A D1000 mutant is a unit that applies one thing other than it declares: the twin runs with
`--firmware` the mutated configuration while the plan checks against the declared one
(`-- --hil-dut-config`). Each mutant moves one protection limit beyond its tolerance in the
direction that matters or the other way (acting too early), scales one documented timeout,
disables the auxiliary check of one contactor, or breaks one twin behaviour flag, and names the
requirement IDs it must fail on (the row whose `setting` is the parameter). Mutants of the
charging sequence are built on a declared configuration with chargingMethod External, which the
sequence needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mutation import DeclaredMutant, put, valid_units

from hil.duts.prohelion_d1000_gen2.config import CONTACTOR_COUNT, Behaviour, D1000Config
from hil.spec import SpecFile

DUT = "prohelion-d1000-gen2"
#: a limit moves this many tolerances past the configured value
TOLERANCES = 3.0
#: a documented timeout is scaled by this
DELAY_FACTOR = 3.0
#: station expectations standing in for a tolerance the spec does not give (sim station's values)
STATION_TOLERANCE = {
    "cell_temperature": 1.0,  # temperature_tolerance_c
    "charge_current": 2.0,  # current_tolerance_a
    "discharge_current": 2.0,
    "precharge_voltage_delta": 0.3,  # precharge_delta_margin_v
    "precharge_current": 0.5,  # precharge_current_margin_a
}
#: PH-ENV: the BMU environment limits, each with the sim station's go/no-go margin (its
#: expectations environment_temperature_margin_c, pressure_margin_kpa, humidity_margin_pct) and the
#: lowest level its chamber / pressure controller reaches (instruments' humidity_min, pressure_min)
ENV_LIMITS: dict[str, tuple[float, float | None]] = {
    "bmuTemperatureMin": (2.0, None),
    "bmuTemperatureMax": (2.0, None),
    "bmuPressureMin": (2.0, 5.0),
    "bmuPressureMax": (2.0, None),
    "bmuHumidityMin": (3.0, 20.0),
    "bmuHumidityMax": (3.0, None),
}
#: declared base for the charging sequence: it needs chargingMethod External (2)
EXTERNAL = (("chargingMethod", 2),)
#: behaviour flags whose removal the spec does not make a deviation, with why
SKIPPED_FLAGS = {
    "latch_contactor_faults": "V1.2 does not document which faults latch (PH-SM-IDLE records it as info)",
}
#: the requirement rows each behaviour flag removes a behaviour of
FLAG_ROWS: dict[str, tuple[frozenset[str], tuple[tuple[str, Any], ...]]] = {
    "check_contactor_aux": (frozenset({"PH-CONT"}), ()),
    "precharge_timeout": (frozenset({"PH-PRE-TO"}), ()),
    "precharge_overcurrent": (frozenset({"PH-PRE-I"}), ()),
    "precharge_voltage_check": (frozenset({"PH-PRE-DV"}), ()),
    "charge_stopping_timeout": (frozenset({"PH-SM-CHARGE"}), EXTERNAL),
    "charge_stopping_waits_for_current": (frozenset({"PH-SM-CHARGE"}), EXTERNAL),
    "disconnect_timeout": (frozenset({"PH-SM-FAULT"}), ()),
    "balance_only_in_enabled": (frozenset({"PH-BAL", "PH-SM-DRIVE"}), ()),
    "control_timeout": (frozenset({"PH-SM-CMD"}), ()),
    "node_count_check": (frozenset({"PH-CMU", "PH-SM-START"}), ()),
    "hvil_check": (frozenset({"PH-HVIL"}), ()),
    "cell_voltage_limits": (frozenset({"PH-COV-C", "PH-CUV-C"}), ()),
    "cell_temperature_limits": (frozenset({"PH-OT", "PH-UT"}), ()),
    "overcurrent_check": (frozenset({"PH-OCC", "PH-OCD"}), ()),
    "warning_limits": (frozenset({"PH-COV-W", "PH-CUV-W"}), ()),
    "safe_requires_idle_command": (frozenset({"PH-SM-IDLE"}), ()),
    "soc_from_ocv": (frozenset({"PH-SOC"}), ()),
    "environment_limits": (frozenset({"PH-ENV"}), ()),
}
#: documented firmware constants (config `fixed`): requirement, how to scale, declared base
TIMEOUTS: dict[str, tuple[str, float, tuple[tuple[str, Any], ...]]] = {
    "disconnect_timeout_s": ("PH-SM-FAULT", DELAY_FACTOR, ()),
    "charge_stopping_timeout_s": ("PH-SM-CHARGE", DELAY_FACTOR, EXTERNAL),
    "charge_init_timeout_s": ("PH-SM-CHARGE", DELAY_FACTOR, (("chargingMethod", 1),)),
    # assumed 5 s: the plan holds it to the station's control_timeout_max_s (10 s)
    "control_timeout_s": ("PH-SM-CMD", DELAY_FACTOR, ()),
}
#: CHARGE_STOPPING → IDLE below 5 A (documented): a unit opening the contactors under more current
CHARGE_STOPPING_CURRENT_SHIFT_A = TOLERANCES * STATION_TOLERANCE["charge_current"]
SKIPPED_FIXED = {
    "disconnect_complete_current_a": "assumed (CHARGE_STOPPING's 5 A), not documented for DISCONNECT",
    "contactor_aux_debounce_s": "assumed: no debounce is documented (PH-CONT bounds it by the station)",
    "initialise_s": "assumed: no start-up time is documented",
    "calibrate_s": "assumed: no start-up time is documented",
    "precharge_negative_current_a": "assumed: the NEGCURRENT threshold is not documented",
    "thermistor_r25_ohm": "assumed: the thermistor's R25 is not documented (a station value)",
    "filtered_current_tau_s": "assumed: FilteredCurrent's filter is not documented",
    "balancing_current_a": "assumed duty: only the CMU's 650 mA at 100 % is documented",
    "cell_present_v": "assumed: when a cell counts as missing is not documented",
}


@dataclass(frozen=True)
class D1000Mutant(DeclaredMutant):
    """One unit applying `path` = `value` while declaring `base` on the defaults; the IDs it must fail."""

    name: str
    requirements: frozenset[str]
    path: str
    value: Any
    base: tuple[tuple[str, Any], ...] = field(default=())
    dut: str = DUT

    def declared(self) -> dict[str, Any]:
        """The configuration the unit claims: the documented defaults with `base` applied."""
        data: dict[str, Any] = D1000Config().model_dump(mode="json", by_alias=True)
        for key, value in self.base:
            put(data, key, value)
        return data

    def settings(self) -> dict[str, Any]:
        """The configuration the unit applies: the declared one with the mutation."""
        data = self.declared()
        put(data, self.path, self.value)
        return data


def _limit_mutants(spec: SpecFile, defaults: D1000Config) -> list[D1000Mutant]:
    found = []
    for req in spec.requirements:
        if not req.setting or req.id in ("PH-SUP-V", "PH-CAN", "PH-CONT", "PH-ENV", "PH-NTC", "PH-SOC"):
            continue
        value = float(defaults.model_dump(by_alias=True)[req.setting])
        if req.kind == "timing":  # prechargeTimeout: longer (64 s at most)
            found.append(D1000Mutant(f"{req.id}-longer", frozenset({req.id}), req.setting, value * 2))
            continue
        tolerance = req.tolerance if req.tolerance is not None else STATION_TOLERANCE[req.quantity or ""]
        sign = -1.0 if req.direction == "below" else 1.0  # functions: a later start (higher value)
        moved = round(value + sign * TOLERANCES * tolerance, 6)
        found.append(D1000Mutant(f"{req.id}-moved", frozenset({req.id}), req.setting, moved))
        # and the other way: acting too early (inside the limit), which only the near probe shows
        early = round(value - sign * TOLERANCES * tolerance, 6)
        found.append(D1000Mutant(f"{req.id}-moved-early", frozenset({req.id}), req.setting, early))
    return found


def _env_mutants(defaults: D1000Config) -> tuple[list[D1000Mutant], list[str]]:
    """Each BMU environment limit moved both ways by TOLERANCES margins (a unit that faults too late
    and one that faults too early). A Min raised to no higher than the bench's reachable floor is
    indistinguishable there: left out with the reason, and raised past the floor instead."""
    values = defaults.model_dump(by_alias=True)
    found: list[D1000Mutant] = []
    skipped: list[str] = []
    for key, (margin, floor) in ENV_LIMITS.items():
        value = float(values[key])
        shift = TOLERANCES * margin
        for way, moved in (("raised", value + shift), ("lowered", value - shift)):
            name = f"PH-ENV-{key}-{way}"
            if floor is not None and way == "raised" and moved <= floor:
                skipped.append(
                    f"{name}: {moved:g} is not above the bench's lowest reachable level {floor:g}, where "
                    f"the Min is checked: no bench can show it (raised past the floor instead)"
                )
                moved = floor + shift
                name = f"PH-ENV-{key}-raised-past-floor"
            found.append(D1000Mutant(name, frozenset({"PH-ENV"}), key, round(moved, 6)))
    return found, skipped


def mutants(spec: SpecFile) -> tuple[list[D1000Mutant], list[str]]:
    """Every single-change mutant of the default configuration, and the ones left out (with why)."""
    defaults = D1000Config()
    skipped: list[str] = []
    found = _limit_mutants(spec, defaults)
    env, env_skipped = _env_mutants(defaults)
    found += env
    skipped += env_skipped
    for name, (rid, factor, base) in TIMEOUTS.items():
        value = getattr(defaults.fixed, name) * factor
        found.append(D1000Mutant(f"{rid}-{name}", frozenset({rid}), f"fixed.{name}", value, base))
    found.append(
        D1000Mutant(
            "PH-SM-CHARGE-charge_stopping_current_a",
            frozenset({"PH-SM-CHARGE"}),
            "fixed.charge_stopping_current_a",
            defaults.fixed.charge_stopping_current_a + CHARGE_STOPPING_CURRENT_SHIFT_A,
            EXTERNAL,
        )
    )
    skipped.extend(f"fixed.{name}: {why}" for name, why in SKIPPED_FIXED.items())
    for k in range(1, CONTACTOR_COUNT + 1):
        bits = defaults.contactor_config_aux_enable & ~(1 << (4 * (k - 1)))
        base = EXTERNAL if k >= 4 else ()
        found.append(
            D1000Mutant(
                f"PH-CONT-aux{k}-unchecked", frozenset({"PH-CONT"}), "contactorConfigAuxEnable", bits, base
            )
        )
    for flag in Behaviour.model_fields:
        if flag in SKIPPED_FLAGS:
            skipped.append(f"flag-{flag}: {SKIPPED_FLAGS[flag]}")
            continue
        rows, base = FLAG_ROWS[flag]
        found.append(D1000Mutant(f"flag-{flag}", rows, f"behaviour.{flag}", False, base))
    return valid_units(found, D1000Config, skipped), skipped
