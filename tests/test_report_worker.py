"""The report worker (`python -m hil.report.prefetch`) draws at low priority while the plan runs, and
is back at normal priority as soon as it reads the seal: the reports are then what is waited for."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hil.report.prefetch import LOG_ENV, WORKER_NICE

#: how long the worker may take to start (its imports) on a loaded machine: a wait, not a figure
START_WAIT_S = 120.0


def _may_run_at(nice: int) -> bool:
    """Whether this user may set a process's nice value as low as `nice` (root, or RLIMIT_NICE)."""
    if os.geteuid() == 0:
        return True
    soft, _ = resource.getrlimit(resource.RLIMIT_NICE)
    return soft == resource.RLIM_INFINITY or 20 - soft <= nice


def _wait_for(log: Path, event: str, worker: subprocess.Popen[bytes]) -> None:
    """Until the worker's timeline holds `event` (what it did just before writing it is done)."""
    deadline = time.monotonic() + START_WAIT_S
    while time.monotonic() < deadline:
        lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
        if any(line.split(" ", 2)[2].startswith(event) for line in lines):
            return
        assert worker.poll() is None, f"the worker ended (exit {worker.returncode}) before {event!r}"
        time.sleep(0.05)
    pytest.fail(f"the worker's timeline has no {event!r}")


def test_the_worker_is_back_at_normal_priority_once_it_reads_the_seal(tmp_path: Path) -> None:
    if not _may_run_at(0):
        pytest.skip("this user may not raise a process's priority back (RLIMIT_NICE)")
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "hil.report.prefetch", str(tmp_path / "run")],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, LOG_ENV: str(log), "MPLBACKEND": "Agg"},
    )
    try:
        assert worker.stdin is not None
        _wait_for(log, "start", worker)
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, worker.pid) == min(
            ours + WORKER_NICE, 19
        )  # while the run runs
        worker.stdin.write((json.dumps({"sealed": True}) + "\n").encode())
        worker.stdin.flush()  # stdin stays open: the worker is still reading, its queue not drawn yet
        _wait_for(log, "seal read", worker)
        assert os.getpriority(os.PRIO_PROCESS, worker.pid) == 0
    finally:
        worker.kill()
        worker.wait()
