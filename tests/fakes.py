"""Small stand-ins shared by tests."""

from __future__ import annotations


class StepClock:
    """A clock whose sleep only moves its own time: a simulated instrument's `now` in small,
    for drivers that wait (settling, soaks) without a lab behind them."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds
