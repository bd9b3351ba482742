"""The 12100 BMS firmware twin, driven directly with TerminalInputs as the electrical model does."""

from __future__ import annotations

import math
import random
import time
from typing import Any

import pytest

from hil.duts.bms12100 import ntc, ocv
from hil.duts.bms12100.settings import PARAMETERS_BY_PATH, Settings, VoltageAlarm
from hil.duts.bms12100.telemetry import Mode, Telemetry
from hil.duts.bms12100.twin import (
    Block,
    Bms12100Twin,
    Direction,
    Frontend,
    HistoryEvent,
    Measurement,
    Monitor,
    MonitorSpec,
    ReleaseAlternative,
    TerminalInputs,
)

R25 = ntc.resistance_ohm(25.0)
HOUR = 3600.0


def make_inputs(
    cells: float | list[float] = 3.3,
    current: float = 0.0,
    charger: float = 0.0,
    temp_c: float = 25.0,
    powered: bool = True,
) -> TerminalInputs:
    cell_v = [cells] * 4 if isinstance(cells, float) else list(cells)
    return TerminalInputs(cell_v, [ntc.resistance_ohm(temp_c)] * 4, current, charger, powered)


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

    def set(self, **kwargs: Any) -> None:
        """Change the inputs now and let the twin see them (a zero-length step)."""
        self.inputs = make_inputs(**kwargs)
        self.twin.step(self.t, 0.0, self.inputs)

    def run(self, seconds: float) -> None:
        end = self.t + seconds
        while self.t < end:
            dt = min(self.twin.max_step(), end - self.t)
            self.t = end if end - self.t - dt < 1e-12 else self.t + dt
            self.twin.step(self.t, dt, self.inputs)
            self.steps += 1

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
def test_48_hours_of_standby_using_max_step_is_cheap() -> None:
    bench = Bench(seed=2, ideal=False)
    started = time.perf_counter()
    bench.run(48 * HOUR)
    elapsed = time.perf_counter() - started
    assert bench.steps <= 48 * HOUR / 5.0
    assert elapsed < 20.0
    assert bench.twin.telemetry().mode is Mode.STANDBY
    assert not bench.active


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
    assert bench.twin.max_step() == 10.0  # standby, nothing pending
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
def reading(t: float, amps: float) -> Measurement:
    return Measurement(t, (3300,) * 4, 13.2, amps, (25.0,) * 4, 0.0)


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
