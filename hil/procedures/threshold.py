"""Threshold procedures: go/no-go (two probes) and characterisation (bisection with re-arming).

A `ThresholdSetup` says how to drive the stimulus, how to see whether the DUT has tripped and
how to bring it back to the untripped state; the procedures know nothing about any DUT.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from hil.clock import Clock


@dataclass(frozen=True)
class Probe:
    """One stimulus level held for the settle time, and what the DUT did."""

    level: float
    tripped: bool
    time: float


@dataclass
class ThresholdSetup:
    """How one threshold is exercised."""

    clock: Clock
    apply: Callable[[float], None]
    tripped: Callable[[], bool]
    rearm: Callable[[], None]
    settle_s: float
    direction: Literal["above", "below"]
    probes: list[Probe] = field(default_factory=list)

    def beyond(self, limit: float, margin: float) -> float:
        """The level `margin` past the limit in the tripping direction."""
        return limit + margin if self.direction == "above" else limit - margin

    def inside(self, limit: float, margin: float) -> float:
        """The level `margin` short of the limit (where the DUT must not trip)."""
        return limit - margin if self.direction == "above" else limit + margin

    def probe(self, level: float) -> Probe:
        self.apply(level)
        self.clock.sleep(self.settle_s)
        result = Probe(level, self.tripped(), self.clock.now())
        self.probes.append(result)
        return result


@dataclass(frozen=True)
class GoNoGo:
    inside: Probe
    beyond: Probe

    @property
    def passed(self) -> bool:
        return not self.inside.tripped and self.beyond.tripped


def go_no_go(setup: ThresholdSetup, limit: float, margin: float) -> GoNoGo:
    """EOL check: no trip `margin` inside the limit, a trip `margin` beyond it (two probes)."""
    setup.rearm()
    inside = setup.probe(setup.inside(limit, margin))
    beyond = setup.probe(setup.beyond(limit, margin))
    return GoNoGo(inside, beyond)


@dataclass(frozen=True)
class Search:
    """Result of a trip-point search: the point (None if not bracketed) and the probe count."""

    point: float | None
    resolution: float
    probes: tuple[Probe, ...]
    note: str = ""

    @property
    def count(self) -> int:
        return len(self.probes)


def find_trip(setup: ThresholdSetup, limit: float, span: float, resolution: float) -> Search:
    """Bisect the trip point within limit ± span to `resolution`, re-arming before every probe.

    The first two probes check the bracket (no trip at the inner end, trip at the outer end);
    then each probe halves it: `expected_probe_count(span, resolution)` probes in all. The number
    of halvings is fixed up front, not found by comparing the float width with `resolution`, so a
    power-of-two ratio whose width rounds a hair above `resolution` does not cost an extra probe.
    """
    start = len(setup.probes)
    lo, hi = setup.inside(limit, span), setup.beyond(limit, span)  # lo: untripped side
    setup.rearm()
    if setup.probe(lo).tripped:
        return Search(None, resolution, tuple(setup.probes[start:]), "tripped already at the inner bracket")
    setup.rearm()
    if not setup.probe(hi).tripped:
        return Search(None, resolution, tuple(setup.probes[start:]), "no trip at the outer bracket")
    for _ in range(_bisections(span, resolution)):
        mid = (lo + hi) / 2
        setup.rearm()
        if setup.probe(mid).tripped:
            hi = mid
        else:
            lo = mid
    return Search((lo + hi) / 2, resolution, tuple(setup.probes[start:]))


def find_release(
    setup: ThresholdSetup, trip_level: float, release_guess: float, span: float, resolution: float
) -> Search:
    """Bisect the release point near `release_guess`: trip at `trip_level`, then step back.

    Each probe first trips the DUT, then holds the candidate level; released means not tripped.
    """
    start = len(setup.probes)
    # Positions on the release side: `far` releases surely, `near` (towards the trip) does not.
    sign = 1.0 if setup.direction == "above" else -1.0
    far, near = release_guess - sign * span, release_guess + sign * span

    def released_at(level: float) -> bool | None:
        if not setup.probe(trip_level).tripped:
            return None
        return not setup.probe(level).tripped

    setup.rearm()
    first = released_at(far)
    if first is None:
        return Search(None, resolution, tuple(setup.probes[start:]), "did not trip at the trip level")
    if not first:
        return Search(None, resolution, tuple(setup.probes[start:]), "no release at the far bracket")
    setup.rearm()
    second = released_at(near)
    if second:
        return Search(None, resolution, tuple(setup.probes[start:]), "released already at the near bracket")
    for _ in range(_bisections(span, resolution)):
        mid = (near + far) / 2
        setup.rearm()
        outcome = released_at(mid)
        if outcome is None:
            return Search(None, resolution, tuple(setup.probes[start:]), "did not re-trip during the search")
        if outcome:
            far = mid
        else:
            near = mid
    return Search((near + far) / 2, resolution, tuple(setup.probes[start:]))


# Slack on log2(2·span/resolution): a ratio within float rounding of 2**n needs n halvings, not n + 1.
_LOG2_SLACK = 1e-9


def _bisections(span: float, resolution: float) -> int:
    """Halvings that take a 2·span bracket down to `resolution` (none if it is already there)."""
    return max(0, math.ceil(math.log2(2 * span / resolution) - _LOG2_SLACK))


def expected_probe_count(span: float, resolution: float) -> int:
    """Probes a bisection of 2·span to `resolution` needs (bracket checks included)."""
    return _bisections(span, resolution) + 2
