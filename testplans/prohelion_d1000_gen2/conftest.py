"""Fixtures and parametrisation of the D1000 Gen2 plan: rows from the spec data, limits from the config.

The spec data gives the requirement IDs, what each row stimulates and observes, and the vendor's
default values; the limits the plan checks come from the unit's configuration (`bench.config`:
the run's --firmware configuration file, else the documented defaults).
"""

from __future__ import annotations

import pytest

from fixtures.bench import family_spec, parametrize_rows, plan_fixtures, threshold_rows
from hil.duts.prohelion_d1000_gen2.bench import STIMULI, D1000Bench

SPEC = family_spec("prohelion-d1000-gen2")
#: rows the threshold procedures serve: protections with a configured limit this bench can drive
THRESHOLD_ROWS = threshold_rows(SPEC, ("protection",), STIMULI)

spec_data, bench, _dwell_total, _eol_selection = plan_fixtures(SPEC, D1000Bench)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    parametrize_rows(metafunc, "threshold_row", THRESHOLD_ROWS)
