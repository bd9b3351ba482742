"""Error timers of the Main 2.x firmware: trip after the set delay, release after the clear delay.

Every protection of the vendor's menu has the same pattern (references §4.2): a trip condition held
for `set_delay_s` sets the error; a release condition (the tolerant threshold: the hysteresis) held
for `clear_delay_s` clears it, unless `lock` keeps it until an acknowledgement or a power cycle.
Conditions are evaluated against the inputs held over a step, so the only moments anything changes
are the deadlines a timer reports; the twin steps from deadline to deadline.
"""

from __future__ import annotations

from dataclasses import dataclass

_EPS = 1e-9


@dataclass
class ErrorTimer:
    """One error: set/clear timing with an optional lock."""

    active: bool = False
    since: float | None = None  # when the pending condition (trip or release) began
    locked: bool = False

    def update(
        self,
        t: float,
        trip: bool,
        release: bool,
        set_delay_s: float,
        clear_delay_s: float,
        lock: bool,
    ) -> None:
        """Advance to time `t` with the conditions that have held since the last call."""
        if not self.active:
            if not trip:
                self.since = None
                return
            self.since = t if self.since is None else self.since
            if t - self.since >= set_delay_s - _EPS:
                self.active, self.since, self.locked = True, None, lock
            return
        if self.locked or not release:
            self.since = None
            return
        self.since = t if self.since is None else self.since
        if t - self.since >= clear_delay_s - _EPS:
            self.active, self.since = False, None

    def deadline(self, set_delay_s: float, clear_delay_s: float) -> float | None:
        """When this timer will next act if the conditions stay as they are (None: never)."""
        if self.since is None:
            return None
        return self.since + (clear_delay_s if self.active else set_delay_s)

    def acknowledge(self) -> None:
        """Unlock (Modbus 0x4001): the error then clears by its release condition."""
        self.locked = False

    def reset(self) -> None:
        """Power cycle."""
        self.active, self.since, self.locked = False, None, False


def threshold_conditions(
    value: float | None, direction: str, set_value: float, tolerant: float, hysteresis: bool
) -> tuple[bool, bool]:
    """(trip, release) of a threshold protection for one reading (None: no reading, neither)."""
    if value is None:
        return False, False
    if direction == "above":
        return value > set_value, value < (tolerant if hysteresis else set_value)
    return value < set_value, value > (tolerant if hysteresis else set_value)
