"""The lab: virtual time, simulated instruments, the CAN hub and the DUT plant, in one object."""

from __future__ import annotations

from typing import Any

from hil import registry
from hil.errors import ConfigError
from hil.sim.instruments.base import SimInstrument
from hil.sim.plant import Plant
from hil.sim.socketcand import SocketcandHub
from hil.station.model import StationModel

_EPS = 1e-9


class Lab:
    """Everything behind the simulated lab's transports; `advance(dt)` is the only way time moves."""

    def __init__(
        self, station: StationModel, settings: dict[str, Any] | None = None, seed: int | None = None
    ) -> None:
        self.station = station
        self.seed = seed if seed is not None else (station.sim.seed if station.sim else 1)
        self.family = registry.dut_family(station.dut.name)
        self.t = 0.0
        channel = station.buses.can.channel if station.buses.can else "can0"
        self.hub = SocketcandHub(channel=channel, now=lambda: self.t, on_receive=self._can_received)
        self._settings = settings
        self.instruments = self._build_instruments()
        self.plant = self._build_plant(settings)

    def _build_instruments(self) -> dict[str, SimInstrument]:
        instruments: dict[str, SimInstrument] = {}
        for name, inst in self.station.instruments.items():
            _, _, sim_ref = registry.instrument_entry(inst.driver)
            cls = registry.load(sim_ref)
            sim: SimInstrument = cls(name, inst.channels, seed=self.seed, serial=inst.serial)
            if hasattr(sim, "now"):
                sim.now = lambda: self.t
            instruments[name] = sim
        return instruments

    def _build_plant(self, settings: dict[str, Any] | None) -> Plant:
        cls = registry.load(self.family.plant)
        try:
            plant: Plant = cls(self.station, self.instruments, settings, self.seed, self.hub.publish)
        except ValueError as exc:
            raise ConfigError("firmware settings", "-", str(exc)) from None
        if hasattr(plant, "can_listeners"):
            plant.can_listeners = self.hub.listeners
        plant.power_on(self.t)
        return plant

    def _can_received(self, t: float, can_id: int, data: bytes, extended: bool) -> None:
        del extended
        self.plant.can_received(t, can_id, data)

    def advance(self, dt: float) -> None:
        """Run the plant through `dt` seconds of virtual time in steps it allows."""
        end = self.t + dt
        while end - self.t > _EPS:
            step = min(end - self.t, max(self.plant.max_step(self.t), 1e-6))
            self.t = end if end - (self.t + step) < _EPS else self.t + step
            self.plant.step(self.t, step)

    def reset(self, settings: dict[str, Any] | None = None) -> None:
        """Power-cycle: every instrument to its *RST state, a fresh DUT with the given settings."""
        for sim in self.instruments.values():
            sim.reset()
        self.plant = self._build_plant(settings if settings is not None else self._settings)

    def serial(self, data: bytes) -> bytes:
        return self.plant.serial(self.t, data)

    def outputs(self) -> dict[str, dict[str, object]]:
        """Every instrument's output state, for safe-state checks."""
        return {name: sim.outputs() for name, sim in self.instruments.items()}
