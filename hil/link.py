"""The link log every bus endpoint keeps (`LinkLog`, snapshots as `LinkStats`): answers that
failed to decode, retries, silences, error frames and bus states, counted per kind with the
station-clock time and raw bytes of the most recent ones. At the end of each test the fixtures
write the counts that changed into the record as a `link` entry: a finding, not a verdict.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

#: how many of a link's most recent events keep their details (counts are never capped)
KEEP_EVENTS = 64
#: how many events a `link` record entry quotes per link
RECORD_EVENTS = 5


@dataclass(frozen=True)
class LinkEvent:
    """One thing that went wrong on a link: when (station clock), what kind, the raw bytes if any."""

    seq: int  # position among every event of its link, from 0 (counts survive; details are bounded)
    time: float
    kind: str
    detail: str = ""
    raw: bytes = b""

    def to_json(self) -> dict[str, Any]:
        """The event as the record carries it (raw bytes in hex)."""
        data: dict[str, Any] = {"t": self.time, "kind": self.kind}
        if self.detail:
            data["detail"] = self.detail
        if self.raw:
            data["hex"] = self.raw.hex()
        return data


@dataclass(frozen=True)
class LinkStats:
    """A snapshot of one link's counters and its most recent events (at most KEEP_EVENTS)."""

    link: str
    counts: Mapping[str, int] = field(default_factory=dict)
    events: tuple[LinkEvent, ...] = ()
    total: int = 0  # events ever logged (the next event's seq)

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", MappingProxyType(dict(self.counts)))

    def count(self, kind: str) -> int:
        """How many events of this kind (0 if none)."""
        return self.counts.get(kind, 0)

    @property
    def nonzero(self) -> bool:
        """True when some counter is non-zero."""
        return any(self.counts.values())

    def since(self, earlier: LinkStats | None) -> LinkStats:
        """What happened after `earlier` (a snapshot of the same link): count deltas, newer events."""
        if earlier is None:
            return self
        counts = {k: n - earlier.counts.get(k, 0) for k, n in self.counts.items()}
        return LinkStats(
            self.link,
            {k: n for k, n in counts.items() if n},
            tuple(e for e in self.events if e.seq >= earlier.total),
            self.total,
        )

    def to_json(self, max_events: int = RECORD_EVENTS) -> dict[str, Any]:
        """Counts and the `max_events` earliest events (by station time), for a `link` record entry.

        Time order, not logging order: a silence is logged when looked for, at the time it began.
        """
        first = sorted(self.events, key=lambda e: (e.time, e.seq))[:max_events]
        return {
            "counts": dict(sorted(self.counts.items())),
            "events": [e.to_json() for e in first],
            "events_total": sum(self.counts.values()),
        }


class LinkLog:
    """A link's counters and bounded event list; thread-safe (a bus receiver thread may log)."""

    def __init__(self, link: str, keep: int = KEEP_EVENTS) -> None:
        self.link = link
        self._counts: dict[str, int] = {}
        self._events: deque[LinkEvent] = deque(maxlen=keep)
        self._total = 0
        self._lock = threading.Lock()

    def add(self, kind: str, time: float, detail: str = "", raw: bytes = b"") -> LinkEvent:
        """Count one event of `kind` and keep its details."""
        with self._lock:
            event = LinkEvent(self._total, time, kind, detail, bytes(raw))
            self._total += 1
            self._counts[kind] = self._counts.get(kind, 0) + 1
            self._events.append(event)
            return event

    def stats(self) -> LinkStats:
        """A snapshot of the counters and kept events."""
        with self._lock:
            return LinkStats(self.link, dict(self._counts), tuple(self._events), self._total)


def link_findings(now: list[LinkStats], before: Mapping[str, LinkStats]) -> dict[str, Any]:
    """The `links` field of a `link` record entry: each link whose counters moved since `before`."""
    found: dict[str, Any] = {}
    for stats in now:
        delta = stats.since(before.get(stats.link))
        if delta.nonzero:
            found[stats.link] = delta.to_json()
    return found
