"""End to end for the D1000 Gen2: `hil run --dut prohelion-d1000-gen2` as a user runs it, on the sim.

The runs are independent processes (each starts its own lab with virtual time), started two at a
time when the module starts; each test waits for the one it looks at.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from hil.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
SPEC = load_spec(ROOT / "hil" / "duts" / "prohelion_d1000_gen2" / "spec.yaml")
CONFIGS = ROOT / "hil" / "duts" / "prohelion_d1000_gen2" / "configs"
STATIONS = ROOT / "stations"
RUN_TIMEOUT_S = 600


@dataclass
class Run:
    out: Path
    future: Future[subprocess.CompletedProcess[str]]

    @property
    def code(self) -> int:
        return self.future.result().returncode

    @property
    def output(self) -> str:
        result = self.future.result()
        return result.stdout + result.stderr

    def entries(self) -> list[dict[str, Any]]:
        self.future.result()
        lines = (self.out / "record.jsonl").read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines]

    def measurements(self) -> list[dict[str, Any]]:
        return [e for e in self.entries() if e["type"] == "measurement"]

    def failed_requirements(self) -> set[str]:
        return {m["requirement"] for m in self.measurements() if m["verdict"] not in ("pass", "info")}


def _config(folder: Path, name: str, change: dict[str, Any]) -> Path:
    """A configuration made the documented way: `hil dut settings prohelion-d1000-gen2`, edited."""
    text = subprocess.run(
        [sys.executable, "-m", "hil", "dut", "settings", "prohelion-d1000-gen2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    data = yaml.safe_load(text)
    for key, value in change.items():
        if isinstance(value, dict):
            data[key].update(value)
        else:
            data[key] = value
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _hil_run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hil", "run", *args],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    base = tmp_path_factory.mktemp("prohelion-e2e")
    defaults = _config(base, "defaults.yaml", {})
    moved = _config(base, "cov-4v25.yaml", {"critCellOverVoltage": 4.25})
    broken = _config(base, "no-hvil.yaml", {"behaviour": {"hvil_check": False}})
    dut = ["--dut", "prohelion-d1000-gen2", "--reports", "none", "--profile", "eol"]
    plans: dict[str, list[str]] = {
        "eol": ["--dut", "prohelion-d1000-gen2", "--profile", "eol", "--serial", "0"],
        # a 27 x 14 pack (the most nodes the ID map carries), its station, no code change
        "pack27": [
            "--station", str(STATIONS / "sim-prohelion-d1000-gen2-27x14.yaml"),
            "--firmware", str(CONFIGS / "pack-27x14.yaml"), "--profile", "eol", "--reports", "none",
            "--", "--hil-requirement", "PH-COV-W", "--hil-requirement", "PH-MSG",
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
        started: dict[str, Run] = {}
        for name, args in plans.items():
            out = base / name
            cut = args.index("--") if "--" in args else len(args)
            full = [*args[:cut], "--out", str(out), *args[cut:]]
            started[name] = Run(out, pool.submit(_hil_run, full))
        yield started


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
    assert dut["serial"] == "0" and dut["firmware"].startswith("1.2.0")
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


@pytest.mark.slow
def test_a_colliding_pack_is_reported_not_misdecoded(runs: dict[str, Run]) -> None:
    run = runs["pack32"]
    assert run.code == 1, run.output[-3000:]
    assert "Traceback" not in run.output
    failed = [m for m in run.measurements() if m["verdict"] == "fail"]
    layout = next(m for m in failed if m["name"].startswith("layout of base ID 0x600"))
    assert "Node27Diagnostics (0x6EF) collides with HVILInfo" in str(layout["value"])
    assert {m["requirement"] for m in failed} == {"PH-MSG"}
