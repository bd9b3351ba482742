"""Small stand-ins shared by tests."""

from __future__ import annotations

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


class Heard(SimInstrument):
    """Put before a simulated instrument's class (`class HeardX(Heard, SimX)`): the instrument keeps
    every line it executed in `heard`, what reached the instrument's side of the wire."""

    def __init__(self, role: str, channels: dict[str, str], seed: int = 0, serial: str = "") -> None:
        super().__init__(role, channels, seed, serial)
        self.heard: list[str] = []

    def execute(self, line: str) -> str | None:
        self.heard.append(line.strip())
        return super().execute(line)
