"""The 12100 BMS firmware twin, driven directly with TerminalInputs as the electrical model does."""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, replace
from typing import Any

import pytest

from hil.duts.bms12100 import ntc, ocv
from hil.duts.bms12100.config import PARAMETERS_BY_PATH, Settings, VoltageAlarm
from hil.duts.bms12100.protocol.snapshot import Mode, Telemetry
from hil.duts.bms12100.sim.twin import (
    BLEED_CURRENT_A,
    Block,
    Bms12100Twin,
    Direction,
    Frontend,
    HistoryEvent,
    Monitor,
    MonitorSpec,
    Readings,
    ReleaseAlternative,
    TerminalInputs,
)
from hil.duts.bms12100.sim.twin.frontend import CURRENT_RANGE_A
from hil.duts.bms12100.sim.twin.twin import IDLE_MAX_STEP_S

R25 = ntc.resistance_ohm(25.0)
HOUR = 3600.0


def make_inputs(
    cells: float | list[float] = 3.3,
    current: float = 0.0,
    charger: float = 0.0,
    temp_c: float = 25.0,
    powered: bool = True,
    temps: list[float | None] | None = None,
) -> TerminalInputs:
    """Inputs; `temps` gives cell1, cell2, ambient, power NTC temperatures (None = open NTC)."""
    cell_v = [cells] * 4 if isinstance(cells, float) else list(cells)
    ohms = [None if x is None else ntc.resistance_ohm(x) for x in (temps or [temp_c] * 4)]
    return TerminalInputs(cell_v, ohms, current, charger, powered)


def one_cell(v: float, rest: float = 3.3) -> list[float]:
    return [v, rest, rest, rest]


class Bench:
    """Drives one twin the way the electrical model does: hold inputs, step by max_step()."""

    def __init__(
        self, seed: int = 1, ideal: bool = True, settings: Settings | None = None, cells: float = 3.3
    ) -> None:
        self.twin = Bms12100Twin(settings or Settings(), seed)
        if ideal:
            self.twin.frontend = Frontend.ideal()
        self.t = 0.0
        self.inputs = make_inputs(cells)
        self.twin.power_on(self.t, self.inputs)
        self.steps = 0
        self.wiring: tuple[float, float] | None = None

    def set(self, **kwargs: Any) -> None:
        """Change the inputs now and let the twin see them (a zero-length step)."""
        self.wiring = None
        self.inputs = make_inputs(**kwargs)
        self.twin.step(self.t, 0.0, self.inputs)

    def wire(self, load_a: float = 0.0, charge_a: float = 0.0, **kwargs: Any) -> None:
        """Like `set`, but the current follows the MOSFETs as on a bench: a charger pushing
        `charge_a` through the charge path, a load drawing `load_a` through the discharge path."""
        self.set(**kwargs)
        self.wiring = (load_a, charge_a)
        self._follow_fets()

    def _follow_fets(self) -> None:
        if self.wiring is None:
            return
        load_a, charge_a = self.wiring
        amps = (charge_a if self.twin.charge_path_closed else 0.0) - (
            load_a if self.twin.discharge_path_closed else 0.0
        )
        if amps != self.inputs.current_a:
            self.inputs = replace(self.inputs, current_a=amps)
            self.twin.step(self.t, 0.0, self.inputs)

    def run(self, seconds: float) -> None:
        end = self.t + seconds
        while self.t < end:
            self._follow_fets()
            dt = min(self.twin.max_step(), end - self.t)
            self.t = end if end - self.t - dt < 1e-12 else self.t + dt
            self.twin.step(self.t, dt, self.inputs)
            self.steps += 1
        self._follow_fets()

    @property
    def active(self) -> frozenset[str]:
        return self.twin.active_ids()

    def events(self, rid: str, kind: str | None = None) -> list[HistoryEvent]:
        return [e for e in self.twin.history if e.rid == rid and (kind is None or e.kind == kind)]


def pid(path: str) -> int:
    return PARAMETERS_BY_PATH[path].pid


# --- NTC and OCV ---------------------------------------------------------------------------------
def test_ntc_beta_model_and_exact_inverse() -> None:
    assert ntc.resistance_ohm(25.0) == pytest.approx(10_000.0)
    assert ntc.resistance_ohm(50.0) == pytest.approx(10_000.0 * math.exp(3435.0 * (1 / 323.15 - 1 / 298.15)))
    for temp in (-40.0, -20.0, 0.0, 25.0, 60.0, 100.0, 150.0):
        assert ntc.temperature_c(ntc.resistance_ohm(temp)) == pytest.approx(temp, abs=1e-9)
    with pytest.raises(ValueError):
        ntc.temperature_c(0.0)


def test_ocv_table_is_monotonic_flat_in_the_middle_and_invertible() -> None:
    volts = [v for v, _ in ocv.OCV_TABLE]
    socs = [s for _, s in ocv.OCV_TABLE]
    assert volts == sorted(set(volts)) and socs == sorted(set(socs))
    assert ocv.soc_from_ocv(2.50) == 0.0 and ocv.soc_from_ocv(3.45) == 100.0
    assert ocv.soc_from_ocv(2.0) == 0.0 and ocv.soc_from_ocv(4.0) == 100.0
    assert ocv.soc_from_ocv(3.00) == pytest.approx(5.0, abs=1.0)
    assert ocv.soc_from_ocv(3.38) == pytest.approx(96.0, abs=1.0)
    assert ocv.soc_from_ocv(3.33) - ocv.soc_from_ocv(3.26) > 50.0  # the plateau holds most capacity
    for soc in (0.0, 3.0, 17.5, 50.0, 66.6, 96.0, 100.0):
        assert ocv.soc_from_ocv(ocv.ocv_from_soc(soc)) == pytest.approx(soc, abs=1e-9)


# --- trip thresholds and delays ------------------------------------------------------------------
# (rid, switch to turn on first, inputs just beyond the trigger, inputs exactly at it)
TRIPS = [
    ("CV-HA", "cell_high_voltage_alarm.enabled", {"cells": one_cell(3.501)}, {"cells": one_cell(3.500)}),
    ("CV-LA", None, {"cells": one_cell(2.899)}, {"cells": one_cell(2.900)}),
    ("CV-OVP", None, {"cells": one_cell(3.651)}, {"cells": one_cell(3.650)}),
    ("CV-UVP", None, {"cells": one_cell(2.799)}, {"cells": one_cell(2.800)}),
    ("PV-HA", "pack_high_voltage_alarm.enabled", {"cells": [3.51, 3.5, 3.5, 3.5]}, {"cells": [3.5] * 4}),
    ("PV-LA", None, {"cells": [2.95, 2.95, 2.95, 2.94]}, {"cells": [2.95] * 4}),
    ("PV-OVP", None, {"cells": [3.63, 3.63, 3.63, 3.62]}, {"cells": [3.625] * 4}),
    ("PV-UVP", None, {"cells": [2.85, 2.85, 2.85, 2.84]}, {"cells": [2.85] * 4}),
    ("CHG-HV", None, {"charger": 18.01}, {"charger": 18.0}),
]


@pytest.mark.parametrize(("rid", "switch", "beyond", "at"), TRIPS, ids=[t[0] for t in TRIPS])
def test_trips_just_beyond_threshold_after_its_delay(
    rid: str, switch: str | None, beyond: dict[str, Any], at: dict[str, Any]
) -> None:
    bench = Bench()
    if switch:
        bench.twin.write_parameter(pid(switch), 1)
    bench.run(5.0)
    bench.set(**beyond)
    assert bench.twin.max_step() <= 1.0  # a trip timer is running
    bench.run(0.99)
    assert rid not in bench.active
    bench.run(0.02)
    assert rid in bench.active
    [event] = bench.events(rid, "trigger")
    assert event.time == pytest.approx(6.0, abs=1e-6)


@pytest.mark.parametrize(("rid", "switch", "beyond", "at"), TRIPS, ids=[t[0] for t in TRIPS])
def test_does_not_trip_at_the_threshold(
    rid: str, switch: str | None, beyond: dict[str, Any], at: dict[str, Any]
) -> None:
    bench = Bench()
    if switch:
        bench.twin.write_parameter(pid(switch), 1)
    bench.set(**at)
    bench.run(30.0)
    assert rid not in bench.active
    assert not bench.events(rid)


def test_a_blip_shorter_than_the_delay_does_not_trip() -> None:
    bench = Bench()
    bench.set(cells=one_cell(3.70))
    bench.run(0.9)
    bench.set(cells=one_cell(3.30))
    bench.run(0.2)
    bench.set(cells=one_cell(3.70))
    bench.run(0.9)
    assert "CV-OVP" not in bench.active


def test_protections_act_on_measured_values_with_margin_on_a_real_unit() -> None:
    for seed in range(20):
        bench = Bench(seed=seed, ideal=False)
        bench.set(cells=one_cell(3.63))
        bench.run(5.0)
        assert "CV-OVP" not in bench.active
        bench.set(cells=one_cell(3.67))
        bench.run(1.5)
        assert "CV-OVP" in bench.active


# --- what each protection blocks -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "charge_fet", "discharge_fet"),
    [
        ({"cells": one_cell(3.70)}, False, True),  # CV-OVP
        ({"cells": one_cell(2.70)}, True, False),  # CV-UVP (and CV-LA, an alarm)
        ({"cells": [3.63, 3.63, 3.63, 3.62]}, False, True),  # PV-OVP
        ({"charger": 19.0}, False, True),  # CHG-HV
        ({"cells": one_cell(2.85)}, True, True),  # CV-LA alone: alarms do not open FETs
    ],
)
def test_fet_states(kwargs: dict[str, Any], charge_fet: bool, discharge_fet: bool) -> None:
    bench = Bench()
    bench.set(**kwargs)
    bench.run(1.5)
    assert bench.active
    telemetry = bench.twin.telemetry()
    assert (bench.twin.charge_path_closed, bench.twin.discharge_path_closed) == (charge_fet, discharge_fet)
    assert (telemetry.charge_fet, telemetry.discharge_fet) == (charge_fet, discharge_fet)
    assert (telemetry.charge_current_limit_a > 0) == charge_fet
    assert (telemetry.discharge_current_limit_a > 0) == discharge_fet


