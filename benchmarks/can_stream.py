"""Bounded-memory CAN capture: N frames through `CanMonitor` at the fastest rate it sustains.

A producer thread sends N frames on a python-can virtual bus (in-process: the transport is not what
is measured); the monitor captures them, streaming every frame to its .asc log. Prints the rate,
the CPU of the process and of the monitor's capture thread, the test process's RSS at start, peak
and end, the garbage collections per generation (how many, their CPU, the longest pause), and
checks that the log on disk holds every frame (read back with python-can's ASCReader, counted).
Targets (issue: CAN capture that runs for days): RSS within 150 MB of the start, no GC pause over
10 ms, every frame in the log.

With `--against REF`, REF's monitor is measured too (a detached worktree), alternating with this
tree's, each run in a process of its own, and the figures are printed side by side.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import can
from can.interfaces.virtual import VirtualBus

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gitref import add_arguments, trees  # noqa: E402

GENERATIONS = 3


def rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MB, from /proc."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


class GcPauses:
    """Collections per generation (gc.callbacks): how many, their CPU, the longest pause (wall, and the
    collecting thread's CPU time).

    On a loaded machine the wall time includes time the process was not scheduled; the CPU time
    is the collection's own cost.
    """

    def __init__(self) -> None:
        self.longest = 0.0
        self.longest_cpu = 0.0
        self.cpu_of_longest = 0.0  # the collector's own CPU in the longest wall pause
        self.over_10ms = 0  # wall pauses above the 10 ms target (descheduling included)
        self.per_gen = [0] * GENERATIONS  # collections of each generation
        self.cpu_per_gen = [0.0] * GENERATIONS  # their CPU in all
        self.longest_cpu_per_gen = [0.0] * GENERATIONS
        self._t0 = self._c0 = 0.0
        gc.callbacks.append(self._on)

    @property
    def count(self) -> int:
        return sum(self.per_gen)

    def _on(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0, self._c0 = time.perf_counter(), time.thread_time()
            return
        wall, cpu = time.perf_counter() - self._t0, time.thread_time() - self._c0
        gen = info["generation"]
        self.per_gen[gen] += 1
        self.cpu_per_gen[gen] += cpu
        self.longest_cpu_per_gen[gen] = max(self.longest_cpu_per_gen[gen], cpu)
        if wall > self.longest:
            self.longest, self.cpu_of_longest = wall, cpu
        self.longest_cpu = max(self.longest_cpu, cpu)
        self.over_10ms += wall > 0.010


@dataclass
class Result:
    """One capture's figures (times in seconds, sizes in MB)."""

    frames: int
    elapsed: float
    cpu: float  # the whole process (producer, monitor, collector)
    capture_cpu: float  # the monitor's capture thread
    rss_start: float
    rss_largest: float
    rss_end: float
    rss_peak: float
    collections: list[int]  # per generation
    gc_cpu: list[float]  # per generation, in all
    gc_longest_cpu: list[float]  # per generation
    longest_pause: float  # wall
    cpu_of_longest: float
    longest_cpu: float
    over_10ms: int
    on_disk: int
    log_mb: float
    load: float

    @property
    def rate(self) -> float:
        return self.frames / self.elapsed

    @property
    def growth(self) -> float:
        return self.rss_largest - self.rss_start

    @property
    def met(self) -> bool:
        return self.on_disk == self.frames and self.growth <= 150 and self.longest_cpu <= 0.010


def capture(n: int, folder: Path, freeze: bool, progress: bool) -> Result:
    """N frames through a `CanMonitor` of the tree on sys.path, logged to `folder`/can.asc."""
    # imported here: the tree measured is the one `--tree` put first on sys.path
    from hil.can_monitor import CanMonitor
    from hil.clock import Clock

    class _Clock(Clock):
        def now(self) -> float:
            return 0.0

        def _advance(self, seconds: float) -> dict[str, float]:
            return {}

    log = folder / "can.asc"
    gc.collect()
    if freeze:
        gc.freeze()  # what the plugin does once the plan is collected: start-up objects are never garbage
    rss0, _ = rss_mb()
    pauses = GcPauses()
    channel = f"can-stream-{os.getpid()}"
    monitor = CanMonitor(VirtualBus(channel=channel), _Clock(), log_path=log)
    sender = VirtualBus(channel=channel, preserve_timestamps=True)
    capture_clock = time.pthread_getcpuclockid(monitor._thread.ident or 0)
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

    t0, c0, cc0 = time.perf_counter(), time.process_time(), time.clock_gettime(capture_clock)
    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    while monitor.total < n:
        time.sleep(0.5)
        rss, _ = rss_mb()
        samples.append((time.perf_counter() - t0, monitor.total, rss))
        if progress and len(samples) % 20 == 0:
            print(f"  {monitor.total:>10,} frames  {samples[-1][0]:6.1f} s  RSS {rss:6.1f} MB", flush=True)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    capture_cpu = time.clock_gettime(capture_clock) - cc0
    gc.callbacks.remove(pauses._on)
    producer.join()
    monitor.close()
    monitor.discard()
    sender.shutdown()
    rss1, peak = rss_mb()
    on_disk = sum(1 for _ in can.ASCReader(str(log)))
    return Result(
        frames=n,
        elapsed=elapsed,
        cpu=cpu,
        capture_cpu=capture_cpu,
        rss_start=rss0,
        rss_largest=max([rss0, *(r for _, _, r in samples)]),
        rss_end=rss1,
        rss_peak=peak,
        collections=pauses.per_gen,
        gc_cpu=pauses.cpu_per_gen,
        gc_longest_cpu=pauses.longest_cpu_per_gen,
        longest_pause=pauses.longest,
        cpu_of_longest=pauses.cpu_of_longest,
        longest_cpu=pauses.longest_cpu,
        over_10ms=pauses.over_10ms,
        on_disk=on_disk,
        log_mb=log.stat().st_size / 1e6,
        load=os.getloadavg()[0],
    )


def describe(r: Result) -> str:
    """The figures of one capture, as lines."""
    per_gen = " / ".join(
        f"{n} ({cpu * 1e3:.1f} ms, longest {top * 1e3:.2f})"
        for n, cpu, top in zip(r.collections, r.gc_cpu, r.gc_longest_cpu, strict=True)
    )
    return "\n".join(
        [
            f"frames: {r.frames:,} in {r.elapsed:.1f} s = {r.rate:,.0f} frames/s (load {r.load:.2f}); CPU "
            f"{r.cpu:.1f} s in all, {r.capture_cpu:.1f} s in the capture thread "
            f"({r.capture_cpu / r.frames * 1e6:.1f} µs/frame)",
            f"RSS: start {r.rss_start:.1f} MB, largest sample {r.rss_largest:.1f} MB (+{r.growth:.1f}), "
            f"end {r.rss_end:.1f} MB, peak {r.rss_peak:.1f} MB",
            f"GC: {sum(r.collections)} collections, gen 0 / 1 / 2: {per_gen}",
            f"GC: longest pause {r.longest_pause * 1e3:.2f} ms wall "
            f"({r.cpu_of_longest * 1e3:.2f} ms of it CPU), longest CPU {r.longest_cpu * 1e3:.2f} ms; "
            f"{r.over_10ms} pauses over 10 ms wall",
            f"log: holds {r.on_disk:,} frames ({r.log_mb:,.0f} MB)",
        ]
    )


def run_in(tree: Path, n: int, freeze: bool) -> Result:
    """One capture by `tree`'s monitor, in a process of its own."""
    cmd = [sys.executable, __file__, "--frames", str(n), "--tree", str(tree), "--json"]
    if not freeze:
        cmd.append("--no-freeze")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    fields = json.loads(out.splitlines()[-1])
    return Result(**fields)


def side_by_side(args: argparse.Namespace) -> int:
    """Each tree's captures alternating, `--repeat` times, then the medians."""
    results: dict[str, list[Result]] = {}
    with tempfile.TemporaryDirectory() as tmp, trees(args.against, Path(tmp)) as checkouts:
        for i in range(args.repeat):
            for name, tree in checkouts:
                r = run_in(tree, args.frames, not args.no_freeze)
                results.setdefault(name, []).append(r)
                print(f"--- {name}, run {i + 1}\n{describe(r)}", flush=True)
    print(f"\nmedians of {args.repeat} run(s) of {args.frames:,} frames:")
    print("tree | frames/s | CPU s (capture µs/frame) | RSS growth MB | collections gen 0/1/2 | GC CPU ms")
    for name, rs in results.items():
        gens = "/".join(f"{statistics.median(r.collections[g] for r in rs):g}" for g in range(GENERATIONS))
        gc_ms = "/".join(
            f"{statistics.median(r.gc_cpu[g] for r in rs) * 1e3:.1f}" for g in range(GENERATIONS)
        )
        per_frame = statistics.median(r.capture_cpu for r in rs) / args.frames * 1e6
        print(
            f"{name} | {statistics.median(r.rate for r in rs):,.0f} | "
            f"{statistics.median(r.cpu for r in rs):.1f} ({per_frame:.1f}) | "
            f"{statistics.median(r.growth for r in rs):.1f} | {gens} | {gc_ms}"
        )
    return 0 if all(r.met for rs in results.values() for r in rs) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000_000)
    parser.add_argument("--dir", default=None, help="folder for the log (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the log")
    parser.add_argument(
        "--no-freeze", action="store_true", help="leave start-up objects to the collector (as before a run)"
    )
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout whose monitor is measured")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    add_arguments(parser)
    args = parser.parse_args()
    if args.against or args.repeat > 1:
        return side_by_side(args)
    sys.path.insert(0, str(args.tree))
    folder = Path(args.dir or tempfile.mkdtemp(prefix="hil-can-stream-"))
    r = capture(args.frames, folder, freeze=not args.no_freeze, progress=not args.json)
    if not args.keep:
        (folder / "can.asc").unlink()
    if args.json:
        print(json.dumps(asdict(r)))
        return 0
    print(describe(r))
    print("targets (RSS +150 MB, GC pause 10 ms CPU, every frame on disk):", "met" if r.met else "NOT met")
    return 0 if r.met else 1


if __name__ == "__main__":
    sys.exit(main())
