"""Background capture of a CAN bus with timestamps, saved as a Vector .asc (or .blf) log.

On a simulated station the clock tells the monitor, after each wait, which frames the lab has
put on the bus; the monitor then waits (bounded) until it has received them, so a plan sees
every frame up to "now" without racing the TCP connection.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import can

from hil.clock import Clock
from hil.errors import BenchError

CATCH_UP_TIMEOUT_S = 5.0
#: socketcand carries timestamps in whole microseconds; a frame "at" t may arrive stamped t ± 0.5 µs
TIMESTAMP_RESOLUTION_S = 1e-6


@dataclass(frozen=True)
class Frame:
    """A received frame with its bus timestamp (the station clock's time base)."""

    timestamp: float
    arbitration_id: int
    data: bytes
    is_error_frame: bool = False


def open_bus(interface: str, channel: str, bitrate: int, **kwargs: Any) -> can.BusABC:
    """Open a python-can bus as the station file describes it."""
    params: dict[str, Any] = {"interface": interface, "channel": channel}
    # python-can's socketcand client warns on every read that ends inside a frame (harmless)
    logging.getLogger("can.interfaces.socketcand.socketcand").setLevel(logging.ERROR)
    if interface == "socketcand":
        params.update(host=kwargs["host"], port=kwargs["port"])
    else:
        params["bitrate"] = bitrate
    try:
        return can.Bus(**params)
    except Exception as exc:  # python-can raises backend-specific types
        raise BenchError(f"CAN bus {interface}:{channel} could not be opened: {exc}") from exc


class CanMonitor:
    """Receives every frame in a thread; keeps them in memory and hands them to listeners."""

    def __init__(self, bus: can.BusABC, clock: Clock, reopen: Callable[[], can.BusABC] | None = None) -> None:
        self.bus = bus
        self.clock = clock
        self.reopen = reopen
        self.gaps: list[tuple[float, float]] = []  # capture paused from, to (station time)
        self.frames: list[Frame] = []
        self.listeners: list[Callable[[Frame], None]] = []
        self._lock = threading.Condition()
        self._running = True
        self._latest = -1.0
        self._subscribed_at = clock.now()
        self._thread = self._start()
        clock.add_sync_hook(self._catch_up)

    def _start(self) -> threading.Thread:
        self._running = True
        thread = threading.Thread(target=self._run, name="can-monitor", daemon=True)
        thread.start()
        return thread

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Stop capturing (the bus is released) for a long wait, e.g. 48 h of standby; the gap is kept.

        A 48 h capture at 6 frames/s is a million frames nobody reads; the record keeps the gap.
        """
        if self.reopen is None:
            raise BenchError("this CAN monitor cannot pause: it was given no way to reopen its bus")
        start = self.clock.now()
        self._running = False
        self._thread.join(2)
        self.bus.shutdown()
        try:
            yield
        finally:
            self.bus = self.reopen()
            self._subscribed_at = self.clock.now()
            self.gaps.append((start, self._subscribed_at))
            self._thread = self._start()

    def _run(self) -> None:
        while self._running:
            try:
                msg = self.bus.recv(timeout=0.1)
            except Exception:  # the bus went away; stop quietly, close() reports nothing lost
                break
            if msg is None:
                continue
            frame = Frame(msg.timestamp, msg.arbitration_id, bytes(msg.data), msg.is_error_frame)
            with self._lock:
                self.frames.append(frame)
                self._latest = max(self._latest, frame.timestamp)
                self._lock.notify_all()
            for listener in self.listeners:
                listener(frame)

    def _catch_up(self, counters: dict[str, float]) -> None:
        target = counters.get("can_last_t")
        if target is None or target <= self._subscribed_at:
            return
        deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
        with self._lock:
            while self._latest < target - TIMESTAMP_RESOLUTION_S:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BenchError(
                        f"CAN monitor: frames up to t={target:.3f} s did not arrive "
                        f"(latest received t={self._latest:.3f} s, receiver running: {self._thread.is_alive()})"
                    )
                self._lock.wait(remaining)

    def since(self, t0: float, arbitration_id: int | None = None) -> list[Frame]:
        """Frames with timestamp >= t0 (optionally of one ID)."""
        with self._lock:
            return [
                f
                for f in self.frames
                if f.timestamp >= t0 and (arbitration_id is None or f.arbitration_id == arbitration_id)
            ]

    def save(self, path: Path) -> Path:
        """Write the capture as .asc or .blf (by suffix) with python-can's writers."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            frames = list(self.frames)
        with can.Logger(str(path)) as writer:
            for f in frames:
                writer.on_message_received(
                    can.Message(
                        timestamp=f.timestamp,
                        arbitration_id=f.arbitration_id,
                        data=f.data,
                        is_extended_id=f.arbitration_id > 0x7FF,
                        is_error_frame=f.is_error_frame,
                        channel=1,
                    )
                )
        return path

    def close(self) -> None:
        self.clock.remove_sync_hook(self._catch_up)
        self._running = False
        self._thread.join(2)
        self.bus.shutdown()
