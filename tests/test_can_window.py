"""The CAN capture's window of newest frames: a ring of arrays that reads back as the frames it was given.

Same frames, same order, same timestamps as a deque of the newest frames would give, across the
ring's wrap-around, for every classic DLC, CAN FD lengths, extended IDs, error and remote frames;
and nothing in it for the garbage collector to walk.
"""

from __future__ import annotations

import gc
import random
import time
from array import array
from collections import deque
from pathlib import Path

import can
import pytest
from can.interfaces.virtual import VirtualBus
from fakes import ManualClock

from hil.can_monitor import CanMonitor
from hil.can_window import Frame, FrameWindow


def _frame(t: float, can_id: int, data: bytes, error: bool = False) -> can.Message:
    return can.Message(
        timestamp=t, arbitration_id=can_id, data=data, is_error_frame=error, is_extended_id=False
    )


def _as_frame(msg: can.Message) -> Frame:
    return Frame(msg.timestamp, msg.arbitration_id, bytes(msg.data), msg.is_error_frame)


def test_wraps_around_keeping_the_newest_in_order() -> None:
    window = FrameWindow(5)
    sent = [_frame(i * 0.5, 0x100 + i, bytes([i] * (i % 9))) for i in range(12)]
    window.extend(sent[:3])
    assert list(window) == [_as_frame(m) for m in sent[:3]] and window.dropped_t == -float("inf")
    window.extend(sent[3:])
    assert len(window) == 5 == window.maxlen
    assert list(window) == [_as_frame(m) for m in sent[7:]]
    assert window.dropped_t == sent[6].timestamp  # the newest timestamp that left


def test_a_query_across_the_wrap_gives_the_frames_in_arrival_order() -> None:
    window = FrameWindow(8)
    sent = [_frame(10.0 + i * 0.1, 0x200 + i % 3, bytes([i & 0xFF, 1])) for i in range(13)]
    window.extend(sent)  # slots 5..7 hold frames 5..7, slots 0..4 frames 8..12
    got = window.between(10.6, 11.05)
    assert got == [_as_frame(m) for m in sent if 10.6 <= m.timestamp <= 11.05]
    assert [f.data[0] for f in got] == [6, 7, 8, 9, 10]


def test_every_dlc_fd_lengths_extended_ids_error_and_remote_frames_read_back_as_sent() -> None:
    sent = [_frame(float(n), 0x1FFFFFFF - n, bytes(range(n))) for n in range(9)]
    sent += [_frame(9.0 + n, 0x18FF50E5, bytes(range(n))) for n in (12, 16, 20, 24, 32, 48, 64)]
    sent.append(_frame(20.0, 0x040, bytes([0, 0, 0, 0, 0, 0, 0, 0]), error=True))  # bus-off error frame
    sent.append(can.Message(timestamp=21.0, arbitration_id=0x123, is_remote_frame=True, dlc=8))
    window = FrameWindow(len(sent))
    window.extend(sent)
    got = list(window)
    assert got == [_as_frame(m) for m in sent]
    assert got[-2].is_error_frame and not got[-1].is_error_frame and got[-1].data == b""
    assert all(type(f.data) is bytes and type(f.is_error_frame) is bool for f in got)


def test_long_and_short_payloads_reuse_a_slot_in_turn() -> None:
    window = FrameWindow(2)
    sent = [_frame(float(i), 0x300, bytes([i]) * (64 if i % 3 == 0 else i % 9)) for i in range(10)]
    for msg in sent:
        window.extend([msg])
    assert list(window) == [_as_frame(m) for m in sent[-2:]]
    assert len(window._long) == sum(1 for m in sent[-2:] if len(m.data) > 8)  # nothing left behind


