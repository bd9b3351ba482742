"""Threshold and delay procedures against a pure-Python DUT on a fake clock.

The fake DUT has a trip threshold, a release threshold (hysteresis) and a trip delay; the fake
clock runs it through every wait, so probe outcomes and delays follow from virtual time only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import pytest

from hil.clock import TIME_EPSILON, Clock
from hil.procedures.threshold import (
    ThresholdSetup,
    expected_probe_count,
    find_release,
    find_trip,
    go_no_go,
)
from hil.procedures.timing import measure_delay

MAX_WAITS = 100_000


@dataclass
class FakeDut:
    """Trips when the level stays beyond `trip` for `delay` s; releases beyond `release` at once."""

    trip: float
    release: float
    delay: float
    direction: Literal["above", "below"] = "above"
    nominal: float = 0.0
    level: float = 0.0
    tripped: bool = False
    trip_time: float | None = None
    changed_at: float = 0.0
    events: list[tuple[str, float | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.level = self.nominal

    def beyond_trip(self, level: float) -> bool:
        return level > self.trip if self.direction == "above" else level < self.trip

    def beyond_release(self, level: float) -> bool:
        return level < self.release if self.direction == "above" else level > self.release

    def update(self, t: float) -> None:
        """Bring the state to time t (the level has been constant since `changed_at`)."""
        if not self.tripped and self.beyond_trip(self.level) and t - self.changed_at >= self.delay - 1e-9:
            self.tripped = True
            self.trip_time = self.changed_at + self.delay
        if self.tripped and self.beyond_release(self.level):
            self.tripped = False

    def apply(self, level: float, t: float) -> None:
        self.update(t)
        self.level = level
        self.changed_at = t
        self.events.append(("apply", level))
        self.update(t)

    def rearm(self, t: float) -> None:
        self.level = self.nominal
        self.tripped = False
        self.trip_time = None
        self.changed_at = t
        self.events.append(("rearm", None))


class FakeClock(Clock):
    """Virtual time; every wait runs the DUT (if any) to the new time."""

    def __init__(self, start: float = 0.0, dut: FakeDut | None = None) -> None:
        super().__init__()
        self.t = start
        self.dut = dut
        self.waits: list[float] = []

    def now(self) -> float:
        return self.t

    def _advance(self, seconds: float) -> dict[str, float]:
        self.waits.append(seconds)
        if len(self.waits) > MAX_WAITS:
            raise RuntimeError("the procedure never stops waiting")
        self.t += seconds
        if self.dut is not None:
            self.dut.update(self.t)
        return {"waits": float(len(self.waits))}


def make_setup(dut: FakeDut, settle_s: float = 3.0, start: float = 100.0) -> tuple[ThresholdSetup, FakeClock]:
    clock = FakeClock(start, dut)
    dut.changed_at = start

    def tripped() -> bool:
        dut.update(clock.now())
        return dut.tripped

    setup = ThresholdSetup(
        clock=clock,
        apply=lambda level: dut.apply(level, clock.now()),
        tripped=tripped,
        rearm=lambda: dut.rearm(clock.now()),
        settle_s=settle_s,
        direction=dut.direction,
    )
    return setup, clock


def ovp(trip: float = 3650.0, release: float = 3400.0, delay: float = 1.0) -> FakeDut:
    return FakeDut(trip=trip, release=release, delay=delay, direction="above", nominal=3300.0)


def uvp(trip: float = 2800.0, release: float = 3100.0, delay: float = 1.0) -> FakeDut:
    return FakeDut(trip=trip, release=release, delay=delay, direction="below", nominal=3300.0)


def rearmed_before_every_probe(events: list[tuple[str, float | None]]) -> bool:
    kinds = [kind for kind, _ in events]
    return kinds == ["rearm", "apply"] * (len(kinds) // 2)


# --- go / no-go ----------------------------------------------------------------------------------


def test_go_no_go_conforming_unit() -> None:
    dut = ovp()
    setup, clock = make_setup(dut, settle_s=3.0, start=10.0)
    result = go_no_go(setup, 3650.0, 20.0)
    assert result.passed
    assert (result.inside.level, result.inside.tripped) == (3630.0, False)
    assert (result.beyond.level, result.beyond.tripped) == (3670.0, True)
    # each probe is held for the settle time and stamped when it was read
    assert result.inside.time == pytest.approx(13.0)
    assert result.beyond.time == pytest.approx(16.0)
    assert clock.waits == [3.0, 3.0]
    assert dut.events == [("rearm", None), ("apply", 3630.0), ("apply", 3670.0)]
    assert setup.probes == [result.inside, result.beyond]


def test_go_no_go_below_direction() -> None:
    setup, _ = make_setup(uvp())
    result = go_no_go(setup, 2800.0, 30.0)
    assert result.passed
    assert (result.inside.level, result.beyond.level) == (2830.0, 2770.0)


@pytest.mark.parametrize(("true_trip", "inside", "beyond"), [(3700.0, False, False), (3600.0, True, True)])
def test_go_no_go_non_conforming_units(true_trip: float, inside: bool, beyond: bool) -> None:
    setup, _ = make_setup(ovp(trip=true_trip))
    result = go_no_go(setup, 3650.0, 20.0)
    assert not result.passed
    assert (result.inside.tripped, result.beyond.tripped) == (inside, beyond)


def test_settle_shorter_than_the_trip_delay_sees_no_trip() -> None:
    setup, _ = make_setup(ovp(delay=2.0), settle_s=1.0)
    assert not go_no_go(setup, 3650.0, 20.0).beyond.tripped


# --- trip point ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dut", "limit", "span", "resolution"),
    [
        (ovp(trip=3661.3), 3650.0, 50.0, 2.5),
        (ovp(trip=3650.0), 3650.0, 27.5, 0.7),
        (ovp(trip=3632.9), 3650.0, 100.0, 1.0),
        (uvp(trip=2788.4), 2800.0, 40.0, 0.5),
        (uvp(trip=2811.0), 2800.0, 33.3, 3.0),
        (FakeDut(trip=14.437, release=13.5, delay=0.5, direction="above", nominal=13.2), 14.5, 0.4, 0.01),
    ],
    ids=["ovp-high", "ovp-exact", "ovp-low", "uvp-low", "uvp-high", "pack-ovp-volts"],
)
def test_find_trip(dut: FakeDut, limit: float, span: float, resolution: float) -> None:
    true_trip = dut.trip
    setup, _ = make_setup(dut)
    search = find_trip(setup, limit, span, resolution)
    assert search.point is not None, search.note
    assert search.note == ""
    assert abs(search.point - true_trip) <= resolution / 2 + 1e-9
    assert search.resolution == resolution
    assert search.count == expected_probe_count(span, resolution)
    assert search.probes == tuple(setup.probes)
    assert rearmed_before_every_probe(dut.events)
    # bracket checks first: inner end untripped, outer end tripped
    assert (search.probes[0].level, search.probes[0].tripped) == (setup.inside(limit, span), False)
    assert (search.probes[1].level, search.probes[1].tripped) == (setup.beyond(limit, span), True)
    # every probe's outcome is the DUT's truth for that level
    for probe in search.probes:
        assert probe.tripped == dut.beyond_trip(probe.level)
    times = [p.time for p in search.probes]
    assert times == sorted(times)


def test_find_trip_counts_only_its_own_probes() -> None:
    dut = ovp(trip=3655.0)
    setup, _ = make_setup(dut)
    go_no_go(setup, 3650.0, 20.0)
    search = find_trip(setup, 3650.0, 50.0, 2.5)
    assert search.count == expected_probe_count(50.0, 2.5) == len(setup.probes) - 2


@pytest.mark.parametrize(
    ("dut", "note"),
    [
        (ovp(trip=3500.0), "tripped already at the inner bracket"),
        (ovp(trip=3800.0), "no trip at the outer bracket"),
        (uvp(trip=2900.0), "tripped already at the inner bracket"),
        (uvp(trip=2700.0), "no trip at the outer bracket"),
    ],
)
def test_find_trip_bracket_fails(dut: FakeDut, note: str) -> None:
    setup, _ = make_setup(dut)
    limit = 3650.0 if dut.direction == "above" else 2800.0
    search = find_trip(setup, limit, 50.0, 2.5)
    assert search.point is None
    assert search.note == note
    assert search.count == (1 if note.startswith("tripped already") else 2)
    assert rearmed_before_every_probe(dut.events)


@pytest.mark.parametrize(("span", "resolution", "probes"), [(50.0, 2.5, 8), (27.5, 2.5, 7), (1.0, 0.25, 5)])
def test_expected_probe_count(span: float, resolution: float, probes: int) -> None:
    assert expected_probe_count(span, resolution) == probes
    assert expected_probe_count(span, resolution) == math.ceil(math.log2(2 * span / resolution)) + 2


def test_probe_count_when_the_ratio_is_a_power_of_two() -> None:
    dut = FakeDut(trip=14.49, release=13.5, delay=0.5, direction="above", nominal=13.2)
    setup, _ = make_setup(dut)
    search = find_trip(setup, 14.5, 0.3, 0.6 / 32)
    assert search.point is not None
    assert search.count == expected_probe_count(0.3, 0.6 / 32)


# --- release point -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dut", "trip_level", "guess", "span", "resolution"),
    [
        (ovp(release=3412.7), 3700.0, 3400.0, 40.0, 1.0),
        (ovp(release=3391.0), 3700.0, 3400.0, 25.0, 2.5),
        (uvp(release=3093.3), 2750.0, 3100.0, 30.0, 0.5),
    ],
    ids=["ovp-high", "ovp-low", "uvp"],
)
def test_find_release(dut: FakeDut, trip_level: float, guess: float, span: float, resolution: float) -> None:
    setup, _ = make_setup(dut)
    search = find_release(setup, trip_level, guess, span, resolution)
    assert search.point is not None, search.note
    assert abs(search.point - dut.release) <= resolution / 2 + 1e-9
    # every candidate is preceded by a re-arm and a trip at the trip level
    kinds = [kind for kind, _ in dut.events]
    assert kinds == ["rearm", "apply", "apply"] * (len(kinds) // 3)
    assert [level for kind, level in dut.events if kind == "apply"][::2] == [trip_level] * (len(kinds) // 3)
    assert all(p.tripped for p in search.probes[::2])
    candidates = search.probes[1::2]
    assert search.count == 2 * len(candidates)
    assert len(candidates) == expected_probe_count(span, resolution)
    for probe in candidates:  # released (untripped) exactly where the DUT releases
        assert probe.tripped == (not dut.beyond_release(probe.level))


@pytest.mark.parametrize(
    ("dut", "trip_level", "note"),
    [
        (ovp(trip=3750.0), 3700.0, "did not trip at the trip level"),
        (ovp(release=3300.0), 3700.0, "no release at the far bracket"),
        (ovp(release=3500.0), 3700.0, "released already at the near bracket"),
    ],
)
def test_find_release_bracket_fails(dut: FakeDut, trip_level: float, note: str) -> None:
    setup, _ = make_setup(dut)
    search = find_release(setup, trip_level, 3400.0, 40.0, 1.0)
    assert search.point is None
    assert search.note == note
    assert dut.events[0] == ("rearm", None)


# --- delays --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("delay", "poll"), [(0.95, 0.02), (1.0, 0.1), (0.0, 0.05), (2.37, 0.01)])
def test_measure_delay_to_the_poll_resolution(delay: float, poll: float) -> None:
    dut = ovp(delay=delay)
    clock = FakeClock(50.0, dut)
    dut.changed_at = 50.0

    def path_open() -> bool:  # a second response 0.3 s after the flag
        dut.update(clock.now())
        return dut.trip_time is not None and clock.now() >= dut.trip_time + 0.3 - 1e-9

    def flag() -> bool:
        dut.update(clock.now())
        return dut.tripped

    result = measure_delay(
        clock,
        lambda: dut.apply(3700.0, clock.now()),
        {"flag": flag, "path": path_open},
        timeout_s=5.0,
        poll_s=poll,
    )
    assert result.stimulus_time == 50.0
    for name, true_delay in (("flag", delay), ("path", delay + 0.3)):
        measured = result.delay(name)
        assert measured is not None
        assert true_delay - 1e-9 <= measured <= true_delay + poll + 1e-9, (name, measured)
        assert result.edges[name].resolution == poll
    # polling stopped once both had responded
    assert clock.now() == pytest.approx(result.edges["path"].time or math.nan)


def test_measure_delay_timeout() -> None:
    dut = ovp(delay=10.0)
    clock = FakeClock(0.0, dut)

    def flag() -> bool:
        dut.update(clock.now())
        return dut.tripped

    result = measure_delay(clock, lambda: dut.apply(3700.0, clock.now()), {"flag": flag}, 1.0, 0.1)
    assert result.edges["flag"].time is None
    assert result.delay("flag") is None
    assert 1.0 - 1e-9 <= clock.now() <= 1.0 + 0.1 + 1e-9
    assert not dut.tripped


def test_measure_delay_stops_at_its_timeout() -> None:
    clock = FakeClock(0.0)
    result = measure_delay(clock, lambda: None, {"never": lambda: False}, timeout_s=1.0, poll_s=0.1)
    assert result.edges["never"].time is None
    assert clock.now() == pytest.approx(1.0, abs=TIME_EPSILON)
    assert len(clock.waits) == 10


# --- Clock.wait_until --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "timeout", "poll"),
    [(0.0, 3.0, 0.1), (1000.1, 3.0, 0.1), (123456.789, 1.0, 0.3), (0.3, 0.7, 0.7), (7.0, 0.0, 0.5)],
)
def test_wait_until_ends_at_its_deadline(start: float, timeout: float, poll: float) -> None:
    clock = FakeClock(start)
    met, when = clock.wait_until(lambda: False, timeout, poll)
    assert met is False
    assert abs(when - (start + timeout)) <= TIME_EPSILON
    assert clock.now() == when
    assert len(clock.waits) <= math.ceil(timeout / poll) + 1
    assert all(0 < w <= poll + 1e-12 for w in clock.waits)


class LabLikeClock(FakeClock):
    """Like the simulated lab: it ignores steps of 1 ns or less, and float sums land just short."""

    def _advance(self, seconds: float) -> dict[str, float]:
        if seconds <= 1e-9:
            self.waits.append(seconds)
            if len(self.waits) > MAX_WAITS:
                raise RuntimeError("the procedure never stops waiting")
            return {}
        return super()._advance(seconds - 4e-10)


@pytest.mark.parametrize("start", [0.0, 0.1, 1000.1])
def test_wait_until_float_remainder_regression(start: float) -> None:
    """A remainder too small for the clock to move must not make wait_until loop forever."""
    clock = LabLikeClock(start)
    met, when = clock.wait_until(lambda: False, 0.2, 0.1)
    assert met is False
    assert abs(when - (start + 0.2)) <= TIME_EPSILON
    assert len(clock.waits) <= 3


def test_wait_until_returns_when_met() -> None:
    dut = ovp(delay=0.45)
    clock = FakeClock(20.0, dut)
    dut.apply(3700.0, 20.0)
    met, when = clock.wait_until(lambda: dut.tripped, 5.0, 0.1)
    assert met is True
    assert when == pytest.approx(20.5)
    assert clock.now() == when


def test_sleep_calls_sync_hooks_and_refuses_negative() -> None:
    clock = FakeClock()
    seen: list[dict[str, float]] = []
    clock.add_sync_hook(seen.append)
    clock.sleep(0.5)
    clock.remove_sync_hook(seen.append)
    clock.sleep(0.5)
    assert seen == [{"waits": 1.0}]
    assert clock.now() == 1.0
    with pytest.raises(ValueError, match="negative"):
        clock.sleep(-0.1)
