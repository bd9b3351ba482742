"""The CAN capture's window of newest frames, kept where the garbage collector has nothing to walk.

A window of 50,000 frames as Python objects (a deque of tuples) is 50,000 pointers every full
collection of a long capture traverses, and 50,000 objects on their way through the generations.
Here the window is a ring of preallocated arrays (timestamps, IDs, payload bytes, lengths, flags):
none of it is a container the collector tracks, and recording a frame allocates nothing that
survives it. `Frame`s are made only when the window is read.

While the window's timestamps do not step back (a bus's usually do not), a query finds its frames
by bisection instead of a pass over every frame: the window counts its adjacent frames out of time
order as they come and leave.
"""

from __future__ import annotations

import bisect
import functools
import itertools
from array import array
from collections.abc import Iterable, Iterator
from typing import NamedTuple, Protocol

#: payload bytes kept in the ring per frame (classic CAN); a longer payload (CAN FD, up to 64) is
#: kept as `bytes` in a dict of atoms, which the collector does not track either
SLOT_BYTES = 8
_ERROR = 0x01  # flags: an error frame
_LONG = 0x02  # flags: the payload is in the dict of long payloads


class Frame(NamedTuple):
    """A received frame with its bus timestamp (the station clock's time base)."""

    timestamp: float
    arbitration_id: int
    data: bytes
    is_error_frame: bool = False


#: a `Frame` from a row of its fields, made in C (no Python call per frame, as `Frame._make` has)
_make_frame = functools.partial(tuple.__new__, Frame)


class Received(Protocol):
    """What the window records of a received frame (python-can's `Message` has it)."""

    @property
    def timestamp(self) -> float: ...
    @property
    def arbitration_id(self) -> int: ...
    @property
    def data(self) -> bytes | bytearray: ...
    @property
    def is_error_frame(self) -> bool: ...


class FrameWindow:
    """The newest `size` frames, oldest first; older ones are overwritten (see the module's note)."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"a frame window holds at least 1 frame, not {size}")
        self.maxlen = size
        self.dropped_t = -float("inf")  # the newest timestamp that has left the window
        self._times = array("d", bytes(8 * size))
        self._ids = array("Q", bytes(8 * size))
        self._payload = bytearray(SLOT_BYTES * size)
        self._lengths = bytearray(size)
        self._flags = bytearray(size)
        self._long: dict[int, bytes] = {}  # slot -> payload longer than SLOT_BYTES
        self._next = 0  # the slot the next frame goes to
        self._len = 0
        self._newest_t = 0.0  # the newest frame's timestamp (when there is one)
        self._steps_back = 0  # adjacent frames in the window whose newer one is not at or after the older

    def __len__(self) -> int:
        return self._len

    @property
    def in_time_order(self) -> bool:
        """Whether no frame in the window is stamped before the one received ahead of it (queries
        then bisect); a step back is forgotten once either of its two frames has left."""
        return not self._steps_back

    def extend(self, frames: Iterable[Received]) -> None:
        """Record frames in arrival order (the capture thread calls this once per batch)."""
        times, ids, payload, lengths, flags, long = (
            self._times,
            self._ids,
            self._payload,
            self._lengths,
            self._flags,
            self._long,
        )
        size, i, count, dropped = self.maxlen, self._next, self._len, self.dropped_t
        newest_t, steps_back = self._newest_t, self._steps_back
        for frame in frames:
            following = i + 1 if i + 1 < size else 0
            t = frame.timestamp
            if count == size:  # slot i holds the oldest frame: it leaves, and its pair with the next
                dropped = max(dropped, times[i])
                if flags[i] & _LONG:
                    del long[i]
                if size > 1 and not times[following] >= times[i]:
                    steps_back -= 1
                if size > 1 and not t >= newest_t:
                    steps_back += 1
            else:
                if count and not t >= newest_t:
                    steps_back += 1
                count += 1
            data = frame.data
            n = len(data)
            times[i] = newest_t = t
            ids[i] = frame.arbitration_id
            if n <= SLOT_BYTES:
                at = i * SLOT_BYTES
                payload[at : at + n] = data
                lengths[i] = n
                flags[i] = _ERROR if frame.is_error_frame else 0
            else:
                long[i] = bytes(data)
                flags[i] = _LONG | (_ERROR if frame.is_error_frame else 0)
            i = following
        self._next, self._len, self.dropped_t = i, count, dropped
        self._newest_t, self._steps_back = newest_t, steps_back

    def _runs(self) -> list[tuple[int, int]]:
        """The occupied slots as ranges (start, stop), oldest first."""
        if self._len < self.maxlen:
            return [(0, self._len)]
        return [(self._next, self.maxlen), (0, self._next)]

    def _slots(self) -> Iterable[int]:
        """The occupied slots, oldest first."""
        return itertools.chain.from_iterable(range(start, stop) for start, stop in self._runs())

    def _frame(self, i: int) -> Frame:
        flags = self._flags[i]
        if flags & _LONG:
            data = self._long[i]
        else:
            at = i * SLOT_BYTES
            data = bytes(self._payload[at : at + self._lengths[i]])
        return Frame(self._times[i], self._ids[i], data, bool(flags & _ERROR))

    def _run_frames(self, lo: int, hi: int) -> list[Frame]:
        """The frames of slots lo..hi-1, made together (a query of recent frames may ask for many)."""
        block = bytes(self._payload[lo * SLOT_BYTES : hi * SLOT_BYTES])
        data = [block[at : at + n] for at, n in zip(range(0, len(block), SLOT_BYTES), self._lengths[lo:hi])]
        flags = self._flags[lo:hi]
        if self._long:
            for k, f in enumerate(flags):
                if f & _LONG:
                    data[k] = self._long[lo + k]
        errors = [bool(f & _ERROR) for f in flags]
        return list(map(_make_frame, zip(self._times[lo:hi], self._ids[lo:hi], data, errors)))

    def __iter__(self) -> Iterator[Frame]:
        return itertools.chain.from_iterable(self._run_frames(start, stop) for start, stop in self._runs())

    def between(self, t0: float, t1: float) -> list[Frame]:
        """Frames with t0 <= timestamp <= t1, in arrival order."""
        times = self._times
        if not self.in_time_order or self._len == 1:  # (a lone frame may be stamped NaN)
            return [self._frame(i) for i in self._slots() if t0 <= times[i] <= t1]
        # in time order: each run of slots is sorted, so the frames asked for are a range of each
        found = []
        for start, stop in self._runs():
            lo, hi = bisect.bisect_left(times, t0, start, stop), bisect.bisect_right(times, t1, start, stop)
            found += self._run_frames(lo, hi)
        return found
