"""Soak: one DUT's plan N times on the simulated lab, noise on, a different seed each run.

Prints per run, as it goes: seed, exit code, tests passed/failed, wall time, the test process's
memory and open file descriptors, the verdict flips so far and the machine's load; then the verdict
flips across runs (must be 0), the wall-time spread and the memory growth. Stopped early (Ctrl-C or
SIGTERM), it still prints the summary of the runs it completed.

Why in-process: the question is "does the test process leak", so the plan must run again and
again in one process. Each run is `hil run --dut DUT --profile PROFILE --seed S --out DIR --reports none`
called as `hil.cli.main([...])` in this process, which runs the plan with `pytest.main` here,
exactly as the `hil` command does (the simulated lab is a child process that the fixtures start
and stop per run: its memory is not the test process's and goes away with it). After each run
this process collects garbage and measures:

- RSS (VmRSS, /proc/self/status): what the OS sees, C extensions and allocator caches included;
- Python heap blocks (`sys.getallocatedblocks()`) and gc-tracked objects: Python-level growth;
- open file descriptors and threads: sockets, files or capture threads a run left behind.

Growth is reported from the end of run 1 (which pays for imports, the DBC and spec caches) to the
end of the last run, and as a least-squares slope per run over runs 2..N: a leak grows run after
run, a warm-up does not. `--tracemalloc` also traces allocations (slower) and prints the source
lines whose allocations grew most between run 1 and the last run.

Verdict flips: for every test of the plan (its outcome) and every recorded measurement (its
verdict, keyed by test, requirement, name and occurrence), the value in each run is compared with
run 1. A conforming unit whose measurement noise stays inside the spec's tolerances must give the
same verdicts for every seed, so a flip is a margin problem in the plan or the twin.

    .venv/bin/python benchmarks/soak.py [--dut bms12100] [--profile eol|full] [--runs 100] [--seed 1]
        [--tracemalloc] [--reports none] [--keep DIR]

Exit status 1 if any run did not pass or any verdict flipped.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hil.cli import main as hil_main  # noqa: E402


@dataclass
class Memory:
    """The test process after a run (garbage collected)."""

    rss_kib: int
    heap_blocks: int
    gc_objects: int
    fds: int
    threads: int

    @staticmethod
    def now() -> Memory:
        gc.collect()
        rss = 0
        with contextlib.suppress(OSError), Path("/proc/self/status").open(encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        try:
            fds = sum(1 for _ in Path("/proc/self/fd").iterdir())
        except OSError:
            fds = -1
        return Memory(rss, sys.getallocatedblocks(), len(gc.get_objects()), fds, threading.active_count())


@dataclass
class Run:
    """One run of the plan: what it returned, how long it took, its verdicts."""

    index: int
    seed: int
    code: int
    wall_s: float
    memory: Memory
    outcomes: dict[str, str] = field(default_factory=dict)  # test -> outcome (run 1 only, kept)
    verdicts: dict[str, str] = field(default_factory=dict)  # test|requirement|name|n -> verdict
    passed: int = 0
    not_passed: int = 0

    def count(self) -> None:
        """Tests passed and not passed, from the outcomes."""
        self.passed = sum(1 for o in self.outcomes.values() if o == "passed")
        self.not_passed = sum(1 for o in self.outcomes.values() if o not in ("passed", "skipped"))


def read_record(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Test outcomes and measurement verdicts of one run record."""
    outcomes: dict[str, str] = {}
    verdicts: dict[str, str] = {}
    seen: dict[str, int] = {}
    if not path.exists():
        return outcomes, verdicts
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            entry = json.loads(line)
            if entry.get("type") == "test":
                outcomes[str(entry.get("test"))] = str(entry.get("outcome"))
            elif entry.get("type") == "measurement":
                base = f"{entry.get('test')}|{entry.get('requirement')}|{entry.get('name')}"
                seen[base] = seen.get(base, 0) + 1
                verdicts[f"{base}|{seen[base]}"] = str(entry.get("verdict"))
    return outcomes, verdicts


