"""A generic alarm/protection state machine of the firmware, configured by data.

A `MonitorSpec` says what one requirement ID watches (a quantity of a `Readings`), in which
direction, with which trigger and release thresholds, delays and enable switch (settings paths,
`Scaled` paths or constants, read on every step so a changed setting applies at once), in which
working modes it applies, what it blocks, and how it may be released (`ReleaseAlternative`s, each
named and each switchable by a behaviour flag).
A `Monitor` is the running state of one spec. Timers accumulate the step length, so any dt works
and event times are exact; `step_limit` tells the caller how far it may step without losing timing
accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum, Flag

from hil.duts.bms12100.config import Settings
from hil.duts.bms12100.protocol.snapshot import Mode
from hil.duts.bms12100.rules import Direction as Direction
from hil.duts.bms12100.rules import Scaled as Scaled
from hil.duts.bms12100.rules import Value as Value
from hil.duts.bms12100.rules import resolve as resolve
from hil.duts.bms12100.sim.twin.frontend import Readings

MIN_STEP_S = 1e-4
TIMING_RESOLUTION = 0.01  # near a threshold, step at 1 % of the delay being timed
_EPS = 1e-9

Quantity = Callable[[Readings], float]
#: a quantity's range over every reading between the extremes `low` and `high` while the inputs hold,
#: given the firmware's state now (`true_m`); None where it is not bounded (the monitor keeps running)
Bounds = Callable[[Readings, Readings, Readings], tuple[float, float] | None]


def resolve_number(settings: Settings, value: Value) -> float:
    """Like `resolve`, for values that must be set."""
    number = resolve(settings, value)
    if number is None:
        raise ValueError(f"setting {value!r} is not set")
    return number


class Block(Flag):
    """The power paths a tripped monitor opens (NONE for alarms)."""

    NONE = 0
    CHARGE = 1
    DISCHARGE = 2
    BOTH = CHARGE | DISCHARGE


class Phase(Enum):
    """When a release alternative is checked: every step, or once when the firmware (re)boots."""

    RUN = "run"
    BOOT = "boot"


@dataclass(frozen=True)
class ReleaseContext:
    """What a release alternative may look at."""

    m: Readings
    settings: Settings
    value: float  # the monitored quantity in `m`
    release: float | None  # the monitor's release threshold
    direction: Direction

    @property
    def recovered(self) -> bool:
        """The quantity is strictly back on the safe side of the release threshold."""
        if self.release is None:
            return False
        return self.direction.beyond(self.release, self.value)

    def number(self, path: str) -> float:
        """A numeric setting."""
        return resolve_number(self.settings, path)


@dataclass(frozen=True)
class ReleaseAlternative:
    """One way a tripped monitor may release: a named predicate, optionally switched by a flag."""

    name: str
    test: Callable[[ReleaseContext], bool]
    flag: str | None = None  # settings.behaviour.<flag>; False removes this alternative
    phase: Phase = Phase.RUN
    debounce: bool = True  # must hold for the release delay; False = releases at once
    after_s: Value | None = None  # only once the monitor has been tripped this long
    watches_release: bool = False  # depends on the release threshold (for step control)

    def enabled(self, settings: Settings) -> bool:
        """Whether the unit's behaviour flags keep this alternative."""
        return self.flag is None or bool(getattr(settings.behaviour, self.flag))


def recovery(name: str = "recovery", flag: str | None = None, phase: Phase = Phase.RUN) -> ReleaseAlternative:
    """The plain alternative: the quantity is back beyond the release threshold."""
    return ReleaseAlternative(name, lambda ctx: ctx.recovered, flag=flag, phase=phase, watches_release=True)


