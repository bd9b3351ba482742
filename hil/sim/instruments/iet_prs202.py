"""Simulated bank of IET Labs PRS-202 resistance substituters behind a Prologix GPIB-ETHERNET.

One raw socket reaches the controller; lines starting with ``++`` are controller commands
(``++addr``, ``++auto``, ``++mode``, ``++read``, ``++clr``, ``++ver``; others accepted and
ignored), every other line goes to the unit at the current GPIB address. With ``++auto 0``
(the default here) an answer waits in the unit until ``++read``; with ``++auto 1`` it comes
back at once. A line for an address where no unit listens is lost, as on a real bus.

Each unit: ``SOURce:DATA <10 digits>`` and its query, IEEE 488.2 common commands, and a real
Standard Event Status Register: a bad command sets the command-error bit (32), a malformed
resistance string the execution-error bit (16); ``*ESR?`` reads and clears it. Digits for
decades the unit lacks are ignored, as the manual describes. The programmed resistance has a
seeded deviation within the tolerance class (0.05 %, code A), fixed per setting like a real
decade; the residual (zero) resistance and the relay switching transients are not modelled.
The plant reads each channel (GPIB address) through ResistancePort.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hil.sim.instruments.base import SimInstrument
from hil.sim.scpi import ILLEGAL_PARAMETER_VALUE, Call, ScpiEngine, ScpiError

DECADES = 7
STEP_OHM = 0.1
TOLERANCE = 0.0005
OPEN_CHARS = "159"
SHORT_CHARS = "2367"
CONTROLLER_VERSION = "Prologix GPIB-ETHERNET Controller version 01.06.06.00"
#: power-on / *RST output of the sim: open circuit (the safe state for an NTC input)
POWER_ON_DATA = "0" * (9 - DECADES) + "1" + "0" * DECADES
_ESR_BIT = ((-199, -100, 32), (-299, -200, 16), (-399, -300, 8), (-499, -400, 4))


class _UnitEngine(ScpiEngine):
    """An SCPI engine whose errors also set the IEEE 488.2 event status bits, read by *ESR?."""

    esr: int

    def __post_init__(self) -> None:
        super().__post_init__()
        self.esr = 0
        replaced = ("*ESR", "*CLS")
        self._commands = [c for c in self._commands if not (c.nodes and c.nodes[0].long in replaced)]
        self.add("*ESR?", self._read_esr)
        self.add("*CLS", self._clear)

    def _read_esr(self, call: Call) -> str:
        del call
        value, self.esr = self.esr, 0
        return str(value)

    def _clear(self, call: Call) -> None:
        del call
        self.esr = 0
        self._errors.clear()

    def push_error(self, entry: str) -> None:
        super().push_error(entry)
        code = int(entry.split(",", 1)[0])
        for low, high, bit in _ESR_BIT:
            if low <= code <= high:
                self.esr |= bit


@dataclass
class _Unit:
    engine: _UnitEngine
    data: str = POWER_ON_DATA
    actual: float = 0.0
    pending: str | None = None


class SimIetPrs202Bank(SimInstrument):
    """PRS-202 units at the GPIB addresses named in `channels` (terminal -> address)."""

    VENDOR = "IET Labs"
    MODEL = "PRS-202-A-7-100m-0-1"
    FIRMWARE = "D6"

    def __init__(self, role: str, channels: dict[str, str], seed: int = 0, serial: str = "") -> None:
        self.units: dict[int, _Unit] = {}
        self.address = 0
        self.auto = False
        self.mode = 1
        super().__init__(role, channels, seed=seed, serial=serial or "D6-02112")
        for address in sorted({int(a) for a in self.channels.values()}):
            self.units[address] = self._make_unit(address)
        # As a controller saved with "++addr <first unit>" and "++auto 1" (++savecfg) powers up, so
        # that plain VISA tools get answers from the first unit; the driver sets its own mode.
        self.address = min(self.units, default=0)
        self.auto = True

    def _make_unit(self, address: int) -> _Unit:
        idn = f"{self.VENDOR},{self.MODEL},{self.serial}{address:02d},{self.FIRMWARE}"
        unit = _Unit(_UnitEngine(idn=idn))
        unit.engine.add("*RST", lambda c: self._program(unit, POWER_ON_DATA))
        unit.engine.add("SOURce:DATA", lambda c: self._set_data(unit, c))
        unit.engine.add("SOURce:DATA?", lambda c: unit.data)
        return unit

    def reset(self) -> None:
        """Power cycle: every unit back to its power-on output (open), nothing pending."""
        for unit in self.units.values():
            self._program(unit, POWER_ON_DATA)
            unit.pending = None
            unit.engine.esr = 0

    # --- the plant's side (ResistancePort) ---------------------------------------------------

    def resistance(self, channel: int) -> float | None:
        """Ohms between the unit's terminals; None when open."""
        unit = self.units[channel]
        mode = unit.data[-DECADES - 1]
        if mode in OPEN_CHARS:
            return None
        if mode in SHORT_CHARS:
            return 0.0
        return unit.actual

    def outputs(self) -> dict[str, object]:
        return {str(a): ("open" if self.resistance(a) is None else self.resistance(a)) for a in self.units}

    # --- the units ----------------------------------------------------------------------------

    def _program(self, unit: _Unit, data: str) -> None:
        unit.data = data
        nominal = int(data[-DECADES:]) * STEP_OHM
        unit.actual = self.error_term(nominal, 2 * TOLERANCE, 0.0)

    def _set_data(self, unit: _Unit, call: Call) -> None:
        call.require(1)
        text = call.args[0].strip()
        if len(text) != 10 or not text.isdigit():
            raise ScpiError(ILLEGAL_PARAMETER_VALUE, f"resistance string {text!r}")
        self._program(unit, text)

    def settings_version(self) -> int:
        """Changes whenever a command ran on any unit of the bank."""
        return self.engine.commands_executed + sum(u.engine.commands_executed for u in self.units.values())

    def on_settings_change(self, callback: Callable[[], None]) -> None:
        super().on_settings_change(callback)
        for unit in self.units.values():
            unit.engine.listeners.append(callback)

    def forget_listeners(self) -> None:
        super().forget_listeners()
        for unit in self.units.values():
            unit.engine.listeners.clear()

    # --- the controller -----------------------------------------------------------------------

    def execute(self, line: str) -> str | None:
        text = line.strip()
        if text.startswith("++"):
            return self._controller(text[2:].split())
        unit = self.units.get(self.address)
        if unit is None:
            return None
        answer = unit.engine.execute(text)
        if answer is None or self.auto:
            return answer
        unit.pending = answer
        return None

    def _controller(self, words: list[str]) -> str | None:
        if not words:
            return None
        name, args = words[0].lower(), words[1:]
        unit = self.units.get(self.address)
        if name in ("addr", "auto", "mode"):
            if not args:
                return str({"addr": self.address, "auto": int(self.auto), "mode": self.mode}[name])
            value = int(args[0])
            if name == "addr":
                self.address = value
            elif name == "auto":
                self.auto = bool(value)
            else:
                self.mode = value
            return None
        if name == "read":
            answer = unit.pending if unit is not None else None
            if unit is not None:
                unit.pending = None
            return answer
        if name == "clr" and unit is not None:
            unit.pending = None
        if name == "ver":
            return CONTROLLER_VERSION
        return None
