"""Cost per recorded measurement: hil's `check(within(...))` against OpenHTF 1.6.3, side by side.

Each side is a whole process, run for N = 0 and N = `--count` measurements; the cost per measurement
is the slope (T(N) - T(0)) / N, the median over `--repeat` interleaved rounds. OpenHTF runs in a
bench-only environment (`.bench-venv/openhtf`, made on first use from PyPI), never in the project's.
`--base-python` adds another checkout's hil (its interpreter) to the same rounds, as `base`.

- hil: a pytest test that calls `check(within(...))` N times (the run's record: written, hashed,
  made durable as the recorder does), `--hil-reports none`, with only hil's pytest plugin loaded,
  as `hil run` has it (`--plugin-autoload`: every plugin installed in the environment, as before);
- OpenHTF: one phase with N `in_range` measurements and its JSON output callback.

A round runs each side's two processes back to back, the sides in an order rotated by one each
round and N = 0 first in even rounds, last in odd ones (`round_order`). Besides the medians the
summary gives the CPU slopes' quartiles and range and the per-round ratios (median, range, how
many rounds meet 0.5x). Why: the same deterministic CPU work varies by about ±8 % from one second
to the next on this shared machine, so a slope's spread is mostly the spread of its processes'
fixed seconds (start-up, collection, exit), not of their measurements: the fewer fixed seconds,
the steadier the slope. See `benchmarks/README.md`, session 27.

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

from hil.runopts import PLUGIN

ROOT = Path(__file__).resolve().parents[1]
OPENHTF = "openhtf==1.6.3"
#: extra pytest options of the hil side (`--no-index`: the run is not indexed into the results database)
HIL_EXTRA: list[str] = []
#: the hil side's pytest loads only hil's plugin, as `hil run` has it (`--plugin-autoload`: every
#: installed one, as before session 27: hypothesis, trio's hook into it, xdist, allure, labgrid)
HIL_PLUGINS = ["--disable-plugin-autoload", "-p", PLUGIN]
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
        *HIL_PLUGINS,
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


#: the sides in a round's first order (rotated by one each round)
SIDES = ("hil", "base", "openhtf")


def round_order(round_no: int, sides: list[str], count: int) -> list[tuple[str, int]]:
    """The processes of one round, in the order they run: the sides rotated by one each round, and
    each side's N = 0 and N = `count` runs back to back, N = 0 first in even rounds and last in odd
    ones, so no side and no N always runs in the same slot (after the same neighbour, at the same
    point of a drift in the machine's speed)."""
    k = round_no % len(sides)
    pairs = (0, count) if round_no % 2 == 0 else (count, 0)
    return [(side, n) for side in sides[k:] + sides[:k] for n in pairs]


def quartiles(values: list[float]) -> tuple[float, float, float]:
    """(first quartile, median, third quartile) of `values` (inclusive method; one value: itself)."""
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


#: the runs' times: side -> N -> [(wall s, CPU s) of each round]
Samples = dict[str, dict[int, list[tuple[float, float]]]]


def slopes(samples: Samples, side: str, count: int, i: int) -> list[float]:
    """One side's per-round slopes (T(N) - T(0)) / N, of wall (`i` = 0) or CPU (`i` = 1) seconds."""
    return [(t1[i] - t0[i]) / count for t0, t1 in zip(samples[side][0], samples[side][count], strict=True)]


def report(samples: Samples, count: int) -> list[str]:
    """The summary's lines: per side the median slope (wall, CPU) with the CPU slopes' quartiles and
    range; then each hil side against OpenHTF, by the medians and by the rounds' own ratios (median,
    range, how many meet 0.5x)."""
    lines = []
    med: dict[str, tuple[float, float]] = {}
    for side in (s for s in SIDES if samples.get(s)):
        wall, cpu = slopes(samples, side, count, 0), slopes(samples, side, count, 1)
        med[side] = statistics.median(wall), statistics.median(cpu)
        q1, _, q3 = quartiles(cpu)
        lines.append(
            f"  {side:8s} {med[side][0] * 1e6:7.1f} µs wall  {med[side][1] * 1e6:7.1f} µs CPU"
            f"   CPU quartiles {q1 * 1e6:.1f}-{q3 * 1e6:.1f},"
            f" range {min(cpu) * 1e6:.1f}-{max(cpu) * 1e6:.1f}"
        )
    if "openhtf" in med:
        ref = slopes(samples, "openhtf", count, 1)
        for side in ("hil", "base"):
            if side in med:
                ratios = [h / o for h, o in zip(slopes(samples, side, count, 1), ref, strict=True)]
                lines.append(
                    f"  {side}/openhtf {med[side][0] / med['openhtf'][0]:5.2f}x wall"
                    f"  {med[side][1] / med['openhtf'][1]:5.2f}x CPU  (target <= 0.5x);"
                    f" per round CPU: median {statistics.median(ratios):.2f}x,"
                    f" range {min(ratios):.2f}-{max(ratios):.2f}x, {sum(r <= 0.5 for r in ratios)} of"
                    f" {len(ratios)} rounds <= 0.5x"
                )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40000, help="measurements per run (N)")
    parser.add_argument("--repeat", type=int, default=9, help="interleaved rounds (median taken)")
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
    parser.add_argument(
        "--plugin-autoload",
        action="store_true",
        help="hil: let pytest load every installed plugin (the method before session 27), not only hil's",
    )
    parser.add_argument(
        "--raw", type=Path, help="also write every process's (wall, CPU) seconds to this JSON file"
    )
    args = parser.parse_args()
    global PHASES_ON
    PHASES_ON = args.phases
    if args.no_index:
        HIL_EXTRA.append("--hil-db=none")
    if args.plugin_autoload:
        HIL_PLUGINS.clear()
    base_dir = Path(args.dir)
    base_dir.mkdir(parents=True, exist_ok=True)
    python = None if args.no_openhtf else openhtf_python()
    sides = [
        s for s in SIDES if s == "hil" or (s == "base" and args.base_python) or (s == "openhtf" and python)
    ]
    samples: Samples = {side: {0: [], args.count: []} for side in sides}

    def run(side: str, n: int, work: Path, r: int) -> tuple[float, float]:
        if side == "openhtf":
            assert python is not None
            return openhtf_run(python, n, work, r)
        return hil_run(n, work, r, args.base_python if side == "base" else sys.executable)

    with tempfile.TemporaryDirectory(dir=base_dir) as tmp:
        work = Path(tmp)
        CHILD_ENV["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        # warm-up: each side compiles its modules into the cache once, outside the rounds
        for side in sides:
            run(side, 0, work, -1)
        for r in range(args.repeat):
            for side, n in round_order(r, sides, args.count):
                samples[side][n].append(run(side, n, work, r))
            cells = []
            for side in sides:
                (t0, t1) = samples[side][0][-1], samples[side][args.count][-1]
                wall, cpu = ((t1[i] - t0[i]) / args.count * 1e6 for i in (0, 1))
                cells.append(f"{side} {wall:7.1f} µs wall {cpu:7.1f} µs CPU")
            print(f"round {r + 1}: {'   '.join(cells)}   (load {os.getloadavg()[0]:.2f})", flush=True)
    if args.raw:
        args.raw.write_text(json.dumps({"count": args.count, "samples": samples}))
    load = os.getloadavg()
    print(f"\nper measurement (median of {args.repeat}, N={args.count}, load {load[0]:.2f} {load[1]:.2f}):")
    print("\n".join(report(samples, args.count)))
    if PHASES_ON:
        print_phases(args.count, args.repeat)
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
