"""What the electrical model (the plant) needs from each kind of simulated instrument.

A simulated instrument keeps its own programmed state (set by SCPI); the plant reads that
state each step and reports back the terminal values it computed, which the instrument's
MEASure queries then return (with the instrument's own accuracy applied by the instrument).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class SourceSetting:
    """A programmed CV/CC source output."""

    on: bool
    voltage: float
    current_limit: float


class SourcePort(Protocol):
    """A DC supply (one output)."""

    def source(self) -> SourceSetting: ...

    def report(self, voltage: float, current: float) -> None: ...


class LoadPort(Protocol):
    """An electronic load; `demand` may vary with time (pulses, transients) and voltage."""

    def demand(self, t: float, voltage: float) -> float:
        """Current the load draws at time t (A, >= 0) if the terminal sits at `voltage`."""
        ...

    def shorted(self) -> bool: ...

    def next_change(self, t: float) -> float | None:
        """The next time after t at which the demand changes by itself (None: not scheduled)."""
        ...

    def report(self, voltage: float, current: float) -> None: ...


class MultiSourcePort(Protocol):
    """A multi-channel source (cell emulator); channels are the instrument's channel numbers."""

    def channel_setting(self, channel: int) -> SourceSetting: ...

    def settings_version(self) -> int:
        """A number that changes whenever a setting may have changed."""
        ...

    def on_settings_change(self, callback: Callable[[], None]) -> None:
        """Have `callback` called whenever `settings_version` moves."""

    def report_channel(self, channel: int, voltage: float, current: float) -> None: ...


class ResistancePort(Protocol):
    """Programmable resistances; None means the channel is open."""

    def resistance(self, channel: int) -> float | None: ...

    def settings_version(self) -> int:
        """A number that changes whenever a setting may have changed."""
        ...

    def on_settings_change(self, callback: Callable[[], None]) -> None:
        """Have `callback` called whenever `settings_version` moves."""


class Probe(Protocol):
    """How a simulated DMM asks the plant for a true value at a named point."""

    def __call__(self, point: str, quantity: str) -> float:
        """`quantity` is "VOLT", "CURR" or "RES"; `point` is the DUT terminal the channel is wired to."""
        ...


class ClimatePort(Protocol):
    """A climatic chamber: the air around the DUT."""

    def air(self, t: float) -> tuple[float, float]:
        """(°C, %RH) of the air at lab time t."""
        ...


class PressurePort(Protocol):
    """A pressure controller on a sealed enclosure around a DUT's sensor."""

    def enclosure(self, t: float) -> float:
        """The enclosure's pressure (kPa absolute) at lab time t."""
        ...
