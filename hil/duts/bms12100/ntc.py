"""The 12100 BMS's NTC thermistors: the part, as data for the shared Beta model (hil.models.ntc).

The seed names no NTC part. OUR ASSUMPTION: a 10 kΩ at 25 °C NTC with B25/50 = 3435 K, the most
common part on BMS boards of this kind. The plan uses `resistance_ohm` to program the resistance
emulator; the twin uses `temperature_c` to read what it is given. Both are exact inverses.
"""

from __future__ import annotations

from hil.models.ntc import BetaNtc

NTC = BetaNtc(r_ref_ohm=10_000.0, beta_k=3435.0)
"""The NTC fitted to the DUT (our assumption, see the module docstring)."""


def resistance_ohm(temp_c: float) -> float:
    """Resistance of the DUT's NTC at `temp_c` (°C)."""
    return NTC.resistance_ohm(temp_c)


def temperature_c(ohm: float) -> float:
    """Temperature (°C) of the DUT's NTC when it has resistance `ohm`."""
    return NTC.temperature_c(ohm)
