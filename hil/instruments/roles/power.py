"""The roles that source or sink the DUT's power: the charger, the load and the cell emulator."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from functools import cached_property

from hil.instruments.roles.role import Role

#: a cell voltage this close to the programmed one is the same setting (V): not sent again
SAME_V = 1e-9


class PowerSupply(Role):
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


class ElectronicLoad(Role):
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


class CellEmulator(Role):
    """Two-quadrant cell sources, one channel per cell (terminals CELL1..CELLn).

    The driver remembers what it programmed per cell, so a new cell voltage is also checked
    against the stack's limit (the pack voltage the cells add up to) before it is sent.
    """

    @cached_property
    def programmed(self) -> dict[str, float]:
        """The voltage last programmed per cell terminal (empty until the first is set)."""
        return {}

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
        """Every cell, in cell order: `set_cell_voltages` of them all."""
        self.set_cell_voltages(dict(zip(self.cells, volts, strict=True)))

    def set_cell_voltages(self, volts: Mapping[str, float]) -> None:
        """Several cells, each to its own voltage; a cell already programmed to its value (within
        SAME_V) is not sent again, so a caller may pass every cell and only the changes go out."""
        programmed = self.programmed
        changed = {
            cell: value
            for cell, value in volts.items()
            if (old := programmed.get(cell)) is None or abs(value - old) > SAME_V
        }
        if changed:
            self.program_cells(changed)

    def program_cells(self, volts: Mapping[str, float]) -> None:
        """Send several cells' voltages, no matter what was programmed (a driver may send them in
        one message): the step under `set_cell_voltages`."""
        for cell, value in volts.items():
            self.set_voltage(cell, value)

    @abstractmethod
    def set_current_limit(self, cell: str, amps: float) -> None: ...

    @abstractmethod
    def set_output(self, on: bool, cells: Sequence[str] | None = None) -> None: ...

    @abstractmethod
    def output_is_on(self, cell: str) -> bool: ...

    def outputs_on(self) -> dict[str, bool]:
        """Whether each cell's output is on, in cell order (a driver may ask for all in one query)."""
        return {cell: self.output_is_on(cell) for cell in self.cells}

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
