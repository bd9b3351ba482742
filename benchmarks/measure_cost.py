"""Cost per recorded measurement: hil's `check(within(...))` against OpenHTF 1.6.3, side by side.

Each side is a whole process, run for N = 0 and N = `--count` measurements; the cost per measurement
is the slope (T(N) - T(0)) / N, the median over `--repeat` interleaved rounds. OpenHTF runs in a
bench-only environment (`.bench-venv/openhtf`, made on first use from PyPI), never in the project's.
`--base-python` adds another checkout's hil (its interpreter) to the same rounds, as `base`.

- hil: a pytest test that calls `check(within(...))` N times (the run's record: written, hashed,
  made durable as the recorder does), `--hil-reports none`;
- OpenHTF: one phase with N `in_range` measurements and its JSON output callback.

The run folders are on a real disk (`--dir`, default `reports/bench-measure` in the repository),
not on tmpfs, since the record's durability (fsync) is part of the cost.

`--phases` also splits each hil side's slope by phase of its pytest process (CPU, from
`os.times()` taken by a conftest in the test's folder): the `check(within(...))` loop, sealing and
indexing the run (`pytest_sessionfinish`), the exit after `pytest_unconfigure` (pytest's clean-up,
`atexit`, the interpreter's finalisation) and the rest (start-up, collection: the fixed part's noise).

Every child compiles its modules once into a byte-code cache of the work folder
(`PYTHONPYCACHEPREFIX`, a warm-up run of each side before the first round), also when the calling
environment says PYTHONDONTWRITEBYTECODE: otherwise pytest re-writes and compiles every module it
rewrites in each process, seconds of CPU that are the same for N = 0 and N but whose noise is not.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OPENHTF = "openhtf==1.6.3"
#: extra pytest options of the hil side (`--no-index`: the run is not indexed into the results database)
HIL_EXTRA: list[str] = []
#: `--phases`: time the hil children's phases too
PHASES_ON = False

HIL_TEST = """
from hil.measure import within


def test_measurements(check):
    for i in range({n}):
        check(within("CV-OVP", f"m{{i}}", 1.0 + i * 1e-6, "V", 0.0, low=0.0, high=2.0))
"""

#: `--phases`: the hil child's conftest, which writes the CPU time at each phase's edge to PHASES_OUT
PHASES_CONFTEST = """
import atexit, json, os
import pytest

T = {}


def _mark(key):
    t = os.times()
    T[key] = t.user + t.system


@atexit.register
def _write():
    with open(os.environ["PHASES_OUT"], "w") as fh:
        json.dump(T, fh)


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem):
    _mark("loop0")
    try:
        return (yield)
    finally:
        _mark("loop1")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    _mark("finish0")
    try:
        return (yield)
    finally:
        _mark("finish1")


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    _mark("unconfigure")
"""
#: `--phases`: the phases, from the conftest's marks and the whole process's CPU ("total")
PHASES = {
    "loop": ("loop0", "loop1"),
    "seal+index": ("finish0", "finish1"),
    "exit": ("unconfigure", "total"),
}

OPENHTF_SCRIPT = """
import sys
import openhtf as htf
from openhtf.output.callbacks import json_factory

N = {n}
OUT = {out!r}


@htf.measures(*[htf.Measurement(f"m{{i}}").in_range(0.0, 2.0) for i in range(N)])
def phase(test):
    for i in range(N):
        test.measurements[f"m{{i}}"] = 1.0 + i * 1e-6


def main():
    test = htf.Test(phase)
    test.add_output_callbacks(json_factory.OutputToJSON(OUT, indent=None))
    test.execute(test_start=lambda: "bench")


if __name__ == "__main__":
    main()
"""


def openhtf_python() -> Path:
    """The bench-only environment's interpreter, with OpenHTF installed (made on first use)."""
    venv = ROOT / ".bench-venv" / "openhtf"
    python = venv / "bin" / "python"
    if not (venv / ".installed").exists():
        print(f"setting up {venv} with {OPENHTF} (once)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", OPENHTF], check=True)
        (venv / ".installed").touch()
    return python


