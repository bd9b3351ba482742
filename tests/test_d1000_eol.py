"""The D1000 Gen2 EOL profile's time policy on the sim: the climatic chamber travels once and the
other tests run while it does; the BMU stays powered between passed tests; a failed test, the
run's end and the full profile get every output safe (docs/eol.md "Time and floors"). On a line
the next unit finds the chamber where the last one left it: a unit started with the air cold runs
the cold side first.

Six `hil run` processes (virtual time), two at a time, started when the module starts; the runs
of a unit started cold or hot attach to a lab of their own whose chamber was left there first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from hilcli import Run, settings_file, start_runs

from hil import registry
from hil.instruments.roles import ClimaticChamber
from hil.sim.client import SimProcess
from hil.station.station import Station

DUT = "prohelion-d1000-gen2"
RUN_TIMEOUT_S = 600
#: the default station's instrument names
BMU_SUPPLY, CHAMBER = "bmu_supply", "chamber"
#: what each run selects: PH-ENV's five tests and one test of another row (PH-CMU), which the
#: EOL order puts between the two temperature sides
SELECTION = ["--", "--hil-requirement", "PH-ENV", "--hil-requirement", "PH-CMU"]


def _lab_left_at(
    base: Path, name: str, celsius: float, firmware: Path | None = None
) -> tuple[SimProcess, Path]:
    """A lab of the default station (its twin configured by `firmware`) whose chamber left the air
    near `celsius` in standby (as the last unit's side leaves it), and a station file that attaches
    a run to it."""
    station_file = registry.dut_family(DUT).default_station
    lab = SimProcess(station_file, firmware_file=firmware, paced=False)
    data = yaml.safe_load(station_file.read_text(encoding="utf-8"))
    data["sim"]["attach"] = lab.endpoints["control"]
    attached = base / f"attached-{name}.yaml"
    attached.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    station = Station.open(attached)
    try:
        chamber = station.named(CHAMBER, ClimaticChamber)
        chamber.set_humidity(None)
        chamber.set_temperature(celsius)
        chamber.run()
        station.clock.sleep(abs(celsius - 25.0) / 0.2 + 5.0)  # from 25 °C at 0.2 °C/s
        chamber.standby()
        station.clock.sleep(5.0)  # drifting back towards ambient, as between two units
    finally:
        station.close()
    return lab, attached


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    base = tmp_path_factory.mktemp("d1000-eol")
    cold_lab, cold = _lab_left_at(base, "cold", -18.0)
    hot_lab, hot = _lab_left_at(base, "hot", 58.0)
    # a unit whose bmuTemperatureMin sits 6 °C inside the declared one, started in the cold air
    min_raised = settings_file(base, "min-14.yaml", DUT, {"bmuTemperatureMin": -14.0})
    raised_lab, raised = _lab_left_at(base, "min-raised", -18.0, min_raised)
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
        "cold": ["--station", str(cold), "--profile", "eol", "--reports", "none", *SELECTION],
        "hot": ["--station", str(hot), "--profile", "eol", "--reports", "none", *SELECTION],
        "cold-min-raised": [
            "--station", str(raised), "--profile", "eol", "--reports", "none",
            *SELECTION, "--hil-dut-config", str(defaults),
        ],
    }  # fmt: skip
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            yield start_runs(pool, base, plans, RUN_TIMEOUT_S)
    finally:
        for lab in (cold_lab, hot_lab, raised_lab):
            lab.stop()


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


def _judged(run: Run) -> dict[str, str]:
    """PH-ENV's judged results by name (levels; readback values left out) with their verdicts; the
    start's results (at the ambient, or in the chamber's air a line's last unit left) left out."""
    start = ("at ambient", "at the bench ambient", "in the chamber's air")
    return {
        re.sub(r" \(readback [^)]*\)", "", m["name"]): m["verdict"]
        for m in run.measurements()
        if m["requirement"] == "PH-ENV" and m["verdict"] != "info" and not any(s in m["name"] for s in start)
    }


@pytest.mark.slow
def test_a_unit_started_with_the_chamber_cold_runs_the_cold_side_first_with_the_same_verdicts(
    runs: dict[str, Run],
) -> None:
    run = runs["cold"]
    assert run.code == 0, run.output[-3000:]
    assert [_name(t) for t in _tests(run)] == [
        "test_environment",
        "test_environment_temperature[Min]",
        "test_cmu_counts",
        "test_environment_humidity",
        "test_environment_pressure",
        "test_environment_temperature[Max]",
    ]
    assert all(t["outcome"] == "passed" for t in _tests(run))
    # the ambient readings are judged against the chamber's cold air, not the 25 °C ambient
    air = [m for m in run.measurements() if "chamber's air" in m["name"]]
    start = [m for m in air if m["name"].startswith("SensorData1")]
    assert {m["name"].split()[0] for m in start} == {"SensorData1.Temperature1", "SensorData1.Temperature2",
                                                      "SensorData1.Humidity"}  # fmt: skip
    checks = [m["name"] for m in run.measurements() if m["name"].startswith(("no environment", "IDLE in"))]
    assert len(checks) == 2 and all("in the chamber's air" in n for n in checks), checks
    assert all(m["verdict"] == "pass" for m in air), air
    cold = next(m for m in start if m["name"].startswith("SensorData1.Temperature1"))
    assert cold["verdict"] == "pass" and cold["value"] < -10.0, cold
    # every level and its verdict as on the unit started at ambient (hot side first)
    assert _judged(run) == _judged(runs["eol"])
    back = next(m for m in run.measurements() if m["name"].startswith("back inside bmuTemperatureMin"))
    assert "passed on the way on" in back["notes"], back
    # the travel starts where the air is; the record says so
    ranged = next(m for m in run.measurements() if m["name"] == "bmuTemperature range as read")
    assert "starts from the Min side" in ranged["notes"], ranged
    final = _final_safe_state(run)
    assert final["safe"] is True and final["read_back"][CHAMBER]["mode"] == "STANDBY"


@pytest.mark.slow
def test_a_unit_started_with_the_chamber_hot_runs_the_max_side_first_then_the_humidity_probes(
    runs: dict[str, Run],
) -> None:
    run = runs["hot"]
    assert run.code == 0, run.output[-3000:]
    assert [_name(t) for t in _tests(run)] == [
        "test_environment",
        "test_environment_temperature[Max]",
        "test_environment_humidity",
        "test_environment_pressure",
        "test_cmu_counts",
        "test_environment_temperature[Min]",
    ]
    assert all(t["outcome"] == "passed" for t in _tests(run))
    assert _judged(run) == _judged(runs["eol"])
    # the humidity probes leave the air heading for the cold side, where the Max side sent it
    back = next(m for m in run.measurements() if m["name"].startswith("back inside bmuTemperatureMax"))
    assert "passed on the way on" in back["notes"], back
    hot = next(m for m in run.measurements() if m["name"].startswith("SensorData1.Temperature1 in the"))
    assert hot["verdict"] == "pass" and hot["value"] > 45.0, hot


@pytest.mark.slow
def test_a_unit_faulting_in_the_cold_air_it_starts_in_fails_env_and_is_no_bench_error(
    runs: dict[str, Run],
) -> None:
    """bmuTemperatureMin -14 °C (declared -20) in air left at -18 °C: the BMU shows UNDERTEMP from
    its power-up; the start's readings judge it (PH-ENV fails, exit 1) as a first unit's Min side
    would, instead of a bench error before any test (exit 3)."""
    run = runs["cold-min-raised"]
    assert run.code == 1, run.output[-3000:]
    assert run.failed_requirements() == {"PH-ENV"}
    start = {m["name"]: m for m in run.measurements() if m["name"].startswith("no environment fault")}
    ((name, fault),) = start.items()
    assert "in the chamber's air" in name and fault["verdict"] == "fail", fault
    assert "BMSReasonUNDERTEMP" in str(fault["value"]), fault
