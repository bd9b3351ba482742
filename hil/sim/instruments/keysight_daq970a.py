"""Simulated Keysight DAQ970A with a DAQM901A 20-channel multiplexer in slot 1.

Implements MEASure? for DC voltage, 2-wire resistance and DC current, CONFigure plus
ROUTe:SCAN and READ? for a scan of the configured channels. Each reading asks the plant's
Probe for the true value at the DUT point wired to the channel (the reverse of `channels`)
and applies the DAQ970A's 1-year DMM accuracy for the range autorange (or the given range)
selects. Channels that do not exist raise -241 (Hardware missing); voltage or resistance on
the current channels 121/122, or current on 101-120, raises -221 (Settings conflict).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from hil.sim.instruments.base import SimInstrument
from hil.sim.ports import Probe
from hil.sim.scpi import MISSING_PARAMETER, SETTINGS_CONFLICT, Call, ScpiError

HARDWARE_MISSING = -241
OVERLOAD = 9.9e37
VOLTAGE_CHANNELS = range(101, 121)
CURRENT_CHANNELS = (121, 122)

# (range, gain of reading, gain of range): DAQ970A internal DMM, 1 year, 23 °C ± 5 °C.
_ACCURACY: dict[str, tuple[tuple[float, float, float], ...]] = {
    "VOLT": (
        (0.1, 0.000050, 0.000040),
        (1.0, 0.000040, 0.000007),
        (10.0, 0.000035, 0.000005),
        (100.0, 0.000045, 0.000006),
        (300.0, 0.000045, 0.000020),
    ),
    "RES": (
        (100.0, 0.00010, 0.000040),
        (1e3, 0.00010, 0.000010),
        (1e4, 0.00010, 0.000010),
        (1e5, 0.00010, 0.000010),
        (1e6, 0.00010, 0.000010),
        (1e7, 0.00040, 0.000010),
        (1e8, 0.00800, 0.000100),
    ),
    "CURR": (
        # OUR READING, as the 12100 station files state it: no public DAQ970A DCI table was found
        (0.0001, 0.00050, 0.00025),
        (0.01, 0.00050, 0.00020),
        (0.1, 0.00050, 0.00005),
        (1.0, 0.00100, 0.00010),
    ),
}
#: autorange moves up at 120 % of a range
_OVERRANGE = 1.2


def _no_probe(point: str, quantity: str) -> float:
    """Default probe before a plant is attached: every point reads 0."""
    del point, quantity
    return 0.0


def _nr3(value: float) -> str:
    return f"{value:+.9E}"


@dataclass
class _Config:
    function: str = "VOLT"
    range: float | None = None  # None: autorange
    channels: list[int] = field(default_factory=list)


class SimKeysightDAQ970A(SimInstrument):
    """DAQ970A + DAQM901A (slot 1); `probe` is set by the plant to read true point values."""

    VENDOR = "Keysight Technologies"
    MODEL = "DAQ970A"
    FIRMWARE = "A.03.02-01.00-03.02-00.02-02-01"

    def __init__(self, role: str, channels: dict[str, str], seed: int = 0, serial: str = "") -> None:
        self.probe: Probe = _no_probe
        self._config = _Config()
        super().__init__(role, channels, seed=seed, serial=serial or "MY58010042")
        self._points = {int(ch): point for point, ch in self.channels.items()}
        e = self.engine
        for pattern, function in (
            ("VOLTage[:DC]", "VOLT"),
            ("RESistance", "RES"),
            ("CURRent[:DC]", "CURR"),
        ):
            e.add(f"MEASure:{pattern}?", self._measure_handler(function))
            e.add(f"CONFigure:{pattern}", self._configure_handler(function))
        e.add("ROUTe:SCAN", self._set_scan)
        e.add("ROUTe:SCAN?", self._get_scan)
        e.add("READ?", self._read)

    def reset(self) -> None:
        """*RST: DC volts, autorange, empty scan list."""
        self._config = _Config()

    def outputs(self) -> dict[str, object]:
        return {"function": self._config.function, "scan": list(self._config.channels)}

    # --- helpers ------------------------------------------------------------------------------

    def _check(self, function: str, channels: list[int] | None) -> list[int]:
        if not channels:
            raise ScpiError(MISSING_PARAMETER, "channel list")
        for ch in channels:
            if ch not in VOLTAGE_CHANNELS and ch not in CURRENT_CHANNELS:
                raise ScpiError(HARDWARE_MISSING, f"no channel {ch} installed", text="Hardware missing")
            if (function == "CURR") != (ch in CURRENT_CHANNELS):
                raise ScpiError(
                    SETTINGS_CONFLICT, f"{function} not allowed on {ch}", text="Settings conflict"
                )
        return list(channels)

    def _range(self, call: Call, function: str) -> float | None:
        """The <range> parameter: AUTO/DEF (or absent) is autorange, MIN/MAX or a value picks one."""
        word = call.args[0].strip().upper() if call.args else "AUTO"
        if word in ("AUTO", "DEF", "DEFAULT"):
            return None
        ranges = [r for r, _, _ in _ACCURACY[function]]
        if word in ("MIN", "MINIMUM"):
            return ranges[0]
        value = abs(call.number(0, maximum=ranges[-1], minimum=-ranges[-1]))
        return next(r for r in ranges if value <= r)

    def _reading(self, function: str, channel: int, fixed: float | None) -> float:
        point = self._points.get(channel)
        open_input = math.inf if function == "RES" else 0.0  # a channel with nothing wired to it
        true = open_input if point is None else self.probe(point, function)
        table = _ACCURACY[function]
        if math.isinf(true) or math.isnan(true):
            return OVERLOAD
        for full_scale, gain, offset in table:
            if fixed is not None and full_scale < fixed:
                continue
            if abs(true) <= full_scale * _OVERRANGE:
                return true + self.rng.uniform(-0.5, 0.5) * (gain * abs(true) + offset * full_scale)
            if fixed is not None:
                break
        return OVERLOAD

    # --- SCPI handlers -----------------------------------------------------------------------

    def _measure_handler(self, function: str) -> Callable[[Call], str]:
        def handler(call: Call) -> str:
            channels = self._check(function, call.channels)
            fixed = self._range(call, function)
            self._config = _Config(function, fixed, channels)
            return ",".join(_nr3(self._reading(function, ch, fixed)) for ch in channels)

        return handler

    def _configure_handler(self, function: str) -> Callable[[Call], None]:
        def handler(call: Call) -> None:
            channels = self._check(function, call.channels)
            self._config = _Config(function, self._range(call, function), channels)

        return handler

    def _set_scan(self, call: Call) -> None:
        self._config.channels = self._check(self._config.function, call.channels)

    def _get_scan(self, call: Call) -> str:
        del call
        return "(@" + ",".join(str(c) for c in self._config.channels) + ")"

    def _read(self, call: Call) -> str:
        del call
        cfg = self._config
        if not cfg.channels:
            raise ScpiError(SETTINGS_CONFLICT, "empty scan list", text="Settings conflict")
        return ",".join(_nr3(self._reading(cfg.function, ch, cfg.range)) for ch in cfg.channels)
