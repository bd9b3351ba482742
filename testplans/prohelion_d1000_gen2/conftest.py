"""Fixtures and parametrisation of the D1000 Gen2 plan: rows from the spec data, limits from the config.

The spec data gives the requirement IDs, what each row stimulates and observes, and the vendor's
default values; the limits the plan checks come from the unit's configuration (`bench.config`:
the run's --firmware configuration file, else the documented defaults).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hil import registry
from hil.clock import Clock
from hil.dut import DutBench
from hil.duts.prohelion_d1000_gen2.harness import QUANTITIES, D1000Bench
from hil.record import Recorder
from hil.spec import Requirement, SpecFile, load_spec

ROOT = Path(__file__).resolve().parents[2]
SPEC = load_spec(ROOT / registry.dut_family("prohelion-d1000-gen2").spec)
#: rows the threshold procedures serve: protections with a configured limit this bench can drive
THRESHOLD_ROWS = [
    r
    for r in SPEC.requirements
    if r.kind == "protection" and r.trip is not None and r.direction and r.quantity in QUANTITIES
]


def _param(req: Requirement) -> object:
    return pytest.param(req, id=req.id, marks=pytest.mark.requirement(req.id))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "threshold_row" in metafunc.fixturenames:
        metafunc.parametrize("threshold_row", [_param(r) for r in THRESHOLD_ROWS])


@pytest.fixture(scope="session")
def spec_data() -> SpecFile:
    return SPEC


@pytest.fixture(scope="session")
def profile(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--hil-profile"))


@pytest.fixture(scope="session", autouse=True)
def _dwell_total(clock: Clock, recorder: Recorder) -> Iterator[None]:
    """At the end, record the sum of every wait the plan made."""
    yield
    recorder.write("dwell", seconds=round(clock.waited, 3), note="sum of all waits of the plan")


@pytest.fixture
def bench(dut_bench: DutBench) -> D1000Bench:
    """The D1000 Gen2 bench, prepared: nominal inputs, no fault inserted, the BMS in IDLE."""
    assert isinstance(dut_bench, D1000Bench)
    return dut_bench
