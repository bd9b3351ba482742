"""Small stand-ins shared by tests: clocks that move only when told, a simulated instrument that listens."""

from __future__ import annotations

from hil.clock import Clock
from hil.sim.instruments.base import SimInstrument


class StepClock:
    """A clock whose sleep only moves its own time: a simulated instrument's `now` in small,
    for drivers that wait (settling, soaks) without a lab behind them."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


class ManualClock(Clock):
    """A station clock for in-process tests: time (from `start`) moves only on sleep()."""

    def __init__(self, start: float = 0.0) -> None:
        super().__init__()
        self.t = start

    def now(self) -> float:
        return self.t

    def _advance(self, seconds: float) -> dict[str, float]:
        self.t += seconds
        return {}


class Heard(SimInstrument):
    """Put before a simulated instrument's class (`class HeardX(Heard, SimX)`): the instrument keeps
    every line it executed in `heard`, what reached the instrument's side of the wire."""

    def __init__(self, role: str, channels: dict[str, str], seed: int = 0, serial: str = "") -> None:
        super().__init__(role, channels, seed, serial)
        self.heard: list[str] = []

    def execute(self, line: str) -> str | None:
        self.heard.append(line.strip())
        return super().execute(line)
