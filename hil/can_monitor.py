"""Background capture of a CAN bus with timestamps, streamed to a Vector .asc log as it arrives.

Memory stays bounded however long the run: every frame goes to the log on disk at once (python-can's
ASCWriter), and only what waiting tests need stays in memory (counts and the newest frame per ID,
and a window of the latest `WINDOW_FRAMES` frames in arrays, `hil.can_window`, which the garbage
collector has nothing of to walk). A question about older frames (`since`,
`silence`) is answered from the log on disk, so a 48 h capture costs disk, not RAM.

On a simulated station the clock tells the monitor, after each wait, which frames the lab has
put on the bus; the monitor then waits (bounded) until it has received them, so a plan sees
every frame up to "now" without racing the TCP connection.

Link faults go into the monitor's link log (`link_stats()`, kinds below), each with its time:
error frames by their SocketCAN error class (`bus_off`, `restarted`, `error_passive`,
`error_warning`, else `error_frame`; stamped with the bus timestamp), changes of python-can's
`bus.state` where the interface reports one (`bus_off`, `error_passive`, `error_active`; polled
after every wait, stamped with the station clock), frames of the DUT's IDs its codec could not
decode (`undecodable`), listeners that raised (`listener_error`) and silences of periodic
telemetry found by `silence()` (`silence`). Over socketcand an error frame carries only its class
bits (`< error CLASS SECONDS.USECONDS >`), so bus-off and restart are told apart, but not
error-passive from other controller problems: that needs an interface with `bus.state` or full
error frames (socketcan).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import can

from hil.can_window import Frame, FrameWindow
from hil.clock import Clock
from hil.errors import BenchError
from hil.link import LinkLog, LinkStats
from hil.station.model import CanBusModel

#: how long the monitor waits without a new frame for frames the lab says it has sent
CATCH_UP_TIMEOUT_S = 5.0
#: socketcand carries timestamps in whole microseconds; a frame "at" t may arrive stamped t ± 0.5 µs
TIMESTAMP_RESOLUTION_S = 1e-6
#: frames kept in memory (the newest); older ones are read back from the log on disk when asked for
WINDOW_FRAMES = 50_000
#: frames the capture thread takes from the bus at most before it records them under one lock
BATCH_FRAMES = 256
#: how long one receive waits for a frame before the capture thread looks whether it is to stop:
#: pausing or closing the capture waits for the thread, up to this long (the bus has no wake-up)
RECEIVE_POLL_S = 0.01

# SocketCAN error classes (linux/can/error.h): the arbitration ID of an error frame
CAN_ERR_TX_TIMEOUT = 0x001
CAN_ERR_LOSTARB = 0x002
CAN_ERR_CRTL = 0x004
CAN_ERR_PROT = 0x008
CAN_ERR_TRX = 0x010
CAN_ERR_ACK = 0x020
CAN_ERR_BUSOFF = 0x040
CAN_ERR_BUSERROR = 0x080
CAN_ERR_RESTARTED = 0x100
CAN_ERR_CNT = 0x200
ERROR_CLASSES: dict[int, str] = {
    CAN_ERR_TX_TIMEOUT: "TX timeout",
    CAN_ERR_LOSTARB: "lost arbitration",
    CAN_ERR_CRTL: "controller problem",
    CAN_ERR_PROT: "protocol violation",
    CAN_ERR_TRX: "transceiver status",
    CAN_ERR_ACK: "no ACK",
    CAN_ERR_BUSOFF: "bus-off",
    CAN_ERR_BUSERROR: "bus error",
    CAN_ERR_RESTARTED: "controller restarted",
    CAN_ERR_CNT: "error counters",
}
# data[1] of a CAN_ERR_CRTL error frame
CAN_ERR_CRTL_WARNING = 0x04 | 0x08  # RX or TX warning level
CAN_ERR_CRTL_PASSIVE = 0x10 | 0x20  # RX or TX error-passive
#: python-can bus states as link-log kinds
BUS_STATE_KINDS: dict[can.BusState, str] = {
    can.BusState.ACTIVE: "error_active",
    can.BusState.PASSIVE: "error_passive",
    can.BusState.ERROR: "bus_off",
}


def error_frame_kind(error_class: int, data: bytes) -> tuple[str, str]:
    """(link-log kind, named classes) of an error frame from its class bits and data bytes."""
    names = ", ".join(name for bit, name in ERROR_CLASSES.items() if error_class & bit) or "unknown class"
    if error_class & CAN_ERR_BUSOFF:
        return "bus_off", names
    if error_class & CAN_ERR_RESTARTED:
        return "restarted", names
    if error_class & CAN_ERR_CRTL and len(data) > 1:
        if data[1] & CAN_ERR_CRTL_PASSIVE:
            return "error_passive", names
        if data[1] & CAN_ERR_CRTL_WARNING:
            return "error_warning", names
    return "error_frame", names


@dataclass(frozen=True)
class Silence:
    """A stretch with no frame of the watched IDs: from the last one (or the window start) to the next."""

    start: float
    end: float
    ids: tuple[int, ...]
    limit_s: float  # the longest gap allowed (cycles × period)

    @property
    def duration(self) -> float:
        return self.end - self.start

    def describe(self) -> str:
        ids = ", ".join(f"{i:#x}" for i in self.ids)
        return (
            f"no frame of {ids} for {self.duration:.3f} s (allowed {self.limit_s:g} s), "
            f"t={self.start:.3f} s to {self.end:.3f} s"
        )


def open_bus(interface: str, channel: str, bitrate: int, **kwargs: Any) -> can.BusABC:
    """Open a python-can bus as the station file describes it."""
    params: dict[str, Any] = {"interface": interface, "channel": channel}
    # python-can's socketcand client warns on every read that ends inside a frame (harmless)
    logging.getLogger("can.interfaces.socketcand.socketcand").setLevel(logging.ERROR)
    # python-can's pcan module warns on import that the optional `uptime` package is missing: the
    # monitor stamps frames with the station clock, not the adapter's, so that is noise here
    logging.getLogger("can.pcan").addFilter(lambda record: "uptime library" not in record.getMessage())
    if interface == "socketcand":
        params.update(host=kwargs["host"], port=kwargs["port"])
    else:
        params["bitrate"] = bitrate
    try:
        return can.Bus(**params)
    except Exception as exc:  # python-can raises backend-specific types
        raise BenchError(f"CAN bus {interface}:{channel} could not be opened: {exc}") from exc


def open_station_bus(bus: CanBusModel) -> can.BusABC:
    """Open the CAN bus a station file names (its `buses.can`): the one spelling of `open_bus` for it."""
    return open_bus(bus.interface, bus.channel, bus.bitrate, host=bus.host, port=bus.port)


class _StreamLog:
    """The capture's log file: every frame appended as it arrives (Vector ASCII, python-can's writer)."""

    def __init__(self, path: Path | None) -> None:
        self.temporary = path is None
        if path is None:
            fd, name = tempfile.mkstemp(prefix="hil-can-", suffix=".asc")
            os.close(fd)
            path = Path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.writer = can.ASCWriter(str(path))
        self.t0: float | None = None  # the first frame's timestamp: the log's times are relative to it
        self.closed = False

    def write(self, batch: list[can.Message]) -> None:
        """Append frames: python-can's messages they were received as, logged as they are (on the
        log's channel) instead of new ones: one message fewer per frame of a busy bus."""
        if self.t0 is None and batch:
            self.t0 = batch[0].timestamp
        log = self.writer.on_message_received
        for msg in batch:
            msg.channel = LOG_CHANNEL
            log(msg)

    def flush(self) -> None:
        if not self.closed:
            self.writer.file.flush()

    def read(self) -> Iterator[Frame]:
        """Every frame of the log in order, with its station-clock timestamp."""
        self.flush()
        if self.t0 is None:
            return
        t0 = self.t0
        with can.ASCReader(str(self.path), relative_timestamp=True) as reader:
            for msg in reader:
                yield Frame(t0 + msg.timestamp, msg.arbitration_id, bytes(msg.data), msg.is_error_frame)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.writer.stop()


