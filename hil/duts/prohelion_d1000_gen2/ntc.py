"""The CMU thermistors: the part's defaults, as data for the shared Beta model (hil.models.ntc).

Each CMU temperature input takes a thermistor between `Temp An` and its own `Temp n - GND` pin
(`references/.../Cell_Management_Unit.md`): the CMU measures the thermistor itself, so the bench
stimulus is a resistance and the firmware converts it with `thermistorBetaValue` (default 3380).
The documentation names no part and no reference resistance. OUR ASSUMPTION: 10 kΩ at 25 °C
(B = 3380 K is the Beta of common 10 kΩ 0402/0603 NTCs), settable as
`fixed.thermistor_r25_ohm` in the configuration.
"""

from __future__ import annotations

from hil.models.ntc import BetaNtc

DEFAULT_R25_OHM = 10_000.0
DEFAULT_BETA_K = 3380.0


def resistance_ohm(temp_c: float, beta_k: float = DEFAULT_BETA_K, r25_ohm: float = DEFAULT_R25_OHM) -> float:
    """Resistance of the CMU's NTC at `temp_c` (what the plan sets on the resistance emulator)."""
    return BetaNtc(r25_ohm, beta_k).resistance_ohm(temp_c)


def temperature_c(ohm: float, beta_k: float = DEFAULT_BETA_K, r25_ohm: float = DEFAULT_R25_OHM) -> float:
    """Temperature (°C) the firmware computes from a thermistor resistance `ohm`."""
    return BetaNtc(r25_ohm, beta_k).temperature_c(ohm)