@dataclass(frozen=True)
class Plan:
    """What each run runs: `hil run --dut DUT --profile PROFILE --reports REPORTS`."""

    dut: str
    profile: str
    reports: str


def run_plan(index: int, seed: int, out: Path, plan: Plan, log: Path) -> Run:
    """`hil run --dut DUT --profile PROFILE --seed SEED` in this process; its output goes to `log`."""
    argv = ["run", "--dut", plan.dut, "--profile", plan.profile, "--seed", str(seed)]
    argv += ["--out", str(out), "--reports", plan.reports]
    start = time.perf_counter()
    with (
        log.open("w", encoding="utf-8") as sink,
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
    ):
        code = hil_main(argv)
    wall = time.perf_counter() - start
    outcomes, verdicts = read_record(out / "record.jsonl")
    run = Run(index, seed, code, wall, Memory.now(), outcomes, verdicts)
    run.count()
    return run


def flips(first: Run, run: Run) -> tuple[list[str], set[str]]:
    """(keys whose outcome/verdict in `run` differs from run 1, keys present in only one of them)."""
    changed: list[str] = []
    uneven: set[str] = set()
    for kind, table in (("test", "outcomes"), ("measurement", "verdicts")):
        reference: dict[str, str] = getattr(first, table)
        values: dict[str, str] = getattr(run, table)
        uneven |= {f"{kind} {k}" for k in set(reference) ^ set(values)}
        for key, value in values.items():
            if key in reference and reference[key] != value:
                changed.append(f"run {run.index} (seed {run.seed}) {kind} {key}: {reference[key]} -> {value}")
    return changed, uneven


def slope(values: list[float]) -> float:
    """Least-squares growth per run."""
    n = len(values)
    if n < 2:
        return 0.0
    mean_x, mean_y = (n - 1) / 2, statistics.fmean(values)
    num = sum((i - mean_x) * (v - mean_y) for i, v in enumerate(values))
    den = sum((i - mean_x) ** 2 for i in range(n))
    return num / den


def load() -> float:
    """The machine's 1-minute load average (the runs share the cores with whatever else runs)."""
    return os.getloadavg()[0]


STOP = threading.Event()


