"""Time for the framework: every wait goes through a Clock so the sim can own time.

On hardware the clock is the wall clock. On a simulated station `sleep(dt)` advances the
sim's virtual clock and the twin runs through that interval; samples and frames carry
timestamps on the same time base, so delays are measured from timestamps only.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable

#: times closer than this are the same instant (virtual time is a float sum of steps)
TIME_EPSILON = 1e-6

SyncHook = Callable[[dict[str, float]], None]


class Clock(ABC):
    """A time base and the only way to wait."""

    def __init__(self) -> None:
        self._sync_hooks: list[SyncHook] = []
        self.waited = 0.0  # total of every wait so far: the run's dwell time

    @abstractmethod
    def now(self) -> float:
        """Seconds on this clock's time base (the same base as frame timestamps)."""

    @abstractmethod
    def _advance(self, seconds: float) -> dict[str, float]:
        """Let `seconds` pass; return counters observers may synchronise on."""

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` (no-op for zero), then let observers catch up with what happened."""
        if seconds < 0:
            raise ValueError(f"cannot sleep a negative time ({seconds} s)")
        counters = self._advance(seconds)
        self.waited += seconds
        for hook in self._sync_hooks:
            hook(counters)

    def add_sync_hook(self, hook: SyncHook) -> None:
        """Register an observer (e.g. a CAN monitor) called after each wait with the counters."""
        self._sync_hooks.append(hook)

    def remove_sync_hook(self, hook: SyncHook) -> None:
        """Forget an observer registered with add_sync_hook."""
        if hook in self._sync_hooks:
            self._sync_hooks.remove(hook)

    def wait_until(self, condition: Callable[[], bool], timeout: float, poll: float) -> tuple[bool, float]:
        """Poll `condition` every `poll` seconds for up to `timeout`; return (met, time it was met)."""
        deadline = self.now() + timeout
        while True:
            if condition():
                return True, self.now()
            remaining = deadline - self.now()
            if remaining <= TIME_EPSILON:
                return False, self.now()
            self.sleep(min(poll, remaining))


class WallClock(Clock):
    """Real time, for hardware benches (timestamps are POSIX time like python-can's)."""

    def now(self) -> float:
        return time.time()

    def _advance(self, seconds: float) -> dict[str, float]:
        if seconds > 0:
            time.sleep(seconds)
        return {}
