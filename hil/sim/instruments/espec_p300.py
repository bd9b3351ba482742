"""Simulated ESPEC SH-242 temperature/humidity chamber with a P-300 class controller.

Not SCPI: the P-300 speaks its own ASCII lines (see the driver, hil/instruments/drivers/espec_p300.py),
so this instrument answers every line itself (`execute`) instead of through the SCPI engine; the
lab's line server serves it like any other instrument. Every line gets one answer: ``OK: <echo>``
for an accepted setting, ``NA: <reason>`` for a refused one (``COMMAND ERR``, ``PARAMETER ERR``,
``DATA OUT OF RANGE``), values for queries.

The air: in CONSTANT mode it moves towards the setpoints at the chamber's ramp rates
(TEMP_RAMP_C_PER_S, HUMI_RAMP_PCT_PER_S) and holds there within a fixed seeded control offset; in
STANDBY or OFF, and for humidity while its control is off, it drifts back towards the lab's ambient
at the same rates. Time is the lab's (virtual) clock: the air is brought up to date whenever it is
read or a command arrives. The plant reads it with `air(t)` and hands it to the DUT.

Not modelled: the chamber's program mode and its timers, temperature/humidity interaction (dew
point, the humidity control range's dependence on temperature), alarms (always 0), the sensor's own
error (the monitor shows the air), thermal lag of the DUT inside.
"""

from __future__ import annotations

from hil.sim.instruments.base import SimInstrument, ramp_toward

#: the lab's ambient, where the air drifts when the chamber does not control it
AMBIENT_C = 25.0
AMBIENT_PCT = 40.0
#: OUR MODEL of the ramp: 0.2 °C/s (12 °C/min) and 1 %RH/s; SH-242 catalogue rates are of this
#: order for heating and slower for cooling (not confirmed): the sim uses one rate each way
TEMP_RAMP_C_PER_S = 0.2
HUMI_RAMP_PCT_PER_S = 1.0
#: the chamber's setting ranges (SH-242 class): temperature, humidity control
TEMP_RANGE = (-40.0, 150.0)
HUMI_RANGE = (10.0, 98.0)
#: steady-state control offset (seeded, fixed per chamber): within ±0.2 °C and ±1 %RH
TEMP_CONTROL = 0.2
HUMI_CONTROL = 1.0
MODES = ("CONSTANT", "STANDBY", "OFF")


class SimEspecP300(SimInstrument):
    """An SH-242 chamber answering the P-300 command set."""

    VENDOR = "ESPEC"
    MODEL = "SH-242"
    FIRMWARE = "P300 ROM Ver 1.10"

    mode: str
    temp_setpoint: float
    humi_setpoint: float | None
    air_c: float
    air_pct: float

    def __init__(self, role: str, channels: dict[str, str], seed: int = 0, serial: str = "") -> None:
        super().__init__(role, channels, seed, serial)
        self.temp_offset = self.rng.uniform(-0.5, 0.5) * TEMP_CONTROL
        self.humi_offset = self.rng.uniform(-0.5, 0.5) * HUMI_CONTROL

    def reset(self) -> None:
        """Power-on: OFF, setpoints 23 °C / humidity off, the air at ambient."""
        self.mode = "OFF"
        self.temp_setpoint = 23.0
        self.humi_setpoint = None
        self.air_c = AMBIENT_C
        self.air_pct = AMBIENT_PCT

    # --- the air --------------------------------------------------------------------------
    def _targets(self) -> tuple[float, float]:
        if self.mode != "CONSTANT":
            return AMBIENT_C, AMBIENT_PCT
        humi = AMBIENT_PCT if self.humi_setpoint is None else self.humi_setpoint + self.humi_offset
        return self.temp_setpoint + self.temp_offset, humi

    def evolve(self, t0: float, t: float) -> None:
        target_c, target_pct = self._targets()
        self.air_c = ramp_toward(self.air_c, target_c, TEMP_RAMP_C_PER_S * (t - t0))
        self.air_pct = ramp_toward(self.air_pct, target_pct, HUMI_RAMP_PCT_PER_S * (t - t0))

    def air(self, t: float) -> tuple[float, float]:
        """(°C, %RH) of the air around the DUT at lab time t."""
        self.at(t)
        return self.air_c, self.air_pct

    def outputs(self) -> dict[str, object]:
        return {"mode": self.mode, "temperature": round(self.air_c, 1), "humidity": round(self.air_pct)}

    # --- the protocol ---------------------------------------------------------------------
    def execute(self, line: str) -> str | None:
        self.at(self.now())
        text = line.strip()
        header, _, arg = text.partition(",")
        header, arg = header.strip().upper(), arg.strip().upper()
        try:
            if header.endswith("?"):
                return self._query(header)
            answer = self._set(header, arg)
        except ValueError as exc:
            return f"NA: {exc}"
        self.engine.count_command()
        return answer

    def _query(self, header: str) -> str:
        if header == "TEMP?":
            upper, lower = TEMP_RANGE[1] + 5, TEMP_RANGE[0] - 5  # the alarm limits: outside the range
            return f"{self.air_c:.1f},{self.temp_setpoint:.1f},{upper:.1f},{lower:.1f}"
        if header == "HUMI?":
            setpoint = "OFF" if self.humi_setpoint is None else f"{self.humi_setpoint:.0f}"
            return f"{self.air_pct:.0f},{setpoint},100,0"
        if header == "MON?":
            return f"{self.air_c:.1f},{self.air_pct:.0f},{self.mode},0"
        if header == "MODE?":
            return self.mode
        if header == "TYPE?":
            return f"HUMI,{self.MODEL},{self.serial}"
        if header == "ROM?":
            return self.FIRMWARE
        raise ValueError("COMMAND ERR")

    def _set(self, header: str, arg: str) -> str:
        if header == "MODE":
            if arg not in MODES:
                raise ValueError("PARAMETER ERR")
            self.mode = arg
            return f"OK: MODE, {arg}"
        if header == "TEMP":
            value = self._setpoint(arg, TEMP_RANGE, 1)
            if value is None:
                raise ValueError("PARAMETER ERR")
            self.temp_setpoint = value
            return f"OK: TEMP, S{value:.1f}"
        if header == "HUMI":
            value = self._setpoint(arg, HUMI_RANGE, 0)
            self.humi_setpoint = value
            return "OK: HUMI, SOFF" if value is None else f"OK: HUMI, S{value:.0f}"
        raise ValueError("COMMAND ERR")

    @staticmethod
    def _setpoint(arg: str, limits: tuple[float, float], digits: int) -> float | None:
        """`S<value>` (or SOFF: None) within the chamber's range."""
        if not arg.startswith("S"):
            raise ValueError("PARAMETER ERR")
        if arg[1:].strip() == "OFF":
            return None
        try:
            value = round(float(arg[1:]), digits)
        except ValueError:
            raise ValueError("PARAMETER ERR") from None
        if not limits[0] <= value <= limits[1]:
            raise ValueError("DATA OUT OF RANGE")
        return value
