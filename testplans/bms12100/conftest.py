"""Fixtures and parametrisation of the 12100 plan: every row comes from the spec data."""

from __future__ import annotations

import pytest

from fixtures.bench import family_spec, parametrize_rows, plan_fixtures, threshold_rows
from hil.duts.bms12100.bench import STIMULI, Bms12100Bench, eol_release_case, release_cases

SPEC = family_spec("bms12100")
#: rows the threshold procedures serve: alarms and protections with a trip value this bench can drive
THRESHOLD_ROWS = threshold_rows(SPEC, ("protection", "alarm"), STIMULI)
RELEASE_ROWS = [r for r in THRESHOLD_ROWS if release_cases(r)]

spec_data, bench, _dwell_total, _eol_selection = plan_fixtures(SPEC, Bms12100Bench)


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
