"""Fixtures and parametrisation of the D1000 Gen2 plan: rows from the spec data, limits from the config.

The spec data gives the requirement IDs, what each row stimulates and observes, and the vendor's
default values; the limits the plan checks come from the unit's configuration (`bench.config`:
the run's --firmware configuration file, else the documented defaults).

EOL (and audit) order: the climatic chamber travels once, starting from the side nearer its air
at the run's start (`EOL_ORDER`, hot side first from ambient; on a line the previous unit left the
air at one side: `EOL_ORDER_COLD` cold side first, `EOL_ORDER_HOT` hot side first from the hot
level), and the other tests run while it travels (test_environment.py;
docs/eol.md "Time and floors").
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.bench import family_spec, parametrize_rows, plan_fixtures, threshold_rows
from hil import registry
from hil.duts.prohelion_d1000_gen2.bench import STIMULI, D1000Bench
from hil.duts.prohelion_d1000_gen2.bench_environment import air_at_start, already_hot, first_side
from hil.duts.prohelion_d1000_gen2.config import D1000Config, load_config
from hil.station.station import load_station

SPEC = family_spec("prohelion-d1000-gen2")
FAMILY = registry.dut_family("prohelion-d1000-gen2")
SPEC_STATION = FAMILY.default_station
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


#: EOL order when the air starts nearer the cold side: the Min side first, the other tests while
#: the air travels to the hot side, the humidity probes near it (a chamber controls humidity only
#: in warm air), the pressure probes, the Max side last.
EOL_ORDER_COLD: tuple[str | None, ...] = (
    "test_environment",
    "test_environment_temperature[Min]",
    None,
    "test_environment_humidity",
    "test_environment_pressure",
    "test_environment_temperature[Max]",
)
#: EOL order when the air starts at the hot side already (the previous unit ended there): the Max
#: side first, the humidity and pressure probes while the air cools from it, then the other tests.
EOL_ORDER_HOT: tuple[str | None, ...] = (
    "test_environment",
    "test_environment_temperature[Max]",
    "test_environment_humidity",
    "test_environment_pressure",
    None,
    "test_environment_temperature[Min]",
)
#: where the run's temperature travel starts ("Max" or "Min"), decided at collection
FIRST_SIDE = pytest.StashKey[str]()


def _rank(order: tuple[str | None, ...], item: pytest.Item) -> int:
    return order.index(item.name) if item.name in order else order.index(None)


def _eol_order(config: pytest.Config) -> tuple[str, tuple[str | None, ...]]:
    """The side nearer the chamber's air now (by the unit's configured limits and the station's
    margin) and the EOL order that starts there."""
    station_file = Path(config.getoption("--hil-station", default=None) or SPEC_STATION)
    model = load_station(station_file)
    if model.dut.name != FAMILY.name:  # another family's run collected this plan too
        return "Max", EOL_ORDER
    settings = config.getoption("--hil-dut-config", default=None) or config.getoption(
        "--hil-firmware", default=None
    )
    cfg = load_config(settings) if settings else D1000Config()
    margin = model.expectations.get("environment_temperature_margin_c", 2.0)
    cold, hot = cfg.bmu_temperature_min + margin, cfg.bmu_temperature_max - margin
    air = air_at_start(station_file)
    side = first_side(air, cold, hot)
    if side == "Min":
        return side, EOL_ORDER_COLD
    hot_now = already_hot(air, hot, model.expectations.get("ambient_temperature_c", 25.0))
    return side, EOL_ORDER_HOT if hot_now else EOL_ORDER


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    side = "Max"
    if config.getoption("--hil-profile", default="full") in ("eol", "audit"):
        side, order = _eol_order(config)
        items.sort(key=lambda item: _rank(order, item))  # stable: file order within a rank
    config.stash[FIRST_SIDE] = side


@pytest.fixture(scope="session")
def first_side_of_travel(request: pytest.FixtureRequest) -> str:
    """The side of the temperature range the EOL's chamber travel starts from ("Max" in the full profile)."""
    return request.config.stash.get(FIRST_SIDE, "Max")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    parametrize_rows(metafunc, "threshold_row", THRESHOLD_ROWS)