# --- release rules -------------------------------------------------------------------------------
def tripped_bench(
    rid: str, kwargs: dict[str, Any], soc_ah: float | None = None, settings: Settings | None = None
) -> Bench:
    bench = Bench(settings=settings)
    if soc_ah is not None:
        bench.twin.set_remaining_capacity(soc_ah)
    bench.set(**kwargs)
    bench.run(1.5)
    assert rid in bench.active
    return bench


def test_cv_ovp_releases_below_release_value_with_soc_below_96() -> None:
    bench = tripped_bench("CV-OVP", {"cells": one_cell(3.66)})
    bench.set(cells=one_cell(3.45))  # below the trigger, not below the release value
    bench.run(30.0)
    assert "CV-OVP" in bench.active
    bench.set(cells=one_cell(3.399))
    bench.run(0.99)
    assert "CV-OVP" in bench.active  # release is debounced like the trip
    bench.run(0.02)
    assert "CV-OVP" not in bench.active
    assert bench.events("CV-OVP", "release")[-1].detail == "recovery and SOC below release"


def test_cv_ovp_does_not_release_at_exactly_the_release_value() -> None:
    bench = tripped_bench("CV-OVP", {"cells": one_cell(3.66)})
    bench.set(cells=one_cell(3.400))
    bench.run(30.0)
    assert "CV-OVP" in bench.active


@pytest.mark.parametrize("soc_ah", [96.0, 99.0])
def test_cv_ovp_stays_tripped_when_cells_fall_but_soc_is_at_least_96(soc_ah: float) -> None:
    bench = tripped_bench("CV-OVP", {"cells": one_cell(3.66)}, soc_ah=soc_ah)
    bench.set(cells=one_cell(3.30))
    bench.run(600.0)
    assert "CV-OVP" in bench.active
    assert not bench.twin.charge_path_closed


def test_cv_ovp_discharge_release_needs_more_than_3_a() -> None:
    bench = tripped_bench("CV-OVP", {"cells": one_cell(3.66)}, soc_ah=99.0)
    for amps in (-2.5, -3.0):  # 3.0 A is not "> 3 A"
        bench.set(cells=one_cell(3.45), current=amps)
        bench.run(30.0)
        assert "CV-OVP" in bench.active, amps
    bench.set(cells=one_cell(3.45), current=-3.5)
    bench.run(1.01)
    assert "CV-OVP" not in bench.active
    assert bench.events("CV-OVP", "release")[-1].detail == "discharge current > release"


def test_pv_ovp_release_on_recovery_with_soc_below_96() -> None:
    bench = tripped_bench("PV-OVP", {"cells": [3.63, 3.63, 3.63, 3.62]}, soc_ah=97.0)
    bench.set(cells=[3.37] * 4)  # 13.48 V, but SOC >= 96 %
    bench.run(60.0)
    assert "PV-OVP" in bench.active
    bench.twin.set_remaining_capacity(95.0)
    bench.set(cells=[3.375] * 4)  # exactly 13.50 V is not below the release value
    bench.run(30.0)
    assert "PV-OVP" in bench.active
    bench.set(cells=[3.375, 3.375, 3.37, 3.37])  # 13.49 V
    bench.run(1.01)
    assert "PV-OVP" not in bench.active


def test_pv_ovp_releases_on_a_discharge_of_exactly_3_a() -> None:
    bench = tripped_bench("PV-OVP", {"cells": [3.63, 3.63, 3.63, 3.62]}, soc_ah=99.0)
    bench.set(cells=[3.45] * 4, current=-2.99)
    bench.run(30.0)
    assert "PV-OVP" in bench.active
    bench.set(cells=[3.45] * 4, current=-3.0)  # spec: ">= 3 A" for the pack (CV-OVP: "> 3 A")
    bench.run(1.01)
    assert "PV-OVP" not in bench.active
    assert bench.events("PV-OVP", "release")[-1].detail == "discharge current >= release"


def test_pv_ovp_discharge_release_at_3_a_as_read_by_a_real_unit() -> None:
    bench = Bench(seed=5, ideal=False)
    bench.twin.set_remaining_capacity(99.0)
    bench.set(cells=[3.64] * 4)  # 14.56 V; CV-OVP may trip too, depending on this unit's error
    bench.run(1.5)
    assert "PV-OVP" in bench.active
    amps = bench.twin.frontend.current.true_for(-3.0)  # the true current this unit reads as -3.00 A
    bench.set(cells=[3.45] * 4, current=amps)
    bench.run(1.5)
    assert bench.twin.telemetry().current_a == -3.0
    assert "PV-OVP" not in bench.active


@pytest.mark.parametrize(
    ("rid", "low"),
    [("CV-UVP", one_cell(2.79)), ("PV-UVP", [2.85, 2.85, 2.85, 2.84])],
)
def test_uvp_releases_on_a_charge_current_of_1_a(rid: str, low: list[float]) -> None:
    bench = tripped_bench(rid, {"cells": low})
    assert not bench.twin.discharge_path_closed and bench.twin.charge_path_closed
    bench.set(cells=[3.2] * 4)  # voltage back above the release value: not a release while running
    bench.run(10.0)
    assert rid in bench.active
    bench.set(cells=[3.2] * 4, current=0.99, charger=13.6)
    bench.run(10.0)
    assert rid in bench.active
    bench.set(cells=[3.2] * 4, current=1.0, charger=13.6)
    bench.run(1.01)
    assert rid not in bench.active
    assert bench.events(rid, "release")[-1].detail == "charge current >= release"
    assert bench.twin.discharge_path_closed


# (rid, switch, trip inputs, between release and trigger, just beyond release)
ALARM_RELEASES = [
    ("CV-HA", "cell_high_voltage_alarm.enabled", one_cell(3.51), one_cell(3.45), one_cell(3.399)),
    ("CV-LA", None, one_cell(2.89), one_cell(3.0), one_cell(3.101)),
    ("PV-HA", "pack_high_voltage_alarm.enabled", [3.51] * 4, [3.45] * 4, [3.375, 3.375, 3.37, 3.37]),
    ("PV-LA", None, [2.94] * 4, [3.0] * 4, [3.13, 3.13, 3.13, 3.12]),
]


@pytest.mark.parametrize(("rid", "switch", "trip", "between", "beyond"), ALARM_RELEASES)
def test_alarm_releases_beyond_its_release_value(
    rid: str, switch: str | None, trip: list[float], between: list[float], beyond: list[float]
) -> None:
    bench = Bench()
    if switch:
        bench.twin.write_parameter(pid(switch), 1)
    bench.set(cells=trip)
    bench.run(1.5)
    assert rid in bench.active
    assert bench.twin.charge_path_closed and bench.twin.discharge_path_closed
    bench.set(cells=between)
    bench.run(30.0)
    assert rid in bench.active
    bench.set(cells=beyond)
    bench.run(1.01)
    assert rid not in bench.active


def test_chg_hv_stops_charging_above_18_v_and_resumes_below() -> None:
    bench = tripped_bench("CHG-HV", {"charger": 18.5, "current": 2.0})
    assert not bench.twin.charge_path_closed and bench.twin.discharge_path_closed
    bench.set(charger=18.0)  # not below 18 V yet
    bench.run(30.0)
    assert "CHG-HV" in bench.active
    bench.set(charger=17.99)
    bench.run(1.01)
    assert "CHG-HV" not in bench.active
    assert bench.twin.charge_path_closed


# --- disabled functions and parameters -----------------------------------------------------------
@pytest.mark.parametrize(
    ("rid", "switch", "cells"),
    [
        ("CV-HA", "cell_high_voltage_alarm.enabled", [3.6] * 4),
        ("PV-HA", "pack_high_voltage_alarm.enabled", [3.6] * 4),
    ],
)
def test_disabled_alarm_is_silent_until_enabled_over_the_parameter_interface(
    rid: str, switch: str, cells: list[float]
) -> None:
    bench = Bench()
    assert bench.twin.read_parameter(pid(switch)) == 0
    bench.set(cells=cells)
    bench.run(120.0)
    assert rid not in bench.active
    assert not bench.events(rid)
    bench.twin.write_parameter(pid(switch), 1)
    assert bench.twin.read_parameter(pid(switch)) == 1
    bench.run(1.01)
    assert rid in bench.active
    bench.twin.write_parameter(pid(switch), 0)  # switching it off releases it
    bench.run(0.01)
    assert rid not in bench.active


def test_parameters_read_write_and_validate() -> None:
    bench = Bench()
    twin = bench.twin
    assert twin.read_parameter(pid("cell_overvoltage_protection.trigger")) == 3650
    assert twin.read_parameter(pid("pack_overvoltage_protection.trigger")) == 14500
    assert twin.read_parameter(pid("cell_overvoltage_protection.release_soc_pct")) == 960
    with pytest.raises(ValueError, match="unknown parameter"):
        twin.read_parameter(0x7FFF)
    with pytest.raises(ValueError, match="unknown parameter"):
        twin.write_parameter(0x7FFF, 1)
    for path, raw in [
        ("cell_overvoltage_protection.release", 3700),  # above its trigger
        ("cell_undervoltage_protection.trigger", 3200),  # above its release
        ("cell_overvoltage_protection.delay_ms", -1),
        ("capacity.rated_ah", 400_00),  # seed: 5..300 Ah
        ("pack_overvoltage_protection.release_soc_pct", 1200),
    ]:
        before = twin.read_parameter(pid(path))
        with pytest.raises(ValueError):
            twin.write_parameter(pid(path), raw)
        assert twin.read_parameter(pid(path)) == before, path
    twin.write_parameter(pid("cell_overvoltage_protection.trigger"), 3600)
    assert twin.settings.cell_overvoltage_protection.trigger == 3600
    bench.set(cells=one_cell(3.601))
    bench.run(1.01)
    assert "CV-OVP" in bench.active
    with pytest.raises(ValueError):
        Bms12100Twin(
            Settings(pack_low_voltage_alarm=VoltageAlarm(enabled=True, trigger=12.6, release=12.5)), 1
        )


def test_changed_delay_applies() -> None:
    bench = Bench()
    bench.twin.write_parameter(pid("cell_low_voltage_alarm.delay_ms"), 3000)
    bench.set(cells=one_cell(2.8))
    bench.run(2.99)
    assert "CV-LA" not in bench.active
    bench.run(0.02)
    assert "CV-LA" in bench.active


# --- behaviour flags (non-conforming units) ------------------------------------------------------
def with_flag(flag: str) -> Settings:
    settings = Settings()
    setattr(settings.behaviour, flag, False)
    return settings


