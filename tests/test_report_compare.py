"""`hil report --compare`: results across runs, drifts larger than the combined uncertainty flagged."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from hil.cli import main
from hil.measure import within
from hil.record import Recorder
from hil.report.compare import compare


def make_run(folder: Path, firmware: str, trip: float, delay: float, complete: bool = True) -> Path:
    rec = Recorder(folder / "record.jsonl", run_id=f"run-{firmware}")
    rec.write("header", started="2026-01-02T03:04:05+00:00", dut={"family": "bms12100"})
    rec.write("dut", serial="SN1", firmware=firmware, protocol="p")
    rec.measurement(
        within("CV-OVP", "trip point", trip, "mV", 1.0, low=3628.0, high=3672.0, uncertainty=2.5), "test_trip"
    )
    rec.measurement(
        within("CV-OVP", "trip delay", delay, "s", 2.0, low=0.0, high=3.0, uncertainty=0.02), "t2"
    )
    rec.measurement(within("CV-UVP", "trip point", 2800.0, "mV", 3.0, low=2778.0, high=2822.0), "t3")
    rec.write("test", test="test_trip", phase="call", outcome="passed", requirements=["CV-OVP"])
    if complete:
        rec.write("end", status="completed")
    rec.close()
    return folder


@pytest.fixture
def runs(tmp_path: Path) -> list[Path]:
    return [
        make_run(tmp_path / "a", "1.3", 3650.0, 1.00),
        make_run(tmp_path / "b", "1.4", 3652.0, 1.01),  # 2 mV < √(2.5² + 2.5²) = 3.54 mV: no drift
        make_run(tmp_path / "c", "1.5", 3656.0, 1.00, complete=False),  # 6 mV: a drift
    ]


def test_series_and_drifts(runs: list[Path]) -> None:
    comp = compare(runs)
    series = {(s.requirement, s.name): s for s in comp.series}
    trip = series[("CV-OVP", "trip point")]
    assert [p.value for p in trip.points if p] == [3650.0, 3652.0, 3656.0]
    assert [trip.drift(i) for i in (1, 2)] == [False, True]
    assert math.hypot(2.5, 2.5) < 6.0
    assert [series[("CV-OVP", "trip delay")].drift(i) for i in (1, 2)] == [False, False]
    assert series[("CV-UVP", "trip point")].drift(1) is None  # no uncertainty stated: cannot tell
    assert [(s.requirement, s.name, i) for s, i in comp.drifts()] == [("CV-OVP", "trip point", 2)]
    labels = comp.labels()
    assert labels[0].startswith("run-1.3 fw 1.3 2026-01-02") and labels[2].endswith("(incomplete)")


def test_cli_compare_tabulates_plots_and_flags(
    runs: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cmp"
    assert main(["report", "--compare", *map(str, runs), "--out", str(out)]) == 1  # a drift: non-zero
    text = capsys.readouterr().out
    assert "DRIFT CV-OVP trip point: run-1.5 fw 1.5" in text
    line = next(row for row in text.splitlines() if row.startswith("CV-OVP") and "trip point" in row)
    assert "3650 ± 2.5" in line and "3652 ± 2.5" in line and "3656 ± 2.5 !" in line
    with (out / "compare.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    drift = {(r["requirement"], r["result"], r["run_id"]): r["drift"] for r in rows}
    assert drift[("CV-OVP", "trip point", "run-1.5")] == "yes"
    assert drift[("CV-OVP", "trip point", "run-1.4")] == "no"
    assert drift[("CV-OVP", "trip point", "run-1.3")] == ""
    html = (out / "compare.html").read_text()
    assert html.count("<img ") == 3 and "DRIFT" in html
    # without the drifting run: nothing flagged, exit 0
    assert main(["report", "--compare", str(runs[0]), str(runs[1]), "--out", str(tmp_path / "cmp2")]) == 0
    assert "No result moved" in (tmp_path / "cmp2" / "compare.html").read_text()


def test_compare_needs_two_runs(runs: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--compare", str(runs[0])]) == 2
    assert "at least two" in capsys.readouterr().err
