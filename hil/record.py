"""The run record: `record.jsonl`, one JSON object per line, written and flushed as it happens.

Append-only and hash-chained: every entry carries the SHA-256 of the previous line, so a
record can be checked for alteration and a record cut short by a crash is still valid up to
its last complete line.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hil.measure import Measurement

GENESIS = "0" * 64


def _line_hash(line: bytes) -> str:
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


class Recorder:
    """Writes the record of one run."""

    def __init__(self, path: Path, run_id: str | None = None) -> None:
        self.path = path
        self.run_id = run_id or uuid.uuid4().hex
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("ab")
        self._prev = GENESIS
        self._seq = 0
        self._lock = threading.Lock()
        self.measurements: list[Measurement] = []

    def write(self, kind: str, **fields: Any) -> None:
        """Append one entry and make it durable before returning."""
        with self._lock:
            entry = {"seq": self._seq, "type": kind, "run_id": self.run_id, **fields, "prev": self._prev}
            line = json.dumps(entry, default=str, sort_keys=False).encode() + b"\n"
            self._file.write(line)
            self._file.flush()
            os.fsync(self._file.fileno())
            self._prev = _line_hash(line)
            self._seq += 1

    def measurement(self, m: Measurement, test: str = "") -> None:
        self.measurements.append(m)
        self.write("measurement", test=test, **m.to_json())

    def close(self) -> None:
        with self._lock:
            self._file.close()


@dataclass
class VerifyResult:
    ok: bool
    entries: int
    problem: str = ""


def verify(path: Path) -> VerifyResult:
    """Check the hash chain; report the first entry that does not follow from the one before."""
    prev = GENESIS
    count = 0
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.endswith(b"\n"):
                return VerifyResult(False, count, f"line {number}: incomplete last line")
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                return VerifyResult(False, count, f"line {number}: not JSON")
            if entry.get("prev") != prev or entry.get("seq") != count:
                return VerifyResult(False, count, f"line {number} (seq {entry.get('seq')}): chain broken")
            prev = _line_hash(line)
            count += 1
    return VerifyResult(True, count)
