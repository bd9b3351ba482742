"""NTC thermistors by the Beta equation: temperature <-> resistance, and the sensitivity between.

A family declares its part (reference resistance and Beta value); the bench programs the
resistance emulator with `resistance_ohm`, the twin reads what it is given with `temperature_c`,
and uncertainty budgets turn a relative resistance error into °C with `sensitivity`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

KELVIN_OFFSET = 273.15
#: the temperature step (°C) over which `sensitivity` takes the slope
SENSITIVITY_STEP_C = 0.01


@dataclass(frozen=True)
class BetaNtc:
    """An NTC described by its resistance at a reference temperature and its Beta value."""

    r_ref_ohm: float
    beta_k: float
    t_ref_c: float = 25.0

    def resistance_ohm(self, temp_c: float) -> float:
        """Resistance at `temp_c` (°C)."""
        t_k = temp_c + KELVIN_OFFSET
        if t_k <= 0.0:
            raise ValueError(f"temperature {temp_c} °C is below absolute zero")
        t_ref_k = self.t_ref_c + KELVIN_OFFSET
        return self.r_ref_ohm * math.exp(self.beta_k * (1.0 / t_k - 1.0 / t_ref_k))

    def temperature_c(self, ohm: float) -> float:
        """Temperature (°C) at which the NTC has resistance `ohm`."""
        if not ohm > 0.0:
            raise ValueError(f"NTC resistance must be positive, got {ohm} Ω")
        t_ref_k = self.t_ref_c + KELVIN_OFFSET
        return 1.0 / (1.0 / t_ref_k + math.log(ohm / self.r_ref_ohm) / self.beta_k) - KELVIN_OFFSET

    def sensitivity(self, celsius: float) -> float:
        """|dR/R| per °C at `celsius` (about B / T²): turns a relative resistance error into °C."""
        r0, r1 = self.resistance_ohm(celsius), self.resistance_ohm(celsius + SENSITIVITY_STEP_C)
        return abs(r1 - r0) / r0 / SENSITIVITY_STEP_C
