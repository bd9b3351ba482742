"""The D1000 Gen2 EOL profile's time policy on the sim: the climatic chamber travels once and the
other tests run while it does; the BMU stays powered between passed tests; a failed test, the
run's end and the full profile get every output safe (docs/eol.md "Time and floors").

Three `hil run` processes (virtual time), two at a time, started when the module starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hilcli import Run, settings_file, start_runs

DUT = "prohelion-d1000-gen2"
RUN_TIMEOUT_S = 600
#: the default station's instrument names
BMU_SUPPLY, CHAMBER = "bmu_supply", "chamber"
#: what each run selects: PH-ENV's five tests and one test of another row (PH-CMU), which the
#: EOL order puts between the two temperature sides
SELECTION = ["--", "--hil-requirement", "PH-ENV", "--hil-requirement", "PH-CMU"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    base = tmp_path_factory.mktemp("d1000-eol")
    defaults = settings_file(base, "defaults.yaml", DUT, {})
    # a unit whose humidity limit sits 9 %RH inside the declared one: the humidity probes fail
    humid = settings_file(base, "humidity-81.yaml", DUT, {"bmuHumidityMax": 81.0})
    common = ["--dut", DUT, "--reports", "none"]
    plans = {
        "eol": [*common, "--profile", "eol", *SELECTION],
        "full": [*common, "--profile", "full", *SELECTION],
        "failing": [
            *common, "--profile", "eol", "--firmware", str(humid),
            *SELECTION, "--hil-dut-config", str(defaults),
        ],
    }  # fmt: skip
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield start_runs(pool, base, plans, RUN_TIMEOUT_S)


def _tests(run: Run) -> list[dict[str, Any]]:
    return [e for e in run.entries() if e["type"] == "test" and e.get("phase") == "call"]


def _name(entry: dict[str, Any]) -> str:
    return str(entry["test"]).rsplit("::", 1)[-1]


def _kept(run: Run) -> dict[str, list[str]]:
    """Test name -> the instruments kept on after it."""
    return {_name(e): e["instruments"] for e in run.entries() if e["type"] == "kept"}


def _dwell(run: Run) -> float:
    return float(next(e["seconds"] for e in run.entries() if e["type"] == "dwell"))


def _final_safe_state(run: Run) -> dict[str, Any]:
    return next(e for e in reversed(run.entries()) if e["type"] == "safe_state")


@pytest.mark.slow
def test_eol_travels_the_chamber_once_with_the_other_tests_in_between(runs: dict[str, Run]) -> None:
    run = runs["eol"]
    assert run.code == 0, run.output[-3000:]
    assert [_name(t) for t in _tests(run)] == [
        "test_environment",
        "test_environment_humidity",
        "test_environment_pressure",
        "test_environment_temperature[Max]",
        "test_cmu_counts",
        "test_environment_temperature[Min]",
    ]
    assert all(t["outcome"] == "passed" for t in _tests(run))
    names = [m["name"] for m in run.measurements() if m["requirement"] == "PH-ENV"]
    for level in ("inside", "beyond", "back inside"):
        for side in ("Max", "Min"):
            assert any(n.startswith(f"{level} bmuTemperature{side}") for n in names), (level, side)
    # the Max side's way back is checked as the air passes 58 °C heading for the Min side
    back = next(m for m in run.measurements() if m["name"].startswith("back inside bmuTemperatureMax"))
    assert back["verdict"] == "pass" and "passed on the way on" in back["notes"]


@pytest.mark.slow
def test_eol_keeps_the_bmu_powered_and_the_chamber_running_only_while_it_travels(
    runs: dict[str, Run],
) -> None:
    kept = _kept(runs["eol"])
    assert set(kept) == {t for t in map(_name, _tests(runs["eol"]))}
    assert all(BMU_SUPPLY in names for names in kept.values())
    # the chamber heads for the hot side from the humidity test on, and for ambient after the Min side
    assert CHAMBER not in kept["test_environment"]
    for test in ("test_environment_humidity", "test_environment_pressure", "test_cmu_counts"):
        assert CHAMBER in kept[test], test
    # ... and the run's end makes every output safe: the BMU supply off, the chamber in standby
    final = _final_safe_state(runs["eol"])
    assert final["safe"] is True and final["scope"] == "run"
    assert final["read_back"][BMU_SUPPLY]["output"] is False
    assert final["read_back"][CHAMBER]["mode"] == "STANDBY"


@pytest.mark.slow
def test_eol_is_faster_than_the_full_profile_on_the_same_tests(runs: dict[str, Run]) -> None:
    dwell = {name: _dwell(runs[name]) for name in ("eol", "full")}
    # the full profile settles every level and returns to ambient after each side (168 °C of
    # travel at 0.2 °C/s); EOL travels 25 > 62 > -22 once (121 °C) with the CMU test inside it
    assert dwell["full"] - dwell["eol"] > 200.0, dwell


@pytest.mark.slow
def test_full_profile_keeps_nothing_between_tests(runs: dict[str, Run]) -> None:
    run = runs["full"]
    assert run.code == 0, run.output[-3000:]
    assert _kept(run) == {}


@pytest.mark.slow
def test_a_failed_eol_test_is_followed_by_every_output_safe(runs: dict[str, Run]) -> None:
    run = runs["failing"]
    assert run.code == 1, run.output[-3000:]
    assert run.failed_requirements() == {"PH-ENV"}
    outcome = {_name(t): t["outcome"] for t in _tests(run)}
    assert outcome["test_environment_humidity"] == "failed"
    kept = _kept(run)
    assert "test_environment_humidity" not in kept  # BMU supply off, chamber in standby after it
    assert BMU_SUPPLY in kept["test_environment"]
    # the temperature sides still run and pass from the chamber's standby
    assert outcome["test_environment_temperature[Max]"] == "passed"
    assert outcome["test_environment_temperature[Min]"] == "passed"
    assert _final_safe_state(run)["safe"] is True
