"""Fixtures and parametrisation of the D1000 Gen2 plan: rows from the spec data, limits from the config.

The spec data gives the requirement IDs, what each row stimulates and observes, and the vendor's
default values; the limits the plan checks come from the unit's configuration (`bench.config`:
the run's --firmware configuration file, else the documented defaults).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.plugin import requirement_param
from hil import registry
from hil.dut import DutBench
from hil.duts.prohelion_d1000_gen2.bench import QUANTITIES, D1000Bench
from hil.spec import SpecFile, load_spec

ROOT = Path(__file__).resolve().parents[2]
SPEC = load_spec(ROOT / registry.dut_family("prohelion-d1000-gen2").spec)
#: rows the threshold procedures serve: protections with a configured limit this bench can drive
THRESHOLD_ROWS = [
    r
    for r in SPEC.requirements
    if r.kind == "protection" and r.trip is not None and r.direction and r.quantity in QUANTITIES
]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "threshold_row" in metafunc.fixturenames:
        metafunc.parametrize("threshold_row", [requirement_param(r) for r in THRESHOLD_ROWS])


@pytest.fixture(scope="session")
def spec_data() -> SpecFile:
    return SPEC


@pytest.fixture(scope="session", autouse=True)
def _dwell_total(plan_dwell_total: None) -> None:
    """The record ends with the plan's total dwell (fixtures/plugin.py)."""


@pytest.fixture(scope="session", autouse=True)
def _eol_selection(eol_selection_record: None) -> None:
    """The record says how the EOL/audit profile treated the design rows (fixtures/eol.py)."""


@pytest.fixture
def bench(dut_bench: DutBench) -> D1000Bench:
    """The D1000 Gen2 bench, prepared: nominal inputs, no fault inserted, the BMS in IDLE."""
    assert isinstance(dut_bench, D1000Bench)
    return dut_bench
