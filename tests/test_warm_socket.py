"""A socket's warm process (hil.production.warm): a unit forked from it ends as a fresh `hil run`
process would (record, verdict, exit code), stops the Ctrl-C way, and its death is a bench error."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from eol_panel import SIM_SERIAL, write_line
from hilcli import settings_file

from hil.production.line import load_line
from hil.production.runner import Line, SocketRunner, Unit
from hil.production.warm import UnitProcess

pytestmark = pytest.mark.slow


def _line(tmp_path: Path, warm: bool, **fields: Any) -> Line:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = write_line(tmp_path, **fields)
    return Line(load_line(path), path.parent, tmp_path / "runs", warm=warm)


def _start(runner: SocketRunner, serial: str = SIM_SERIAL) -> Unit:
    assert runner.submit_serial(serial, "Ana") is None
    assert runner.start() is None
    assert runner.unit is not None
    return runner.unit


def _until_done(runner: SocketRunner, timeout_s: float = 240.0) -> Unit:
    deadline = time.monotonic() + timeout_s
    while runner.state != "done":
        assert time.monotonic() < deadline, f"socket {runner.name} still {runner.state}"
        runner.poll()
        time.sleep(0.1)
    assert runner.unit is not None
    return runner.unit


def _until_bench_open(unit: Unit, timeout_s: float = 120.0) -> None:
    """Until the unit's record holds the station: the bench is open and the first test under way."""
    assert unit.folder is not None
    record = unit.folder / "record.jsonl"
    deadline = time.monotonic() + timeout_s
    while not (record.exists() and '"type": "station"' in record.read_text()):
        assert time.monotonic() < deadline, "the unit's bench did not open"
        time.sleep(0.2)


def _entries(unit: Unit) -> list[dict[str, Any]]:
    assert unit.folder is not None
    return [json.loads(ln) for ln in (unit.folder / "record.jsonl").read_text().splitlines()]


def _judged(unit: Unit) -> list[tuple[str, ...]]:
    """What the record judged, without the values and times that differ from run to run."""
    rows: list[tuple[str, ...]] = []
    for e in _entries(unit):
        if e["type"] == "measurement":
            rows.append((e["test"], e["requirement"], e["name"], e["verdict"]))
        elif e["type"] in ("test", "end"):
            rows.append((e["type"], str(e.get("test")), str(e.get("outcome")), str(e.get("status"))))
    return rows


def _one_unit(tmp_path: Path, warm: bool, **fields: Any) -> Unit:
    line = _line(tmp_path, warm, **fields)
    try:
        runner = line.sockets["S1"]
        _start(runner)
        return _until_done(runner)
    finally:
        line.shutdown()


@pytest.mark.parametrize("firmware", [None, {"cell_overvoltage_protection": {"trigger": 3700}}])
def test_a_unit_forked_by_the_warm_process_ends_as_a_fresh_process_would(
    tmp_path: Path, firmware: dict[str, Any] | None
) -> None:
    socket = {}
    if firmware is not None:  # a unit whose OVP trips too early: FAIL naming CV-OVP
        socket = {"firmware": str(settings_file(tmp_path, "ovp.yaml", "bms12100", firmware))}
    fresh = _one_unit(tmp_path / "fresh", False, socket=socket)
    warm = _one_unit(tmp_path / "warm", True, socket=socket)
    assert isinstance(fresh.proc, subprocess.Popen)
    assert isinstance(warm.proc, UnitProcess)  # forked by the warm process, not started afresh
    expected = ("PASS", 0) if firmware is None else ("FAIL", 1)
    assert (fresh.verdict, fresh.exit_code) == expected and (warm.verdict, warm.exit_code) == expected
    assert warm.failed == fresh.failed and ("CV-OVP" in warm.failed) == (firmware is not None)
    assert _judged(warm) == _judged(fresh) and len(_judged(warm)) > 5
    for unit in (fresh, warm):
        assert unit.folder is not None
        assert (unit.folder / "eol-ticket.pdf").exists() and (unit.folder / "junit.xml").exists()
        log = (unit.folder / "hil-run.log").read_text()
        assert "record: " in log and "Warning" not in log  # pytest rewrote the plan's modules itself


def test_one_warm_process_runs_units_one_after_another_each_in_its_own_process(tmp_path: Path) -> None:
    line = _line(tmp_path, True)
    try:
        runner = line.sockets["S1"]
        pids, runs, servers = [], [], []
        for _ in range(2):
            unit = _start(runner)
            assert isinstance(unit.proc, UnitProcess)
            pids.append(unit.proc.pid)
            servers.append(unit.proc.server)
            done = _until_done(runner)
            assert (done.verdict, done.exit_code) == ("PASS", 0)
            runs.append(_entries(done)[0]["run_id"])
            runner.next_unit()
    finally:
        line.shutdown()
    assert servers[0] is servers[1] and pids[0] != pids[1] and runs[0] != runs[1]


def test_stop_of_a_unit_in_a_warm_socket_makes_the_bench_safe_and_seals_the_record(tmp_path: Path) -> None:
    line = _line(tmp_path, True, pytest_args=["--hil-requirement", "CV-OVP", "--hil-pace"])
    try:
        runner = line.sockets["S1"]
        unit = _start(runner)
        _until_bench_open(unit)
        assert runner.stop() is None  # the panel's STOP: SIGINT, as Ctrl-C
        unit = _until_done(runner, 120)
    finally:
        line.shutdown()
    assert (unit.verdict, unit.exit_code) == ("STOPPED", 130)
    assert "bench safe" in unit.message and "record sealed as interrupted" in unit.message
    entries = _entries(unit)
    assert entries[-1]["type"] == "end" and entries[-1]["status"] == "interrupted"
    assert entries[-2]["type"] == "safe_state" and entries[-2]["safe"] is True


def test_the_warm_process_dying_under_a_unit_is_a_bench_error_and_the_socket_goes_on(
    tmp_path: Path,
) -> None:
    line = _line(tmp_path, True, pytest_args=["--hil-requirement", "CV-OVP", "--hil-pace"])
    try:
        runner = line.sockets["S1"]
        unit = _start(runner)
        _until_bench_open(unit)
        assert isinstance(unit.proc, UnitProcess)
        dead = unit.proc.server
        os.kill(dead.proc.pid, signal.SIGKILL)
        unit = _until_done(runner, 120)
        assert (unit.verdict, unit.exit_code) == ("ERROR", 3)
        assert unit.message == (
            "bench error: the socket's warm process ended during the unit (signal 9); unit stopped"
        )
        entries = _entries(unit)  # the orphaned unit was stopped the SIGTERM way: safe, sealed
        assert entries[-1]["type"] == "end" and entries[-1]["status"] == "interrupted"
        assert entries[-2]["type"] == "safe_state" and entries[-2]["safe"] is True
        assert unit.folder is not None and "^FDERROR^FS" in (unit.folder / "label.zpl").read_text()
        runner.next_unit()  # the next unit gets a new warm process
        line.model.pytest_args[:] = ["--hil-requirement", "CV-OVP"]  # unpaced: quicker
        after = _start(runner)
        assert isinstance(after.proc, UnitProcess) and after.proc.server is not dead
        done = _until_done(runner)
        assert (done.verdict, done.exit_code) == ("PASS", 0)
    finally:
        line.shutdown()
