"""Pressure controller driver: a Druck PACE5000 on the sealed enclosure around the BMU's pressure sensor.

Station model: Druck (Baker Hughes, formerly GE) PACE5000 modular pressure controller with an
absolute control module; a vacuum pump on its exhaust port lets it control below atmosphere, down
to the lowest pressure the station's `limits.pressure_min` allows (absolute 0 kPa is never
reachable: that floor is a station limit, refused by this driver before anything is sent).

Followed: the PACE5000/6000 SCPI command set (Druck "PACE Series SCPI manual"; the document's
revision could not be confirmed from the material consulted, see `MANUAL`). Facts used, as
public PACE control code uses them: ``:UNIT:PRES KPA`` selects the pressure unit;
``:SOUR:PRES <value>`` (long form ``[:SOURce]:PRESsure[:LEVel][:IMMediate][:AMPLitude]``) sets the
setpoint; ``:OUTP:STAT ON|OFF`` starts/stops control; ``:SOUR:PRES:LEV:IMM:AMPL:VENT 1`` vents to
atmosphere; ``:SOUR:PRES:INL <% of full scale>`` and ``:SOUR:PRES:INL:TIME <s>`` set the in-limits
band and time; ``:SENS:PRES?`` reads the pressure and ``:SENS:PRES:INL?`` answers the pressure and
whether it has been in limits for the in-limits time (``:SENS:PRES:INL 100.0, 1``); answers carry
the command header before the value; the error queue is ``:SYST:ERR?``.
"""

from __future__ import annotations

from hil.errors import InstrumentError
from hil.instruments.info import InstrumentInfo
from hil.instruments.roles import PressureController
from hil.instruments.scpi import ScpiInstrument, nrf
from hil.instruments.transport import Transport

UNIT = "KPA"


def payload(answer: str) -> str:
    """The value part of a PACE answer (the header the PACE puts before it removed)."""
    text = answer.strip()
    if text.startswith(":") and " " in text:
        return text.split(None, 1)[1].strip()
    return text


class DruckPace5000(PressureController, ScpiInstrument):
    """PACE5000 (one control channel), kPa absolute."""

    MANUAL = (
        "Druck PACE5000 modular pressure controller (absolute control module, vacuum-assisted); Druck "
        "PACE Series SCPI manual (UNIT, SOURce:PRESsure, OUTPut, SENSe:PRESsure, INLimits); revision "
        "not confirmed from the material consulted"
    )

    def __init__(self, info: InstrumentInfo, transport: Transport) -> None:
        super().__init__(info, transport)
        self._unit_set: int | None = None  # the transport generation the unit was selected on

    def _prepare(self) -> None:
        """Select kPa once per connection (again after a reconnect or reset), before any value."""
        if self._unit_set != self.transport.generation:
            self._unit_set = self.transport.generation  # set first: configure() comes back here
            try:
                self.configure(f":UNIT:PRES {UNIT}")
            except BaseException:
                self._unit_set = None
                raise

    def _value(self, command: str) -> float:
        self._prepare()
        answer = self.query(command)
        try:
            return float(payload(answer).split(",")[0])
        except ValueError as exc:
            raise InstrumentError(self.name, command, f"expected a number, got {answer!r}") from exc

    def reset(self) -> None:
        self._unit_set = None
        super().reset()

    def set_in_limits(self, percent_fs: float, time_s: float) -> None:
        """The band (% of full scale) and time the controller's in-limits flag stands for."""
        self._prepare()
        self.configure(f":SOUR:PRES:INL {nrf(percent_fs)}", f":SOUR:PRES:INL:TIME {nrf(time_s)}")

    def set_pressure(self, kpa: float) -> None:
        self.info.limits.check(self.name, "pressure", kpa)
        self._prepare()
        self.configure(f":SOUR:PRES {nrf(kpa)}")

    def set_output(self, on: bool) -> None:
        self.configure(":OUTP:STAT ON" if on else ":OUTP:STAT OFF")

    def output_is_on(self) -> bool:
        answer = payload(self.query(":OUTP:STAT?")).upper()
        if answer not in ("0", "1", "ON", "OFF"):
            raise InstrumentError(self.name, ":OUTP:STAT?", f"expected 0 or 1, got {answer!r}")
        return answer in ("1", "ON")

    def vent(self) -> None:
        self.configure(":SOUR:PRES:LEV:IMM:AMPL:VENT 1")

    def measure_pressure(self) -> float:
        return self._value(":SENS:PRES?")

    def in_limits(self) -> tuple[float, bool]:
        self._prepare()
        command = ":SENS:PRES:INL?"
        answer = self.query(command)
        parts = [p.strip() for p in payload(answer).split(",")]
        try:
            return float(parts[0]), parts[1] == "1"
        except (ValueError, IndexError) as exc:
            raise InstrumentError(self.name, command, f"expected 'pressure, 0|1', got {answer!r}") from exc