@pytest.mark.parametrize(("rid", "high"), [("CV-OVP", one_cell(3.66)), ("PV-OVP", [3.63, 3.63, 3.63, 3.62])])
def test_flag_ovp_release_on_recovery(rid: str, high: list[float]) -> None:
    bench = tripped_bench(rid, {"cells": high}, settings=with_flag("ovp_release_on_recovery"))
    bench.set(cells=[3.3] * 4)  # below release with SOC ~60 %: a conforming unit releases
    bench.run(60.0)
    assert rid in bench.active
    bench.set(cells=[3.3] * 4, current=-5.0)  # the discharge alternative still works
    bench.run(1.01)
    assert rid not in bench.active


@pytest.mark.parametrize(("rid", "high"), [("CV-OVP", one_cell(3.66)), ("PV-OVP", [3.63, 3.63, 3.63, 3.62])])
def test_flag_ovp_release_on_discharge(rid: str, high: list[float]) -> None:
    bench = tripped_bench(rid, {"cells": high}, soc_ah=99.0, settings=with_flag("ovp_release_on_discharge"))
    bench.set(cells=[3.35] * 4, current=-10.0)
    bench.run(30.0)
    assert rid in bench.active
    bench.twin.set_remaining_capacity(50.0)  # the recovery alternative still works
    bench.set(cells=[3.35] * 4)
    bench.run(1.01)
    assert rid not in bench.active


@pytest.mark.parametrize(("rid", "low"), [("CV-UVP", one_cell(2.79)), ("PV-UVP", [2.84] * 4)])
def test_flag_uvp_release_on_charge(rid: str, low: list[float]) -> None:
    bench = tripped_bench(rid, {"cells": low}, settings=with_flag("uvp_release_on_charge"))
    bench.set(cells=[3.2] * 4, current=5.0, charger=13.6)
    bench.run(50.0)
    assert rid in bench.active
    # the reboot re-check still works: shut down at 60 s, the charger wakes it, cells are above release
    bench.run(20.0)
    assert rid not in bench.active
    assert bench.events("PM-UVSD", "trigger")
    assert bench.events(rid, "release")[-1].detail == "reboot re-check"


def test_flag_chg_hv_release() -> None:
    bench = tripped_bench("CHG-HV", {"charger": 18.5}, settings=with_flag("chg_hv_release"))
    bench.set(charger=14.0)
    bench.run(120.0)
    assert "CHG-HV" in bench.active
    assert not bench.twin.charge_path_closed


def test_conforming_unit_has_every_flag_true() -> None:
    assert all(value is True for _, value in Settings().behaviour)


# --- modes ---------------------------------------------------------------------------------------
def test_charge_mode_hysteresis_and_charger_voltage() -> None:
    bench = Bench()
    sequence = [
        (13.6, 0.29, Mode.STANDBY),
        (13.6, 0.30, Mode.CHARGE),  # I-EFF-C enter 300 mA
        (13.6, 0.25, Mode.CHARGE),  # exit below 250 mA
        (13.6, 0.24, Mode.STANDBY),
        (11.5, 1.00, Mode.STANDBY),  # MODE-CHG needs the charger above 11.5 V
        (11.51, 1.00, Mode.CHARGE),
        (0.0, -1.0, Mode.DISCHARGE),  # straight from charge to discharge
    ]
    for charger, amps, mode in sequence:
        bench.set(charger=charger, current=amps)
        bench.run(2.0)
        assert bench.twin.telemetry().mode is mode, (charger, amps)


def test_discharge_mode_hysteresis() -> None:
    bench = Bench()
    for amps, mode in [
        (-0.19, Mode.STANDBY),
        (-0.20, Mode.DISCHARGE),
        (-0.15, Mode.DISCHARGE),
        (-0.14, Mode.STANDBY),
    ]:
        bench.set(current=amps)
        bench.run(2.0)
        assert bench.twin.telemetry().mode is mode, amps


# --- under-voltage shutdown and wake (PM-UVSD, PM-WAKE) ------------------------------------------
def test_uvp_shuts_down_after_a_minute_and_wakes_on_rs485_then_charger() -> None:
    bench = Bench()
    bench.run(10.0)
    bench.set(cells=one_cell(2.79))
    bench.run(1.0)
    trip = bench.events("CV-UVP", "trigger")[0].time
    assert trip == pytest.approx(11.0)
    bench.run(59.9)
    assert bench.twin.telemetry().mode is not Mode.SHUTDOWN
    assert bench.twin.charge_path_closed
    bench.run(0.2)
    telemetry = bench.twin.telemetry()
    assert telemetry.mode is Mode.SHUTDOWN
    assert not telemetry.charge_fet and not telemetry.discharge_fet
    assert bench.events("PM-UVSD", "trigger")[0].time == pytest.approx(trip + 60.0)
    bench.set(cells=one_cell(2.79), charger=11.4)  # below the charge-mode minimum: no wake
    bench.run(HOUR)
    assert bench.twin.telemetry().mode is Mode.SHUTDOWN
    # RS-485 traffic wakes it; the cells are still low, so UVP stays and it shuts down again
    bench.set(cells=one_cell(2.79))
    bench.twin.wake(bench.t, "rs485")
    bench.run(0.1)
    assert bench.twin.telemetry().mode is Mode.STANDBY
    assert "CV-UVP" in bench.active and not bench.twin.discharge_path_closed and bench.twin.charge_path_closed
    woke = bench.t - 0.1
    bench.run(59.8)
    assert bench.twin.telemetry().mode is Mode.STANDBY
    bench.run(0.2)
    assert bench.twin.telemetry().mode is Mode.SHUTDOWN
    assert bench.events("PM-UVSD", "trigger")[-1].time == pytest.approx(woke + 60.0)
    # a charger wakes it; the charge current then releases UVP
    bench.set(cells=one_cell(2.79), charger=13.8)
    assert bench.twin.telemetry().mode is Mode.STANDBY
    assert bench.events("PM-UVSD", "release")[-1].detail == "wake: charger"
    bench.set(cells=one_cell(2.9), charger=13.8, current=5.0)
    bench.run(1.01)
    assert "CV-UVP" not in bench.active
    assert bench.twin.telemetry().mode is Mode.CHARGE
    bench.run(120.0)
    assert bench.twin.telemetry().mode is Mode.CHARGE


def test_wake_rechecks_uvp_against_the_release_value() -> None:
    bench = tripped_bench("PV-UVP", {"cells": [2.84] * 4})
    bench.run(61.0)
    assert bench.twin.telemetry().mode is Mode.SHUTDOWN
    bench.set(cells=[3.15] * 4)  # rested above the 12.5 V release value
    bench.run(600.0)
    assert "PV-UVP" in bench.active  # asleep: nothing is re-checked
    bench.twin.wake(bench.t, "button")
    bench.run(0.1)
    assert "PV-UVP" not in bench.active
    assert bench.events("PV-UVP", "release")[-1].detail == "reboot re-check"
    assert bench.twin.discharge_path_closed


def test_wake_is_ignored_when_running() -> None:
    bench = Bench()
    bench.twin.wake(0.0, "rs485")
    bench.run(1.0)
    assert not bench.twin.history
    assert bench.twin.telemetry().mode is Mode.STANDBY


# --- SOC and cycles ------------------------------------------------------------------------------
@pytest.mark.parametrize("cell_v", [2.5, 3.0, 3.2, 3.28, 3.3, 3.32, 3.38, 3.45])
def test_soc_is_initialised_from_the_ocv_of_the_lowest_measured_cell(cell_v: float) -> None:
    twin = Bms12100Twin(Settings(), seed=3)
    twin.power_on(0.0, make_inputs([cell_v, cell_v + 0.02, cell_v + 0.02, cell_v + 0.01]))
    telemetry = twin.telemetry()
    assert telemetry.soc_pct == round(ocv.soc_from_ocv(min(telemetry.cell_mv) / 1000.0), 1)
    assert telemetry.remaining_ah == pytest.approx(telemetry.soc_pct * telemetry.full_ah / 100.0, abs=0.06)


def test_soc_is_coulomb_counted_over_an_hour() -> None:
    bench = Bench(seed=11, ideal=False)
    bench.twin.set_remaining_capacity(50.0)
    bench.set(current=20.0, charger=13.8)
    bench.run(HOUR)
    assert bench.twin.telemetry().soc_pct == pytest.approx(70.0, abs=0.2)  # 0.5 % current gain error
    bench.set(current=-30.0)
    bench.run(HOUR)
    telemetry = bench.twin.telemetry()
    assert telemetry.soc_pct == pytest.approx(40.0, abs=0.4)
    assert telemetry.remaining_ah == pytest.approx(40.0, abs=0.4)
    assert bench.steps < 8000  # 1 s steps while current flows


def test_soc_clamps_and_cycles_count_at_80_percent_of_rated() -> None:
    bench = Bench()
    bench.twin.set_remaining_capacity(100.0)
    bench.set(current=-100.0)
    bench.run(0.79 * HOUR)
    assert bench.twin.telemetry().cycles == 0
    bench.run(0.02 * HOUR)
    assert bench.twin.telemetry().cycles == 1
    bench.run(0.5 * HOUR)
    assert bench.twin.telemetry().soc_pct == 0.0
    bench.set(current=50.0, charger=14.0)
    bench.run(3 * HOUR)
    assert bench.twin.telemetry().soc_pct == 100.0
    with pytest.raises(ValueError):
        bench.twin.set_remaining_capacity(101.0)


# --- history -------------------------------------------------------------------------------------
def test_history_records_triggers_and_releases_with_readings_in_a_ring_of_1000() -> None:
    bench = Bench()
    bench.set(cells=one_cell(3.70))
    bench.run(1.5)
    [event] = bench.events("CV-OVP", "trigger")
    assert event.snapshot.max_cell_mv == 3700 and event.snapshot.cell_mv[1] == 3300
    for _ in range(520):
        bench.set(cells=one_cell(2.85))
        bench.run(1.01)
        bench.set(cells=one_cell(3.2))
        bench.run(1.01)
    history = bench.twin.history
    assert len(history) == 1000
    assert [e.time for e in history] == sorted(e.time for e in history)
    assert history[-1].rid == "CV-LA" and history[-1].kind == "release"
    assert not bench.events("CV-OVP", "trigger")  # the oldest records were dropped


