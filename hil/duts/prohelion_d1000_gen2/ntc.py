"""The CMU thermistors: NTC resistance ↔ temperature by the Beta equation.

Each CMU temperature input takes a thermistor between `Temp An` and its own `Temp n - GND` pin
(`references/.../Cell_Management_Unit.md`): the CMU measures the thermistor itself, so the bench
stimulus is a resistance and the firmware converts it with `thermistorBetaValue` (default 3380).
The documentation names no part and no reference resistance. OUR ASSUMPTION: 10 kΩ at 25 °C
(B = 3380 K is the Beta of common 10 kΩ 0402/0603 NTCs), settable as
`fixed.thermistor_r25_ohm` in the configuration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

KELVIN_OFFSET = 273.15
DEFAULT_R25_OHM = 10_000.0
DEFAULT_BETA_K = 3380.0


@dataclass(frozen=True)
class BetaNtc:
    """An NTC described by its resistance at 25 °C and its Beta value."""

    r25_ohm: float = DEFAULT_R25_OHM
    beta_k: float = DEFAULT_BETA_K

    def resistance_ohm(self, temp_c: float) -> float:
        """Resistance at `temp_c` (°C)."""
        t_k = temp_c + KELVIN_OFFSET
        if t_k <= 0.0:
            raise ValueError(f"temperature {temp_c} °C is below absolute zero")
        return self.r25_ohm * math.exp(self.beta_k * (1.0 / t_k - 1.0 / (25.0 + KELVIN_OFFSET)))

    def temperature_c(self, ohm: float) -> float:
        """Temperature (°C) at which the NTC has resistance `ohm`."""
        if not ohm > 0.0:
            raise ValueError(f"NTC resistance must be positive, got {ohm} Ω")
        inv = 1.0 / (25.0 + KELVIN_OFFSET) + math.log(ohm / self.r25_ohm) / self.beta_k
        return 1.0 / inv - KELVIN_OFFSET


def resistance_ohm(temp_c: float, beta_k: float = DEFAULT_BETA_K, r25_ohm: float = DEFAULT_R25_OHM) -> float:
    """Resistance of the CMU's NTC at `temp_c` (what the plan sets on the resistance emulator)."""
    return BetaNtc(r25_ohm, beta_k).resistance_ohm(temp_c)


def temperature_c(ohm: float, beta_k: float = DEFAULT_BETA_K, r25_ohm: float = DEFAULT_R25_OHM) -> float:
    """Temperature (°C) the firmware computes from a thermistor resistance `ohm`."""
    return BetaNtc(r25_ohm, beta_k).temperature_c(ohm)
