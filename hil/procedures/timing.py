"""Delay procedure: time from a stimulus edge to each response edge, from timestamps only."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from hil.clock import Clock


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


def measure_delay(
    clock: Clock,
    stimulus: Callable[[], None],
    responses: Mapping[str, Callable[[], bool]],
    timeout_s: float,
    poll_s: float,
) -> DelayResult:
    """Apply the stimulus, then poll every response until all have responded or the timeout.

    The stimulus edge is the clock time right after the stimulus command was accepted; each
    response edge is the first poll that saw it (so each delay is resolved to `poll_s`).
    """
    stimulus()
    t0 = clock.now()
    seen: dict[str, float | None] = dict.fromkeys(responses)
    while True:
        now = clock.now()
        for name, responded in responses.items():
            if seen[name] is None and responded():
                seen[name] = now
        if all(v is not None for v in seen.values()) or now - t0 >= timeout_s:
            break
        clock.sleep(poll_s)
    return DelayResult(t0, {n: Edge(n, t, poll_s) for n, t in seen.items()})