# --- determinism and accuracy --------------------------------------------------------------------
def telemetry_sequence(seed: int) -> tuple[list[Telemetry], list[tuple[float, str, str]]]:
    bench = Bench(seed=seed, ideal=False)
    sequence = []
    for cells, amps, charger in [(3.3, 0.0, 0.0), (3.4, 20.0, 14.0), (3.66, 5.0, 14.6), (3.2, -40.0, 0.0)]:
        bench.set(cells=cells, current=amps, charger=charger)
        for _ in range(20):
            bench.run(0.5)
            sequence.append(bench.twin.telemetry())
    return sequence, [(e.time, e.kind, e.rid) for e in bench.twin.history]


def test_same_seed_same_telemetry_different_seed_different() -> None:
    (first, first_history), (second, second_history) = telemetry_sequence(7), telemetry_sequence(7)
    other, _ = telemetry_sequence(8)
    assert first == second
    assert first_history == second_history and first_history  # CV-OVP tripped on the way
    assert [t.cell_mv for t in first] != [t.cell_mv for t in other]
    assert [t.current_a for t in first] != [t.current_a for t in other]


def current_error_limit(amps: float) -> float:
    return (0.012 if abs(amps) < 10.0 else 0.006) * abs(amps) + 0.010


def test_measurement_errors_stay_inside_the_seed_accuracy_over_many_seeds() -> None:
    rng = random.Random(2024)
    for seed in range(300):
        twin = Bms12100Twin(Settings(), seed)
        cells = [rng.uniform(2.5, 3.65) for _ in range(4)]
        temps = [rng.uniform(-20.0, 70.0) for _ in range(4)]
        inputs = TerminalInputs(cells, [ntc.resistance_ohm(x) for x in temps], 0.0, 0.0, True)
        twin.power_on(0.0, inputs)
        for k, amps in enumerate([0.0, 0.3, -0.2, 2.0, -9.99, 10.0, -50.0, 100.0, -110.0]):
            inputs.current_a = amps
            twin.step(0.1 * (k + 1), 0.1, inputs)
            telemetry = twin.telemetry()
            for mv, cell in zip(telemetry.cell_mv, cells, strict=True):
                assert abs(mv / 1000.0 - cell) <= 0.012  # ACC-CV ±20 mV
            assert abs(telemetry.pack_v - math.fsum(cells)) <= 0.003 * math.fsum(cells)  # ACC-PV ±0.5 %
            for temp_c, true_c in zip(telemetry.temperatures_c, temps, strict=True):
                assert abs(temp_c - true_c) <= 1.2  # ACC-T ±2 °C
            assert abs(telemetry.current_a - amps) <= current_error_limit(amps)  # ACC-I ±2 % / ±1 %
            assert telemetry.current_a == round(telemetry.current_a, 2)
            assert telemetry.pack_v == round(telemetry.pack_v, 2)
            assert all(x == round(x, 1) for x in telemetry.temperatures_c)


def test_open_ntc_reads_as_bottom_of_range() -> None:
    twin = Bms12100Twin(Settings(), 1)
    twin.power_on(0.0, TerminalInputs([3.3] * 4, [R25, None, R25, R25], 0.0, 0.0, True))
    assert twin.telemetry().temperatures_c[1] == -40.0


# --- time stepping -------------------------------------------------------------------------------
def test_48_hours_of_standby_using_max_step_is_cheap_and_ends_in_sleep() -> None:
    bench = Bench(seed=2, ideal=False)
    started = time.process_time()
    bench.run(48 * HOUR - 1.0)
    assert bench.twin.telemetry().mode is Mode.STANDBY
    assert not bench.active
    bench.run(2.0)
    elapsed = time.process_time() - started
    assert bench.steps <= 48 * HOUR / 30.0
    assert elapsed < 5.0  # CPU seconds for 48 h of virtual time
    assert bench.twin.telemetry().mode is Mode.SHUTDOWN
    [sleep] = bench.events("PM-SLEEP", "trigger")
    assert sleep.time == pytest.approx(48 * HOUR, abs=1e-6)


def test_one_huge_step_keeps_internal_timing_exact() -> None:
    bench = Bench()
    bench.inputs = make_inputs(one_cell(2.7))
    bench.twin.step(48 * HOUR, 48 * HOUR, bench.inputs)
    [trip] = bench.events("CV-UVP", "trigger")
    [shutdown] = bench.events("PM-UVSD", "trigger")
    assert trip.time == pytest.approx(1.0)
    assert shutdown.time == pytest.approx(61.0)
    assert bench.twin.telemetry().mode is Mode.SHUTDOWN


def test_max_step_is_small_only_near_a_threshold_or_while_a_timer_runs() -> None:
    bench = Bench()
    bench.run(20.0)
    assert bench.twin.max_step() == IDLE_MAX_STEP_S  # standby, nothing pending
    bench.set(current=-5.0)
    bench.run(2.0)
    assert bench.twin.max_step() == 1.0  # discharging
    bench.set(cells=one_cell(2.7), current=-5.0)
    assert bench.twin.max_step() == pytest.approx(1.0)  # CV-UVP timer started
    bench.run(1.0)
    assert "CV-UVP" in bench.active
    assert bench.twin.max_step() == pytest.approx(1.0)  # PM-UVSD is 60 s away, but discharging


def test_a_slow_ramp_is_timed_to_within_the_near_step() -> None:
    twin = Bms12100Twin(Settings(), 1)
    twin.frontend = Frontend.ideal()
    t = 0.0
    twin.power_on(t, make_inputs(one_cell(3.6)))
    steps = 0
    while "CV-OVP" not in twin.active_ids():
        dt = twin.max_step()
        t += dt
        twin.step(t, dt, make_inputs(one_cell(3.6 + 0.001 * t)))  # 1 mV/s
        steps += 1
    # the reading first exceeds 3650 mV at 3.6505 V (t = 50.5 s); the delay is 1 s
    [event] = [e for e in twin.history if e.rid == "CV-OVP"]
    assert event.time == pytest.approx(51.5, abs=0.02)
    # coarse steps until the reading could be within its error band (15 mV) of 3650 mV, then 10 ms
    assert steps < 1800


# --- the generic monitor (shape for the current protections of the next issue) -------------------
def reading(t: float, amps: float) -> Readings:
    return Readings(t, (3300,) * 4, 13.2, amps, (25.0,) * 4, 0.0)


def test_monitor_supports_timed_and_immediate_release_alternatives() -> None:
    spec = MonitorSpec(
        rid="X-OCP",
        quantity=lambda m: m.current_a,
        direction=Direction.ABOVE,
        trigger=100.0,
        release=None,
        blocks=Block.CHARGE,
        delay_ms=10_000.0,
        alternatives=(
            ReleaseAlternative("discharge", lambda ctx: ctx.m.current_a < 0.0, debounce=False),
            ReleaseAlternative("auto", lambda ctx: True, after_s=60.0, debounce=False),
        ),
    )
    settings = Settings()
    monitor = Monitor(spec)
    t = 0.0
    transitions = []
    for amps, seconds in [(120.0, 12.0), (0.0, 100.0), (120.0, 10.0), (0.0, 5.0), (-1.0, 1.0)]:
        end = t + seconds
        while t < end - 1e-9:
            dt = min(monitor.step_limit(settings), 1.0, end - t)
            t += dt
            m = reading(t, amps)
            transition = monitor.update(t, dt, m, settings, m)
            if transition:
                transitions.append((round(transition.time, 6), transition.kind, transition.detail))
    assert transitions[0][:2] == (10.0, "trigger")
    assert transitions[1] == (70.0, "release", "auto")
    assert transitions[2][:2] == (122.0, "trigger")
    assert transitions[3][1:] == ("release", "discharge")
    assert transitions[3][0] == pytest.approx(127.0, abs=1.0)


# =================================================================================================
# Temperature, current, locks, balancing, SOC, cell failure, precharge, sleep, wake (the rest of the
# spec rows). Helpers first.
# =================================================================================================
CHARGING = {"current": 5.0, "charger": 13.8}
DISCHARGING = {"current": -5.0}


Temps = list[float | None]


def temps(cell1: float = 25.0, cell2: float = 25.0, ambient: float = 25.0, power: float = 25.0) -> Temps:
    return [cell1, cell2, ambient, power]


def make_settings(off: tuple[str, ...] = (), **values: Any) -> Settings:
    """Default settings with the behaviour flags `off` false and dotted paths (written with "__"
    for the dot, e.g. precharge__time_ms=5000) set."""
    settings = Settings()
    for flag in off:
        setattr(settings.behaviour, flag, False)
    for path, value in values.items():
        settings.set(path.replace("__", "."), value)
    return settings


def checks_trip_timing(bench: Bench, rid: str, beyond: dict[str, Any], delay_s: float) -> None:
    """`rid` trips exactly `delay_s` after `beyond` is applied, and not before."""
    start = bench.t
    bench.set(**beyond)
    bench.run(delay_s * 0.99)
    assert rid not in bench.active
    bench.run(delay_s * 0.02)
    assert rid in bench.active
    assert bench.events(rid, "trigger")[-1].time == pytest.approx(start + delay_s, abs=1e-6)


# --- temperature (TC-*, TD-*, TE-*, TP-*) --------------------------------------------------------
# (rid, inputs just beyond the trigger, inputs exactly at it); delay 2000 ms (settings default)
TEMPERATURE_TRIPS = [
    ("TC-HA", {"temps": temps(cell1=50.1), **CHARGING}, {"temps": temps(cell1=50.0), **CHARGING}),
    ("TC-OTP", {"temps": temps(cell2=60.1)}, {"temps": temps(cell2=60.0)}),
    ("TC-LA", {"temps": temps(cell1=1.9), **CHARGING}, {"temps": temps(cell1=2.0), **CHARGING}),
    ("TC-UTP", {"temps": temps(cell2=-10.1)}, {"temps": temps(cell2=-10.0)}),
    ("TD-HA", {"temps": temps(cell2=52.1), **DISCHARGING}, {"temps": temps(cell2=52.0), **DISCHARGING}),
    ("TD-OTP", {"temps": temps(cell1=60.1)}, {"temps": temps(cell1=60.0)}),
    ("TD-LA", {"temps": temps(cell2=-10.1), **DISCHARGING}, {"temps": temps(cell2=-10.0), **DISCHARGING}),
    ("TD-UTP", {"temps": temps(cell1=-20.1)}, {"temps": temps(cell1=-20.0)}),
    ("TE-HA", {"temps": temps(ambient=50.1)}, {"temps": temps(ambient=50.0)}),
    ("TE-OTP", {"temps": temps(ambient=60.1)}, {"temps": temps(ambient=60.0)}),
    ("TE-LA", {"temps": temps(ambient=-10.1)}, {"temps": temps(ambient=-10.0)}),
    ("TE-UTP", {"temps": temps(ambient=-20.1)}, {"temps": temps(ambient=-20.0)}),
    ("TP-HA", {"temps": temps(power=80.1)}, {"temps": temps(power=80.0)}),
    ("TP-OTP", {"temps": temps(power=100.1)}, {"temps": temps(power=100.0)}),
]


