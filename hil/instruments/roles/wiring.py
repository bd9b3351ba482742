"""The roles on the DUT's sensor and signal wiring: NTC emulation, measurement and fault relays."""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Callable, Mapping

from hil.instruments.roles.role import Role


class TemperatureEmulator(Role):
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


class Dmm(Role):
    """A DMM or data-acquisition unit with a multiplexer: voltages, resistances, contacts."""

    @abstractmethod
    def measure_dc_voltage(self, point: str) -> float: ...

    @abstractmethod
    def measure_resistance(self, point: str) -> float:
        """2-wire resistance (a relay contact, a termination resistor); an open circuit reads as the
        instrument's overload value."""

    @abstractmethod
    def measure_dc_current(self, point: str) -> float: ...

    def safe(self) -> None:
        """A DMM drives nothing: there is nothing to switch off."""

    def output_state(self) -> dict[str, object]:
        return {}

    def state_is_safe(self, state: Mapping[str, object]) -> bool:
        del state
        return True

    def contact_closed(self, point: str, threshold_ohm: float = 10.0) -> bool:
        """A relay contact is closed when its resistance is below `threshold_ohm`."""
        return self.measure_resistance(point) < threshold_ohm


class Switch(Role):
    """Relays that insert faults into the DUT's wiring (terminals are fault points, e.g. "HVIL_OPEN"),
    close the DUT's dry-contact inputs (terminals such as "DI1") or connect fixture loads.

    Each terminal is one relay wired so that closing it inserts the fault, closes the input or
    applies the load, and opening it restores the healthy, released, unloaded wiring; every relay
    open is therefore the safe (and power-on) state.
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
