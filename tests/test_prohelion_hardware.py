"""SIM-ONLY per-unit hardware faults of the D1000 twin (configuration section `hardware`)."""

from __future__ import annotations

import random

import pytest

from hil.duts.prohelion_d1000_gen2.config import D1000Config
from hil.duts.prohelion_d1000_gen2.sim.twin.frontend import Frontend
from hil.duts.prohelion_d1000_gen2.sim.twin.hardware import with_hardware
from hil.duts.prohelion_d1000_gen2.sim.twin.twin import D1000Twin


def _config(**faults: float) -> D1000Config:
    return D1000Config.model_validate({"hardware": faults})


def test_a_good_unit_is_unchanged() -> None:
    base = Frontend.from_rng(random.Random(2))
    assert with_hardware(base, D1000Config().hardware) is base


def test_the_supply_current_fault_adds_to_the_bmu_current() -> None:
    good = D1000Twin(D1000Config(), seed=1).supply_current_a()
    faulty = D1000Twin(_config(supply_current_extra_a=0.05), seed=1).supply_current_a()
    assert faulty == pytest.approx(good + 0.05)


def test_channel_offsets_act_on_the_first_cell_and_the_current_only() -> None:
    base = Frontend.from_rng(random.Random(2))
    faulty = with_hardware(base, _config(cell_offset_v=0.01, current_offset_a=1.0).hardware)
    assert faulty.cells[0][0].offset == pytest.approx(base.cells[0][0].offset + 0.01)
    assert faulty.cells[0][1:] == base.cells[0][1:] and faulty.cells[1:] == base.cells[1:]
    assert faulty.current.offset == pytest.approx(base.current.offset + 1.0)


def test_a_negative_supply_current_fault_is_refused() -> None:
    with pytest.raises(ValueError, match="supply_current_extra_a"):
        _config(supply_current_extra_a=-0.1)
