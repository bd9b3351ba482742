"""The roles around the DUT: a climatic chamber for its air and a pressure controller for its enclosure."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from hil.clock import Clock
from hil.instruments.roles.role import Role


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


class ClimaticChamber(Role):
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


class PressureController(Role):
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
