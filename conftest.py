"""Project-wide pytest configuration: which long and type tests run on which station and profile.

Tests marked `long` take hours of wall time on a real bench (48 h sleep, 10 h standby
balancing): on a simulated station they run in virtual time; on a real bench, or on the sim paced
to the wall clock (`--hil-pace`), they run only when selected explicitly with `--hil-long`, and
are otherwise deselected with a visible note.

The EOL profile (`--hil-profile eol`) checks each unit against its limits as fast as the DUT's
delays allow: it leaves out tests marked `type_test` (firmware logic that is the same on every unit
and costs minutes of waiting: lock counters, 60 s shutdowns, continuous-current endurance) and
tests marked `long`, with a visible note; the full profile runs them. It also leaves out the tests
of `design` rows where the DUT family ships a released set that the read-back test compares
(fixtures/eol.py, docs/eol.md). The audit profile runs EOL plus the design rows' tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["fixtures.eol"]


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
    profile = config.getoption("--hil-profile", default="full")
    if profile == "eol":
        _deselect(config, items, "type_test", "type tests left out of the EOL profile (run --profile full)")
        _deselect(
            config, items, "not_eol", "further points left out of the EOL profile (run --profile audit)"
        )
    if profile in ("eol", "audit"):
        _deselect(config, items, "long", f"long tests left out of the {profile} profile (run --profile full)")
        _deselect_design(config, items)
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


def _deselect_design(config: pytest.Config, items: list[pytest.Item]) -> None:
    """EOL: drop the tests of design rows that the read-back proves (fixtures/eol.py), with a note."""
    from fixtures.eol import select, selection

    dropped = select(config, items)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]
    chosen = selection(config)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if chosen is not None and reporter is not None:
        names = f": {', '.join(item.name for item in dropped)}" if dropped else ""
        reporter.write_line(f"hil: {chosen.note()}{names}")


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
