"""The simulated lab's clock, as the framework sees it through the control port."""

from __future__ import annotations

import time

from hil.clock import Clock
from hil.sim.client import ControlClient


class SimClock(Clock):
    """The lab's virtual clock: `sleep(dt)` makes the lab run dt seconds of its twin, then returns.

    With `paced=True` the lab runs in step with the wall clock by itself (as `hil sim serve` does
    for people); a wait is then a real wait, and `now()` is read back from the lab.
    """

    def __init__(self, control: ControlClient, paced: bool = False) -> None:
        super().__init__()
        self.control = control
        self.paced = paced
        self._now = float(control.request("time")["t"])

    def now(self) -> float:
        if self.paced:
            self._now = float(self.control.request("time")["t"])
        return self._now

    def _advance(self, seconds: float) -> dict[str, float]:
        if self.paced:
            time.sleep(seconds)
            reply = self.control.request("time")
        else:
            reply = self.control.request("advance", dt=seconds)
        self._now = float(reply["t"])
        counters = {"can_frames": float(reply.get("can_frames", 0.0))}
        if "can_last_t" in reply:
            counters["can_last_t"] = float(reply["can_last_t"])
        return counters