@pytest.mark.parametrize(("rid", "beyond", "at"), TEMPERATURE_TRIPS, ids=[t[0] for t in TEMPERATURE_TRIPS])
def test_temperature_monitor_trips_after_2_s_and_not_at_the_threshold(
    rid: str, beyond: dict[str, Any], at: dict[str, Any]
) -> None:
    bench = Bench()
    bench.run(5.0)
    bench.set(**at)
    bench.run(30.0)
    assert rid not in bench.active and not bench.events(rid)
    bench.set()
    bench.run(5.0)
    checks_trip_timing(bench, rid, beyond, 2.0)


# (rid, trip inputs, between release and trigger, just beyond the release value)
TEMPERATURE_RELEASES = [
    ("TC-HA", temps(cell1=51), temps(cell1=47.0), temps(cell1=46.9), CHARGING),
    ("TC-OTP", temps(cell1=61), temps(cell1=50.0), temps(cell1=49.9), {}),
    ("TC-LA", temps(cell2=1), temps(cell2=5.0), temps(cell2=5.1), CHARGING),
    ("TC-UTP", temps(cell2=-11), temps(cell2=0.0), temps(cell2=0.1), {}),
    ("TD-HA", temps(cell2=53), temps(cell2=47.0), temps(cell2=46.9), DISCHARGING),
    ("TD-OTP", temps(cell2=61), temps(cell2=50.0), temps(cell2=49.9), {}),
    ("TD-LA", temps(cell1=-11), temps(cell1=3.0), temps(cell1=3.1), DISCHARGING),
    ("TD-UTP", temps(cell1=-21), temps(cell1=-10.0), temps(cell1=-9.9), {}),
    ("TE-HA", temps(ambient=51), temps(ambient=47.0), temps(ambient=46.9), {}),
    ("TE-OTP", temps(ambient=61), temps(ambient=55.0), temps(ambient=54.9), {}),
    ("TE-LA", temps(ambient=-11), temps(ambient=3.0), temps(ambient=3.1), {}),
    ("TE-UTP", temps(ambient=-21), temps(ambient=-10.0), temps(ambient=-9.9), {}),
    ("TP-HA", temps(power=81), temps(power=75.0), temps(power=74.9), {}),
    ("TP-OTP", temps(power=101), temps(power=85.0), temps(power=84.9), {}),
]


@pytest.mark.parametrize(
    ("rid", "trip", "between", "beyond", "mode"),
    TEMPERATURE_RELEASES,
    ids=[t[0] for t in TEMPERATURE_RELEASES],
)
def test_temperature_monitor_releases_beyond_its_recovery_value_after_2_s(
    rid: str, trip: Temps, between: Temps, beyond: Temps, mode: dict[str, Any]
) -> None:
    bench = Bench()
    bench.set(temps=trip, **mode)
    bench.run(2.01)
    assert rid in bench.active
    bench.set(temps=between, **mode)
    bench.run(60.0)
    assert rid in bench.active
    bench.set(temps=beyond, **mode)
    bench.run(1.99)
    assert rid in bench.active  # the release is debounced like the trip
    bench.run(0.02)
    assert rid not in bench.active


# (rid, trip inputs, with a setting that keeps the protection of the other group silent)
@pytest.mark.parametrize(
    ("rid", "trip", "values", "charge_fet", "discharge_fet"),
    [
        ("TC-OTP", temps(cell1=61), {"discharge_temperature__over_c": 70}, False, True),
        ("TC-UTP", temps(cell1=-11), {}, False, True),
        ("TD-OTP", temps(cell2=61), {"charge_temperature__over_c": 70}, True, False),
        (
            "TD-UTP",
            temps(cell2=-21),
            {"charge_temperature__under_c": -30, "charge_temperature__under_release_c": -25},
            True,
            False,
        ),
        ("TE-OTP", temps(ambient=61), {}, False, False),
        ("TE-UTP", temps(ambient=-21), {}, False, False),
        ("TP-OTP", temps(power=101), {}, False, False),
    ],
)
def test_temperature_protections_block_what_the_spec_says(
    rid: str, trip: Temps, values: dict[str, Any], charge_fet: bool, discharge_fet: bool
) -> None:
    bench = Bench(settings=make_settings(**values))
    bench.set(temps=trip)
    bench.run(2.01)
    protections = {r for r in bench.active if r.endswith(("OTP", "UTP"))}
    assert protections == {rid}
    assert (bench.twin.charge_path_closed, bench.twin.discharge_path_closed) == (charge_fet, discharge_fet)


@pytest.mark.parametrize(
    ("rid", "mode", "other"), [("TC-HA", CHARGING, DISCHARGING), ("TD-HA", DISCHARGING, CHARGING)]
)
def test_cell_temperature_alarms_trip_only_in_their_mode(
    rid: str, mode: dict[str, Any], other: dict[str, Any]
) -> None:
    hot = temps(cell1=55.0, cell2=55.0)
    bench = Bench()
    for inputs in ({}, other):  # standby, the other mode
        bench.set(temps=hot, **inputs)
        bench.run(30.0)
        assert rid not in bench.active
    bench.set(temps=hot, **mode)
    bench.run(1.0)
    bench.set(temps=hot)  # the mode ends before the delay: the pending trip is dropped
    bench.run(30.0)
    assert rid not in bench.active
    bench.set(temps=hot, **mode)
    bench.run(2.01)
    assert rid in bench.active
    bench.set(temps=hot)  # once tripped, only the recovery value releases it
    bench.run(60.0)
    assert rid in bench.active
    bench.set()
    bench.run(2.01)
    assert rid not in bench.active
    assert bench.events(rid, "release")[-1].detail == "recovery"


def test_a_charge_alarm_stays_when_the_over_temperature_protection_stops_the_charge() -> None:
    bench = Bench()
    bench.wire(charge_a=5.0, charger=13.8, temps=temps(cell1=61.0))
    bench.run(2.01)
    assert {"TC-HA", "TC-OTP"} <= bench.active
    assert bench.inputs.current_a == 0.0 and bench.twin.mode is Mode.STANDBY
    bench.run(60.0)
    assert "TC-HA" in bench.active


@pytest.mark.parametrize(("ohm", "expected"), [(None, {"TC-UTP", "TD-UTP"}), (0.0, {"TC-OTP", "TD-OTP"})])
def test_open_or_shorted_cell_ntc_trips_the_cell_temperature_protections(
    ohm: float | None, expected: set[str]
) -> None:
    bench = Bench()
    bench.inputs = TerminalInputs([3.3] * 4, [ohm, R25, R25, R25], 0.0, 0.0, True)
    bench.twin.step(bench.t, 0.0, bench.inputs)
    bench.run(2.01)
    assert expected <= bench.active
    assert not bench.twin.charge_path_closed and not bench.twin.discharge_path_closed


def test_flag_temperature_release_on_recovery() -> None:
    bench = Bench(settings=make_settings(off=("temperature_release_on_recovery",)))
    bench.set(temps=temps(ambient=61))
    bench.run(2.01)
    bench.set()
    bench.run(600.0)
    assert "TE-OTP" in bench.active
    assert "TE-HA" not in bench.active  # alarms are not affected by the flag


def test_changed_temperature_delay_applies() -> None:
    bench = Bench()
    bench.twin.write_parameter(pid("power_temperature.delay_ms"), 5000)
    bench.run(5.0)
    checks_trip_timing(bench, "TP-HA", {"temps": temps(power=90)}, 5.0)


# --- current (IC-A, ID-A, IC-OCP, ID-OCP, ID-TOCP, SCP) -------------------------------------------
# (rid, inputs just beyond the trigger, inputs exactly at it, delay s)
CURRENT_TRIPS = [
    ("IC-A", {"current": 80.01, "charger": 14.0}, {"current": 80.0, "charger": 14.0}, 1.0),
    ("IC-OCP", {"current": 100.01, "charger": 14.0}, {"current": 100.0, "charger": 14.0}, 10.0),
    ("ID-A", {"current": -105.01}, {"current": -105.0}, 1.0),
    ("ID-OCP", {"current": -110.01}, {"current": -110.0}, 10.0),
    ("ID-TOCP", {"current": -200.01}, {"current": -200.0}, 0.1),
    ("SCP", {"current": -400.01}, {"current": -400.0}, 0.0003),
]


@pytest.mark.parametrize(("rid", "beyond", "at", "delay"), CURRENT_TRIPS, ids=[t[0] for t in CURRENT_TRIPS])
def test_current_monitor_trips_after_its_delay_and_not_at_the_threshold(
    rid: str, beyond: dict[str, Any], at: dict[str, Any], delay: float
) -> None:
    bench = Bench()
    bench.run(5.0)
    bench.set(**at)
    bench.run(30.0)
    assert rid not in bench.active and not bench.events(rid)
    bench.set()
    bench.run(100.0)  # let anything tripped by the "at" current release
    checks_trip_timing(bench, rid, beyond, delay)


def test_current_alarms_release_beyond_their_recovery_values() -> None:
    bench = Bench()
    for rid, trip, between, beyond in [
        (
            "IC-A",
            {"current": 85.0, "charger": 14.0},
            {"current": 77.0, "charger": 14.0},
            {"current": 76.99, "charger": 14.0},
        ),
        ("ID-A", {"current": -106.0}, {"current": -103.0}, {"current": -102.99}),
    ]:
        bench.set(**trip)
        bench.run(1.01)
        assert rid in bench.active
        bench.set(**between)
        bench.run(30.0)
        assert rid in bench.active
        bench.set(**beyond)
        bench.run(0.99)
        assert rid in bench.active
        bench.run(0.02)
        assert rid not in bench.active


