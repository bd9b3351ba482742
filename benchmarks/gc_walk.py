"""What a full garbage collection walks in a plan's test process, test by test, and its CPU.

Runs `hil run --reports none --seed 1` (the 12100 full profile unless told) with this file as a
pytest plugin (`-p gc_walk`): after tests 1, 2, 3, every 40th and the last it notes how many objects
the collector tracks outside the frozen ones (what every full collection walks: a long CAN capture
sets off many) and the CPU of one `gc.collect()` there (with whatever garbage there was). With
`--against REF`, REF's tree runs too (a detached worktree), alternating; each tree's own `hil`
is imported (PYTHONPATH), with this environment's packages.

    .venv/bin/python benchmarks/gc_walk.py [--dut NAME] [--profile full] [--against REF --repeat N]
"""

from __future__ import annotations

import argparse
import collections
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from gitref import add_arguments, trees  # noqa: E402

#: where the plugin appends its samples (one JSON line each); set by main() for the run
OUT_ENV = "HIL_GC_WALK_OUT"
_done: list[str] = []


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Plugin hook: a sample after some tests (see the module's note)."""
    _done.append(item.name)
    n = len(_done)
    if not (n <= 3 or n % 40 == 0 or nextitem is None) or OUT_ENV not in os.environ:
        return
    walked = gc.get_objects()  # every generation but the frozen (permanent) one
    kinds = collections.Counter(type(o).__name__ for o in walked).most_common(4)
    count = len(walked)
    del walked
    cpu = time.thread_time()
    gc.collect()
    cpu = time.thread_time() - cpu
    sample = {"test": n, "name": item.name, "walked": count, "collect_ms": cpu * 1e3, "kinds": kinds}
    with Path(os.environ[OUT_ENV]).open("a") as out:
        out.write(json.dumps(sample) + "\n")


def run_in(tree: Path, dut: str | None, profile: str, scratch: Path) -> list[dict[str, object]]:
    """One `hil run` of `tree` with this plugin; its samples."""
    out, samples = scratch / "run", scratch / "samples.jsonl"
    samples.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "hil", "run", "--profile", profile, "--reports", "none", "--seed", "1"]
    cmd += [*(["--dut", dut] if dut else []), "--out", str(out), "--", "-p", "gc_walk"]
    env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{BENCH}", OUT_ENV: str(samples)}
    done = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"hil run in {tree} exited {done.returncode}: {done.stderr[-2000:]}")
    shutil.rmtree(out, ignore_errors=True)
    return [json.loads(line) for line in samples.read_text().splitlines()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dut", default=None, help="DUT family (default: the default station's)")
    parser.add_argument("--profile", default="full")
    add_arguments(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, trees(args.against, Path(tmp)) as checkouts:
        for i in range(args.repeat):
            for name, tree in checkouts:
                load = os.getloadavg()[0]
                print(f"--- {name}, run {i + 1} (load {load:.2f})", flush=True)
                for s in run_in(tree, args.dut, args.profile, Path(tmp)):
                    print(
                        f"after test {s['test']:>4} {s['name']}: {s['walked']:>7,} objects walked, "
                        f"gc.collect() {s['collect_ms']:.1f} ms CPU; most: {s['kinds']}",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
