"""The over-current locks of the firmware (ID-TLOCK, SCP-LOCK; seed §6.1, §7.5).

A lock counts the consecutive trips of one protection (ID-TOCP, SCP); at `lock_count` it engages:
the output (discharge) stays off and the lock shows as its own active ID until a charger is
connected, whatever the protection itself does meanwhile (its 60 s automatic release re-closes
nothing while the lock holds).

OUR READINGS where the seed is garbled or silent (spec.yaml ID-TLOCK / SCP-LOCK notes):
- "consecutive": trips with no normal discharge period between them. A normal discharge period is
  `NORMAL_DISCHARGE_S` (10 s) of continuous discharge mode (I-EFF-D) while the protection is not
  tripped; it resets the count to 0. 10 s is longer than any precharge (at most 5 s, seed §6.1)
  after an automatic release, so a persisting fault keeps counting. A power-on also resets it.
- "a charger is connected": the firmware is in charge mode (MODE-CHG: P+ above
  `fixed.charge_mode_min_charger_v` and a charge current of at least the effective charging
  current). It releases the lock and also clears the count (the seed's "charge release").
- While the lock is switched off (`lock_enabled` false) nothing is counted; switching it off
  releases an engaged lock. The lock survives a sleep/wake: only a charger (or a power-on) clears it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from hil.duts.bms12100.config import Settings
from hil.duts.bms12100.protocol.snapshot import Mode
from hil.duts.bms12100.sim.twin.frontend import Readings
from hil.duts.bms12100.sim.twin.monitor import MIN_STEP_S, Block, Monitor, Transition, resolve_number

NORMAL_DISCHARGE_S = 10.0
_EPS = 1e-9


@dataclass(frozen=True)
class LockSpec:
    """One lock: which protection's trips it counts and where its switch and count are set."""

    rid: str
    counts: str  # rid of the protection whose trips are counted
    enabled: str  # settings path of the lock's switch
    lock_count: str  # settings path of the number of consecutive trips that engage it
    blocks: Block = Block.DISCHARGE


@dataclass
class Lock:
    """The running state of one `LockSpec`."""

    spec: LockSpec
    tripped: bool = False
    tripped_at: float = 0.0
    consecutive: int = 0  # consecutive trips counted so far
    normal_s: float = 0.0  # continuous normal discharge since the last counted trip
    _seen: int = 0  # the protection's trip count already looked at
    _counting_period: bool = False  # a normal discharge period is being timed
    _switch: tuple[Settings, bool] | None = field(default=None, repr=False, compare=False)  # (settings, on)

    def reset(self) -> None:
        """Power-on state."""
        self.tripped = False
        self.consecutive = 0
        self.normal_s = 0.0
        self._seen = 0
        self._counting_period = False

    def update(
        self, t: float, dt: float, m: Readings, settings: Settings, protection: Monitor
    ) -> Transition | None:
        """Run the lock over the step from t-dt to t, after `protection` has been updated."""
        if not self.tripped and self.consecutive == 0 and protection.trips == self._seen:
            return None  # nothing counted, nothing new to count: every branch below leaves it so
        spec, behaviour = self.spec, settings.behaviour
        new_trips, self._seen = protection.trips - self._seen, protection.trips
        if not self._enabled(settings):
            self.consecutive, self.normal_s, self._counting_period = 0, 0.0, False
            return self._release(t, "disabled") if self.tripped else None
        if m.mode is Mode.CHARGE:
            self.consecutive, self.normal_s, self._counting_period = 0, 0.0, False
            if self.tripped and behaviour.lock_release_on_charger:
                return self._release(t, "charger connected")
            return None
        if new_trips > 0 and behaviour.count_consecutive_trips:
            self.consecutive += new_trips
            self.normal_s, self._counting_period = 0.0, False
            count = resolve_number(settings, spec.lock_count)
            if not self.tripped and self.consecutive >= count:
                self.tripped, self.tripped_at = True, protection.tripped_at
                detail = f"{self.consecutive} consecutive {spec.counts} trips"
                return Transition(protection.tripped_at, "trigger", spec.rid, detail)
            return None
        self._count_normal_discharge(dt, m, protection)
        return None

    def _enabled(self, settings: Settings) -> bool:
        """The lock's switch under `settings` (read once per settings object, see `monitor.Resolved`)."""
        switch = self._switch
        if switch is None or switch[0] is not settings:
            switch = self._switch = (settings, bool(settings.get(self.spec.enabled)))
        return switch[1]

    def step_limit(self) -> float:
        """The longest next step that keeps the normal-discharge timing exact."""
        if not self._counting_period:
            return math.inf
        return max(MIN_STEP_S, NORMAL_DISCHARGE_S - self.normal_s)

    def _count_normal_discharge(self, dt: float, m: Readings, protection: Monitor) -> None:
        normal = m.mode is Mode.DISCHARGE and not protection.tripped and self.consecutive > 0
        if not normal:
            self.normal_s, self._counting_period = 0.0, False
            return
        self.normal_s = self.normal_s + dt if self._counting_period else dt
        self._counting_period = True
        if self.normal_s >= NORMAL_DISCHARGE_S - _EPS:
            self.consecutive, self.normal_s, self._counting_period = 0, 0.0, False

    def _release(self, time: float, detail: str) -> Transition:
        self.tripped = False
        return Transition(time, "release", self.spec.rid, detail)


LOCKS: tuple[LockSpec, ...] = (
    LockSpec(
        rid="ID-TLOCK",
        counts="ID-TOCP",
        enabled="transient_overcurrent_protection.lock_enabled",
        lock_count="transient_overcurrent_protection.lock_count",
    ),
    LockSpec(
        rid="SCP-LOCK",
        counts="SCP",
        enabled="short_circuit_protection.lock_enabled",
        lock_count="short_circuit_protection.lock_count",
    ),
)