#: the children's environment: byte code cached in the work folder (set by `main`)
CHILD_ENV: dict[str, str] = {}


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds of a whole child process (CPU: its user + system time)."""
    env = {**os.environ, **CHILD_ENV, **(env or {})}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


#: `--phases`: CPU s of each phase of each hil run, by (side, n, round)
PHASE_TIMES: dict[tuple[str, int, int], dict[str, float]] = {}


def hil_run(n: int, work: Path, round_no: int, python: str = sys.executable) -> tuple[float, float]:
    """One hil run of `n` measurements with `python` (another checkout's interpreter: its hil)."""
    side = "hil" if python == sys.executable else "base"
    test_dir = work / f"{side}-{n}"
    test_dir.mkdir(parents=True, exist_ok=True)
    (test_dir / "test_cost.py").write_text(HIL_TEST.format(n=n))
    phases = test_dir / "phases.json"
    if PHASES_ON:
        (test_dir / "conftest.py").write_text(PHASES_CONFTEST)
    out = work / side / f"out-{n}-{round_no}"  # each side's runs share one results database
    cmd = [
        python,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        str(test_dir / "test_cost.py"),
        f"--rootdir={test_dir}",
        f"--hil-out={out}",
        "--hil-reports=none",
        *HIL_EXTRA,
    ]
    wall, cpu = timed(cmd, cwd=test_dir, env={"PHASES_OUT": str(phases)} if PHASES_ON else None)
    if PHASES_ON:
        marks = {**json.loads(phases.read_text()), "total": cpu}
        PHASE_TIMES[side, n, round_no] = {k: marks[b] - marks[a] for k, (a, b) in PHASES.items()}
        PHASE_TIMES[side, n, round_no]["whole"] = cpu
    return wall, cpu


def openhtf_run(python: Path, n: int, work: Path, round_no: int) -> tuple[float, float]:
    script = work / f"openhtf_{n}.py"
    out = work / f"openhtf-out-{n}-{round_no}.json"
    script.write_text(OPENHTF_SCRIPT.format(n=n, out=str(out)))
    return timed([str(python), str(script)], cwd=work, env={"PYTHONWARNINGS": "ignore"})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000, help="measurements per run (N)")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved rounds (median taken)")
    parser.add_argument("--dir", default=str(ROOT / "reports" / "bench-measure"), help="work folder")
    parser.add_argument("--no-openhtf", action="store_true", help="hil only (no reference)")
    parser.add_argument(
        "--no-index", action="store_true", help="hil: leave out indexing the run into the results database"
    )
    parser.add_argument(
        "--base-python",
        help="also run hil with this interpreter (e.g. main's checkout, /work/main/.venv/bin/python), "
        "interleaved in the same rounds, as 'base'",
    )
    parser.add_argument(
        "--phases",
        action="store_true",
        help="hil: also split each slope by phase (the loop, sealing and indexing, the exit, the rest)",
    )
    args = parser.parse_args()
    global PHASES_ON
    PHASES_ON = args.phases
    if args.no_index:
        HIL_EXTRA.append("--hil-db=none")
    base = Path(args.dir)
    base.mkdir(parents=True, exist_ok=True)
    python = None if args.no_openhtf else openhtf_python()
    # per side: (wall slope, CPU slope) of each round
    slopes: dict[str, list[tuple[float, float]]] = {"hil": [], "base": [], "openhtf": []}

    def slope(t0: tuple[float, float], t1: tuple[float, float]) -> tuple[float, float]:
        return (t1[0] - t0[0]) / args.count, (t1[1] - t0[1]) / args.count

    with tempfile.TemporaryDirectory(dir=base) as tmp:
        work = Path(tmp)
        CHILD_ENV["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        # warm-up: each side compiles its modules into the cache once, outside the rounds
        hil_run(0, work, -1)
        if args.base_python:
            hil_run(0, work, -1, args.base_python)
        if python is not None:
            openhtf_run(python, 0, work, -1)
        for r in range(args.repeat):
            slopes["hil"].append(slope(hil_run(0, work, r), hil_run(args.count, work, r)))
            if args.base_python:
                base = args.base_python
                slopes["base"].append(slope(hil_run(0, work, r, base), hil_run(args.count, work, r, base)))
            if python is not None:
                slopes["openhtf"].append(
                    slope(openhtf_run(python, 0, work, r), openhtf_run(python, args.count, work, r))
                )
            line = "round {}: hil {:7.1f} µs wall {:7.1f} µs CPU".format(
                r + 1, *(x * 1e6 for x in slopes["hil"][-1])
            )
            if slopes["base"]:
                base_wall, base_cpu = (x * 1e6 for x in slopes["base"][-1])
                line += f"   base {base_wall:7.1f} µs wall {base_cpu:7.1f} µs CPU"
            if slopes["openhtf"]:
                line += "   openhtf {:7.1f} µs wall {:7.1f} µs CPU".format(
                    *(x * 1e6 for x in slopes["openhtf"][-1])
                )
            print(f"{line}   (load {os.getloadavg()[0]:.2f})", flush=True)
    load = os.getloadavg()
    print(f"\nper measurement (median of {args.repeat}, N={args.count}, load {load[0]:.2f} {load[1]:.2f}):")
    med = {k: [statistics.median(x[i] for x in v) * 1e6 for i in (0, 1)] for k, v in slopes.items() if v}
    for side, (wall, cpu) in med.items():
        print(f"  {side:8s} {wall:7.1f} µs wall  {cpu:7.1f} µs CPU")
    if PHASES_ON:
        print_phases(args.count, args.repeat)
    if "openhtf" in med:
        (ow, oc) = med["openhtf"]
        for side in ("hil", "base"):
            if side in med:
                hw, hc = med[side]
                print(f"  {side}/openhtf {hw / ow:5.2f}x wall  {hc / oc:5.2f}x CPU  (target <= 0.5x)")
    return 0


def print_phases(count: int, repeat: int) -> None:
    """Each hil side's slope by phase, the median of the rounds (CPU µs per measurement)."""
    print(f"\nby phase, CPU µs per measurement (median of {repeat}; rest = start-up and collection):")
    for side in ("hil", "base"):
        rounds = []
        for r in range(repeat):
            if (side, 0, r) not in PHASE_TIMES:
                continue
            t0, t1 = PHASE_TIMES[side, 0, r], PHASE_TIMES[side, count, r]
            slope = {k: (t1[k] - t0[k]) / count * 1e6 for k in t0}
            slope["rest"] = slope["whole"] - sum(slope[k] for k in PHASES)
            rounds.append(slope)
        if rounds:
            cells = "  ".join(f"{k} {statistics.median(x[k] for x in rounds):6.1f}" for k in rounds[0])
            print(f"  {side:8s} {cells}")


if __name__ == "__main__":
    sys.exit(main())
