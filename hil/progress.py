"""`hil run`'s default output (a pytest plugin, in place of pytest's terminal): one line per test.

    [ 3/41] test_thresholds.py::test_trip[CV-OVP]  PASS  2.1 s  ETA 1 min 20 s

n/N, the test, its verdict, its duration (wall time) and the time left: each remaining test's
duration in the last run into the same runs folder (`.durations.json` there), else the mean of
this run's tests so far. `hil run -q` / `-v` give pytest's own output instead.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path

import pytest

#: lines for the terminal that other plugins hand over (pytest's own reporter is not there)
NOTES = pytest.StashKey[list[str]]()

#: worst first: the verdict word a test is shown with, from its phases' outcomes
_WORDS = {"bench": "ERROR (bench)", "error": "ERROR", "failed": "FAIL", "skipped": "SKIP", "passed": "PASS"}


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds + 0.5), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    return f"{minutes // 60} h {minutes % 60} min"


class Progress:
    """Counts the tests and prints each one's line when its teardown is done."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.total = 0
        self.done = 0
        self.spent = 0.0
        self.started = time.monotonic()
        self.counts: dict[str, int] = {}
        self.deselected = 0
        self._remaining: list[str] = []
        self._durations_file = self._history_file(config)
        self._earlier = self._read_history()
        self._now: dict[str, float] = {}
        self._state: dict[str, str] = {}
        self._time: dict[str, float] = {}
        self._why: dict[str, str] = {}

    @staticmethod
    def _history_file(config: pytest.Config) -> Path | None:
        out = config.getoption("--hil-out", default=None)
        return Path(out).resolve().parent / ".durations.json" if out else None

    def _read_history(self) -> dict[str, float]:
        if self._durations_file is None:
            return {}
        try:
            data = json.loads(self._durations_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _write_history(self) -> None:
        if self._durations_file is None or not self._now:
            return
        with contextlib.suppress(OSError):
            merged = {**self._earlier, **self._now}
            self._durations_file.write_text(json.dumps(merged, indent=0, sort_keys=True), encoding="utf-8")

    def _eta(self) -> float:
        mean = self.spent / self.done if self.done else 0.0
        return sum(self._earlier.get(node, mean) for node in self._remaining)

    def _say(self, text: str, stream: str = "stdout") -> None:
        """A line past pytest's output capture (a test's output is captured, the progress is not)."""
        capture = self.config.pluginmanager.getplugin("capturemanager")
        uncaptured = capture.global_and_fixture_disabled() if capture else contextlib.nullcontext()
        # a terminal that went away (a closed pipe) does not stop the run
        with uncaptured, contextlib.suppress(OSError):
            print(text, file=getattr(sys, stream), flush=True)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.total = len(session.items)
        self._remaining = [item.nodeid for item in session.items]
        for note in session.config.stash.get(NOTES, []):
            self._say(note)
        dropped = f", {self.deselected} deselected" if self.deselected else ""
        self._say(f"hil: {self.total} test{'s' if self.total != 1 else ''} selected{dropped}")

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected += len(items)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        node = report.nodeid
        self._time[node] = self._time.get(node, 0.0) + report.duration
        state = self._state.get(node, "passed")
        if report.failed:
            bench = any(k == "bench_error" for k, _ in report.user_properties)
            state = "bench" if bench else ("failed" if report.when == "call" else "error")
            crash = getattr(report.longrepr, "reprcrash", None)
            message = getattr(crash, "message", None) or str(report.longrepr).strip().splitlines()[-1:]
            self._why[node] = str(message[0] if isinstance(message, list) and message else message)
        elif report.skipped and state == "passed":
            state = "skipped"
            self._why[node] = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
        self._state[node] = state
        if report.when == "teardown":
            self._line(node)

    def _line(self, node: str) -> None:
        self.done += 1
        spent = self._time.pop(node, 0.0)
        self.spent += spent
        self._now[node] = round(spent, 3)
        with contextlib.suppress(ValueError):
            self._remaining.remove(node)
        state = self._state.pop(node, "passed")
        word = _WORDS[state]
        self.counts[word] = self.counts.get(word, 0) + 1
        left = self.total - self.done
        eta = f"  ETA {_duration(self._eta())}" if left else ""
        width = len(str(self.total))
        self._say(f"[{self.done:>{width}}/{self.total}] {node}  {word}  {_duration(spent)}{eta}")
        why = self._why.pop(node, "")
        if why and state != "passed":
            self._say(f"    {why.splitlines()[0][:300] if why.splitlines() else why}")

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        del session, exitstatus
        self._write_history()
        summary = ", ".join(f"{n} {w}" for w, n in sorted(self.counts.items())) or "no test run"
        self._say(f"hil: {summary} in {_duration(time.monotonic() - self.started)}")

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """A run stopped by the plan (pytest.exit: expired calibration, wrong serial): its one line."""
        if isinstance(excinfo.value, pytest.exit.Exception):
            self._say(f"error: {excinfo.value.msg}", "stderr")

    def pytest_internalerror(self, excrepr: object) -> None:
        print(f"hil: internal error: {str(excrepr).splitlines()[-1:]}", file=sys.stderr)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """In place of pytest's terminal reporter (its options stay defined: plugins read them)."""
    if config.option.collectonly:  # `hil run --list` prints its own table
        return
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    if terminal is not None:
        config.pluginmanager.unregister(terminal)
    config.pluginmanager.register(Progress(config), "hil-progress")