@dataclass(frozen=True)
class Ocp:
    """An over-current protection case: how to trip it, what it blocks, what releases it."""

    rid: str
    over: dict[str, Any]  # over-current inputs
    delay: float
    blocks: Block
    opposite: dict[str, Any]  # the opposite current that releases it at once
    short_of: dict[str, Any]  # just short of that
    opposite_flag: str
    auto_flag: str


_CHARGE_03 = {"current": 0.3, "charger": 13.8}
_CHARGE_029 = {"current": 0.29, "charger": 13.8}
OCP = [
    Ocp("IC-OCP", {"current": 110.0, "charger": 14.0}, 10.0, Block.CHARGE, {"current": -0.2},
        {"current": -0.19}, "ic_ocp_release_on_discharge", "ic_ocp_auto_release"),
    Ocp("ID-OCP", {"current": -120.0}, 10.0, Block.DISCHARGE, _CHARGE_03, _CHARGE_029,
        "id_ocp_release_on_charge", "id_ocp_auto_release"),
    Ocp("ID-TOCP", {"current": -250.0}, 0.1, Block.DISCHARGE, _CHARGE_03, _CHARGE_029,
        "id_tocp_release_on_charge", "id_tocp_auto_release"),
    Ocp("SCP", {"current": -800.0}, 0.0003, Block.DISCHARGE, _CHARGE_03, _CHARGE_029,
        "scp_release_on_charge", "scp_auto_release"),
]  # fmt: skip
each_ocp = pytest.mark.parametrize("case", OCP, ids=[case.rid for case in OCP])


def tripped_ocp(case: Ocp, settings: Settings | None = None) -> Bench:
    bench = Bench(settings=settings)
    bench.run(5.0)
    bench.set(**case.over)
    bench.run(case.delay + 1e-4)
    assert case.rid in bench.active
    bench.set()  # the MOSFET is open: no current
    return bench


@each_ocp
def test_overcurrent_protection_blocks_its_path(case: Ocp) -> None:
    bench = tripped_ocp(case)
    assert bench.twin.charge_path_closed is (case.blocks is not Block.CHARGE)
    assert bench.twin.discharge_path_closed is (case.blocks is not Block.DISCHARGE)


@each_ocp
def test_overcurrent_protection_released_at_once_by_the_opposite_current(case: Ocp) -> None:
    bench = tripped_ocp(case)
    bench.set(**case.short_of)
    bench.run(30.0)
    assert case.rid in bench.active
    bench.set(**case.opposite)  # no debounce: released on the first sample
    assert case.rid not in bench.active
    [release] = bench.events(case.rid, "release")
    assert release.time == pytest.approx(bench.t)
    assert release.detail in ("charge present", "discharge present")


@each_ocp
def test_overcurrent_protection_releases_after_60_s_and_re_checks(case: Ocp) -> None:
    bench = tripped_ocp(case)
    tripped = bench.events(case.rid, "trigger")[-1].time
    bench.run(tripped + 59.99 - bench.t)
    assert case.rid in bench.active
    bench.run(0.02)
    assert case.rid not in bench.active
    release = bench.events(case.rid, "release")[-1]
    assert release.time == pytest.approx(tripped + 60.0, abs=1e-6)
    assert release.detail == "automatic release"
    # the over-current is still there when the MOSFET closes again: it trips again after its delay
    bench.set(**case.over)
    start = bench.t
    bench.run(case.delay + 1e-4)
    assert case.rid in bench.active
    assert bench.events(case.rid, "trigger")[-1].time == pytest.approx(start + case.delay, abs=1e-6)


@each_ocp
def test_flag_removes_the_opposite_current_release_only(case: Ocp) -> None:
    bench = tripped_ocp(case, make_settings(off=(case.opposite_flag,)))
    tripped = bench.events(case.rid, "trigger")[-1].time
    bench.set(**case.opposite)
    bench.run(tripped + 59.0 - bench.t)
    assert case.rid in bench.active
    bench.run(1.01)  # the automatic release still works
    assert case.rid not in bench.active
    assert bench.events(case.rid, "release")[-1].detail == "automatic release"


@each_ocp
def test_flag_removes_the_automatic_release_only(case: Ocp) -> None:
    bench = tripped_ocp(case, make_settings(off=(case.auto_flag,)))
    bench.run(600.0)
    assert case.rid in bench.active
    bench.set(**case.opposite)  # the opposite current still releases it
    assert case.rid not in bench.active


def test_current_reading_saturates_but_the_short_circuit_comparator_sees_the_true_current() -> None:
    bench = Bench(seed=3, ideal=False)
    bench.run(5.0)
    bench.set(current=-350.0)  # beyond the ADC's range, short of the SCP comparator
    bench.run(0.05)
    assert bench.twin.telemetry().current_a == -CURRENT_RANGE_A
    assert "SCP" not in bench.active
    bench.set(current=-401.0)
    bench.run(0.0004)
    assert "SCP" in bench.active
    assert bench.events("SCP", "trigger")[0].snapshot.current_a == -CURRENT_RANGE_A


def test_short_circuit_protection_cannot_be_switched_off() -> None:
    assert not [path for path in PARAMETERS_BY_PATH if path.startswith("short_circuit_protection.enabled")]
    assert "enabled" not in type(Settings().short_circuit_protection).model_fields
    assert "fixed.short_circuit_a" not in PARAMETERS_BY_PATH  # fixed in firmware, not settable


def test_changed_overcurrent_delay_applies() -> None:
    bench = Bench()
    bench.twin.write_parameter(pid("transient_overcurrent_protection.delay_ms"), 300)
    bench.run(5.0)
    checks_trip_timing(bench, "ID-TOCP", {"current": -250.0}, 0.3)


# --- locks (ID-TLOCK, SCP-LOCK) -------------------------------------------------------------------
def trips(bench: Bench, rid: str) -> int:
    return len(bench.events(rid, "trigger"))


def run_until_trips(bench: Bench, rid: str, count: int, limit_s: float = 2000.0) -> None:
    """Run (wired) until `rid` has tripped `count` times in total."""
    end = bench.t + limit_s
    while trips(bench, rid) < count:
        assert bench.t < end, f"{rid} tripped {trips(bench, rid)} times only"
        bench.run(1.0)


def test_scp_lock_after_5_consecutive_short_circuits_released_only_by_a_charger() -> None:
    bench = Bench()
    bench.run(5.0)
    bench.wire(load_a=800.0)  # a short that stays: each automatic release meets it again
    run_until_trips(bench, "SCP", 4)
    assert "SCP-LOCK" not in bench.active
    run_until_trips(bench, "SCP", 5)
    assert "SCP-LOCK" in bench.active
    [lock] = bench.events("SCP-LOCK", "trigger")
    assert lock.time == pytest.approx(bench.events("SCP", "trigger")[-1].time)
    assert lock.detail == "5 consecutive SCP trips"
    bench.run(HOUR)  # the SCP releases automatically, the lock holds the output off
    assert "SCP" not in bench.active and "SCP-LOCK" in bench.active
    assert not bench.twin.discharge_path_closed and bench.twin.charge_path_closed
    assert trips(bench, "SCP") == 5
    bench.twin.button(bench.t)  # a reset does not release it
    bench.wire(load_a=0.0)
    bench.run(10.0)
    assert "SCP-LOCK" in bench.active
    bench.wire(charge_a=5.0, charger=13.8)  # a charger
    assert "SCP-LOCK" not in bench.active
    assert bench.events("SCP-LOCK", "release")[-1].detail == "charger connected"
    assert bench.twin.discharge_path_closed


@pytest.mark.parametrize(("normal_s", "locked"), [(9.9, True), (10.1, False)])
def test_a_normal_discharge_period_of_10_s_resets_the_lock_count(normal_s: float, locked: bool) -> None:
    bench = Bench()
    bench.run(5.0)
    bench.wire(load_a=800.0)
    run_until_trips(bench, "SCP", 4)
    bench.wire(load_a=20.0)  # the short is gone, a normal load stays
    bench.run(bench.events("SCP", "trigger")[-1].time + 60.0 - bench.t)  # automatic release
    assert "SCP" not in bench.active
    bench.run(normal_s)
    bench.wire(load_a=800.0)
    run_until_trips(bench, "SCP", 5)
    assert ("SCP-LOCK" in bench.active) is locked
    if not locked:
        run_until_trips(bench, "SCP", 9)
        assert "SCP-LOCK" in bench.active


def test_transient_lock_is_off_by_default_and_counts_once_enabled() -> None:
    bench = Bench()
    bench.run(5.0)
    bench.wire(load_a=250.0)
    run_until_trips(bench, "ID-TOCP", 6)
    assert "ID-TLOCK" not in bench.active and not bench.events("ID-TLOCK")
    bench.twin.write_parameter(pid("transient_overcurrent_protection.lock_enabled"), 1)
    run_until_trips(bench, "ID-TOCP", 10)
    assert "ID-TLOCK" not in bench.active  # counting starts when it is switched on
    run_until_trips(bench, "ID-TOCP", 11)
    assert "ID-TLOCK" in bench.active
    assert not bench.twin.discharge_path_closed
    bench.wire(charge_a=2.0, charger=13.8)
    assert "ID-TLOCK" not in bench.active


def test_lock_count_setting_applies() -> None:
    bench = Bench(settings=make_settings(short_circuit_protection__lock_count=2))
    bench.run(5.0)
    bench.wire(load_a=800.0)
    run_until_trips(bench, "SCP", 2)
    assert "SCP-LOCK" in bench.active


def test_flag_count_consecutive_trips() -> None:
    bench = Bench(settings=make_settings(off=("count_consecutive_trips",)))
    bench.run(5.0)
    bench.wire(load_a=800.0)
    run_until_trips(bench, "SCP", 8)
    assert "SCP-LOCK" not in bench.active and not bench.events("SCP-LOCK")


def test_flag_lock_release_on_charger() -> None:
    bench = Bench(settings=make_settings(off=("lock_release_on_charger",)))
    bench.run(5.0)
    bench.wire(load_a=800.0)
    run_until_trips(bench, "SCP", 5)
    bench.wire(charge_a=5.0, charger=13.8)
    bench.run(600.0)
    assert "SCP-LOCK" in bench.active
    assert bench.twin.telemetry().mode is Mode.CHARGE  # the charger is there, the lock stays