#: the channel the capture's messages carry (python-can's ASC writer logs it as channel 2)
LOG_CHANNEL = 1


def _frame(msg: can.Message) -> Frame:
    return Frame(msg.timestamp, msg.arbitration_id, bytes(msg.data), msg.is_error_frame)


def _message(f: Frame) -> can.Message:
    return can.Message(
        timestamp=f.timestamp,
        arbitration_id=f.arbitration_id,
        data=f.data,
        is_extended_id=f.arbitration_id > 0x7FF,
        is_error_frame=f.is_error_frame,
        channel=LOG_CHANNEL,
    )


class CanMonitor:
    """Receives every frame in a thread; streams it to the log, keeps a bounded window, tells listeners.

    `log_path` is the capture's .asc file (a temporary file when None; `save()` puts it where asked).
    """

    def __init__(
        self,
        bus: can.BusABC,
        clock: Clock,
        reopen: Callable[[], can.BusABC] | None = None,
        log_path: Path | None = None,
        window: int = WINDOW_FRAMES,
    ) -> None:
        self.bus = bus
        self.clock = clock
        self.reopen = reopen
        self.gaps: list[tuple[float, float]] = []  # capture paused from, to (station time)
        self.window = FrameWindow(window)  # the newest frames
        self.total = 0  # frames received since the capture started
        self.listeners: list[Callable[[Frame], None]] = []
        self.link = LinkLog("can")
        self._log = _StreamLog(log_path)
        self._lock = threading.Condition()
        self._bus_state: can.BusState | None = can.BusState.ACTIVE
        self._silences_logged: set[tuple[float, tuple[int, ...]]] = set()
        self._running = True
        self._latest = -1.0
        self._counts: Counter[int] = Counter()  # frames received per arbitration ID
        self._newest: dict[int, Frame] = {}  # the newest frame per arbitration ID
        self._subscribed_at = clock.now()
        self._started_at = self._subscribed_at
        self._thread = self._start()
        self.poll_bus_state()
        clock.add_sync_hook(self._catch_up)

    @property
    def log_path(self) -> Path:
        """Where the capture is being streamed."""
        return self._log.path

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
                msg = self.bus.recv(timeout=RECEIVE_POLL_S)
            except Exception:  # the bus went away; stop quietly, close() reports nothing lost
                break
            if msg is None:
                continue
            batch, gone = [msg], False  # and what the bus holds already: one lock, one wake-up for all
            while len(batch) < BATCH_FRAMES:
                try:
                    msg = self.bus.recv(timeout=0.0)
                except Exception:  # the bus went away: record what came before, then stop
                    gone = True
                    break
                if msg is None:
                    break
                batch.append(msg)
            self._tell(batch)
            self._record(batch)
            if gone:
                break

    def _tell(self, batch: list[can.Message]) -> None:
        """Log the batch's error frames and hand each frame to the listeners, in arrival order."""
        for msg in batch:
            if not (msg.is_error_frame or self.listeners):
                continue
            frame = _frame(msg)
            if frame.is_error_frame:
                kind, names = error_frame_kind(frame.arbitration_id, frame.data)
                detail = f"error frame class {frame.arbitration_id:#05x}: {names}"
                self.link.add(kind, frame.timestamp, detail, frame.data)
            # listeners first: once a waiting test sees the frame counted, they have seen it too
            for listener in list(self.listeners):
                try:
                    listener(frame)
                except Exception as exc:  # a listener's bug must not stop the capture
                    detail = f"{getattr(listener, '__qualname__', listener)}: {type(exc).__name__}: {exc}"
                    self.link.add("listener_error", frame.timestamp, detail, frame.data)

    def _record(self, batch: list[can.Message]) -> None:
        """Stream the batch to the log and into the window, count it, and wake the waiting tests.

        Nothing recorded outlives the batch but the newest frame per ID: the collector has no
        per-frame objects to carry through its generations.
        """
        with self._lock:
            self._log.write(batch)
            self.window.extend(batch)
            self._counts.update(msg.arbitration_id for msg in batch)
            newest = self._newest
            for msg in {msg.arbitration_id: msg for msg in batch}.values():  # the last of each ID
                newest[msg.arbitration_id] = _frame(msg)
            self.total += len(batch)
            self._latest = max(self._latest, max(msg.timestamp for msg in batch))
            self._lock.notify_all()

    def newest(self, arbitration_id: int) -> Frame | None:
        """The newest frame of one ID (None if none was received)."""
        with self._lock:
            return self._newest.get(arbitration_id)

    def _frames(self, t0: float, t1: float = float("inf")) -> list[Frame]:
        """Frames in [t0, t1]: from the window, or from the log when t0 lies before the window.

        The log is read under the lock (the capture waits meanwhile; the bus buffers), so no line is
        read half-written.
        """
        with self._lock:
            if t0 > self.window.dropped_t:
                return self.window.between(t0, t1)
            return [f for f in self._log.read() if t0 <= f.timestamp <= t1]

    def count(self, arbitration_id: int) -> int:
        """Frames of one ID received so far."""
        with self._lock:
            return self._counts.get(arbitration_id, 0)

    def wait_count(self, arbitration_id: int, at_least: int, timeout_s: float) -> bool:
        """Wait (wall time) until `at_least` frames of the ID have been received."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._counts.get(arbitration_id, 0) < at_least:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
            return True

    def undecodable(self, frame: Frame, reason: str) -> None:
        """Count a frame of the DUT's IDs that its codec could not decode (a listener calls this)."""
        self.link.add("undecodable", frame.timestamp, f"{frame.arbitration_id:#x}: {reason}", frame.data)

    def poll_bus_state(self) -> can.BusState | None:
        """Read `bus.state` (where the interface has one); a change is logged at the station time.

        Called after every wait and by `link_stats()`, in the caller's thread (the clock is not
        thread-safe). None once the interface has shown it cannot report a state.
        """
        if self._bus_state is None:
            return None
        try:
            state = self.bus.state
        except Exception:  # NotImplementedError, a driver error: stop asking
            self._bus_state = None
            return None
        if state != self._bus_state:
            self._bus_state = state
            kind = BUS_STATE_KINDS.get(state, "bus_state")
            self.link.add(kind, self.clock.now(), f"bus.state is {state.name}")
        return state

    def link_stats(self) -> LinkStats:
        """The CAN link's counters and latest events (the bus state polled first)."""
        self.poll_bus_state()
        return self.link.stats()

    def silence(
        self,
        arbitration_ids: Iterable[int],
        period_s: float,
        cycles: float = 3.0,
        since: float | None = None,
        until: float | None = None,
        record: bool = True,
    ) -> list[Silence]:
        """Stretches in [since, until] longer than `cycles` periods without a frame of these IDs.

        For a DUT's periodic telemetry while it should be awake (the window is the caller's to
        choose: default from when the capture started to now). Capture pauses (`paused()`) are
        not silences. With `record`, each new one is logged as a `silence` event (a finding).
        """
        if period_s <= 0 or cycles <= 0:
            raise ValueError("period_s and cycles must be > 0")
        ids = tuple(sorted(set(arbitration_ids)))
        t0 = self._started_at if since is None else since
        t1 = self.clock.now() if until is None else until
        limit = cycles * period_s
        pauses = [(a, b) for a, b in self.gaps if b >= t0 and a <= t1]
        times = [
            f.timestamp for f in self._frames(t0, t1) if not f.is_error_frame and f.arbitration_id in ids
        ]
        points = sorted({t0, t1, *times, *(t for pause in pauses for t in pause if t0 <= t <= t1)})
        found = []
        eps = TIMESTAMP_RESOLUTION_S
        for start, end in itertools.pairwise(points):
            if end - start <= limit + eps:
                continue
            if any(a <= start + eps and end <= b + eps for a, b in pauses):
                continue  # the capture was paused: nothing can be said about the bus
            found.append(Silence(start, end, ids, limit))
        if record:
            for gap in found:
                key = (round(gap.start, 6), ids)
                if key not in self._silences_logged:
                    self._silences_logged.add(key)
                    self.link.add("silence", gap.start, gap.describe())
        return found

    def _catch_up(self, counters: dict[str, float]) -> None:
        self.poll_bus_state()
        target = counters.get("can_last_t")
        if target is None or target <= self._subscribed_at:
            return
        # a long wait may have put hundreds of thousands of frames on the bus at once: give up
        # only when no frame has arrived for CATCH_UP_TIMEOUT_S, not after a fixed total
        deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
        with self._lock:
            seen = self._latest
            while self._latest < target - TIMESTAMP_RESOLUTION_S:
                if self._latest > seen:
                    seen, deadline = self._latest, time.monotonic() + CATCH_UP_TIMEOUT_S
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    alive = self._thread.is_alive()
                    raise BenchError(
                        f"CAN monitor: frames up to t={target:.3f} s did not arrive: none for "
                        f"{CATCH_UP_TIMEOUT_S:g} s (latest received t={self._latest:.3f} s, receiver "
                        f"running: {alive})"
                    )
                self._lock.wait(min(remaining, 0.5))

    def since(self, t0: float, arbitration_id: int | None = None) -> list[Frame]:
        """Frames with timestamp >= t0 (optionally of one ID)."""
        return [f for f in self._frames(t0) if arbitration_id is None or f.arbitration_id == arbitration_id]

    def save(self, path: Path) -> Path:
        """The capture as .asc (the streamed log itself, moved there) or .blf (converted), by suffix."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._log.flush()
        if path.suffix.lower() == ".asc":
            if path.resolve() != self._log.path.resolve():
                shutil.copyfile(self._log.path, path)
            return path
        with can.Logger(str(path)) as writer:
            for f in self._log.read():
                writer.on_message_received(_message(f))
        return path

    def close(self) -> None:
        """Stop the capture and close the log (a temporary log is kept until `discard()`)."""
        self.clock.remove_sync_hook(self._catch_up)
        self._running = False
        self._thread.join(2)
        self.bus.shutdown()
        with self._lock:
            self._log.flush()

    def discard(self) -> None:
        """Close the log file; a temporary one is deleted (call after `save()`)."""
        with self._lock:
            self._log.close()
        if self._log.temporary:
            self._log.path.unlink(missing_ok=True)
