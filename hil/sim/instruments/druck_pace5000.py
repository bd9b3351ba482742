"""Simulated Druck PACE5000 pressure controller on the sealed enclosure of the BMU's pressure sensor.

Speaks the SCPI subset the driver uses (see hil/instruments/drivers/druck_pace5000.py) through the
SCPI engine, error queue included, with the PACE's habit of putting the command header before each
answer's value (``:SENS:PRES 101.300``). Units: KPA only (another unit is refused, -224), absolute.

The enclosure: with the output on, its pressure moves towards the setpoint at SLEW_KPA_PER_S but
never below FLOOR_KPA (the vacuum pump's limit: the controller accepts a lower setpoint and does not
get there, as a real one would); output off isolates it (the pressure holds); VENT opens it to the
lab's ambient at VENT_KPA_PER_S with the output off. In limits: within the in-limits band (% of full
scale) of the setpoint for the in-limits time, continuously. Time is the lab's clock, brought up to
date whenever the enclosure is read or a message arrives; the plant reads it with `enclosure(t)`.

Not modelled: control overshoot, the enclosure's leak, the sensor's own error, rate and gas-volume
dependence of the slew, the second channel of a PACE6000.
"""

from __future__ import annotations

from hil.sim.instruments.base import SimInstrument, ramp_toward
from hil.sim.scpi import ILLEGAL_PARAMETER_VALUE, Call, ScpiError

AMBIENT_KPA = 101.3
#: the absolute control module's full scale and the lowest pressure the vacuum pump gets to (kPa)
FULL_SCALE_KPA = 200.0
FLOOR_KPA = 2.0
#: OUR MODEL: a small enclosure fills and empties quickly
SLEW_KPA_PER_S = 20.0
VENT_KPA_PER_S = 20.0


class SimDruckPace5000(SimInstrument):
    """A PACE5000 with one absolute control channel."""

    VENDOR = "GE Druck"
    MODEL = "PACE5000"
    FIRMWARE = "02.03.00"

    on: bool
    setpoint: float
    pressure: float
    venting: bool
    inl_pct: float
    inl_time: float

    def __init__(self, role: str, channels: dict[str, str], seed: int = 0, serial: str = "") -> None:
        self._inside_since: float | None = None
        super().__init__(role, channels, seed, serial)
        e = self.engine
        e.add("UNIT[:PRESsure]", self._set_unit)
        e.add("UNIT[:PRESsure]?", lambda c: ":UNIT:PRES KPA")
        e.add("[SOURce]:PRESsure[:LEVel][:IMMediate][:AMPLitude]", self._set_setpoint)
        e.add(
            "[SOURce]:PRESsure[:LEVel][:IMMediate][:AMPLitude]?", lambda c: f":SOUR:PRES {self.setpoint:.3f}"
        )
        e.add("[SOURce]:PRESsure[:LEVel][:IMMediate][:AMPLitude]:VENT", self._vent)
        e.add(
            "[SOURce]:PRESsure[:LEVel][:IMMediate][:AMPLitude]:VENT?",
            lambda c: f":SOUR:PRES:LEV:IMM:AMPL:VENT {self._vent_status()}",
        )
        e.add("[SOURce]:PRESsure:INLimits", self._set_inl)
        e.add("[SOURce]:PRESsure:INLimits?", lambda c: f":SOUR:PRES:INL {self.inl_pct:g}")
        e.add("[SOURce]:PRESsure:INLimits:TIME", self._set_inl_time)
        e.add("[SOURce]:PRESsure:INLimits:TIME?", lambda c: f":SOUR:PRES:INL:TIME {self.inl_time:g}")
        e.add("OUTPut[:STATe]", self._set_output)
        e.add("OUTPut[:STATe]?", lambda c: f":OUTP:STAT {1 if self.on else 0}")
        e.add("SENSe[:PRESsure]?", lambda c: f":SENS:PRES {self.pressure:.3f}")
        e.add("SENSe[:PRESsure]:INLimits?", self._inl_query)

    def reset(self) -> None:
        """*RST: output off, setpoint at ambient, in-limits 0.1 % FS for 2 s; the enclosure as it is."""
        self.on = False
        self.venting = False
        self.setpoint = AMBIENT_KPA
        self.inl_pct = 0.1
        self.inl_time = 2.0
        if not hasattr(self, "pressure"):
            self.pressure = AMBIENT_KPA
        self._inside_since = None

    # --- the enclosure --------------------------------------------------------------------
    def evolve(self, t0: float, t: float) -> None:
        dt = t - t0
        if self.venting:
            self.pressure = ramp_toward(self.pressure, AMBIENT_KPA, VENT_KPA_PER_S * dt)
        elif self.on:
            self.pressure = ramp_toward(self.pressure, max(self.setpoint, FLOOR_KPA), SLEW_KPA_PER_S * dt)
        inside = self.on and abs(self.pressure - self.setpoint) <= self.inl_pct / 100.0 * FULL_SCALE_KPA
        if not inside:
            self._inside_since = None
        elif self._inside_since is None:
            self._inside_since = t  # (conservative: it entered the band somewhere in the step)

    def enclosure(self, t: float) -> float:
        """The enclosure's pressure (kPa absolute) at lab time t."""
        self.at(t)
        return self.pressure

    def outputs(self) -> dict[str, object]:
        return {"output": self.on, "pressure": round(self.pressure, 3), "venting": self.venting}

    def _vent_status(self) -> int:
        """0: not venting, 1: venting, 2: vent complete (at ambient)."""
        if not self.venting:
            return 0
        return 2 if abs(self.pressure - AMBIENT_KPA) < 1e-9 else 1

    # --- handlers -------------------------------------------------------------------------
    def _set_unit(self, call: Call) -> None:
        call.require(1)
        if call.args[0].strip().upper() != "KPA":
            raise ScpiError(ILLEGAL_PARAMETER_VALUE, "this controller is set up in KPA only")

    def _set_setpoint(self, call: Call) -> None:
        call.require(1)
        self.setpoint = call.number(minimum=0.0, maximum=FULL_SCALE_KPA)
        self._inside_since = None

    def _set_output(self, call: Call) -> None:
        call.require(1)
        self.on = call.boolean()
        if self.on:
            self.venting = False
        self._inside_since = None

    def _vent(self, call: Call) -> None:
        call.require(1)
        if call.boolean():
            self.on = False
            self.venting = True
        else:
            self.venting = False

    def _set_inl(self, call: Call) -> None:
        call.require(1)
        self.inl_pct = call.number(minimum=0.001, maximum=100.0)

    def _set_inl_time(self, call: Call) -> None:
        call.require(1)
        self.inl_time = call.number(minimum=0.0, maximum=999.0)

    def _inl_query(self, call: Call) -> str:
        del call
        ok = self._inside_since is not None and (self._t or 0.0) - self._inside_since >= self.inl_time - 1e-9
        return f":SENS:PRES:INL {self.pressure:.3f}, {1 if ok else 0}"