# --- balancing (BAL-*) ----------------------------------------------------------------------------
def bleeding(bench: Bench) -> list[bool]:
    telemetry = bench.twin.telemetry()
    currents = bench.twin.bleed_currents()
    assert telemetry.balancing == [c > 0 for c in currents]
    assert all(c in (0.0, BLEED_CURRENT_A) for c in currents)
    return telemetry.balancing


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ([3.43, 3.40, 3.41, 3.40], [True, False, False, False]),  # above 3400 mV, spread 30 mV
        ([3.43, 3.40, 3.42, 3.40], [True, False, True, False]),  # every cell above start and 20 mV above min
        ([3.429, 3.40, 3.40, 3.40], [False] * 4),  # spread 29 mV
        ([3.40, 3.37, 3.37, 3.37], [False] * 4),  # spread 30 mV, but no cell above 3400 mV
        ([3.45, 3.401, 3.40, 3.40], [True, False, False, False]),  # 3401 mV is not 20 mV above min
    ],
)
def test_balancing_starts_on_start_voltage_and_open_difference(
    cells: list[float], expected: list[bool]
) -> None:
    bench = Bench()
    bench.set(cells=cells)
    bench.run(1.0)
    assert bleeding(bench) == expected


def test_balancing_ends_below_the_end_difference() -> None:
    bench = Bench()
    bench.set(cells=[3.45, 3.42, 3.42, 3.42])
    bench.run(1.0)
    assert bleeding(bench) == [True, False, False, False]
    bench.set(cells=[3.44, 3.42, 3.42, 3.42])  # 20 mV: still on (hysteresis)
    bench.run(60.0)
    assert bleeding(bench)[0]
    bench.set(cells=[3.439, 3.42, 3.42, 3.42])  # 19 mV
    assert bleeding(bench) == [False] * 4
    bench.set(cells=[3.445, 3.42, 3.42, 3.42])  # 25 mV: below the open difference, stays off
    bench.run(60.0)
    assert bleeding(bench) == [False] * 4


def test_charge_balancing_and_its_switch() -> None:
    cells = [3.45, 3.42, 3.42, 3.42]
    bench = Bench()
    bench.set(cells=cells, **CHARGING)
    bench.run(1.0)
    assert bleeding(bench)[0]
    bench = Bench(settings=make_settings(balancing__charge_enabled=False))
    bench.set(cells=cells, **CHARGING)
    bench.run(60.0)
    assert bleeding(bench) == [False] * 4
    bench.set(cells=cells)  # standby balancing is a separate switch
    assert bleeding(bench)[0]


def test_balancing_while_floating_has_no_standby_time_limit() -> None:
    bench = Bench()
    bench.set(cells=[3.45, 3.42, 3.42, 3.42], current=0.1, charger=13.8)  # float: below 300 mA
    bench.run(11 * HOUR)
    assert bench.twin.telemetry().mode is Mode.STANDBY
    assert bleeding(bench)[0]


def test_charge_balancing_ends_when_charging_stops() -> None:
    bench = Bench()
    bench.set(cells=[3.45, 3.42, 3.42, 3.42], **CHARGING)
    bench.run(1.0)
    bench.set(cells=[3.445, 3.42, 3.42, 3.42], **CHARGING)  # 25 mV: the charge session goes on
    bench.run(10.0)
    assert bleeding(bench)[0]
    bench.set(cells=[3.445, 3.42, 3.42, 3.42])  # charging stops; 25 mV does not open a standby session
    assert bleeding(bench) == [False] * 4


def test_no_balancing_while_discharging() -> None:
    bench = Bench()
    bench.set(cells=[3.45, 3.42, 3.42, 3.42], **DISCHARGING)
    bench.run(60.0)
    assert bleeding(bench) == [False] * 4


def test_standby_balancing_stops_after_10_h_until_the_next_standby_period() -> None:
    cells = [3.45, 3.42, 3.42, 3.42]
    bench = Bench()
    bench.run(10.0)
    bench.set(cells=cells)
    start = bench.t
    bench.run(10 * HOUR - 0.01)
    assert bleeding(bench)[0]
    bench.run(0.02)
    assert bleeding(bench) == [False] * 4
    assert bench.t - start == pytest.approx(10 * HOUR + 0.01)
    bench.run(5 * HOUR)
    assert bleeding(bench) == [False] * 4
    bench.set(cells=cells, **CHARGING)  # a charge ends the standby period
    bench.run(10.0)
    bench.set(cells=cells)
    assert bleeding(bench)[0]


def test_standby_balancing_switch() -> None:
    bench = Bench(settings=make_settings(balancing__standby_enabled=False))
    bench.set(cells=[3.45, 3.42, 3.42, 3.42])
    bench.run(60.0)
    assert bleeding(bench) == [False] * 4


def test_flag_standby_balancing_time_limit() -> None:
    bench = Bench(settings=make_settings(off=("standby_balancing_time_limit",)))
    bench.set(cells=[3.45, 3.42, 3.42, 3.42])
    bench.run(11 * HOUR)
    assert bleeding(bench)[0]


@pytest.mark.parametrize(
    ("ntc_temps", "on"),
    [
        (temps(cell1=50.0), True),
        (temps(cell1=50.1), False),  # BAL-HT
        (temps(cell2=0.0), True),
        (temps(cell2=-0.1), False),  # BAL-LT
        (temps(ambient=55.0), True),  # the cell NTCs govern the ban (our reading)
    ],
)
def test_balancing_temperature_ban(ntc_temps: Temps, on: bool) -> None:
    bench = Bench()
    bench.set(cells=[3.45, 3.42, 3.42, 3.42], temps=ntc_temps)
    bench.run(1.0)
    assert bleeding(bench)[0] is on


def test_flag_balancing_temperature_ban() -> None:
    bench = Bench(settings=make_settings(off=("balancing_temperature_ban",)))
    bench.set(cells=[3.45, 3.42, 3.42, 3.42], temps=temps(cell1=55.0, cell2=-5.0))
    bench.run(1.0)
    assert bleeding(bench)[0]


# --- cell failure and SOC (CELL-FAIL, SOC-LA, SOC-LP) ---------------------------------------------
def test_cell_failure_alarm_trips_above_500_mv_and_releases_below_300_mv() -> None:
    bench = Bench()
    bench.set(cells=[3.0, 3.5, 3.3, 3.3])  # exactly 500 mV
    bench.run(30.0)
    assert "CELL-FAIL" not in bench.active
    checks_trip_timing(bench, "CELL-FAIL", {"cells": [3.0, 3.501, 3.3, 3.3]}, 1.0)
    assert bench.twin.charge_path_closed and bench.twin.discharge_path_closed  # an alarm only
    bench.set(cells=[3.0, 3.3, 3.3, 3.3])  # exactly 300 mV
    bench.run(30.0)
    assert "CELL-FAIL" in bench.active
    bench.set(cells=[3.001, 3.3, 3.3, 3.3])
    bench.run(0.99)
    assert "CELL-FAIL" in bench.active
    bench.run(0.02)
    assert "CELL-FAIL" not in bench.active


def test_soc_alarm_below_15_percent_released_by_a_charge() -> None:
    bench = Bench()
    bench.twin.set_remaining_capacity(15.0)
    bench.run(30.0)
    assert "SOC-LA" not in bench.active
    bench.twin.set_remaining_capacity(14.9)
    bench.run(0.99)
    assert "SOC-LA" not in bench.active
    bench.run(0.02)
    assert "SOC-LA" in bench.active
    bench.set(**CHARGING)  # 5 A: 0.1 Ah (0.1 %) in 72 s
    bench.run(60.0)
    assert "SOC-LA" in bench.active
    bench.run(15.0)
    assert "SOC-LA" not in bench.active
    assert bench.twin.discharge_path_closed


def test_soc_protection_is_off_by_default_then_turns_the_output_off() -> None:
    bench = Bench()
    bench.twin.set_remaining_capacity(4.0)
    bench.run(60.0)
    assert "SOC-LP" not in bench.active and bench.twin.discharge_path_closed
    bench.twin.write_parameter(pid("soc_protection.enabled"), 1)
    bench.run(1.01)
    assert "SOC-LP" in bench.active
    assert not bench.twin.discharge_path_closed and bench.twin.charge_path_closed
    bench.set(current=50.0, charger=14.0)  # 1 Ah (1 %) in 72 s
    bench.run(60.0)
    assert "SOC-LP" in bench.active
    bench.run(11.9)  # 71.9 s: 4.999 %
    assert "SOC-LP" in bench.active
    bench.run(1.2)  # above 5 % from 72 s on, debounced 1 s
    assert "SOC-LP" not in bench.active
    assert bench.events("SOC-LP", "release")[-1].detail == "recovery"
    assert bench.twin.discharge_path_closed


def test_flag_soc_lp_release_on_recovery() -> None:
    bench = Bench(settings=make_settings(off=("soc_lp_release_on_recovery",), soc_protection__enabled=True))
    bench.twin.set_remaining_capacity(4.0)
    bench.run(1.01)
    bench.twin.set_remaining_capacity(50.0)
    bench.run(600.0)
    assert "SOC-LP" in bench.active


# --- precharge (PRE) ------------------------------------------------------------------------------
def test_precharge_runs_for_2_s_at_start_up() -> None:
    bench = Bench()
    assert bench.twin.precharge_active
    bench.run(1.99)
    assert bench.twin.precharge_active and bench.twin.discharge_path_closed
    bench.run(0.02)
    assert not bench.twin.precharge_active


def released_uvp(bench: Bench) -> float:
    """Trip CV-UVP, release it with a charge; return the release time."""
    bench.set(cells=one_cell(2.79))
    bench.run(1.01)
    assert not bench.twin.discharge_path_closed and not bench.twin.precharge_active
    bench.set(cells=one_cell(3.2), current=1.0, charger=13.8)
    bench.run(1.0)
    return bench.events("CV-UVP", "release")[-1].time


def test_precharge_runs_each_time_the_discharge_mosfet_turns_on() -> None:
    bench = Bench(settings=make_settings(precharge__time_ms=5000))
    bench.run(4.99)
    assert bench.twin.precharge_active
    bench.run(10.0)
    released = released_uvp(bench)
    assert bench.t == pytest.approx(released)
    bench.run(4.99)
    assert bench.twin.precharge_active
    bench.run(0.02)
    assert not bench.twin.precharge_active


def test_a_discharge_block_aborts_the_precharge() -> None:
    bench = Bench()
    bench.run(0.5)
    bench.set(cells=one_cell(2.79))
    bench.run(1.01)
    assert not bench.twin.discharge_path_closed and not bench.twin.precharge_active


