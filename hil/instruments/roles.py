"""The instrument roles of a BMS bench: small abstract interfaces that test procedures use.

Terminals are the DUT's names (e.g. "CELL1", "T_CELL1", "PACK"); each driver maps them to its
own channels through the station file, so a plan never names an instrument channel.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from hil.instruments.base import InstrumentInfo, ScpiInstrument
from hil.instruments.transport import Transport


@dataclass(frozen=True)
class Reading:
    """A measured value with the time it was taken on the station's clock."""

    value: float
    unit: str
    time: float


class PowerSupply(ScpiInstrument, ABC):
    """A DC source in CV/CC (the charger on P+/P-)."""

    @abstractmethod
    def set_voltage(self, volts: float) -> None: ...

    @abstractmethod
    def set_current_limit(self, amps: float) -> None: ...

    @abstractmethod
    def set_output(self, on: bool) -> None: ...

    @abstractmethod
    def output_is_on(self) -> bool: ...

    @abstractmethod
    def measure_voltage(self) -> float: ...

    @abstractmethod
    def measure_current(self) -> float: ...

    def safe(self) -> None:
        self.set_output(False)

    def output_state(self) -> dict[str, object]:
        return {"output": self.output_is_on()}

    def state_is_safe(self, state: Mapping[str, object]) -> bool:
        return state.get("output") is False


class ElectronicLoad(ScpiInstrument, ABC):
    """A DC electronic load: constant current, short circuit and current pulses."""

    @abstractmethod
    def set_cc(self, amps: float) -> None:
        """Constant-current mode at `amps` (positive, drawn from the DUT)."""

    @abstractmethod
    def set_input(self, on: bool) -> None: ...

    @abstractmethod
    def input_is_on(self) -> bool: ...

    @abstractmethod
    def set_short(self, on: bool) -> None:
        """Short-circuit the input (the load's short mode)."""

    @abstractmethod
    def pulse(self, high_a: float, width_s: float, low_a: float = 0.0) -> None:
        """Arm and fire one current pulse of `high_a` for `width_s`, returning to `low_a`."""

    @abstractmethod
    def measure_voltage(self) -> float: ...

    @abstractmethod
    def measure_current(self) -> float: ...

    def safe(self) -> None:
        self.set_short(False)
        self.set_input(False)

    def output_state(self) -> dict[str, object]:
        return {"input": self.input_is_on()}

    def state_is_safe(self, state: Mapping[str, object]) -> bool:
        return state.get("input") is False and state.get("short", False) is False


class CellEmulator(ScpiInstrument, ABC):
    """Two-quadrant cell sources, one channel per cell (terminals CELL1..CELLn).

    The driver remembers what it programmed per cell, so a new cell voltage is also checked
    against the stack's limit (the pack voltage the cells add up to) before it is sent.
    """

    def __init__(self, info: InstrumentInfo, transport: Transport) -> None:
        super().__init__(info, transport)
        self.programmed: dict[str, float] = {}

    def check_voltage(self, cell: str, volts: float) -> None:
        """Refuse a cell voltage beyond the per-cell or the stack limit (nothing is sent)."""
        self.info.limits.check(self.name, "voltage", volts)
        others = sum(v for c, v in self.programmed.items() if c != cell)
        self.info.limits.check_sum(self.name, others + volts)

    @property
    def cells(self) -> list[str]:
        """The cell terminals this emulator drives, in cell order."""
        return sorted(self.info.channels, key=lambda t: int("".join(c for c in t if c.isdigit()) or 0))

    @abstractmethod
    def set_voltage(self, cell: str, volts: float) -> None: ...

    def set_voltages(self, volts: Sequence[float]) -> None:
        """Set every cell, in cell order."""
        for cell, value in zip(self.cells, volts, strict=True):
            self.set_voltage(cell, value)

    @abstractmethod
    def set_current_limit(self, cell: str, amps: float) -> None: ...

    @abstractmethod
    def set_output(self, on: bool, cells: Sequence[str] | None = None) -> None: ...

    @abstractmethod
    def output_is_on(self, cell: str) -> bool: ...

    @abstractmethod
    def measure_voltage(self, cell: str) -> float: ...

    @abstractmethod
    def measure_current(self, cell: str) -> float:
        """Current out of the channel (A); balancing bleed shows up here."""

    def safe(self) -> None:
        self.set_output(False)

    def output_state(self) -> dict[str, object]:
        return {cell: {"on": self.output_is_on(cell)} for cell in self.cells}

    def state_is_safe(self, state: Mapping[str, object]) -> bool:
        return all(isinstance(ch, Mapping) and ch.get("on") is False for ch in state.values())


