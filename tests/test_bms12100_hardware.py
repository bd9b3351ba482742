"""SIM-ONLY per-unit hardware faults of the 12100 twin (settings section `hardware`)."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError
from test_bms12100_twin import Bench, make_inputs, one_cell

from hil.duts.bms12100.config import PARAMETERS, Settings
from hil.duts.bms12100.sim.twin import Frontend
from hil.duts.bms12100.sim.twin import hardware as hw
from hil.duts.bms12100.sim.twin.twin import Bms12100Twin


def _settings(**faults: object) -> Settings:
    return Settings.model_validate({"hardware": faults})


def test_a_good_unit_has_no_fault_and_no_parameter_reaches_the_section() -> None:
    base = Frontend.from_rng(random.Random(3))
    assert hw.frontend(base, Settings().hardware) == base
    assert hw.firmware_view(Settings()) == Settings()
    assert not [p for p in PARAMETERS if p.path.startswith("hardware.")]


def test_a_channel_fault_adds_its_error_to_that_channel_only() -> None:
    faulty = hw.frontend(
        Frontend.ideal(), _settings(cell_channel=2, cell_offset_mv=40.0, current_gain=0.05).hardware
    )
    m = faulty.measure(0.0, make_inputs(3.3, current=10.0), random.Random(0))
    assert m.cell_mv == (3300, 3340, 3300, 3300)
    assert m.current_a == pytest.approx(10.5)
    ntc = hw.frontend(Frontend.ideal(), _settings(ntc_channel=3, ntc_offset_c=4.0).hardware)
    assert ntc.measure(0.0, make_inputs(3.3), random.Random(0)).temperatures_c == (25.0, 25.0, 29.0, 25.0)


def test_a_charge_fet_that_does_not_open_keeps_the_path_closed_while_protected() -> None:
    bench = Bench(settings=_settings(charge_fet_stuck_on=True))
    bench.set(cells=one_cell(3.75))
    bench.run(3.0)
    assert "CV-OVP" in bench.active
    assert bench.twin.charge_path_closed
    good = Bench()
    good.set(cells=one_cell(3.75))
    good.run(3.0)
    assert "CV-OVP" in good.active and not good.twin.charge_path_closed


def test_the_comparator_level_replaces_the_fixed_short_circuit_current() -> None:
    twin = Bms12100Twin(_settings(short_circuit_level_a=-1200.0), 1)
    assert twin.settings.fixed.short_circuit_a == -1200.0
    assert Settings().fixed.short_circuit_a == -400.0


def test_sleep_current_too_high_once_shut_down() -> None:
    bench = Bench(settings=_settings(sleep_current_ua=50.0))
    bench.set(cells=one_cell(2.7))
    bench.run(70.0)
    assert bench.twin.supply_current_a() == pytest.approx(50e-6)
    good = Bench()
    good.set(cells=one_cell(2.7))
    good.run(70.0)
    assert good.twin.supply_current_a() < 10e-6


def test_an_open_bleed_resistor_draws_nothing() -> None:
    assert hw.bleed([0.05, 0.05, 0.0, 0.0], _settings(open_bleed_cell=1).hardware) == [0.0, 0.05, 0.0, 0.0]


@pytest.mark.parametrize("field", ["cell_channel", "open_bleed_cell", "ntc_channel"])
def test_a_channel_outside_the_unit_is_refused(field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        _settings(**{field: 5})
