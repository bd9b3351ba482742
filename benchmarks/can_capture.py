"""CAN capture under bus load: does a plan's CanMonitor see every frame of a saturated bus?

Starts the simulated lab (virtual time, ephemeral ports), opens python-can's socketcand client
with a `hil.can_monitor.CanMonitor` on it (what a plan uses), has the lab's bus-load generator
(`can_load` on the control port) publish sequence-numbered frames at a wall-clock rate, waits
for the receiver to drain, and prints frames sent / received / lost (sequence gaps), the
received rate, the longest gaps, the publish-to-monitor latency and the CPU each side used.

    .venv/bin/python benchmarks/can_capture.py            # 8000 frames/s for 60 s
    .venv/bin/python benchmarks/can_capture.py --quick    # 5 s smoke run
"""

from __future__ import annotations

import argparse
import gc
import itertools
import logging
import os
import statistics
import struct
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hil.can_monitor import CanMonitor, open_bus
from hil.can_window import Frame
from hil.sim.client import SimProcess
from hil.sim.clock import SimClock

ROOT = Path(__file__).resolve().parents[1]
STATION = ROOT / "stations" / "sim-bms12100.yaml"
DEFAULT_RATE = 8000.0  # frames/s of a saturated 1 Mbit/s bus (8-byte standard frames)
DEFAULT_DURATION_S = 60.0
QUICK_DURATION_S = 5.0
LOAD_ID = 0x7F0
DRAIN_IDLE_S = 3.0  # after the load ends: stop waiting once nothing arrived for this long
DRAIN_LIMIT_S = 120.0  # ... or after this long in all
PROGRESS_EVERY_S = 10.0
_PAYLOAD = struct.Struct("<II")  # sequence number, µs of wall time since the load started


class _GcPauses:
    """Durations of this process's garbage collections (they stop every thread, the monitor's too)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []  # (generation, seconds)
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self._start))

    def longest(self) -> tuple[int, float, int]:
        """(generation, seconds) of the longest pause and how many full (gen 2) collections ran."""
        generation, seconds = max(self.pauses, key=lambda p: p[1], default=(0, 0.0))
        return generation, seconds, sum(1 for g, _ in self.pauses if g == 2)


class _CountingHandler(logging.Handler):
    """Counts log records by message."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[record.getMessage()[:60]] += 1


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc); 0 where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _unwrap(stamps: Sequence[int]) -> list[float]:
    """uint32 microsecond stamps (in arrival order) as seconds, undoing the 2**32 wrap."""
    out: list[float] = []
    offset, previous = 0, None
    for stamp in stamps:
        if previous is not None and stamp < previous - 2**31:
            offset += 2**32
        previous = stamp
        out.append((stamp + offset) / 1e6)
    return out


def analyse(frames: Sequence[Frame], arrivals: Sequence[float], sent: int, wall_t0: float) -> dict[str, Any]:
    """Counts, gaps and latency of the load frames (in arrival order) against what was sent."""
    decoded = [_PAYLOAD.unpack(f.data[:8]) for f in frames]
    sequence = [seq for seq, _ in decoded]
    published = _unwrap([stamp for _, stamp in decoded])
    unique = {seq for seq in sequence if seq < sent}
    gaps = longest_gap = out_of_order = 0
    previous = -1
    for seq in sequence:
        if seq > previous + 1:
            gaps += 1
            longest_gap = max(longest_gap, seq - previous - 1)
        elif seq <= previous:
            out_of_order += 1
        previous = max(previous, seq)
    if sent > previous + 1:  # frames missing at the end
        gaps += 1
        longest_gap = max(longest_gap, sent - previous - 1)
    result: dict[str, Any] = {
        "sent": sent,
        "received": len(frames),
        "lost": sent - len(unique),
        "gaps": gaps,
        "longest_gap_frames": longest_gap,
        "duplicates_or_out_of_order": out_of_order,
    }
    if len(frames) >= 2:
        span = arrivals[-1] - arrivals[0]
        result["received_per_s"] = (len(frames) - 1) / span if span > 0 else float("inf")
        result["max_arrival_gap_ms"] = 1e3 * max(b - a for a, b in itertools.pairwise(arrivals))
        pub_span = published[-1] - published[0]
        result["published_per_s"] = (len(frames) - 1) / pub_span if pub_span > 0 else float("inf")
        result["max_publish_gap_ms"] = 1e3 * max(b - a for a, b in itertools.pairwise(published))
        latency_ms = [1e3 * (arr - (wall_t0 + pub)) for arr, pub in zip(arrivals, published)]
        result["latency_ms"] = {
            "median": statistics.median(latency_ms),
            "p99": _percentile(latency_ms, 99),
            "max": max(latency_ms),
        }
    return result


