"""The plant: a DUT family's electrical model of the bench with the twin of its firmware inside.

The lab (generic) owns time, transports and instruments; a plant (one per DUT family, in that
DUT's folder) wires the simulated instruments to the twin and decides what each step does.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from hil.sim.instruments.base import SimInstrument
from hil.station.model import StationModel

CanPublish = Callable[[float, int, bytes], None]


class Plant(ABC):
    """Electrical model + DUT twin; driven by the lab's clock, reached only through transports."""

    def __init__(
        self,
        station: StationModel,
        instruments: dict[str, SimInstrument],
        settings: dict[str, Any] | None,
        seed: int,
        publish: CanPublish,
    ) -> None:
        self.station = station
        self.instruments = instruments
        self.seed = seed
        self.publish = publish

    @abstractmethod
    def power_on(self, t: float) -> None:
        """Boot the DUT at time t (after construction and after a reset)."""

    @abstractmethod
    def step(self, t: float, dt: float) -> None:
        """Advance physics and firmware from t - dt to t."""

    @abstractmethod
    def max_step(self, t: float) -> float:
        """The largest step from time t that keeps the DUT's timing accurate."""

    @abstractmethod
    def serial(self, t: float, data: bytes) -> bytes:
        """Bytes arriving on the DUT's RS-485 at time t; returns the DUT's answer bytes."""

    def can_received(self, t: float, can_id: int, data: bytes) -> None:
        """A frame sent to the DUT by a bus client (default: ignored)."""
        del t, can_id, data

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """The twin's firmware settings as a plain dict (the settings-file shape)."""

    @abstractmethod
    def load_settings(self, settings: dict[str, Any]) -> None:
        """Replace the twin's firmware settings (validated; raises ValueError if invalid)."""

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """A summary of the DUT's internal state for the control port (diagnostics only)."""
