"""Simulated Keysight N8920A (N8900 series autoranging DC supply) speaking its SCPI dialect.

Follows the command forms of "Keysight N8900 Series Autoranging System DC Power Supply -
Operating and Service Guide" (part number N8900-90901), SCPI Programming Reference: long and
short forms, optional nodes, MIN/MAX parameters and queries. The plant reads `source()` and
answers with `report()`; MEASure queries return the reported values with a seeded error inside
the accuracy bounds below.

Not simulated: the ramp a programmed VOLT:SLEW gives (kept and read back; levels change at once),
output lists and steps, triggered levels, the transient/acquire trigger systems,
remote sense, parallel operation, OCP, the power limit of the autoranging envelope (at most
3.4 kW on this bench, inside the 5 kW rating), status registers beyond the OV bit.
"""

from __future__ import annotations

from hil.sim.instruments.base import SLEW_INFINITY, SimInstrument, slew_parameter
from hil.sim.ports import SourceSetting
from hil.sim.scpi import Call


def _nr3(value: float) -> str:
    """A value in the NR3 form Keysight supplies answer with, e.g. +1.44000E+01."""
    return f"{value:+.5E}"


class SimKeysightN8900(SimInstrument):
    """An N8920A: one CV/CC output with OVP, implementing the plant's SourcePort."""

    VENDOR = "Keysight Technologies"
    MODEL = "N8920A"
    FIRMWARE = "A.01.00.0000"

    # The numbers below (ratings, OVP range, *RST current, accuracy) could not be checked
    # against the guide's rating and specification tables; docs/instruments.md lists them as
    # to be verified before the sim is trusted for accuracy-sensitive tests.
    #: output ratings of the N8920A (V, A, W)
    VOLTAGE_RATING = 80.0
    CURRENT_RATING = 170.0
    POWER_RATING = 5000.0
    #: highest programmable OVP level (110 % of the voltage rating)
    OVP_MAX = 88.0
    #: current setting after *RST (the rating)
    RST_CURRENT = 170.0
    #: readback accuracy as (gain, offset): 0.1 % of rating for voltage and current
    VOLTAGE_READBACK = (0.0, 0.08)
    CURRENT_READBACK = (0.0, 0.17)

    on: bool
    voltage: float
    current_limit: float
    ovp: float
    ov_tripped: bool
    slew: float
    measured_voltage: float
    measured_current: float

    def __init__(self, role: str, channels: dict[str, str], seed: int = 0, serial: str = "") -> None:
        super().__init__(role, channels, seed, serial)
        e = self.engine
        e.add("[SOURce:]VOLTage[:LEVel][:IMMediate][:AMPLitude]", self._set_voltage)
        e.add("[SOURce:]VOLTage[:LEVel][:IMMediate][:AMPLitude]?", self._get_voltage)
        e.add("[SOURce:]CURRent[:LEVel][:IMMediate][:AMPLitude]", self._set_current)
        e.add("[SOURce:]CURRent[:LEVel][:IMMediate][:AMPLitude]?", self._get_current)
        e.add("[SOURce:]VOLTage:SLEW[:IMMediate]", self._set_slew)
        e.add("[SOURce:]VOLTage:SLEW[:IMMediate]?", lambda c: _nr3(self.slew))
        e.add("[SOURce:]VOLTage:PROTection[:LEVel]", self._set_ovp)
        e.add("[SOURce:]VOLTage:PROTection[:LEVel]?", self._get_ovp)
        e.add("OUTPut[:STATe]", self._set_output)
        e.add("OUTPut[:STATe]?", lambda c: "1" if self.on else "0")
        e.add("OUTPut:PROTection:CLEar", self._clear_protection)
        e.add("MEASure[:SCALar]:VOLTage[:DC]?", lambda c: _nr3(self._read_voltage()))
        e.add("MEASure[:SCALar]:CURRent[:DC]?", lambda c: _nr3(self._read_current()))
        e.add("MEASure[:SCALar]:POWer[:DC]?", lambda c: _nr3(self._read_voltage() * self._read_current()))
        e.add("STATus:QUEStionable:CONDition?", lambda c: "1" if self.ov_tripped else "0")

    def reset(self) -> None:
        """*RST: output off, 0 V, current at the rating, OVP at its maximum, protection cleared."""
        self.on = False
        self.voltage = 0.0
        self.current_limit = self.RST_CURRENT
        self.ovp = self.OVP_MAX
        self.slew = SLEW_INFINITY
        self.ov_tripped = False
        self.measured_voltage = 0.0
        self.measured_current = 0.0

    # --- SourcePort -------------------------------------------------------------------------

    def source(self) -> SourceSetting:
        return SourceSetting(on=self.on, voltage=self.voltage, current_limit=self.current_limit)

    def report(self, voltage: float, current: float) -> None:
        """Terminal values from the plant; a voltage above the OVP level trips the output off."""
        self.measured_voltage = voltage
        self.measured_current = current
        if self.on and voltage > self.ovp:
            self.on = False
            self.ov_tripped = True

    def outputs(self) -> dict[str, object]:
        return {"output": self.on, "voltage": self.voltage, "current_limit": self.current_limit}

    # --- command handlers -------------------------------------------------------------------

    def _set_voltage(self, call: Call) -> None:
        call.require(1)
        self.voltage = call.number(unit="V", minimum=0.0, maximum=self.VOLTAGE_RATING)

    def _set_slew(self, call: Call) -> None:
        self.slew = slew_parameter(call)

    def _get_voltage(self, call: Call) -> str:
        return _nr3(self._limit_query(call, self.voltage, self.VOLTAGE_RATING))

    def _set_current(self, call: Call) -> None:
        call.require(1)
        self.current_limit = call.number(unit="A", minimum=0.0, maximum=self.CURRENT_RATING)

    def _get_current(self, call: Call) -> str:
        return _nr3(self._limit_query(call, self.current_limit, self.CURRENT_RATING))

    def _set_ovp(self, call: Call) -> None:
        call.require(1)
        self.ovp = call.number(unit="V", minimum=0.0, maximum=self.OVP_MAX)

    def _get_ovp(self, call: Call) -> str:
        return _nr3(self._limit_query(call, self.ovp, self.OVP_MAX))

    def _set_output(self, call: Call) -> None:
        call.require(1)
        self.on = call.boolean()

    def _clear_protection(self, call: Call) -> None:
        call.require(0)
        self.ov_tripped = False

    @staticmethod
    def _limit_query(call: Call, present: float, maximum: float) -> float:
        """A setting query: the present value, or the range end asked for with MIN/MAX."""
        if not call.args:
            return present
        call.require(1)
        which = call.choice(0, {"MIN": "MIN", "MINIMUM": "MIN", "MAX": "MAX", "MAXIMUM": "MAX"})
        return 0.0 if which == "MIN" else maximum

    def _read_voltage(self) -> float:
        return self.error_term(self.measured_voltage, *self.VOLTAGE_READBACK)

    def _read_current(self) -> float:
        return self.error_term(self.measured_current, *self.CURRENT_READBACK)