@pytest.mark.parametrize("back", [0.0, 0.01, 0.3], ids=["in time order", "a rare step back", "jittered"])
def test_answers_as_a_deque_of_the_newest_frames_does(back: float) -> None:
    """Random traffic (batches of any size, timestamps that repeat and, with probability `back`,
    step back): the ring's every answer equals that of a deque of the newest frames, the window
    the monitor kept before, whether it searches by bisection (in time order) or frame by frame."""
    rng = random.Random(7)
    size = 37
    window, reference = FrameWindow(size), deque[Frame](maxlen=size)
    dropped, t = -float("inf"), 0.0
    for _ in range(150):
        batch = []
        for _ in range(rng.randrange(1, 20)):
            r = rng.random()
            t += -rng.uniform(0, 0.02) if r < back else 0.0 if r < back + 0.1 else rng.uniform(0, 0.01)
            n = rng.choice([0, 1, 3, 8, 8, 8, 12, 64])
            batch.append(_frame(t, rng.randrange(1 << 29), rng.randbytes(n), error=rng.random() < 0.05))
        window.extend(batch)
        for msg in batch:
            if len(reference) == size:
                dropped = max(dropped, reference[0].timestamp)
            reference.append(_as_frame(msg))
        assert list(window) == list(reference) and len(window) == len(reference)
        assert window.dropped_t == dropped
        stamps = [f.timestamp for f in reference]
        for t0, t1 in [
            sorted(rng.uniform(stamps[0] - 0.01, t) for _ in range(2)),
            sorted(rng.choice(stamps) for _ in range(2)),  # bounds on frames: both ends included
            (rng.choice(stamps), float("inf")),
        ]:
            assert window.between(t0, t1) == [f for f in reference if t0 <= f.timestamp <= t1]


def test_a_step_back_in_time_is_forgotten_once_it_has_left_the_window() -> None:
    window = FrameWindow(4)
    window.extend(_frame(t, 0x100, b"") for t in (1.0, 2.0, 2.0, 3.0))
    assert window.in_time_order  # equal timestamps are in order
    window.extend([_frame(2.5, 0x100, b"")])  # 3.0 then 2.5
    assert not window.in_time_order
    window.extend(_frame(t, 0x100, b"") for t in (4.0, 5.0))
    assert not window.in_time_order  # [3.0, 2.5, 4.0, 5.0]
    window.extend([_frame(6.0, 0x100, b"")])  # 3.0 leaves
    assert window.in_time_order and window.between(2.5, 5.0) == [
        _as_frame(_frame(t, 0x100, b"")) for t in (2.5, 4, 5)
    ]
    window.extend([_frame(float("nan"), 0x100, b""), _frame(7.0, 0x100, b"")])  # NaN is never in order
    assert not window.in_time_order and [f.timestamp for f in window.between(0, 9)] == [5.0, 6.0, 7.0]


def test_the_collector_has_nothing_of_the_window_to_walk() -> None:
    window = FrameWindow(1000)
    window.extend(_frame(i * 1e-3, i, bytes(i % 65)) for i in range(2500))
    gc.collect()
    # what a collection visits through the window's fields: the arrays' own types, no frame
    walked = [gc.get_referents(value) for value in vars(window).values() if gc.is_tracked(value)]
    assert all(referents == [type(array("d"))] for referents in walked)
    assert len(window._long) > 300 and not gc.is_tracked(window._long)  # CAN FD payloads: atoms only


def test_a_window_holds_at_least_one_frame() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        FrameWindow(0)


def test_the_monitor_answers_from_the_ring_across_its_wrap(tmp_path: Path) -> None:
    """Through a bus: since() inside the wrapped window and past it (the log), the newest per ID
    and the counts, for extended IDs, every DLC and an error frame."""
    sent = [_frame(100.0 + i * 0.01, 0x18DA00F1 + i % 4, bytes(range(i % 9))) for i in range(45)]
    sent[30] = _frame(sent[30].timestamp, 0x040, bytes(8), error=True)
    channel = "window-wrap"
    monitor = CanMonitor(VirtualBus(channel=channel), ManualClock(), log_path=tmp_path / "can.asc", window=16)
    sender = VirtualBus(channel=channel, preserve_timestamps=True)
    try:
        for msg in sent:
            msg.is_extended_id = msg.arbitration_id > 0x7FF
            sender.send(msg)
        deadline = time.monotonic() + 10
        while monitor.total < len(sent):
            assert time.monotonic() < deadline, f"captured {monitor.total} of {len(sent)}"
            time.sleep(0.01)
        in_window = monitor.since(sent[-12].timestamp)
        past_it = monitor.since(sent[10].timestamp, 0x18DA00F2)
        newest, count = monitor.newest(0x18DA00F3), monitor.count(0x18DA00F1)
    finally:
        sender.shutdown()
        monitor.close()
        monitor.discard()
    expected = [_as_frame(m) for m in sent]
    assert len(monitor.window) == 16
    assert in_window == expected[-12:]
    assert [(round(f.timestamp, 6), f.data) for f in past_it] == [
        (round(f.timestamp, 6), f.data) for f in expected[10:] if f.arbitration_id == 0x18DA00F2
    ]
    assert newest == expected[42] and count == sum(1 for f in expected if f.arbitration_id == 0x18DA00F1)
    assert expected[30].is_error_frame and monitor.link_stats().count("bus_off") == 1
