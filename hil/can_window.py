"""The CAN capture's window of newest frames, kept where the garbage collector has nothing to walk.

A window of 50,000 frames as Python objects (a deque of tuples) is 50,000 pointers every full
collection of a long capture traverses, and 50,000 objects on their way through the generations.
Here the window is a ring of preallocated arrays (timestamps, IDs, payload bytes, lengths, flags):
none of it is a container the collector tracks, and recording a frame allocates nothing that
survives it. `Frame`s are made only when the window is read.
"""

from __future__ import annotations

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

    def __len__(self) -> int:
        return self._len

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
        for frame in frames:
            if count == size:  # slot i holds the oldest frame: it leaves
                dropped = max(dropped, times[i])
                if flags[i] & _LONG:
                    del long[i]
            else:
                count += 1
            data = frame.data
            n = len(data)
            times[i] = frame.timestamp
            ids[i] = frame.arbitration_id
            if n <= SLOT_BYTES:
                at = i * SLOT_BYTES
                payload[at : at + n] = data
                lengths[i] = n
                flags[i] = _ERROR if frame.is_error_frame else 0
            else:
                long[i] = bytes(data)
                flags[i] = _LONG | (_ERROR if frame.is_error_frame else 0)
            i = i + 1 if i + 1 < size else 0
        self._next, self._len, self.dropped_t = i, count, dropped

    def _slots(self) -> Iterable[int]:
        """The occupied slots, oldest first."""
        if self._len < self.maxlen:
            return range(self._len)
        return itertools.chain(range(self._next, self.maxlen), range(self._next))

    def _frame(self, i: int) -> Frame:
        flags = self._flags[i]
        if flags & _LONG:
            data = self._long[i]
        else:
            at = i * SLOT_BYTES
            data = bytes(self._payload[at : at + self._lengths[i]])
        return Frame(self._times[i], self._ids[i], data, bool(flags & _ERROR))

    def __iter__(self) -> Iterator[Frame]:
        return (self._frame(i) for i in self._slots())

    def between(self, t0: float, t1: float) -> list[Frame]:
        """Frames with t0 <= timestamp <= t1, in arrival order."""
        times = self._times
        return [self._frame(i) for i in self._slots() if t0 <= times[i] <= t1]