@dataclass(frozen=True)
class MonitorSpec:
    """Everything that defines one alarm or protection (one requirement ID)."""

    rid: str
    quantity: Quantity
    direction: Direction
    trigger: Value
    release: Value | None
    blocks: Block = Block.NONE
    enabled: str | None = None  # settings path of the on/off switch; None = always on
    delay_ms: Value = 1000.0
    release_delay_ms: Value | None = None  # None = debounced with the trip delay
    alternatives: tuple[ReleaseAlternative, ...] = (recovery(),)
    near: float = 0.0  # band (quantity units) in which measurement error may already cross
    shutdown_after_s: Value | None = None  # while tripped, the BMS shuts down after this long
    # Working modes in which the monitor may trip (None: all), e.g. an alarm "while charging".
    # Once tripped it releases only by its alternatives, whatever the mode.
    modes: frozenset[Mode] | None = None
    # A hardware comparator: trips on the true value (not the ADC reading, which may saturate).
    comparator: bool = False
    # The quantity is a non-decreasing function of the channel readings alone (one channel, the
    # highest, the lowest): while the inputs hold, the reading extremes then bound it (`quiet`).
    from_channels: bool = True
    # Otherwise, where the quantity can be bounded all the same (a spread, a SOC that cannot move):
    # its range while the inputs hold (`quiet`); None: the monitor runs every cycle.
    bounds: Bounds | None = None

    def is_enabled(self, settings: Settings) -> bool:
        """Whether the function is switched on (a disabled function never trips)."""
        return self.enabled is None or bool(settings.get(self.enabled))

    def applies(self, mode: Mode) -> bool:
        """Whether the monitor may trip in the firmware's working mode `mode`."""
        return self.modes is None or mode in self.modes


@dataclass(frozen=True)
class Transition:
    """A monitor tripped or released."""

    time: float
    kind: str  # "trigger" | "release"
    rid: str
    detail: str


@dataclass(frozen=True)
class Resolved:
    """A spec's settings-dependent numbers for one `Settings` object, resolved once per object.

    The firmware evaluates every monitor every cycle; resolving paths each time dominated the sim.
    Settings are replaced on every write (`Bms12100Twin.write_parameter` copies), never changed in
    place while a twin runs, so the object's identity says when to resolve again.
    """

    settings: Settings
    enabled: bool
    trigger: float | None
    release: float | None
    delay_s: float | None
    release_delay_s: float | None
    run_alternatives: tuple[tuple[ReleaseAlternative, float | None], ...]  # switched on, with after_s
    watched: bool  # a run alternative depends on the release threshold
    shutdown_after_s: float | None

    @classmethod
    def of(cls, spec: MonitorSpec, settings: Settings) -> Resolved:
        delay = resolve(settings, spec.delay_ms)
        release_delay = delay if spec.release_delay_ms is None else resolve(settings, spec.release_delay_ms)
        run = tuple(
            (alt, resolve(settings, alt.after_s))
            for alt in spec.alternatives
            if alt.phase is Phase.RUN and alt.enabled(settings)
        )
        return cls(
            settings=settings,
            enabled=spec.is_enabled(settings),
            trigger=resolve(settings, spec.trigger),
            release=resolve(settings, spec.release),
            delay_s=None if delay is None else delay / 1000.0,
            release_delay_s=None if release_delay is None else release_delay / 1000.0,
            run_alternatives=run,
            watched=any(alt.watches_release for alt, _ in run),
            shutdown_after_s=resolve(settings, spec.shutdown_after_s),
        )

    def delay(self, spec: MonitorSpec) -> float:
        """The trip delay (s); ValueError if its setting is unset."""
        if self.delay_s is None:
            return resolve_number(self.settings, spec.delay_ms) / 1000.0  # raises, naming the path
        return self.delay_s

    def release_delay(self, spec: MonitorSpec) -> float:
        """The release delay (s); ValueError if its setting is unset."""
        if self.release_delay_s is None:
            value = spec.delay_ms if spec.release_delay_ms is None else spec.release_delay_ms
            return resolve_number(self.settings, value) / 1000.0
        return self.release_delay_s