def test_flag_precharge_on_discharge_switch_on() -> None:
    bench = Bench(settings=make_settings(off=("precharge_on_discharge_switch_on",)))
    assert bench.twin.precharge_active  # at start-up still
    bench.run(10.0)
    released_uvp(bench)
    assert bench.twin.discharge_path_closed and not bench.twin.precharge_active


# --- sleep, supply current, wake (PM-SLEEP, PM-SLEEP-I, PM-WAKE) -----------------------------------
def asleep_bench(settings: Settings | None = None) -> Bench:
    bench = Bench(settings=settings or make_settings(power_management__max_standby_h=1))
    bench.run(HOUR + 0.01)
    assert bench.twin.mode is Mode.SHUTDOWN
    return bench


def test_supply_current_awake_asleep_and_without_cells() -> None:
    bench = Bench()
    assert bench.twin.supply_current_a() == pytest.approx(0.012)
    bench = asleep_bench()
    assert bench.twin.supply_current_a() <= 10e-6  # PM-SLEEP-I
    assert bench.twin.bleed_currents() == [0.0] * 4
    bench.set(powered=False)
    assert bench.twin.supply_current_a() == 0.0


def test_an_effective_current_restarts_the_standby_time() -> None:
    bench = Bench()
    bench.run(24 * HOUR)
    bench.set(current=-0.19)  # below the effective discharge current: still standby
    bench.run(60.0)
    bench.set(current=-0.2)  # effective: discharge mode
    bench.run(60.0)
    bench.set()
    restarted = bench.t
    bench.run(48 * HOUR - 1.0)
    assert bench.twin.mode is Mode.STANDBY
    bench.run(2.0)
    assert bench.events("PM-SLEEP", "trigger")[-1].time == pytest.approx(restarted + 48 * HOUR, abs=1e-6)


def test_a_floating_charger_keeps_it_awake() -> None:
    bench = Bench()
    bench.set(current=0.05, charger=13.8)
    bench.run(100 * HOUR)
    assert bench.twin.mode is Mode.STANDBY


def test_sleep_switch_and_flag_sleep_enabled_flag_respected() -> None:
    bench = Bench(settings=make_settings(power_management__sleep_enabled=False))
    bench.run(100 * HOUR)
    assert bench.twin.mode is Mode.STANDBY
    bench = Bench(
        settings=make_settings(off=("sleep_enabled_flag_respected",), power_management__sleep_enabled=False)
    )
    bench.run(48 * HOUR + 1.0)
    assert bench.twin.mode is Mode.SHUTDOWN


@pytest.mark.parametrize("reason", ["charger", "rs485", "button"])
def test_wake_sources_and_their_flags(reason: str) -> None:
    def wake(bench: Bench) -> None:
        if reason == "charger":
            bench.set(charger=13.8, current=0.0)  # P+ above the pack: the wake comparator
            bench.run(1.0)
        elif reason == "rs485":
            bench.twin.wake(bench.t, "rs485")
        else:
            bench.twin.button(bench.t)

    bench = asleep_bench()
    wake(bench)
    assert bench.twin.mode is not Mode.SHUTDOWN
    release = bench.events("PM-SLEEP", "release")[-1]
    assert release.detail == f"wake: {reason}"
    assert bench.twin.supply_current_a() == pytest.approx(0.012)
    bench = asleep_bench(make_settings(off=(f"wake_on_{reason}",), power_management__max_standby_h=1))
    wake(bench)
    bench.run(60.0)
    assert bench.twin.mode is Mode.SHUTDOWN


def test_p_plus_at_the_pack_voltage_does_not_wake_it() -> None:
    bench = asleep_bench()
    bench.set(charger=13.35)  # pack 13.2 V: within the comparator margin
    bench.run(HOUR)
    assert not bench.events("PM-SLEEP", "release")
    bench.set(charger=13.45)
    assert bench.twin.mode is Mode.STANDBY


def test_can_traffic_does_not_wake_it() -> None:
    bench = asleep_bench()
    bench.twin.wake(bench.t, "can")
    bench.run(1.0)
    assert bench.twin.mode is Mode.SHUTDOWN


def test_after_a_wake_it_sleeps_again_after_the_standby_time() -> None:
    bench = asleep_bench()
    bench.twin.wake(bench.t, "rs485")
    woke = bench.t
    bench.run(HOUR + 0.01)
    [_, second] = bench.events("PM-SLEEP", "trigger")
    assert second.time == pytest.approx(woke + HOUR, abs=1e-6)


def test_button_while_running_rechecks_uvp_and_flag_uvp_release_on_reboot() -> None:
    for flagged, released in [((), True), (("uvp_release_on_reboot",), False)]:
        bench = Bench(settings=make_settings(off=flagged))
        bench.set(cells=one_cell(2.79))
        bench.run(1.01)
        bench.set(cells=one_cell(3.2))  # above the 3100 mV recovery value, no charge
        bench.run(10.0)
        assert "CV-UVP" in bench.active
        bench.twin.button(bench.t)
        bench.run(0.1)
        assert ("CV-UVP" not in bench.active) is released
        if released:
            assert bench.events("CV-UVP", "release")[-1].detail == "reboot re-check"


# --- history, determinism, flag coverage ----------------------------------------------------------
def test_history_records_locks_sleep_and_wake_with_snapshots() -> None:
    bench = Bench(settings=make_settings(power_management__max_standby_h=1))
    bench.run(5.0)
    bench.wire(load_a=800.0, cells=[3.31, 3.3, 3.3, 3.3])
    run_until_trips(bench, "SCP", 5)
    bench.wire(charge_a=5.0, charger=13.8)
    bench.set()
    bench.run(HOUR + 1.0)
    bench.twin.wake(bench.t, "rs485")
    kinds = [(e.kind, e.rid) for e in bench.twin.history if e.rid in ("SCP-LOCK", "PM-SLEEP")]
    assert kinds == [
        ("trigger", "SCP-LOCK"), ("release", "SCP-LOCK"), ("trigger", "PM-SLEEP"), ("release", "PM-SLEEP")
    ]  # fmt: skip
    lock = bench.events("SCP-LOCK", "trigger")[0]
    assert lock.snapshot.cell_mv[0] == 3310 and lock.snapshot.current_a == -CURRENT_RANGE_A


def scenario(seed: int) -> tuple[list[Telemetry], list[tuple[float, str, str, str]], list[list[float]]]:
    bench = Bench(seed=seed, ideal=False)
    sequence, bleed = [], []
    steps: list[dict[str, Any]] = [
        {"cells": [3.45, 3.41, 3.40, 3.40]},
        {"cells": [3.45, 3.41, 3.40, 3.40], **CHARGING, "temps": temps(cell1=55.0)},
        {"cells": 3.3, "current": -250.0},
        {"cells": 3.3, "current": -900.0},
        {"cells": 3.3, "current": 0.5, "charger": 13.9, "temps": temps(ambient=62.0)},
    ]
    for kwargs in steps:
        bench.set(**kwargs)
        for _ in range(10):
            bench.run(0.7)
            sequence.append(bench.twin.telemetry())
            bleed.append(bench.twin.bleed_currents())
    history = [(e.time, e.kind, e.rid, e.detail) for e in bench.twin.history]
    return sequence, history, bleed


def test_same_seed_same_results_with_every_function_involved() -> None:
    first, second, other = scenario(4), scenario(4), scenario(5)
    assert first == second
    rids = {rid for _, _, rid, _ in first[1]}
    assert {"TC-HA", "ID-TOCP", "SCP", "TE-OTP"} <= rids
    assert any(any(row) for row in first[2])  # balancing took part
    assert [t.cell_mv for t in first[0]] != [t.cell_mv for t in other[0]]


# Every behaviour flag and the test that shows it removes exactly its behaviour.
FLAG_TESTS: dict[str, str] = {
    "ovp_release_on_recovery": "test_flag_ovp_release_on_recovery",
    "ovp_release_on_discharge": "test_flag_ovp_release_on_discharge",
    "uvp_release_on_charge": "test_flag_uvp_release_on_charge",
    "chg_hv_release": "test_flag_chg_hv_release",
    "uvp_release_on_reboot": "test_button_while_running_rechecks_uvp_and_flag_uvp_release_on_reboot",
    "temperature_release_on_recovery": "test_flag_temperature_release_on_recovery",
    **{case.opposite_flag: "test_flag_removes_the_opposite_current_release_only" for case in OCP},
    **{case.auto_flag: "test_flag_removes_the_automatic_release_only" for case in OCP},
    "soc_lp_release_on_recovery": "test_flag_soc_lp_release_on_recovery",
    "lock_release_on_charger": "test_flag_lock_release_on_charger",
    "count_consecutive_trips": "test_flag_count_consecutive_trips",
    "balancing_temperature_ban": "test_flag_balancing_temperature_ban",
    "standby_balancing_time_limit": "test_flag_standby_balancing_time_limit",
    "sleep_enabled_flag_respected": "test_sleep_switch_and_flag_sleep_enabled_flag_respected",
    "precharge_on_discharge_switch_on": "test_flag_precharge_on_discharge_switch_on",
    **{f"wake_on_{reason}": "test_wake_sources_and_their_flags" for reason in ("charger", "rs485", "button")},
}


def test_every_behaviour_flag_has_a_test() -> None:
    assert set(FLAG_TESTS) == set(type(Settings().behaviour).model_fields)
    assert all(callable(globals().get(name)) for name in FLAG_TESTS.values())


def test_true_values_are_an_ideal_front_end_unrounded() -> None:
    """The firmware's per-cycle true sample (step control, comparators) is exactly what an ideal
    front end reads without rounding: saturation-free current, open and shorted NTCs included."""
    rng = random.Random(5)
    for _ in range(300):
        inputs = TerminalInputs(
            cell_v=[rng.uniform(0.0, 4.5) for _ in range(4)],
            ntc_ohm=[rng.choice([None, 0.05, rng.uniform(50.0, 400_000.0)]) for _ in range(4)],
            current_a=rng.uniform(-500.0, 500.0),
            charger_v=rng.uniform(0.0, 20.0),
        )
        ideal = Frontend.ideal().measure(2.5, inputs, random.Random(1), rounded=False)
        assert Frontend.true_values(2.5, inputs, 42.0, Mode.CHARGE) == replace(
            ideal, soc_pct=42.0, mode=Mode.CHARGE
        )