def run(rate: float, duration: float, can_id: int, gc_freeze: bool = False) -> dict[str, Any]:
    sim = SimProcess(STATION)
    monitor: CanMonitor | None = None
    gc_pauses = _GcPauses()
    gc.callbacks.append(gc_pauses)
    try:
        ep = sim.endpoints["can"]
        bus = open_bus(ep["interface"], ep["channel"], 0, host=ep["host"], port=ep["port"])
        monitor = CanMonitor(bus, SimClock(sim.control))
        arrivals: list[float] = []
        load_frames: list[Frame] = []

        def on_frame(frame: Frame) -> None:
            if frame.arbitration_id == can_id:
                arrivals.append(time.time())
                load_frames.append(frame)

        monitor.listeners.append(on_frame)
        time.sleep(0.2)  # past the hub's handshake guard
        lab_cpu0, own_cpu0, wall0 = _cpu_seconds(sim.proc.pid), _own_cpu_seconds(), time.monotonic()
        sim.control.request("can_load", rate=rate, duration=duration, can_id=can_id)
        status = sim.control.request("can_load_status")
        next_report = time.monotonic() + PROGRESS_EVERY_S
        while status["running"]:
            time.sleep(0.2)
            if gc_freeze:
                gc.freeze()  # the frames so far are kept for good: take them out of the collector's scans
            status = sim.control.request("can_load_status")
            if time.monotonic() >= next_report:
                next_report += PROGRESS_EVERY_S
                print(
                    f"  {time.monotonic() - wall0:5.1f} s: sent {status['sent']}, received {len(arrivals)}",
                    flush=True,
                )
        load_wall = time.monotonic() - wall0
        sent = int(status["sent"])
        # Drain: the hub buffers what the receiver has not read yet; wait until it has all arrived.
        drain_start = time.monotonic()
        last_count, last_change = len(arrivals), time.monotonic()
        while len(arrivals) < sent and time.monotonic() - drain_start < DRAIN_LIMIT_S:
            time.sleep(0.1)
            if len(arrivals) != last_count:
                last_count, last_change = len(arrivals), time.monotonic()
            elif time.monotonic() - last_change > DRAIN_IDLE_S:
                break
        drain_s = time.monotonic() - drain_start
        wall = time.monotonic() - wall0
        lab_cpu = _cpu_seconds(sim.proc.pid) - lab_cpu0
        own_cpu = _own_cpu_seconds() - own_cpu0
        gc_longest = gc_pauses.longest()  # during the capture, not the analysis below
        result = analyse(list(load_frames), list(arrivals), sent, float(status["wall_t0"]))
        result.update(
            rate=rate,
            duration=duration,
            load_wall_s=load_wall,
            drain_s=drain_s,
            lab_cpu_pct=100 * lab_cpu / wall,
            capture_cpu_pct=100 * own_cpu / wall,
            gc_longest=gc_longest,
            gc_freeze=gc_freeze,
        )
        return result
    finally:
        gc.callbacks.remove(gc_pauses)
        if monitor is not None:
            monitor.close()
        sim.stop()


def report(r: dict[str, Any]) -> str:
    lines = [
        f"CAN capture through CanMonitor: {r['rate']:g} frames/s requested for {r['duration']:g} s"
        + (" (gc.freeze every 0.2 s)" if r["gc_freeze"] else ""),
        f"  frames sent              {r['sent']}  (load ran {r['load_wall_s']:.2f} s of wall time)",
        f"  frames received          {r['received']}  (drain after the load: {r['drain_s']:.2f} s)",
        f"  frames lost              {r['lost']}  ({r['gaps']} gaps, longest"
        f" {r['longest_gap_frames']} frames; {r['duplicates_or_out_of_order']} duplicate/out of order)",
    ]
    if "received_per_s" in r:
        lat = r["latency_ms"]
        lines += [
            f"  received frames/s        {r['received_per_s']:.0f}  (published {r['published_per_s']:.0f}/s)",
            f"  max gap between frames   {r['max_arrival_gap_ms']:.2f} ms received,"
            f" {r['max_publish_gap_ms']:.2f} ms published",
            f"  publish→monitor latency  median {lat['median']:.2f} ms, p99 {lat['p99']:.2f} ms,"
            f" max {lat['max']:.2f} ms",
        ]
    lines.append(
        f"  CPU (share of one core)  lab {r['lab_cpu_pct']:.0f} %, capture {r['capture_cpu_pct']:.0f} %"
    )
    generation, seconds, full = r["gc_longest"]
    lines.append(
        f"  longest GC pause         {1e3 * seconds:.1f} ms (generation {generation}) in the capture"
        f" process; {full} full collections"
    )
    for message, count in r.get("client_warnings", {}).items():
        lines.append(f"  python-can warnings      {count} x {message!r}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE, help="frames/s (default 8000)")
    parser.add_argument("--duration", type=float, default=DEFAULT_DURATION_S, help="seconds (default 60)")
    parser.add_argument("--quick", action="store_true", help=f"a {QUICK_DURATION_S:g} s smoke run")
    parser.add_argument("--can-id", type=lambda s: int(s, 0), default=LOAD_ID, help="default 0x7F0")
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() every 0.2 s during the load (shows what the full collections cost the monitor)",
    )
    args = parser.parse_args(argv)
    duration = QUICK_DURATION_S if args.quick else args.duration
    # python-can's socketcand client logs a WARNING for every read that ends inside a frame (with
    # no logging configured, one stderr line each); count them instead of printing them.
    warnings = _CountingHandler()
    socketcand_log = logging.getLogger("can.interfaces.socketcand")
    socketcand_log.addHandler(warnings)
    socketcand_log.propagate = False
    result = run(args.rate, duration, args.can_id, args.gc_freeze)
    result["client_warnings"] = dict(warnings.counts)
    print(report(result))
    return 0 if result["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
