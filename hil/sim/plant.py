"""The plant: a DUT family's electrical model of the bench with the twin of its firmware inside.

The lab (generic) owns time, transports and instruments; a plant (one per DUT family, in that
DUT's folder) wires the simulated instruments to the twin and decides what each step does.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from hil.sim.instruments.base import SimInstrument
from hil.station.model import StationModel

CanPublish = Callable[[float, int, bytes], None]
#: times closer than this are the same instant (the lab's steps land on the end of an advance)
TIME_EPS_S = 1e-9
#: the shortest step the lab takes, whatever the plant allows
MIN_LAB_STEP_S = 1e-6


def lab_step(t: float, end: float, allowed: float) -> tuple[float, float]:
    """The lab's next step from t towards `end` when the plant allows `allowed` seconds: the time
    reached and the step. One rule for the lab and for a plant that runs the lab's steps itself
    (a held step), so both land on the same floating-point times."""
    step = min(end - t, max(allowed, MIN_LAB_STEP_S))
    return (end if end - (t + step) < TIME_EPS_S else t + step), step


def corrupt_bytes(mode: str, answer: bytes, rng: random.Random) -> bytes:
    """A serial answer as a line fault of `mode` delivers it, knowing no framing (the default).

    silent: nothing; truncate: the first half; garbage: random bytes of the same length;
    checksum and length: the last byte inverted; address (and anything else): unchanged.
    """
    if mode == "silent" or not answer:
        return b""
    if mode == "truncate":
        return answer[: max(1, len(answer) // 2)]
    if mode == "garbage":
        return bytes(rng.randrange(256) for _ in answer)
    if mode in ("checksum", "length"):
        return answer[:-1] + bytes([answer[-1] ^ 0xFF])
    return answer


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
    def step(self, t: float, dt: float) -> float | None:
        """Advance physics and firmware from t - dt to t; a plant that stopped earlier (its
        state changed where stepping on would need new inputs) returns the time it reached."""

    @abstractmethod
    def max_step(self, t: float) -> float:
        """The largest step from time t that keeps the DUT's timing accurate (unbounded where the
        plant keeps the timing itself and stops its step early, see `step`)."""

    def serial(self, t: float, data: bytes) -> bytes:
        """Bytes arriving on the DUT's serial bus (rs485) at time t; returns the DUT's answer bytes
        (default: a DUT without a serial port answers nothing)."""
        del t, data
        return b""

    def modbus_tcp(self, t: float, data: bytes) -> bytes:
        """Bytes arriving on the DUT's Modbus TCP port at time t (served only when the family declares
        `modbus_tcp`); returns the answer bytes (default: none). A family decodes them with pymodbus."""
        del t, data
        return b""

    def corrupt_answer(self, mode: str, answer: bytes, rng: random.Random) -> bytes:
        """The DUT's serial answer spoilt by a line fault of `mode` (control port `rs485_fault`);
        a family whose protocol has frames overrides this to spoil one field at a time."""
        return corrupt_bytes(mode, answer, rng)

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
