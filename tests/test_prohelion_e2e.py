"""End to end for the D1000 Gen2: `hil run --dut prohelion-d1000-gen2` as a user runs it, on the sim.

The runs are independent processes (each starts its own lab with virtual time), started two at a
time when the module starts; each test waits for the one it looks at.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from hilcli import ROOT, Run, settings_file, start_runs

from hil.spec import load_spec

DUT = "prohelion-d1000-gen2"
SPEC = load_spec(ROOT / "hil" / "duts" / "prohelion_d1000_gen2" / "spec.yaml")
CONFIGS = ROOT / "hil" / "duts" / "prohelion_d1000_gen2" / "configs"
STATIONS = ROOT / "stations"
RUN_TIMEOUT_S = 600


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    base = tmp_path_factory.mktemp("prohelion-e2e")
    defaults = settings_file(base, "defaults.yaml", DUT, {})
    moved = settings_file(base, "cov-4v25.yaml", DUT, {"critCellOverVoltage": 4.25})
    broken = settings_file(base, "no-hvil.yaml", DUT, {"behaviour": {"hvil_check": False}})
    dut = ["--dut", "prohelion-d1000-gen2", "--reports", "none", "--profile", "eol"]
    plans: dict[str, list[str]] = {
        "eol": ["--dut", "prohelion-d1000-gen2", "--profile", "eol", "--serial", "1001"],
        # a 27 x 14 pack (the most nodes the ID map carries), its station, no code change
        "pack27": [
            "--station", str(STATIONS / "sim-prohelion-d1000-gen2-27x14.yaml"),
            "--firmware", str(CONFIGS / "pack-27x14.yaml"), "--profile", "eol", "--reports", "none",
            "--", "--hil-requirement", "PH-COV-W", "--hil-requirement", "PH-MSG",
            "--hil-requirement", "PH-HVIL",  # drives ENABLED after earlier tests' safe states
        ],
        # the unit applies 4.25 V while its declared configuration says 4.2 V
        "moved": [*dut, "--firmware", str(moved), "--",
                  "--hil-dut-config", str(defaults), "--hil-requirement", "PH-COV-C"],
        # the same unit, declared as it is configured: the plan takes the other file as it comes
        "declared": [*dut, "--firmware", str(moved), "--", "--hil-requirement", "PH-COV-C"],
        "no_hvil": [*dut, "--firmware", str(broken), "--", "--hil-requirement", "PH-HVIL"],
        # 32 x 14: the vendor's ID map collides; the plan reports it (PH-MSG) instead of crashing
        "pack32": [
            "--station", str(STATIONS / "sim-prohelion-d1000-gen2-32x14.yaml"),
            "--firmware", str(CONFIGS / "pack-32x14.yaml"), "--profile", "eol", "--reports", "none",
            "--", "--hil-requirement", "PH-MSG",
        ],
    }  # fmt: skip
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield start_runs(pool, base, plans, RUN_TIMEOUT_S)


@pytest.mark.slow
def test_eol_passes_with_a_verdict_for_every_requirement(runs: dict[str, Run]) -> None:
    run = runs["eol"]
    assert run.code == 0, run.output[-3000:]
    judged = {m["requirement"] for m in run.measurements()}
    testable = {r.id for r in SPEC.requirements if r.testable}
    assert testable <= judged, f"no verdict for {sorted(testable - judged)}"
    assert {r.id for r in SPEC.requirements if not r.testable} == {"PH-LSS"}
    assert all(m["verdict"] in ("pass", "info") for m in run.measurements())
    dut = next(e for e in run.entries() if e["type"] == "dut")
    assert dut["serial"] == "1001" and dut["firmware"].startswith("1.2.0")
    assert (run.out / "report.html").exists()


@pytest.mark.slow
def test_a_unit_applying_another_limit_than_declared_fails_naming_it(runs: dict[str, Run]) -> None:
    run = runs["moved"]
    assert run.code == 1, run.output[-3000:]
    assert run.failed_requirements() == {"PH-COV-C"}


@pytest.mark.slow
def test_a_different_configuration_is_checked_as_configured(runs: dict[str, Run]) -> None:
    run = runs["declared"]
    assert run.code == 0, run.output[-3000:]
    limit = next(m for m in run.measurements() if m["name"] == "configured limit critCellOverVoltage")
    assert limit["value"] == 4.25


@pytest.mark.slow
def test_a_broken_behaviour_flag_fails_naming_its_requirement(runs: dict[str, Run]) -> None:
    run = runs["no_hvil"]
    assert run.code == 1, run.output[-3000:]
    assert run.failed_requirements() == {"PH-HVIL"}


@pytest.mark.slow
def test_the_largest_non_colliding_pack_runs_without_code_change(runs: dict[str, Run]) -> None:
    run = runs["pack27"]
    assert run.code == 0, run.output[-3000:]
    positions = [
        m for m in run.measurements() if m["requirement"] == "PH-COV-W" and m["name"].startswith("go/no")
    ]
    assert len(positions) == 27 * 14
    assert positions[-1]["name"] == "go/no-go at N26C14"
    # the battery emulator on the pack port is back on after each test's safe state: the HVIL
    # tests reach ENABLED through a precharge to it and are judged
    hvil = [m for m in run.measurements() if m["requirement"] == "PH-HVIL"]
    assert len(hvil) >= 3 * 4 and all(m["verdict"] in ("pass", "info") for m in hvil)


@pytest.mark.slow
def test_a_colliding_pack_is_reported_not_misdecoded(runs: dict[str, Run]) -> None:
    run = runs["pack32"]
    assert run.code == 1, run.output[-3000:]
    assert "Traceback" not in run.output
    failed = [m for m in run.measurements() if m["verdict"] == "fail"]
    layout = next(m for m in failed if m["name"].startswith("layout of base ID 0x600"))
    assert "Node27Diagnostics (0x6EF) collides with HVILInfo" in str(layout["value"])
    assert {m["requirement"] for m in failed} == {"PH-MSG"}


@pytest.mark.slow
def test_every_judged_numeric_result_of_the_eol_run_has_u(runs: dict[str, Run]) -> None:
    from test_e2e import judged_without_u

    assert judged_without_u(runs["eol"]) == []
