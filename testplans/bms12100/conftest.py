"""Fixtures and parametrisation of the 12100 plan: every row comes from the spec data."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.plugin import requirement_param
from hil import registry
from hil.dut import DutBench
from hil.duts.bms12100.bench import QUANTITIES, Bms12100Bench, eol_release_case, release_cases
from hil.spec import SpecFile, load_spec

ROOT = Path(__file__).resolve().parents[2]
SPEC = load_spec(ROOT / registry.dut_family("bms12100").spec)
#: rows the threshold procedures serve: alarms and protections with a trip value this bench can drive
THRESHOLD_ROWS = [
    r
    for r in SPEC.requirements
    if r.kind in ("protection", "alarm") and r.trip is not None and r.direction and r.quantity in QUANTITIES
]
RELEASE_ROWS = [r for r in THRESHOLD_ROWS if release_cases(r)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "threshold_row" in metafunc.fixturenames:
        metafunc.parametrize("threshold_row", [requirement_param(r) for r in THRESHOLD_ROWS])
    if "disabled_row" in metafunc.fixturenames:
        rows = [r for r in THRESHOLD_ROWS if r.default_enabled is False]
        metafunc.parametrize("disabled_row", [requirement_param(r) for r in rows])
    if "release_case" in metafunc.fixturenames:
        eol = metafunc.config.getoption("--hil-profile") == "eol"
        params = [
            pytest.param((req, case), id=f"{req.id}-{case.name}", marks=pytest.mark.requirement(req.id))
            for req in RELEASE_ROWS
            for case in ((eol_release_case(req),) if eol else release_cases(req))
            if case is not None
        ]
        metafunc.parametrize("release_case", params)


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
def bench(dut_bench: DutBench) -> Bms12100Bench:
    """The 12100 bench, prepared: nominal cells, neutral NTCs, idle, nothing active."""
    assert isinstance(dut_bench, Bms12100Bench)
    return dut_bench
