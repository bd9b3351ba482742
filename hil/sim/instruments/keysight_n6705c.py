"""Simulated Keysight N6705C DC Power Analyzer fitted with N6781A two-quadrant SMUs.

Speaks the subset of the N6705C SCPI dialect that the cell-emulator driver uses: voltage,
positive/negative current limit, limit tracking, output state and measurement, each with a
channel list. Values outside the N6781A's programming ranges raise -222, channels without an
installed module raise -241 (Hardware missing) and nothing in that message is executed.

The plant reads each channel through the MultiSourcePort protocol and reports the terminal
voltage and current it solved for; MEAS queries return those with the N6781A's measurement
accuracy applied (seeded, so a run is repeatable). VOLT:SLEW is kept per channel and read back;
the sim changes a level at once (no ramp).
"""

from __future__ import annotations

from dataclasses import dataclass

from hil.sim.instruments.base import SLEW_INFINITY, SimInstrument, slew_parameter
from hil.sim.ports import SourceSetting
from hil.sim.scpi import MISSING_PARAMETER, Call, ScpiError

#: N6781A programming ranges: 20 V / ±3 A rated, settable to 102 % of rating (2-quadrant: +V only)
VOLTAGE_MAX = 20.4
CURRENT_MAX = 3.06
HARDWARE_MISSING = -241


class HardwareMissingError(ScpiError):
    """SCPI-1999 -241: the addressed channel has no module behind it."""

    def __init__(self, detail: str) -> None:
        super().__init__(HARDWARE_MISSING, detail)

    def entry(self) -> str:
        return f'{HARDWARE_MISSING},"Hardware missing; {self.detail}"'


# N6781A measurement accuracy, (gain, offset) per range, from the N6780 Series data sheet.
_VOLT_ACCURACY = ((6.0, 0.00025, 600e-6), (20.0, 0.00025, 1.5e-3))
_CURR_ACCURACY = ((0.001, 0.00025, 100e-9), (0.1, 0.00025, 10e-6), (3.0, 0.0004, 100e-6))


def _accuracy(table: tuple[tuple[float, float, float], ...], value: float) -> tuple[float, float]:
    """(gain, offset) of the smallest range holding |value| (the SMU ranges measurements seamlessly)."""
    for full_scale, gain, offset in table:
        if abs(value) <= full_scale:
            return gain, offset
    return table[-1][1], table[-1][2]


def _nr3(value: float) -> str:
    """The N6705C's response format, +n.nnnnnnE+nn."""
    return f"{value:+.6E}"


@dataclass
class _Channel:
    on: bool = False
    voltage: float = 0.0
    limit_pos: float = 0.1
    limit_neg: float = -0.1
    tracking: bool = True
    slew: float = SLEW_INFINITY
    reported: tuple[float, float] | None = None


