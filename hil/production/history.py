"""What happened to a unit before: its earlier attempts, read from the run records of the line.

`UnitHistory` is the one question the operator station asks (`attempts(serial)`); `RecordHistory`
answers it from the records under the line's out folder. The results database
(`hil.db.ResultsDB.attempts`) answers the same question and can replace it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from hil.db.store import Attempt


class UnitHistory(Protocol):
    """Earlier attempts of a serial, oldest first."""

    def attempts(self, serial: str) -> list[Attempt]: ...


@dataclass
class RecordSummary:
    """What the operator station needs from one run record (read without trusting it as evidence)."""

    header: dict[str, Any] = field(default_factory=dict)
    end: dict[str, Any] | None = None
    dut: dict[str, Any] = field(default_factory=dict)
    tests: list[dict[str, Any]] = field(default_factory=list)
    measurements: list[dict[str, Any]] = field(default_factory=list)
    safe_state: dict[str, Any] | None = None

    @property
    def serial(self) -> str | None:
        expected = self.header.get("dut", {}).get("expected_serial")
        return str(expected) if expected else self.dut.get("serial")

    @property
    def failed_requirements(self) -> list[str]:
        """Requirement IDs of the tests that failed (a DUT failure), in the order they failed."""
        found: list[str] = []
        for t in self.tests:
            if t.get("outcome") == "failed" and t.get("error") != "bench":
                found += [r for r in t.get("requirements", []) if r not in found]
        return found

    @property
    def bench_errors(self) -> list[str]:
        return [str(t.get("bench_error", {}).get("message", "")) for t in self.tests if t.get("error")]

    @property
    def status(self) -> str:
        """pass / fail / incomplete / error, as the results database says it."""
        if self.end is None or self.end.get("status") == "interrupted":
            return "incomplete"
        if self.end.get("status") != "completed" or self.bench_errors:
            return "error"
        failed = any(t.get("outcome") == "failed" for t in self.tests)
        return "fail" if failed or self.end.get("tests_failed") else "pass"


def read_summary(record: Path) -> RecordSummary:
    """The entries of a record that matter here; a torn last line (a run still writing) is skipped."""
    summary = RecordSummary()
    try:
        lines = record.read_text(encoding="utf-8").splitlines()
    except OSError:
        return summary
    for line in lines:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        kind = entry.get("type")
        if kind == "header":
            summary.header = entry
        elif kind == "end":
            summary.end = entry
        elif kind == "dut":
            summary.dut = entry
        elif kind == "test":
            summary.tests.append(entry)
        elif kind == "measurement":
            summary.measurements.append(entry)
        elif kind == "safe_state" and entry.get("scope") == "run":
            summary.safe_state = entry
    return summary


def _started(header: dict[str, Any]) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(str(header.get("started")))
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.UTC)


class RecordHistory:
    """Attempts and lot counts from the run folders under one folder (one level deep)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _summaries(self) -> list[tuple[Path, RecordSummary]]:
        if not self.root.is_dir():
            return []
        found = []
        for record in sorted(self.root.glob("*/record.jsonl")):
            summary = read_summary(record)
            if summary.header:
                found.append((record.parent, summary))
        return found

    def attempts(self, serial: str) -> list[Attempt]:
        runs = [
            Attempt(str(s.header.get("run_id", "")), s.status, _started(s.header), folder)
            for folder, s in self._summaries()
            if s.serial == serial
        ]
        return sorted(runs, key=lambda a: a.started)

    def lot_units(self, lot: str) -> int:
        """How many unit runs of this lot the folder holds (for every-Nth-unit audits)."""
        return sum(1 for _, s in self._summaries() if s.header.get("lot") == lot)