@dataclass
class Monitor:
    """The running state of one `MonitorSpec`."""

    spec: MonitorSpec
    tripped: bool = False
    tripped_at: float = 0.0
    pending: bool = False  # the trip (or, when tripped, the release) condition is holding
    pending_s: float = 0.0
    trips: int = 0  # trips since power-on (for lock counters)
    _t: float = 0.0
    _true_value: float | None = None
    _true_rate: float = 0.0
    _live: bool = True  # at the last update the monitor was tripped or could trip
    _resolved: Resolved | None = field(default=None, repr=False, compare=False)
    # the twin skips it while the inputs hold (`quiet`; see Bms12100Twin's event-driven monitors)
    asleep: bool = field(default=False, repr=False, compare=False)

    def resolved(self, settings: Settings) -> Resolved:
        """The spec's numbers under `settings` (cached per settings object)."""
        cached = self._resolved
        if cached is None or cached.settings is not settings:
            cached = self._resolved = Resolved.of(self.spec, settings)
        return cached

    def reset(self) -> None:
        """Power-on state."""
        self.tripped = False
        self.trips = 0
        self.reset_timers()
        self._true_value = None
        self._true_rate = 0.0
        self._live = True

    def reset_timers(self) -> None:
        """Forget a pending trip or release (the firmware rebooted)."""
        self.pending = False
        self.pending_s = 0.0

    def update(
        self, t: float, dt: float, m: Readings, settings: Settings, true_m: Readings
    ) -> Transition | None:
        """Run the state machine over the step from t-dt to t on the reading `m`."""
        spec = self.spec
        self._t = t
        self._track(spec.quantity(true_m), dt)
        r = self._resolved
        if r is None or r.settings is not settings:
            r = self.resolved(settings)
        trigger = r.trigger
        if not r.enabled or trigger is None:
            self.reset_timers()
            return self._release(t, "disabled") if self.tripped else None
        self._live = self.tripped or spec.modes is None or m.mode in spec.modes  # `spec.applies`
        if not self._live:
            self.reset_timers()
            return None
        value = spec.quantity(true_m if spec.comparator else m)
        if not self.tripped:
            if not spec.direction.beyond(value, trigger):
                self.pending, self.pending_s = False, 0.0  # `reset_timers`, the common case inline
                return None
            delay = r.delay(spec)
            if self._hold(dt, delay):
                return self._trip(
                    t - (self.pending_s - delay), f"{value:g} {spec.direction.value} {trigger:g}"
                )
            return None
        ctx = ReleaseContext(m, settings, value, r.release, spec.direction)
        held = t - self.tripped_at
        debounced: str | None = None
        for alt, after in r.run_alternatives:
            if (after is not None and held < after - _EPS) or not alt.test(ctx):
                continue
            if not alt.debounce:
                start = max(t - dt, self.tripped_at, self.tripped_at + (after or 0.0))
                return self._release(start, alt.name)
            debounced = debounced or alt.name
        if debounced is None:
            self.reset_timers()
            return None
        delay = r.release_delay(spec)
        if self._hold(dt, delay):
            return self._release(t - (self.pending_s - delay), debounced)
        return None

    def quiet(self, low: Readings, high: Readings, true_m: Readings, settings: Settings) -> bool:
        """Whether, while the inputs and settings stay as they are, `update` can only leave this
        monitor as it is: nothing tripped or timed, the true value settled, and no reading between
        the extremes `low` and `high` (or the true value, for a comparator) beyond the trigger.
        The twin then skips it until its inputs or settings change."""
        spec = self.spec
        if self.tripped or self.pending or self._true_rate != 0.0:
            return False
        if spec.from_channels:
            span = (spec.quantity(low), spec.quantity(high))
        else:
            bounded = spec.bounds(low, high, true_m) if spec.bounds is not None else None
            if bounded is None:
                return False  # it may move while the inputs hold: its true value must be tracked
            span = bounded
        if self._true_value is None or self._true_value != spec.quantity(true_m):
            return False
        r = self.resolved(settings)
        if not r.enabled or r.trigger is None:
            return True
        if spec.comparator:
            return not spec.direction.beyond(self._true_value, r.trigger)
        return not (spec.direction.beyond(span[0], r.trigger) or spec.direction.beyond(span[1], r.trigger))

    def boot_check(self, t: float, m: Readings, settings: Settings) -> Transition | None:
        """Apply the boot-time release alternatives (the firmware re-checks after a wake/reboot)."""
        self.reset_timers()
        r = self.resolved(settings)
        if not self.tripped or not r.enabled:
            return None
        ctx = ReleaseContext(m, settings, self.spec.quantity(m), r.release, self.spec.direction)
        for alt in self.spec.alternatives:
            if alt.phase is Phase.BOOT and alt.enabled(settings) and alt.test(ctx):
                return self._release(t, alt.name)
        return None

    def step_limit(self, settings: Settings) -> float:
        """The longest next step that keeps this monitor's timing exact (inf = no constraint)."""
        idle = not self.pending and not self.tripped
        if idle and (self._true_rate == 0.0 or self._true_value is None):
            return math.inf  # nothing is timed and nothing moves (the common case, kept cheap)
        r = self.resolved(settings)
        if not self._live or not r.enabled:
            return math.inf
        if not self.tripped:
            delay = r.delay_s if r.delay_s is not None else r.delay(self.spec)
            if not self.pending:  # moving, nothing timed: only the approach limits the step
                return self._approach_limit(r, delay)
        else:
            delay = r.release_delay_s if r.release_delay_s is not None else r.release_delay(self.spec)
        limit = math.inf
        if self.pending:
            limit = max(MIN_STEP_S, delay - self.pending_s)
        if self.tripped:
            for _, after in r.run_alternatives:
                if after is not None:
                    due = self.tripped_at + after - self._t
                    if due > 0.0:
                        limit = min(limit, max(MIN_STEP_S, due))
        return min(limit, self._approach_limit(r, delay))

    def _approach_limit(self, r: Resolved, delay: float) -> float:
        """Step so that a moving quantity is not carried far past the threshold it heads for."""
        value, rate = self._true_value, self._true_rate
        if value is None or rate == 0.0:
            return math.inf
        if not self.tripped:
            threshold = r.trigger
            above = self.spec.direction is Direction.ABOVE  # heading above the threshold
        else:
            threshold = r.release if r.watched else None
            above = self.spec.direction is not Direction.ABOVE
        if threshold is None:
            return math.inf
        rising = rate > 0.0
        if rising != above:
            return math.inf
        # `Direction.beyond(threshold, value)` of the direction it heads in
        gap = abs(threshold - value) if (threshold > value if above else threshold < value) else 0.0
        time_to_band = max(0.0, gap - self.spec.near) / abs(rate)
        return max(MIN_STEP_S, delay * TIMING_RESOLUTION, time_to_band)

    def _track(self, true_value: float, dt: float) -> None:
        if self._true_value is not None and dt > 0.0:
            self._true_rate = (true_value - self._true_value) / dt
        self._true_value = true_value

    def _hold(self, dt: float, delay: float) -> bool:
        """Accumulate the pending condition; True when it has held for `delay`."""
        self.pending_s = self.pending_s + dt if self.pending else dt
        self.pending = True
        return self.pending_s >= delay - _EPS

    def _trip(self, time: float, detail: str) -> Transition:
        self.tripped = True
        self.tripped_at = time
        self.trips += 1
        self.reset_timers()
        return Transition(time, "trigger", self.spec.rid, detail)

    def _release(self, time: float, detail: str) -> Transition:
        self.tripped = False
        self.reset_timers()
        return Transition(time, "release", self.spec.rid, detail)