class SimKeysightN6705C(SimInstrument):
    """N6705C mainframe with `modules` N6781A SMUs in slots 1..modules (channels 1..modules)."""

    VENDOR = "Keysight Technologies"
    MODEL = "N6705C"
    FIRMWARE = "D.03.04"

    def __init__(
        self, role: str, channels: dict[str, str], seed: int = 0, serial: str = "", modules: int = 4
    ) -> None:
        self.modules = modules
        self._ch: dict[int, _Channel] = {}
        super().__init__(role, channels, seed=seed, serial=serial or "MY56000123")
        e = self.engine
        e.add("[SOURce]:VOLTage[:LEVel][:IMMediate][:AMPLitude]", self._set_voltage)
        e.add("[SOURce]:VOLTage[:LEVel][:IMMediate][:AMPLitude]?", self._get_voltage)
        e.add("[SOURce]:VOLTage:SLEW[:IMMediate]", self._set_slew)
        e.add("[SOURce]:VOLTage:SLEW[:IMMediate]?", self._get_slew)
        e.add("[SOURce]:CURRent:LIMit:NEGative[:IMMediate][:AMPLitude]", self._set_limit_neg)
        e.add("[SOURce]:CURRent:LIMit:NEGative[:IMMediate][:AMPLitude]?", self._get_limit_neg)
        e.add("[SOURce]:CURRent:LIMit:COUPle", self._set_tracking)
        e.add("[SOURce]:CURRent:LIMit:COUPle?", self._get_tracking)
        e.add("[SOURce]:CURRent:LIMit[:POSitive][:IMMediate][:AMPLitude]", self._set_limit_pos)
        e.add("[SOURce]:CURRent:LIMit[:POSitive][:IMMediate][:AMPLitude]?", self._get_limit_pos)
        e.add("OUTPut[:STATe]", self._set_output)
        e.add("OUTPut[:STATe]?", self._get_output)
        e.add("MEASure[:SCALar]:VOLTage[:DC]?", self._measure_voltage)
        e.add("MEASure[:SCALar]:CURRent[:DC]?", self._measure_current)

    def reset(self) -> None:
        """*RST: every output off, 0 V, ±0.1 A limits with tracking on (sim defaults)."""
        self._ch = {n: _Channel() for n in range(1, self.modules + 1)}

    # --- the plant's side (MultiSourcePort) -------------------------------------------------

    def channel_setting(self, channel: int) -> SourceSetting:
        ch = self._ch[channel]
        return SourceSetting(on=ch.on, voltage=ch.voltage, current_limit=ch.limit_pos)

    def sink_limit(self, channel: int) -> float:
        """The negative (sink) current limit in A, <= 0."""
        return self._ch[channel].limit_neg

    def report_channel(self, channel: int, voltage: float, current: float) -> None:
        self._ch[channel].reported = (voltage, current)

    def outputs(self) -> dict[str, object]:
        return {
            str(n): {"on": c.on, "voltage": c.voltage, "current_limit": c.limit_pos}
            for n, c in self._ch.items()
        }

    # --- SCPI handlers ----------------------------------------------------------------------

    def _targets(self, call: Call) -> list[_Channel]:
        if not call.channels:
            raise ScpiError(MISSING_PARAMETER, f"{call.header} needs a channel list")
        missing = [n for n in call.channels if n not in self._ch]
        if missing:
            raise HardwareMissingError(f"no module for channel {missing[0]}")
        return [self._ch[n] for n in call.channels]

    def _set_voltage(self, call: Call) -> None:
        call.require(1)
        value = call.number(0, unit="V", minimum=0.0, maximum=VOLTAGE_MAX)
        for ch in self._targets(call):
            ch.voltage = value

    def _set_slew(self, call: Call) -> None:
        value = slew_parameter(call)
        for ch in self._targets(call):
            ch.slew = value

    def _get_slew(self, call: Call) -> str:
        return ",".join(_nr3(ch.slew) for ch in self._targets(call))

    def _get_voltage(self, call: Call) -> str:
        return ",".join(_nr3(ch.voltage) for ch in self._targets(call))

    def _set_limit_pos(self, call: Call) -> None:
        call.require(1)
        value = call.number(0, unit="A", minimum=0.0, maximum=CURRENT_MAX)
        for ch in self._targets(call):
            ch.limit_pos = value
            if ch.tracking:
                ch.limit_neg = -value

    def _get_limit_pos(self, call: Call) -> str:
        return ",".join(_nr3(ch.limit_pos) for ch in self._targets(call))

    def _set_limit_neg(self, call: Call) -> None:
        call.require(1)
        value = call.number(0, unit="A", minimum=-CURRENT_MAX, maximum=0.0)
        for ch in self._targets(call):
            # with tracking on, the negative limit keeps following the positive one
            ch.limit_neg = -ch.limit_pos if ch.tracking else value

    def _get_limit_neg(self, call: Call) -> str:
        return ",".join(_nr3(ch.limit_neg) for ch in self._targets(call))

    def _set_tracking(self, call: Call) -> None:
        call.require(1)
        state = call.boolean(0)
        for ch in self._targets(call):
            ch.tracking = state
            if state:
                ch.limit_neg = -ch.limit_pos

    def _get_tracking(self, call: Call) -> str:
        return ",".join("1" if ch.tracking else "0" for ch in self._targets(call))

    def _set_output(self, call: Call) -> None:
        call.require(1)
        state = call.boolean(0)
        for ch in self._targets(call):
            ch.on = state

    def _get_output(self, call: Call) -> str:
        return ",".join("1" if ch.on else "0" for ch in self._targets(call))

    def _true(self, ch: _Channel) -> tuple[float, float]:
        """Terminal voltage and current: the plant's report, else the open-terminal values."""
        if ch.reported is not None:
            return ch.reported
        return (ch.voltage if ch.on else 0.0), 0.0

    def _measure_voltage(self, call: Call) -> str:
        readings = []
        for ch in self._targets(call):
            volts = self._true(ch)[0]
            readings.append(_nr3(self.error_term(volts, *_accuracy(_VOLT_ACCURACY, volts))))
        return ",".join(readings)

    def _measure_current(self, call: Call) -> str:
        readings = []
        for ch in self._targets(call):
            amps = self._true(ch)[1]
            readings.append(_nr3(self.error_term(amps, *_accuracy(_CURR_ACCURACY, amps))))
        return ",".join(readings)
