"""Simulated ITECH IT8906A-1200-240 electronic load speaking ITECH's SCPI dialect.

Command forms follow ITECH's "Programmable DC Electronic Load Series IT8800 Programming Guide"
(IT8800-402159, Revision V2.0), whose command set the IT8900A shares. The plant asks for
`demand(t, voltage)` each step, steps onto `next_change(t)` so pulse edges land exactly, and
answers with `report()`; MEASure queries return the reported values with a seeded error.

Transient generator (CC only): CONTinuous alternates A (A width) and B (B width) from the moment
it is switched on; PULSe sits at A and goes to B for the B width after each trigger (a trigger
during the pulse restarts it); TOGGle swaps between A and B on each trigger. Triggers come from
*TRG (trigger source BUS) or TRIGger[:IMMediate]; the trigger time is `now()`, which the lab
points at its virtual clock.

Not simulated: CV, CR and CP functions, the ramp a programmed slew rate gives (CURR:SLEW:RISE/FALL
are kept and read back; levels change at once), ranges, Von, list and battery-test modes,
OCP/OPP/OVP, external triggers, the minimum voltage needed to sink full current.
"""

from __future__ import annotations

from collections.abc import Callable

from hil.sim.instruments.base import SimInstrument
from hil.sim.scpi import ILLEGAL_PARAMETER_VALUE, Call, ScpiError

#: CURR:SLEW:RISE/FALL range in A/µs (the sim's assumption; *RST sets the fastest)
SLEW_MIN, SLEW_MAX = 0.0001, 2.5
_SLEW_RST = {"RISE": SLEW_MAX, "FALL": SLEW_MAX}
_MIN_MAX = {"MIN": "MIN", "MINIMUM": "MIN", "MAX": "MAX", "MAXIMUM": "MAX"}
_MODES = {
    "CONT": "CONT",
    "CONTINUOUS": "CONT",
    "PULS": "PULS",
    "PULSE": "PULS",
    "TOGG": "TOGG",
    "TOGGLE": "TOGG",
}
_SOURCES = {
    "MAN": "MAN",
    "MANUAL": "MAN",
    "IMM": "IMM",
    "IMMEDIATE": "IMM",
    "EXT": "EXT",
    "EXTERNAL": "EXT",
    "BUS": "BUS",
    "HOLD": "HOLD",
    "TIM": "TIM",
    "TIMER": "TIM",
}


def _zero() -> float:
    return 0.0


def _fmt(value: float) -> str:
    return f"{value:.6g}"


