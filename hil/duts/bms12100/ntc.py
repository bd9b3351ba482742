"""The 12100 BMS's NTC thermistors: temperature <-> resistance (Beta equation).

The seed names no NTC part. OUR ASSUMPTION: a 10 kΩ at 25 °C NTC with B25/50 = 3435 K, the most
common part on BMS boards of this kind. The plan uses `resistance_ohm` to program the resistance
emulator; the twin uses `temperature_c` to read what it is given. Both are exact inverses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

KELVIN_OFFSET = 273.15


@dataclass(frozen=True)
class BetaNtc:
    """An NTC described by its resistance at a reference temperature and its Beta value."""

    r_ref_ohm: float = 10_000.0
    t_ref_c: float = 25.0
    beta_k: float = 3435.0

    def resistance_ohm(self, temp_c: float) -> float:
        """Resistance at `temp_c`."""
        t_k = temp_c + KELVIN_OFFSET
        if t_k <= 0.0:
            raise ValueError(f"temperature {temp_c} °C is below absolute zero")
        t_ref_k = self.t_ref_c + KELVIN_OFFSET
        return self.r_ref_ohm * math.exp(self.beta_k * (1.0 / t_k - 1.0 / t_ref_k))

    def temperature_c(self, ohm: float) -> float:
        """Temperature at which the NTC has resistance `ohm`."""
        if not ohm > 0.0:
            raise ValueError(f"NTC resistance must be positive, got {ohm} Ω")
        t_ref_k = self.t_ref_c + KELVIN_OFFSET
        return 1.0 / (1.0 / t_ref_k + math.log(ohm / self.r_ref_ohm) / self.beta_k) - KELVIN_OFFSET


NTC = BetaNtc()
"""The NTC fitted to the DUT (our assumption, see the module docstring)."""


def resistance_ohm(temp_c: float) -> float:
    """Resistance of the DUT's NTC at `temp_c` (°C)."""
    return NTC.resistance_ohm(temp_c)


def temperature_c(ohm: float) -> float:
    """Temperature (°C) of the DUT's NTC when it has resistance `ohm`."""
    return NTC.temperature_c(ohm)
