"""Delay procedure: time from a stimulus edge to each response edge, from timestamps only."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from hil.clock import TIME_EPSILON, Clock
from hil.uncertainty import Budget, budget, resolution


@dataclass(frozen=True)
class Edge:
    """When a response was first seen (None: not within the timeout) and the polling resolution."""

    name: str
    time: float | None
    resolution: float


@dataclass(frozen=True)
class DelayResult:
    stimulus_time: float
    edges: dict[str, Edge]

    def delay(self, name: str) -> float | None:
        edge = self.edges[name]
        return None if edge.time is None else edge.time - self.stimulus_time

    def estimate(self, name: str) -> float | None:
        """The delay's best estimate: the response came within one poll before it was seen, so the
        middle of that poll (seen - poll/2); its U is `budget(name)`."""
        seen = self.delay(name)
        return None if seen is None else max(0.0, seen - self.edges[name].resolution / 2)

    def budget(self, name: str) -> Budget:
        """The delay's uncertainty: the polling period as a resolution (u = poll/√12)."""
        poll = self.edges[name].resolution
        return budget(
            resolution(f"polling period {poll:g} s (response seen at the next poll)", poll), unit="s"
        )


def measure_delay(
    clock: Clock,
    stimulus: Callable[[], None],
    responses: Mapping[str, Callable[[], bool]],
    timeout_s: float,
    poll_s: float,
) -> DelayResult:
    """Apply the stimulus, then poll every response until all have responded or the timeout.

    The stimulus edge is the clock time right after the stimulus command was accepted; each
    response edge is the first poll that saw it (so each delay is resolved to `poll_s`). The last
    poll falls on the timeout: the deadline is compared within TIME_EPSILON, because a float sum
    of polls lands a hair short of it, and the last wait is cut short so as not to pass it.
    """
    stimulus()
    t0 = clock.now()
    deadline = t0 + timeout_s
    seen: dict[str, float | None] = dict.fromkeys(responses)
    while True:
        now = clock.now()
        for name, responded in responses.items():
            if seen[name] is None and responded():
                seen[name] = now
        remaining = deadline - now
        if all(v is not None for v in seen.values()) or remaining <= TIME_EPSILON:
            break
        clock.sleep(min(poll_s, remaining))
    return DelayResult(t0, {n: Edge(n, t, poll_s) for n, t in seen.items()})
