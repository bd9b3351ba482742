"""Fixtures and parametrisation of the D1000 Gen2 plan: rows from the spec data, limits from the config.

The spec data gives the requirement IDs, what each row stimulates and observes, and the vendor's
default values; the limits the plan checks come from the unit's configuration (`bench.config`:
the run's --firmware configuration file, else the documented defaults).

EOL (and audit) order, `EOL_ORDER`: the climatic chamber travels once, hot side first, and the
other tests run while it travels (test_environment.py; docs/eol.md "Time and floors").
"""

from __future__ import annotations

import pytest

from fixtures.bench import family_spec, parametrize_rows, plan_fixtures, threshold_rows
from hil.duts.prohelion_d1000_gen2.bench import STIMULI, D1000Bench

SPEC = family_spec("prohelion-d1000-gen2")
#: rows the threshold procedures serve: protections with a configured limit this bench can drive
THRESHOLD_ROWS = threshold_rows(SPEC, ("protection",), STIMULI)

spec_data, bench, _dwell_total, _eol_selection = plan_fixtures(SPEC, D1000Bench)


#: EOL order by test (name or name[id]); the other tests run where `None` stands, in file order.
#: The ambient readings first; the humidity and pressure probes while the air heads for the hot
#: inside level; the Max side; every other test while the air travels to the cold side; the Min side.
EOL_ORDER: tuple[str | None, ...] = (
    "test_environment",
    "test_environment_humidity",
    "test_environment_pressure",
    "test_environment_temperature[Max]",
    None,
    "test_environment_temperature[Min]",
)


def _eol_rank(item: pytest.Item) -> int:
    return EOL_ORDER.index(item.name) if item.name in EOL_ORDER else EOL_ORDER.index(None)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--hil-profile", default="full") in ("eol", "audit"):
        items.sort(key=_eol_rank)  # stable: file order within a rank


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    parametrize_rows(metafunc, "threshold_row", THRESHOLD_ROWS)