class SimItechIT8900(SimInstrument):
    """An IT8906A-1200-240 load implementing the plant's LoadPort."""

    VENDOR = "ITECH Ltd."
    MODEL = "IT8906A-1200-240"
    FIRMWARE = "1.00-1.00"

    # Ratings come from the model name (1200 V, 240 A, 6 kW); the width range and accuracy
    # below could not be checked against an IT8900A data sheet (see docs/instruments.md).
    #: input ratings (V, A, W)
    VOLTAGE_RATING = 1200.0
    CURRENT_RATING = 240.0
    POWER_RATING = 6000.0
    #: transient A/B width range (s)
    WIDTH_MIN = 0.00002
    WIDTH_MAX = 3600.0
    #: what demand() returns in short mode: far beyond any source, the plant limits it
    SHORT_DEMAND = 1.0e6
    #: readback accuracy as (gain, offset): ±(0.1 % + 0.1 % FS) current, ±(0.05 % + 0.05 % FS) voltage
    CURRENT_READBACK = (0.001, 0.24)
    VOLTAGE_READBACK = (0.0005, 0.6)

    input_on: bool
    short: bool
    function: str
    level: float
    tran_on: bool
    tran_mode: str
    a_level: float
    b_level: float
    a_width: float
    b_width: float
    trigger_source: str
    tran_started: float
    pulse_start: float | None
    pulse_end: float | None
    toggled: bool
    slew: dict[str, float]
    measured_voltage: float
    measured_current: float

    def __init__(self, role: str, channels: dict[str, str], seed: int = 0, serial: str = "") -> None:
        #: the lab's clock; trigger times and CONTinuous phases are taken from it
        self.now: Callable[[], float] = _zero
        super().__init__(role, channels, seed, serial)
        e = self.engine
        e.add("*TRG", self._bus_trigger)
        e.add("TRIGger[:IMMediate]", self._immediate_trigger)
        e.add("TRIGger:SOURce", self._set_trigger_source)
        e.add("TRIGger:SOURce?", lambda c: self.trigger_source)
        for root in ("[SOURce:]INPut", "OUTPut"):  # the guide makes OUTPut an alias of INPut
            e.add(f"{root}[:STATe]", self._set_input)
            e.add(f"{root}[:STATe]?", lambda c: "1" if self.input_on else "0")
            e.add(f"{root}:SHORt[:STATe]", self._set_short)
            e.add(f"{root}:SHORt[:STATe]?", lambda c: "1" if self.short else "0")
        e.add("[SOURce:]FUNCtion", self._set_function)
        e.add("[SOURce:]FUNCtion?", lambda c: self.function)
        e.add("[SOURce:]CURRent[:LEVel][:IMMediate][:AMPLitude]", self._set_level)
        e.add("[SOURce:]CURRent[:LEVel][:IMMediate][:AMPLitude]?", self._current_query("level"))
        e.add("[SOURce:]CURRent:TRANsient:MODE", self._set_mode)
        e.add("[SOURce:]CURRent:TRANsient:MODE?", lambda c: self.tran_mode)
        e.add("[SOURce:]CURRent:TRANsient:ALEVel", self._current_setter("a_level"))
        e.add("[SOURce:]CURRent:TRANsient:ALEVel?", self._current_query("a_level"))
        e.add("[SOURce:]CURRent:TRANsient:BLEVel", self._current_setter("b_level"))
        e.add("[SOURce:]CURRent:TRANsient:BLEVel?", self._current_query("b_level"))
        e.add("[SOURce:]CURRent:TRANsient:AWIDth", self._width_setter("a_width"))
        e.add("[SOURce:]CURRent:TRANsient:AWIDth?", lambda c: _fmt(self.a_width))
        e.add("[SOURce:]CURRent:TRANsient:BWIDth", self._width_setter("b_width"))
        e.add("[SOURce:]CURRent:TRANsient:BWIDth?", lambda c: _fmt(self.b_width))
        for edge in ("RISE", "FALL"):
            e.add(f"[SOURce:]CURRent:SLEW:{edge}", self._slew_setter(edge))
            e.add(f"[SOURce:]CURRent:SLEW:{edge}?", self._slew_query(edge))
        e.add("[SOURce:]TRANsient[:STATe]", self._set_transient)
        e.add("[SOURce:]TRANsient[:STATe]?", lambda c: "1" if self.tran_on else "0")
        e.add("MEASure[:SCALar]:VOLTage[:DC]?", lambda c: _fmt(self._read_voltage()))
        e.add("MEASure[:SCALar]:CURRent[:DC]?", lambda c: _fmt(self._read_current()))
        e.add("MEASure[:SCALar]:POWer[:DC]?", lambda c: _fmt(self._read_voltage() * self._read_current()))

    def reset(self) -> None:
        """*RST: input and short off, CC at 0 A, transient generator off in CONTinuous mode."""
        self.input_on = False
        self.short = False
        self.function = "CURR"
        self.level = 0.0
        self.slew = dict(_SLEW_RST)
        self.tran_on = False
        self.tran_mode = "CONT"
        self.a_level = 0.0
        self.b_level = 0.0
        self.a_width = 0.001
        self.b_width = 0.001
        self.trigger_source = "MAN"
        self.tran_started = 0.0
        self.pulse_start = None
        self.pulse_end = None
        self.toggled = False
        self.measured_voltage = 0.0
        self.measured_current = 0.0

    # --- LoadPort ---------------------------------------------------------------------------

    def demand(self, t: float, voltage: float) -> float:
        """Current drawn at time t: 0 with the input off, a huge demand when shorted, else CC."""
        if not self.input_on:
            return 0.0
        if self.short:
            return self.SHORT_DEMAND
        if not self.tran_on:
            return self.level
        if self.tran_mode == "PULS":
            start, end = self.pulse_start, self.pulse_end
            if start is not None and end is not None and start <= t < end:
                return self.b_level
            return self.a_level
        if self.tran_mode == "TOGG":
            return self.b_level if self.toggled else self.a_level
        phase = (t - self.tran_started) % (self.a_width + self.b_width)
        return self.a_level if phase < self.a_width else self.b_level

    def shorted(self) -> bool:
        return self.input_on and self.short

    def next_change(self, t: float) -> float | None:
        """The next pulse edge (or CONTinuous level change) after t; None if none is scheduled."""
        if not (self.input_on and self.tran_on) or self.short:
            return None
        if self.tran_mode == "PULS":
            for edge in (self.pulse_start, self.pulse_end):
                if edge is not None and edge > t:
                    return edge
            return None
        if self.tran_mode == "CONT":
            period = self.a_width + self.b_width
            cycle_start = self.tran_started + ((t - self.tran_started) // period) * period
            for edge in (cycle_start + self.a_width, cycle_start + period):
                if edge > t:
                    return edge
        return None

    def report(self, voltage: float, current: float) -> None:
        self.measured_voltage = voltage
        self.measured_current = current

    def outputs(self) -> dict[str, object]:
        return {"input": self.input_on, "short": self.short, "transient": self.tran_on, "current": self.level}

    # --- command handlers -------------------------------------------------------------------

    def _set_input(self, call: Call) -> None:
        call.require(1)
        self.input_on = call.boolean()

    def _set_short(self, call: Call) -> None:
        call.require(1)
        self.short = call.boolean()

    def _set_function(self, call: Call) -> None:
        call.require(1)
        word = call.args[0].strip().upper()
        if word not in ("CURR", "CURRENT"):
            raise ScpiError(ILLEGAL_PARAMETER_VALUE, f"FUNC {word} is not simulated (CURRent only)")
        self.function = "CURR"

    def _set_level(self, call: Call) -> None:
        call.require(1)
        self.level = call.number(unit="A", minimum=0.0, maximum=self.CURRENT_RATING)

    def _slew_setter(self, edge: str) -> Callable[[Call], None]:
        def handler(call: Call) -> None:
            call.require(1)
            self.slew[edge] = call.number(unit="A/us", minimum=SLEW_MIN, maximum=SLEW_MAX)

        return handler

    def _slew_query(self, edge: str) -> Callable[[Call], str]:
        return lambda call: _fmt(self.slew[edge])

    def _set_mode(self, call: Call) -> None:
        call.require(1)
        self.tran_mode = call.choice(0, _MODES)
        self.pulse_start = self.pulse_end = None
        self.toggled = False

    def _set_transient(self, call: Call) -> None:
        call.require(1)
        on = call.boolean()
        if on and not self.tran_on:
            self.tran_started = self.now()
            self.pulse_start = self.pulse_end = None
            self.toggled = False
        self.tran_on = on

    def _set_trigger_source(self, call: Call) -> None:
        call.require(1)
        self.trigger_source = call.choice(0, _SOURCES)

    def _bus_trigger(self, call: Call) -> None:
        call.require(0)
        if self.trigger_source != "BUS":
            self.engine.push_error('-211,"Trigger ignored; trigger source is not BUS"')
            return
        self._trigger()

    def _immediate_trigger(self, call: Call) -> None:
        call.require(0)
        self._trigger()

    def _trigger(self) -> None:
        """Act on a trigger at now(): start (or restart) a pulse, or toggle; ignored otherwise."""
        if not self.tran_on:
            return
        t = self.now()
        if self.tran_mode == "PULS":
            self.pulse_start, self.pulse_end = t, t + self.b_width
        elif self.tran_mode == "TOGG":
            self.toggled = not self.toggled

    def _current_setter(self, name: str) -> Callable[[Call], None]:
        def handler(call: Call) -> None:
            call.require(1)
            setattr(self, name, call.number(unit="A", minimum=0.0, maximum=self.CURRENT_RATING))

        return handler

    def _current_query(self, name: str) -> Callable[[Call], str]:
        def handler(call: Call) -> str:
            if not call.args:
                return _fmt(float(getattr(self, name)))
            call.require(1)
            return _fmt(0.0 if call.choice(0, _MIN_MAX) == "MIN" else self.CURRENT_RATING)

        return handler

    def _width_setter(self, name: str) -> Callable[[Call], None]:
        def handler(call: Call) -> None:
            call.require(1)
            setattr(self, name, call.number(unit="S", minimum=self.WIDTH_MIN, maximum=self.WIDTH_MAX))

        return handler

    def _read_voltage(self) -> float:
        return self.error_term(self.measured_voltage, *self.VOLTAGE_READBACK)

    def _read_current(self) -> float:
        return self.error_term(self.measured_current, *self.CURRENT_READBACK)
