"""End to end: `hil run` as a user runs it, on the simulated station, each run in its own folder.

The runs are independent processes (each starts its own lab with virtual time), so the module
starts them all, two at a time, and each test waits for the one it looks at.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hilcli import ROOT, Run, hil, settings_file, start_runs

from hil.spec import load_spec

SPEC = load_spec(ROOT / "hil" / "duts" / "bms12100" / "spec.yaml")
SERIAL = "12100A0000001"  # the twin's serial number
#: the CV-OVP threshold characterisation (full profile: trip and release points by bisection)
THRESHOLD_CV_OVP = "test_threshold[CV-OVP]"
#: the voltage section of the plan: cell and pack voltage alarms/protections, charger over-voltage
VOLTAGE_SECTION = "CV- or PV- or CHG-HV"
RUN_TIMEOUT_S = 300  # the EOL plan takes 1-2 min; a hung plan fails instead of stalling the suite


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    """Every run of this module, two at a time (one per core), the long EOL run first."""
    base = tmp_path_factory.mktemp("e2e")
    ovp3700 = settings_file(
        base, "fw-ovp3700.yaml", "bms12100", {"cell_overvoltage_protection": {"trigger": 3700}}
    )
    defaults = settings_file(base, "fw-defaults.yaml", "bms12100", {})
    plans: dict[str, list[str]] = {
        "eol": ["--profile", "eol", "--serial", SERIAL],
        # the voltage section (the changed value's requirement and every neighbour it could upset)
        "ovp3700": ["--firmware", str(ovp3700), "--profile", "eol", "--", "-k", VOLTAGE_SECTION],
        # the unchanged file, on the requirement whose verdicts the changed value flips
        "defaults": ["--firmware", str(defaults), "--profile", "eol", "--", "-k", "CV-OVP"],
        "seed7a": ["--seed", "7", "--", "-k", THRESHOLD_CV_OVP],
        "seed7b": ["--seed", "7", "--", "-k", THRESHOLD_CV_OVP],
        "seed8": ["--seed", "8", "--", "-k", THRESHOLD_CV_OVP],
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield start_runs(pool, base, plans, RUN_TIMEOUT_S)


def accepted(measurement: dict[str, Any]) -> bool:
    """Passed, or a characterised value without limits (`info`)."""
    return measurement["verdict"] in ("pass", "info")


def _failed_requirements(run: Run) -> set[str]:
    return {m["requirement"] for m in run.measurements() if not accepted(m)}


def test_eol_run_passes_and_writes_its_files(runs: dict[str, Run]) -> None:
    run = runs["eol"]
    assert run.code == 0, run.stdout[-3000:]
    assert f"record: {run.out / 'record.jsonl'}" in run.stdout.splitlines()
    for name in ("record.jsonl", "junit.xml", "can.asc"):
        assert (run.out / name).is_file(), name


def test_eol_record(runs: dict[str, Run]) -> None:
    run = runs["eol"]
    entries = run.entries()
    assert [e["seq"] for e in entries] == list(range(len(entries)))
    assert len({e["run_id"] for e in entries}) == 1
    assert entries[0]["type"] == "header"
    assert SERIAL in json.dumps(entries[0])  # the serial the operator expected
    dut = [e for e in entries if e["type"] == "dut"]
    assert len(dut) == 1 and dut[0]["serial"] == SERIAL
    measurements = run.measurements()
    assert measurements
    assert all(m["requirement"] for m in measurements)
    assert [m for m in measurements if not accepted(m)] == []
    requirements = {m["requirement"] for m in measurements}
    assert requirements <= {r.id for r in SPEC.requirements}
    assert {"CV-OVP", "CV-UVP", "PV-OVP", "PV-UVP"} <= requirements
    assert all(isinstance(m["time"], float | int) for m in measurements)
    # the last safe state comes after every test and measurement, the record ends right after it
    kinds = [e["type"] for e in entries]
    last_safe = len(kinds) - 1 - kinds[::-1].index("safe_state")
    assert not {"measurement", "test", "dut"} & set(kinds[last_safe:])
    assert kinds[-1] == "end"
    read_back = entries[last_safe]["read_back"]
    assert read_back["charger"]["output"] is False
    assert read_back["load"]["input"] is False
    assert len(read_back["cells"]) == 4
    assert all(ch["on"] is False for ch in read_back["cells"].values())
    # the NTC inputs are left at the neutral 10 kohm (or open), never at a fault temperature
    for ohms in read_back["ntc"].values():
        assert ohms == "open" or ohms == pytest.approx(10_000.0, rel=1e-3)
    assert set(entries[last_safe]["instruments"].values()) == {"safe"}


def test_eol_record_verifies(runs: dict[str, Run]) -> None:
    run = runs["eol"]
    run.future.result()
    result = hil("report", str(run.out), "--verify")
    assert result.returncode == 0, result.stderr
    assert "hash chain intact" in result.stdout


def test_eol_junit(runs: dict[str, Run]) -> None:
    root = runs["eol"].junit()
    cases = list(root.iter("testcase"))
    assert cases
    assert not any(case.find("failure") is not None or case.find("error") is not None for case in cases)
    with_requirement = [
        case for case in cases if any(p.get("name") == "requirement" for p in case.iter("property"))
    ]
    assert with_requirement
    values = {p.get("value") for case in with_requirement for p in case.iter("property")}
    assert "CV-OVP" in values


def test_eol_can_log(runs: dict[str, Run]) -> None:
    run = runs["eol"]
    run.future.result()
    text = (run.out / "can.asc").read_text(encoding="utf-8")
    assert text.startswith("date ")
    frames = [line.split() for line in text.splitlines() if " Rx " in line]
    assert frames
    ids = {fields[2].upper().rstrip("X") for fields in frames}
    assert {"351", "355", "356", "359", "35C", "35E"} <= ids


def test_non_conforming_firmware_fails_naming_cv_ovp(runs: dict[str, Run]) -> None:
    run = runs["ovp3700"]
    assert run.code == 1, run.stdout[-3000:]
    assert "fw-ovp3700.yaml" in json.dumps(run.entries()[0])  # the header names the firmware file
    failed = [m for m in run.measurements() if not accepted(m)]
    assert failed
    assert _failed_requirements(run) == {"CV-OVP"}
    assert any(m["name"] == "trip beyond the limit" for m in failed)
    failures = []
    for case in run.junit().iter("testcase"):
        failure = case.find("failure")
        if failure is not None:
            reqs = {p.get("value") for p in case.iter("property") if p.get("name") == "requirement"}
            failures.append((reqs, failure.get("message", "")))
    assert failures
    for reqs, message in failures:
        assert reqs == {"CV-OVP"}
        assert "CV-OVP" in message


def test_unchanged_firmware_passes(runs: dict[str, Run]) -> None:
    run = runs["defaults"]
    assert run.code == 0, run.stdout[-3000:]
    assert run.measurements()
    assert _failed_requirements(run) == set()
    assert "CV-OVP" in {m["requirement"] for m in run.measurements()}


def _results(run: Run) -> list[tuple[Any, ...]]:
    return [
        (m["test"], m["requirement"], m["name"], m["value"], m["verdict"], m["time"], json.dumps(m["data"]))
        for m in run.measurements()
    ]


def test_same_seed_same_record(runs: dict[str, Run]) -> None:
    a, b = runs["seed7a"], runs["seed7b"]
    assert a.code == 0, a.stdout[-3000:]
    assert b.code == 0, b.stdout[-3000:]
    results = _results(a)
    # the full profile characterised something (a number, not only go/no-go verdicts)
    assert any(isinstance(r[3], float) for r in results)
    assert results == _results(b)


def test_other_seed_other_values(runs: dict[str, Run]) -> None:
    seven, eight = runs["seed7a"], runs["seed8"]
    assert eight.code == 0, eight.stdout[-3000:]
    results_7, results_8 = _results(seven), _results(eight)
    # the same measurements, the noise moves the characterised values (e.g. the trip point)
    assert [r[:3] for r in results_7] == [r[:3] for r in results_8]
    assert [r[3] for r in results_7] != [r[3] for r in results_8]


def judged_without_u(run: Run) -> list[str]:
    """Every judged numeric result (a number against limits) that carries no expanded uncertainty."""
    return [
        f"{m['requirement']} {m['name']}"
        for m in run.measurements()
        if isinstance(m.get("value"), int | float)
        and not isinstance(m.get("value"), bool)
        and (m.get("low") is not None or m.get("high") is not None)
        and m["verdict"] != "info"
        and m.get("uncertainty") is None
    ]


def test_every_judged_numeric_result_of_the_eol_run_has_u(runs: dict[str, Run]) -> None:
    run = runs["eol"]
    assert run.code == 0
    assert judged_without_u(run) == []
    judged = [m for m in run.measurements() if m.get("budget")]
    assert len(judged) > 20  # the budgets are recorded, not just the figure
    judged_rules = {m["decision_rule"] for m in run.measurements() if m["verdict"] != "info"}
    assert judged_rules == {"simple"}  # beside each result: the rule page 1 declares


def test_eol_rows_covered_in_part_are_partial_and_untested_rows_say_why(runs: dict[str, Run]) -> None:
    from hil.report import load_run

    run = runs["eol"]
    assert run.code == 0
    report = load_run(run.out)
    rows = {r.id: r for r in report.requirement_rows()}
    assert rows["ACC-T"].verdict == "partial"  # room temperature only, against -20..70 °C
    assert rows["ACC-T"].not_covered == ["BMS at -20 °C", "BMS at 70 °C"]
    assert rows["PM-WAKE"].covered == ["RS-485 communication"]  # EOL: the RS-485 wake only
    assert rows["CV-OVP"].verdict == "pass"
    assert not [r for r in rows.values() if r.verdict == "not-tested" and not r.reason]
    # a design row is shown at EOL by the released parameter set read back, and says so
    scp_lock = [m for m in run.measurements() if m["requirement"] == "SCP-LOCK"]
    assert rows["SCP-LOCK"].verdict == "pass" and scp_lock
    assert all(m["method"].startswith("released parameter set read back") for m in scp_lock)
    word, sentence = report.overall()
    assert word == "PARTIAL" and "partial" in sentence
