"""The instrument roles of a BMS bench: small abstract interfaces that test procedures use.

Terminals are the DUT's names (e.g. "CELL1", "T_CELL1", "PACK"); each driver maps them to its
own channels through the station file, so a plan never names an instrument channel.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from hil.clock import Clock
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


@dataclass(frozen=True)
class ChamberReading:
    """A climatic chamber's monitor: air temperature and humidity as its own sensors read them."""

    temperature: float  # °C
    humidity: float | None  # %RH; None while humidity is not controlled
    mode: str  # the controller's operating mode (CONSTANT, STANDBY, OFF, ...)
    alarms: int  # active alarms


@dataclass(frozen=True)
class Settled:
    """The outcome of waiting for a chamber or controller to settle."""

    settled: bool
    waited_s: float
    last: float | None  # the last reading of the quantity waited for
    detail: str = ""


class ClimaticChamber(ScpiInstrument, ABC):
    """A temperature/humidity chamber around the DUT (terminal AIR): setpoints, mode, monitor.

    A new setpoint takes the chamber's own ramp to reach; `wait_settled` polls its monitor until
    the air has stayed inside a band around the setpoints for the soak time (on the station's
    clock: virtual on a simulated station). Safe state: the chamber in STANDBY (no heating, cooling
    or humidifying), read back as its mode.
    """

    #: the modes in which the chamber does not drive the air
    SAFE_MODES: ClassVar[frozenset[str]] = frozenset({"STANDBY", "OFF"})

    @abstractmethod
    def set_temperature(self, celsius: float) -> None:
        """The air temperature setpoint, refused beyond the temperature limits."""

    @abstractmethod
    def set_humidity(self, percent: float | None) -> None:
        """The humidity setpoint (%RH), refused beyond the humidity limits; None: not controlled."""

    @abstractmethod
    def run(self) -> None:
        """Start controlling to the setpoints (constant mode)."""

    @abstractmethod
    def standby(self) -> None:
        """Stop controlling: no heating, cooling or humidifying."""

    @abstractmethod
    def monitor(self) -> ChamberReading: ...

    @abstractmethod
    def setpoints(self) -> tuple[float, float | None]:
        """(temperature °C, humidity %RH or None) as programmed."""

    def wait_settled(
        self,
        clock: Clock,
        band_c: float,
        band_pct: float,
        soak_s: float,
        timeout_s: float,
        poll_s: float = 1.0,
    ) -> Settled:
        """Poll until temperature (and humidity, if controlled) stay within their band of the
        setpoints for `soak_s`; gives up after `timeout_s` (waits of `poll_s` at most)."""
        target_t, target_h = self.setpoints()
        start = clock.now()
        inside_since: float | None = None
        reading = self.monitor()
        while True:
            now = clock.now()
            ok = abs(reading.temperature - target_t) <= band_c and (
                target_h is None
                or (reading.humidity is not None and abs(reading.humidity - target_h) <= band_pct)
            )
            inside_since = (inside_since if inside_since is not None else now) if ok else None
            if inside_since is not None and now - inside_since >= soak_s - 1e-9:
                return Settled(True, now - start, reading.temperature)
            if now - start >= timeout_s:
                return Settled(
                    False,
                    now - start,
                    reading.temperature,
                    f"{self.name}: not settled within {timeout_s:g} s "
                    f"(air {reading.temperature:g} °C / {reading.humidity} %RH, "
                    f"setpoints {target_t:g} °C / {target_h} %RH)",
                )
            clock.sleep(min(poll_s, max(timeout_s - (now - start), 1e-3)))
            reading = self.monitor()

    def safe(self) -> None:
        self.standby()

    def output_state(self) -> dict[str, object]:
        reading = self.monitor()
        return {"mode": reading.mode, "temperature": reading.temperature, "humidity": reading.humidity}

    def state_is_safe(self, state: Mapping[str, object]) -> bool:
        return state.get("mode") in self.SAFE_MODES


class PressureController(ScpiInstrument, ABC):
    """A pressure controller on the sealed enclosure around the DUT's pressure sensor (terminal
    ENCLOSURE): absolute setpoint, output on/off, vent, and its own in-limits (settled) flag.

    Safe state: output off and the enclosure vented to atmosphere, read back as the output state.
    """

    @abstractmethod
    def set_pressure(self, kpa: float) -> None:
        """The setpoint in kPa absolute, refused beyond the pressure limits (the reachable floor)."""

    @abstractmethod
    def set_in_limits(self, percent_fs: float, time_s: float) -> None:
        """The band (% of full scale) and time the controller's in-limits (settled) flag stands for."""

    @abstractmethod
    def set_output(self, on: bool) -> None: ...

    @abstractmethod
    def output_is_on(self) -> bool: ...

    @abstractmethod
    def vent(self) -> None:
        """Open the enclosure to atmosphere (output off first)."""

    @abstractmethod
    def measure_pressure(self) -> float:
        """The enclosure pressure (kPa absolute) on the controller's sensor."""

    @abstractmethod
    def in_limits(self) -> tuple[float, bool]:
        """(pressure, whether it has stayed within the in-limits band for the in-limits time)."""

    def wait_settled(self, clock: Clock, timeout_s: float, poll_s: float = 1.0) -> Settled:
        """Poll the controller's in-limits flag until it is set; gives up after `timeout_s`."""
        start = clock.now()
        while True:
            pressure, ok = self.in_limits()
            waited = clock.now() - start
            if ok:
                return Settled(True, waited, pressure)
            if waited >= timeout_s:
                why = f"{self.name}: not in limits within {timeout_s:g} s ({pressure:g} kPa)"
                return Settled(False, waited, pressure, why)
            clock.sleep(min(poll_s, max(timeout_s - waited, 1e-3)))

    def safe(self) -> None:
        self.set_output(False)
        self.vent()

    def output_state(self) -> dict[str, object]:
        return {"output": self.output_is_on(), "pressure": self.measure_pressure()}

    def state_is_safe(self, state: Mapping[str, object]) -> bool:
        return state.get("output") is False
