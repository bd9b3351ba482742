"""Excerpts of the run's CAN log (`can.asc`, Vector ASCII as python-can writes it) by time window.

python-can writes the first frame's timestamp into the "Begin Triggerblock" line (as a local
date) and every frame relative to it; the station clock's time of a line is that start plus the
line's offset, which is how the test windows in the record (virtual time) map onto the log.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from pathlib import Path

MAX_LINES = 400


class CanLog:
    """The frame lines of a .asc file with their absolute (station clock) times."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.header: list[str] = []
        self.lines: list[tuple[float, str]] = []
        start = 0.0
        with path.open(encoding="utf-8", errors="replace") as fh:
            for raw in fh:
                line = raw.rstrip("\n")
                if line.startswith("Begin Triggerblock"):
                    start = _parse_start(line.removeprefix("Begin Triggerblock").strip())
                    self.header.append(line)
                    continue
                first = line.split(maxsplit=1)[0] if line.strip() else ""
                try:
                    offset = float(first)
                except ValueError:
                    if not self.lines:
                        self.header.append(line)
                    continue
                self.lines.append((start + offset, line))
        self.lines.sort(key=lambda item: item[0])
        self._times = [t for t, _ in self.lines]

    def excerpt(self, t0: float, t1: float, margin: float = 0.0, max_lines: int = MAX_LINES) -> str:
        """The header and the frame lines in [t0 - margin, t1 + margin], at most max_lines of them."""
        lo = bisect.bisect_left(self._times, t0 - margin)
        hi = bisect.bisect_right(self._times, t1 + margin)
        picked = [line for _, line in self.lines[lo:hi]]
        cut = len(picked) > max_lines
        picked = picked[:max_lines]
        head = [*self.header, f"// excerpt: station time {t0:.3f} s to {t1:.3f} s (±{margin:g} s)"]
        tail = [f"// ... {len(picked)} lines shown, more in {self.path.name}"] if cut else []
        return "\n".join(head + picked + tail) + "\n"


_START = re.compile(
    r"^\w{3} (\w{3}) (\d{1,2}) (\d{1,2}):(\d{2}):(\d{2})\.(\d{1,3})(?: ([AP]M))? (\d{4})$", re.IGNORECASE
)
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]


def _parse_start(text: str) -> float:
    """The Triggerblock date as a timestamp; its fraction is milliseconds, written without padding."""
    match = _START.match(text.strip())
    if match is None:
        return 0.0
    month, day, hour, minute, second, msec, ampm, year = match.groups()
    hour_24 = int(hour) % 12 + (12 if ampm and ampm.upper() == "PM" else 0) if ampm else int(hour)
    moment = dt.datetime(
        int(year), _MONTHS.index(month.lower()) + 1, int(day), hour_24, int(minute), int(second)
    )
    return moment.timestamp() + int(msec) / 1000.0  # naive = local time, as python-can wrote it
