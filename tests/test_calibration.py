"""Calibration: an instrument past its due date stops the run before any stimulus, unless allowed."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import yaml
from hilcli import own_plan
from pypdf import PdfReader

from hil.station.station import load_station
from hil.uncertainty import calibration_status, expired_calibrations

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SIM_STATION = ROOT / "stations" / "sim-bms12100.yaml"

PLAN = """
import pytest
from hil.measure import within


@pytest.mark.requirement("CV-OVP")
def test_trip(check):
    check(within("CV-OVP", "trip point", 3650.0, "mV", 1.0, low=3628.0, high=3672.0, uncertainty=2.5))
"""


def expired_station(folder: Path, instrument: str = "load") -> Path:
    data = yaml.safe_load(SIM_STATION.read_text())
    data["instruments"][instrument]["calibration_due"] = "2020-01-31"
    path = folder / "expired.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def entries(folder: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (folder / "record.jsonl").read_text().splitlines()]


def test_valid_up_to_and_including_the_due_date(tmp_path: Path) -> None:
    model = load_station(expired_station(tmp_path))
    due = model.instruments["cells"].calibration_due
    assert not any(s.expired for s in calibration_status(model, due) if s.instrument == "cells")
    after = calibration_status(model, due + dt.timedelta(days=1))
    assert [s.expired for s in after if s.instrument == "cells"] == [True]
    expired = expired_calibrations(model, dt.date(2026, 1, 1))
    assert [(s.instrument, s.asset_id, s.due.isoformat()) for s in expired] == [
        ("load", model.instruments["load"].asset_id, "2020-01-31")
    ]


def test_expired_calibration_stops_the_run_before_any_stimulus(tmp_path: Path) -> None:
    station = expired_station(tmp_path)
    out = tmp_path / "run"
    result = subprocess.run(
        [str(BIN / "hil"), "run", "--station", str(station), "--out", str(out), "--reports", "html"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    text = result.stdout + result.stderr
    assert f"{station}: field 'instruments.load.calibration_due'" in text
    assert "--allow-expired-calibration" in text
    # one plain error line, not pytest's "! _pytest.outcomes.Exit: ... !" banner
    assert result.stderr.startswith(f"error: {station}: field 'instruments.load.calibration_due': ")
    assert "_pytest" not in text and "!!!" not in text and "Traceback" not in text
    kinds = [e["type"] for e in entries(out)]
    assert kinds == ["header", "spec", "stopped", "end"]  # no station, no DUT, no measurement
    header = entries(out)[0]
    assert header["calibration"]["expired"][0]["instrument"] == "load"  # type: ignore[index]
    assert header["calibration"]["allowed"] is False  # type: ignore[index]
    assert entries(out)[-1]["status"] == "stopped"
    assert not (out / "sim.log").exists()  # the simulated lab was never started
    html = (out / "report.html").read_text()
    assert "RUN NOT PERFORMED" in html and "CALIBRATION EXPIRED" in html
    verify = subprocess.run(
        [str(BIN / "hil"), "report", "--verify", str(out)], capture_output=True, text=True
    )
    assert verify.returncode == 3
    assert "INCOMPLETE: the run was stopped" in verify.stderr


def test_allowed_expired_calibration_is_on_the_first_page(tmp_path: Path) -> None:
    plan = tmp_path / "plan" / "test_plan.py"
    plan.parent.mkdir()
    plan.write_text(PLAN)
    out = tmp_path / "run"
    result = own_plan(
        plan,
        f"--hil-station={expired_station(tmp_path)}",
        "--hil-allow-expired-calibration",
        f"--hil-out={out}",
        "--hil-reports=pdf",
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert entries(out)[-1]["status"] == "completed"
    first = " ".join(PdfReader(out / "report.pdf").pages[0].extract_text().split())
    assert "CALIBRATION EXPIRED" in first
    assert "load (ITECH IT8906A-1200-240" in first
    assert "due 2020-01-31" in first
    assert "--allow-expired-calibration" in first
    assert "Result: PASS" in first
