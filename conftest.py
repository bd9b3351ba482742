"""Project-wide pytest configuration: which long and type tests run on which station and profile.

Tests marked `long` take hours of wall time on a real bench (48 h sleep, 10 h standby
balancing): on a simulated station they run in virtual time; on a real bench, or on the sim paced
to the wall clock (`--hil-pace`), they run only when selected explicitly with `--hil-long`, and
are otherwise deselected with a visible note.

The EOL profile (`--hil-profile eol`) checks each unit against its limits as fast as the DUT's
delays allow: it leaves out tests marked `type_test` (firmware logic that is the same on every unit
and costs minutes of waiting: lock counters, 60 s shutdowns, continuous-current endurance) and
tests marked `long`, with a visible note; the full profile runs them.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hil")
    group.addoption(
        "--hil-long", action="store_true", help="run tests marked long on a real bench (hours of wall time)"
    )
    group.addoption(
        "--hil-pace",
        action="store_true",
        help="on a simulated station, let the lab run in step with the wall clock (real-time waits)",
    )
    group.addoption(
        "--hil-requirement",
        action="append",
        default=[],
        metavar="ID",
        help="run only the tests marked with this requirement ID (repeatable)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted = set(config.getoption("--hil-requirement"))
    if wanted:
        keep = [i for i in items if wanted & {a for m in i.iter_markers("requirement") for a in m.args}]
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep
    if config.getoption("--hil-profile", default="full") == "eol":
        _deselect(config, items, "type_test", "type tests left out of the EOL profile (run --profile full)")
        _deselect(config, items, "long", "long tests left out of the EOL profile (run --profile full)")
    station_file = config.getoption("--hil-station", default=None)
    if config.getoption("--hil-long"):
        return
    # a lab paced to the wall clock waits like a real bench: long tests need selecting there too
    if not config.getoption("--hil-pace"):
        if not station_file:
            return
        from hil.station.station import load_station

        if load_station(Path(station_file)).simulated:
            return
    why = "long tests deselected on a real bench or a paced lab (select with --hil-long)"
    _deselect(config, items, "long", why)


def _deselect(config: pytest.Config, items: list[pytest.Item], marker: str, why: str) -> None:
    """Drop the items carrying `marker`, saying which and why on the terminal."""
    dropped = [item for item in items if item.get_closest_marker(marker)]
    if not dropped:
        return
    config.hook.pytest_deselected(items=dropped)
    items[:] = [item for item in items if not item.get_closest_marker(marker)]
    line = f"hil: {why}: {', '.join(item.name for item in dropped)}"
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)
    else:  # `hil run`'s one-line-per-test output says it after the selection
        from hil.progress import NOTES

        config.stash.setdefault(NOTES, []).append(line)
