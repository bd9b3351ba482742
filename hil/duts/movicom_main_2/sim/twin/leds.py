"""The indicator LEDs of the Main 2.1 / 2R as the twin drives them (seed 002/003 tables).

An LED is off, steadily on, or blinking at a frequency with a 50 % duty (OUR READING: the duty is not
documented). `lit(t)` gives the instantaneous state an LED analyser samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Colour = Literal["red", "green", "yellow"]


@dataclass(frozen=True)
class LedState:
    """One LED: colour, whether it is driven, and its blink frequency (None: steady)."""

    name: str
    colour: Colour
    on: bool
    blink_hz: float | None = None
    phase_t0: float = 0.0  # blinking starts lit at this time

    def lit(self, t: float) -> bool:
        """Whether the LED emits at time `t`."""
        if not self.on:
            return False
        if self.blink_hz is None:
            return True
        return math.fmod((t - self.phase_t0) * self.blink_hz, 1.0) < 0.5