def stop(signum: int, frame: object) -> None:
    """Ctrl-C or SIGTERM: the current run is stopped and not counted, and the summary is printed."""
    STOP.set()
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dut", default="bms12100", help="DUT family (default bms12100)")
    parser.add_argument(
        "--profile", choices=["eol", "full"], default="eol", help="plan profile (default eol)"
    )
    parser.add_argument("--runs", type=int, default=100, help="number of runs (default 100)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the first run; run i uses seed + i")
    parser.add_argument("--reports", default="none", help="hil run --reports (default none)")
    parser.add_argument("--tracemalloc", action="store_true", help="trace allocations (slower)")
    parser.add_argument("--keep", help="keep every run's folder under this directory")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    # a soak started in the background has SIGINT ignored: restore Ctrl-C, and let SIGTERM stop it too
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    plan = Plan(args.dut, args.profile, args.reports)
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="hil-soak-"))
    base.mkdir(parents=True, exist_ok=True)
    if args.tracemalloc:
        tracemalloc.start(1)  # one frame: growth by source line, at the least cost
    first_snapshot: tracemalloc.Snapshot | None = None
    runs: list[Run] = []
    changed: list[str] = []
    uneven: set[str] = set()
    print(
        f"soak: hil run --dut {plan.dut} --profile {plan.profile} --reports {plan.reports}, runs {args.runs}"
    )
    print(
        f"{'run':>4} {'seed':>6} {'exit':>4} {'passed':>6} {'failed':>6} {'wall s':>7} "
        f"{'RSS MiB':>8} {'dRSS MiB':>8} {'heap blk':>9} {'gc objs':>8} {'fds':>4} {'thr':>3} "
        f"{'flips':>5} {'load':>5}"
    )
    try:
        for i in range(args.runs):
            seed = args.seed + i
            out = base / f"run-{i + 1:03d}"
            run = run_plan(i + 1, seed, out, plan, base / f"run-{i + 1:03d}.log")
            if STOP.is_set() or run.code >= 128:  # stopped by a signal (hil's own handler: 130, 143)
                print(f"run {i + 1} interrupted (exit {run.code}): not counted, stopping", file=sys.stderr)
                break
            found: list[str] = []
            if runs:
                # compared with run 1 now and then dropped: what the soak itself keeps per run must
                # not show up as growth of the test process
                found, odd = flips(runs[0], run)
                changed += found
                uneven |= odd
                run.outcomes, run.verdicts = {}, {}
                run.memory = Memory.now()
            runs.append(run)
            if args.tracemalloc and i == 0:
                first_snapshot = tracemalloc.take_snapshot()
            m, m0 = run.memory, runs[0].memory
            print(
                f"{run.index:4d} {seed:6d} {run.code:4d} {run.passed:6d} {run.not_passed:6d} "
                f"{run.wall_s:7.1f} {m.rss_kib / 1024:8.1f} {(m.rss_kib - m0.rss_kib) / 1024:+8.1f} "
                f"{m.heap_blocks:9d} {m.gc_objects:8d} {m.fds:4d} {m.threads:3d} "
                f"{len(changed):5d} {load():5.1f}",
                flush=True,
            )
            for line in found[:5]:  # shown as they happen: a stopped soak still names them
                print(f"     flip: {line}", flush=True)
            if not args.keep:
                shutil.rmtree(out, ignore_errors=True)
    except KeyboardInterrupt:
        print(f"interrupted after {len(runs)} runs", file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    if not runs:
        return 1
    walls = [r.wall_s for r in runs]
    bad = [r for r in runs if r.code != 0]
    print(
        f"\nruns: {len(runs)} of {args.runs}, not exit 0: {len(bad)}"
        + (f" (runs {[r.index for r in bad]})" if bad else "")
        + f"; load at the end {load():.1f}"
    )
    print(f"tests per run: {len(runs[0].outcomes)}, measurements per run: {len(runs[0].verdicts)}")
    print(f"verdict flips across runs: {len(changed)}")
    for line in changed[:20]:
        print(f"  {line}")
    if uneven:
        print(f"tests/measurements present in only some runs: {len(uneven)} (e.g. {sorted(uneven)[0]})")
    print(
        f"wall per run: median {statistics.median(walls):.1f} s, min {min(walls):.1f} s, "
        f"max {max(walls):.1f} s, total {sum(walls):.0f} s"
    )
    m0, m1 = runs[0].memory, runs[-1].memory
    later = runs[1:]
    print(
        f"memory from the end of run 1 to the end of run {runs[-1].index}: "
        f"RSS {(m1.rss_kib - m0.rss_kib) / 1024:+.1f} MiB "
        f"(slope {slope([r.memory.rss_kib / 1024 for r in later]):+.2f} MiB/run over runs 2..N), "
        f"heap blocks {m1.heap_blocks - m0.heap_blocks:+d} "
        f"(slope {slope([float(r.memory.heap_blocks) for r in later]):+.0f}/run), "
        f"gc objects {m1.gc_objects - m0.gc_objects:+d}, fds {m1.fds - m0.fds:+d} "
        f"(slope {slope([float(r.memory.fds) for r in later]):+.2f}/run), "
        f"threads {m1.threads - m0.threads:+d}"
    )
    if args.tracemalloc and first_snapshot is not None:
        last = tracemalloc.take_snapshot()
        print("top allocation growth since run 1 (tracemalloc):")
        for stat in last.compare_to(first_snapshot, "lineno")[:10]:
            print(f"  {stat}", flush=True)
    return 1 if changed or bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
