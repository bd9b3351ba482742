"""Fixtures and parametrisation of the 12100 plan: every row comes from the spec data."""

from __future__ import annotations

import pytest

from fixtures import keys
from fixtures.bench import family_spec, parametrize_rows, plan_fixtures, threshold_rows
from hil.dut import DutClient
from hil.duts.bms12100.bench import STIMULI, Bms12100Bench, eol_release_case, release_cases

SPEC = family_spec("bms12100")
#: rows the threshold procedures serve: alarms and protections with a trip value this bench can drive
THRESHOLD_ROWS = threshold_rows(SPEC, ("protection", "alarm"), STIMULI)
RELEASE_ROWS = [r for r in THRESHOLD_ROWS if release_cases(r)]

spec_data, bench, _dwell_total, _eol_selection = plan_fixtures(SPEC, Bms12100Bench)

#: EOL order of the tests that leave the BMS tripped or restart it, after every other test (file
#: order): each later test clears what the one before left, so the run needs one power cycle, not one
#: per tripped test. The thresholds that release by their normal way out first; the CV-UVP threshold
#: leaves UVP tripped, which the precharge test's own power-off clears; the wake test leaves the BMS
#: woken with UVP active, which the read-back (RS-485 only, no preparation) does not mind, and the
#: read-back comes last because it proves the wake test restored the shutdown delay.
EOL_LAST = (
    "test_threshold[CV-OVP]",
    "test_release[",
    "test_threshold[CV-UVP]",
    "test_precharge_at_start_up",
    "test_wake_and_sleep_current",
    "test_released_set_read_back",
)


@pytest.fixture
def present_bench(dut: DutClient, request: pytest.FixtureRequest) -> Bms12100Bench:
    """The 12100 bench as the last test left it (not prepared): for a test that needs the DUT's
    interface only, or that makes its own start-up (a power-off clears whatever was tripped)."""
    found = request.config.stash[keys.BENCH]
    if not isinstance(found, Bms12100Bench):
        raise TypeError(f"this plan needs a Bms12100Bench, the station gives a {type(found).__name__}")
    return found


def _eol_rank(item: pytest.Item) -> int:
    return next((i + 1 for i, name in enumerate(EOL_LAST) if item.name.startswith(name)), 0)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--hil-profile", default="full") == "eol":
        items.sort(key=_eol_rank)  # stable: file order within a rank


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    parametrize_rows(metafunc, "threshold_row", THRESHOLD_ROWS)
    parametrize_rows(metafunc, "disabled_row", [r for r in THRESHOLD_ROWS if r.default_enabled is False])
    if "release_case" in metafunc.fixturenames:
        eol = metafunc.config.getoption("--hil-profile") == "eol"
        params = [
            pytest.param((req, case), id=f"{req.id}-{case.name}", marks=pytest.mark.requirement(req.id))
            for req in RELEASE_ROWS
            for case in ((eol_release_case(req),) if eol else release_cases(req))
            if case is not None
        ]
        metafunc.parametrize("release_case", params)
