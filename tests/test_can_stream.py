"""The CAN capture streams to its log on disk and keeps only a bounded window in memory.

Questions about frames older than the window (`since`, `silence`) are answered from the log, and
the log holds every frame, as python-can reads it back.
"""

from __future__ import annotations

import time
from pathlib import Path

import can
from can.interfaces.virtual import VirtualBus
from fakes import ManualClock

from hil.can_monitor import CanMonitor


def _stream(channel: str, frames: list[tuple[float, int]], log: Path | None, window: int) -> CanMonitor:
    """A monitor with a `window`-frame memory that has received `frames` (timestamp, ID)."""
    monitor = CanMonitor(VirtualBus(channel=channel), ManualClock(), log_path=log, window=window)
    sender = VirtualBus(channel=channel, preserve_timestamps=True)
    try:
        for t, can_id in frames:
            sender.send(can.Message(timestamp=t, arbitration_id=can_id, data=bytes([can_id & 0xFF, 1, 2])))
        deadline = time.monotonic() + 10
        while monitor.total < len(frames):
            assert time.monotonic() < deadline, f"captured {monitor.total} of {len(frames)}"
            time.sleep(0.01)
    finally:
        sender.shutdown()
    return monitor


def test_memory_holds_the_window_and_the_log_every_frame(tmp_path: Path) -> None:
    frames = [(i * 0.01, 0x100 + i % 3) for i in range(1000)]
    log = tmp_path / "can.asc"
    monitor = _stream("stream-window", frames, log, window=100)
    monitor.close()
    assert len(monitor.window) == 100 and monitor.total == 1000
    assert monitor.count(0x100) == 334 and monitor.newest(0x102) is not None
    monitor.discard()
    reader = can.ASCReader(str(log), relative_timestamp=True)
    read = [(round(m.timestamp, 6), m.arbitration_id) for m in reader]
    assert read == [(round(t, 6), i) for t, i in frames]  # first frame at t=0: relative = absolute


def test_since_reaches_back_past_the_window_through_the_log(tmp_path: Path) -> None:
    frames = [(10.0 + i * 0.01, 0x200 + i % 2) for i in range(500)]
    monitor = _stream("stream-since", frames, tmp_path / "can.asc", window=50)
    try:
        recent = monitor.since(14.6)  # inside the window
        old = monitor.since(10.0, 0x201)  # long gone from memory
    finally:
        monitor.close()
        monitor.discard()
    assert [round(f.timestamp, 6) for f in recent] == [round(t, 6) for t, _ in frames if t >= 14.6]
    assert len(old) == 250 and all(f.arbitration_id == 0x201 for f in old)
    assert abs(old[0].timestamp - 10.01) < 1e-6 and old[0].data == bytes([0x01, 1, 2])


def test_silence_is_found_in_frames_that_left_memory(tmp_path: Path) -> None:
    # 0x300 every 0.1 s, with one 1 s hole at 2.0..3.0 s, then 400 frames of another ID
    frames = [(t / 10, 0x300) for t in range(0, 60) if not 20 < t < 30]
    frames += [(6.0 + i * 0.001, 0x7F0) for i in range(400)]
    monitor = _stream("stream-silence", frames, tmp_path / "can.asc", window=100)
    try:
        found = monitor.silence([0x300], period_s=0.1, cycles=3, since=0.0, until=5.9)
    finally:
        monitor.close()
        monitor.discard()
    assert [(round(s.start, 3), round(s.end, 3)) for s in found] == [(2.0, 3.0)]


def test_save_as_blf_converts_the_streamed_log(tmp_path: Path) -> None:
    frames = [(1.0 + i * 0.5, 0x123) for i in range(20)]
    monitor = _stream("stream-blf", frames, None, window=5)
    monitor.close()
    blf = monitor.save(tmp_path / "can.blf")
    temporary = monitor.log_path
    monitor.discard()
    assert not temporary.exists()  # a temporary log is removed once saved
    assert [m.arbitration_id for m in can.BLFReader(str(blf))] == [0x123] * 20
