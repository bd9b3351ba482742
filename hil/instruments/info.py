"""What the station file says about one instrument, handed to its driver: channels and safe limits.

Roles and drivers both read it (a cell emulator checks a cell voltage against the stack limit, a
driver maps a DUT terminal to its channel); it knows nothing of transports or dialects.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from hil.errors import LimitError

#: what each limited quantity is measured in, for messages
UNITS = {
    "voltage": "V",
    "current": "A",
    "resistance": "Ω",
    "temperature": "°C",
    "humidity": "%RH",
    "pressure": "kPa",
}


@dataclass(frozen=True)
class Limits:
    """Safe operating limits of one instrument on this station; None means no limit set.

    The station merges the instrument's own limits with the DUT's (the tighter one wins) and
    `sources` names the station-file field each bound came from, for the error message.
    """

    voltage_max: float | None = None
    voltage_min: float | None = None
    current_max: float | None = None
    resistance_min: float | None = None
    resistance_max: float | None = None
    temperature_min: float | None = None  # °C, an emulated temperature (NTC inputs) or a chamber setpoint
    temperature_max: float | None = None
    humidity_min: float | None = None  # %RH, a climatic chamber's humidity setpoint
    humidity_max: float | None = None
    pressure_min: float | None = None  # kPa absolute, a pressure controller's setpoint
    pressure_max: float | None = None
    sum_voltage_max: float | None = None  # V, every channel's voltage added up (a cell stack)
    short_circuit: bool | None = None  # False: the load's short mode is refused
    voltage_slew_max: float | None = None  # V/s, programmed into the instrument at open
    current_slew_max: float | None = None  # A/s, programmed into the instrument at open
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    def source(self, key: str) -> str:
        """The station-file field a bound came from, for error messages."""
        return self.sources.get(key, "station file")

    def check(self, instrument: str, quantity: str, value: float) -> None:
        """Refuse a setting beyond the limits before it leaves the computer."""
        unit = UNITS.get(quantity, "")
        if not math.isfinite(value):
            raise LimitError(f"{instrument}: {quantity} {value} is not a finite number; not sent")
        low = getattr(self, f"{quantity}_min", None)
        high = getattr(self, f"{quantity}_max", None)
        if high is not None and value > high:
            raise LimitError(
                f"{instrument}: {quantity} {value:g} {unit} is above the safe limit {high:g} {unit} "
                f"({self.source(f'{quantity}_max')}); not sent"
            )
        if low is not None and value < low:
            raise LimitError(
                f"{instrument}: {quantity} {value:g} {unit} is below the safe limit {low:g} {unit} "
                f"({self.source(f'{quantity}_min')}); not sent"
            )

    def check_sum(self, instrument: str, total: float) -> None:
        """Refuse channel voltages that add up beyond `sum_voltage_max` (a cell stack's pack voltage)."""
        if self.sum_voltage_max is not None and total > self.sum_voltage_max:
            raise LimitError(
                f"{instrument}: the channels would add up to {total:g} V, above the safe limit "
                f"{self.sum_voltage_max:g} V ({self.source('sum_voltage_max')}); not sent"
            )

    def check_edge(self, instrument: str, quantity: str, step: float, within_s: float) -> None:
        """Refuse a stimulus whose edge of `step` must be done within `within_s` faster than the slew limit.

        The instrument ramps at most at the limit; an edge that could not finish in time would
        give the DUT another stimulus than the test asks for, and a faster one is not allowed here.
        """
        rate = getattr(self, f"{quantity}_slew_max", None)
        if rate is None or step == 0:
            return
        unit = UNITS.get(quantity, "")
        needed = abs(step) / within_s if within_s > 0 else math.inf
        if needed > rate:
            raise LimitError(
                f"{instrument}: a {abs(step):g} {unit} edge within {within_s:g} s needs {needed:g} {unit}/s, "
                f"above the slew limit {rate:g} {unit}/s ({self.source(f'{quantity}_slew_max')}); not sent"
            )

    def check_short(self, instrument: str) -> None:
        """Refuse the load's short-circuit mode where the station does not allow it."""
        if self.short_circuit is False:
            raise LimitError(
                f"{instrument}: short circuit is not allowed ({self.source('short_circuit')}); not sent"
            )


@dataclass
class InstrumentInfo:
    """What the station file says about one instrument, handed to its driver."""

    role: str
    model: str
    resource: str
    channels: dict[str, str] = field(default_factory=dict)  # DUT terminal -> instrument channel
    limits: Limits = field(default_factory=Limits)
    asset_id: str = ""
    calibration_due: str = ""
    retries: int = 2  # further attempts of an idempotent query after a timeout or lost connection