class TemperatureEmulator(ScpiInstrument, ABC):
    """Programmable resistances standing in for the DUT's NTCs."""

    #: the safe (neutral) resistance of every channel: 25 °C on a 10 kΩ NTC
    NEUTRAL_OHM = 10_000.0

    @abstractmethod
    def set_resistance(self, terminal: str, ohms: float) -> None: ...

    @abstractmethod
    def get_resistance(self, terminal: str) -> float: ...

    @abstractmethod
    def set_open(self, terminal: str) -> None:
        """Disconnect the channel (an open NTC)."""

    def set_temperature(self, terminal: str, celsius: float, ntc: Callable[[float], float]) -> None:
        """Emulate `celsius` through the DUT's NTC model (°C → Ω), refused beyond the temperature limits."""
        self.info.limits.check(self.name, "temperature", celsius)
        self.set_resistance(terminal, ntc(celsius))

    @abstractmethod
    def neutral(self) -> None:
        """Every channel to the resistance of a benign temperature (the safe state)."""

    def safe(self) -> None:
        self.neutral()

    def output_state(self) -> dict[str, object]:
        """Each channel's programmed resistance in Ω, or "open"."""
        state: dict[str, object] = {}
        for terminal in self.info.channels:
            ohms = self.get_resistance(terminal)
            state[terminal] = "open" if math.isinf(ohms) else ohms
        return state

    def state_is_safe(self, state: Mapping[str, object]) -> bool:
        """Every channel neutral (within 0.1 %) or open: no emulated fault temperature is left."""
        neutral = self.NEUTRAL_OHM
        return all(
            v == "open" or (isinstance(v, float | int) and abs(v - neutral) <= 1e-3 * neutral)
            for v in state.values()
        )


class Dmm(ScpiInstrument, ABC):
    """A DMM or data-acquisition unit with a multiplexer: voltages, resistances, contacts."""

    @abstractmethod
    def measure_dc_voltage(self, point: str) -> float: ...

    @abstractmethod
    def measure_resistance(self, point: str) -> float: ...

    @abstractmethod
    def measure_dc_current(self, point: str) -> float: ...

    def contact_closed(self, point: str, threshold_ohm: float = 10.0) -> bool:
        """A relay contact is closed when its resistance is below `threshold_ohm`."""
        return self.measure_resistance(point) < threshold_ohm


class Switch(ScpiInstrument, ABC):
    """Relays that insert faults into the DUT's wiring (terminals are fault points, e.g. "HVIL_OPEN").

    Each terminal is one relay wired so that closing it inserts the fault and opening it restores
    the healthy wiring; every relay open is therefore the safe (and power-on) state.
    """

    @abstractmethod
    def set_closed(self, terminal: str, closed: bool) -> None:
        """Close (insert the fault) or open (restore) the relay of `terminal`."""

    @abstractmethod
    def is_closed(self, terminal: str) -> bool: ...

    @abstractmethod
    def open_all(self) -> None:
        """Every relay of this instrument open."""

    def safe(self) -> None:
        self.open_all()

    def output_state(self) -> dict[str, object]:
        return {terminal: {"closed": self.is_closed(terminal)} for terminal in self.info.channels}

    def state_is_safe(self, state: Mapping[str, object]) -> bool:
        return all(isinstance(v, Mapping) and v.get("closed") is False for v in state.values())
