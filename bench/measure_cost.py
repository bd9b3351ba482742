"""Cost per recorded measurement: hil's `check(within(...))` against OpenHTF 1.6.3, side by side.

Each side is a whole process, run for N = 0 and N = `--count` measurements; the cost per measurement
is the slope (T(N) - T(0)) / N, the median over `--repeat` interleaved rounds. OpenHTF runs in a
bench-only environment (`.bench-venv/openhtf`, made on first use from PyPI), never in the project's.

- hil: a pytest test that calls `check(within(...))` N times (the run's record: written, hashed,
  made durable as the recorder does), `--hil-reports none`;
- OpenHTF: one phase with N `in_range` measurements and its JSON output callback.

The run folders are on a real disk (`--dir`, default `reports/bench-measure` in the repository),
not on tmpfs, since the record's durability (fsync) is part of the cost.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OPENHTF = "openhtf==1.6.3"

HIL_TEST = """
from hil.measure import within


def test_measurements(check):
    for i in range({n}):
        check(within("CV-OVP", f"m{{i}}", 1.0 + i * 1e-6, "V", 0.0, low=0.0, high=2.0))
"""

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


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def hil_run(n: int, work: Path, round_no: int) -> float:
    test_dir = work / f"hil-{n}"
    test_dir.mkdir(parents=True, exist_ok=True)
    (test_dir / "test_cost.py").write_text(HIL_TEST.format(n=n))
    out = work / f"hil-out-{n}-{round_no}"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        str(test_dir / "test_cost.py"),
        f"--rootdir={test_dir}",
        f"--hil-out={out}",
        "--hil-reports=none",
    ]
    return timed(cmd, cwd=test_dir)


def openhtf_run(python: Path, n: int, work: Path, round_no: int) -> float:
    script = work / f"openhtf_{n}.py"
    out = work / f"openhtf-out-{n}-{round_no}.json"
    script.write_text(OPENHTF_SCRIPT.format(n=n, out=str(out)))
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return timed([str(python), str(script)], cwd=work, env=env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="measurements per run (N)")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved rounds (median taken)")
    parser.add_argument("--dir", default=str(ROOT / "reports" / "bench-measure"), help="work folder")
    parser.add_argument("--no-openhtf", action="store_true", help="hil only (no reference)")
    args = parser.parse_args()
    base = Path(args.dir)
    base.mkdir(parents=True, exist_ok=True)
    python = None if args.no_openhtf else openhtf_python()
    slopes: dict[str, list[float]] = {"hil": [], "openhtf": []}
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        work = Path(tmp)
        for r in range(args.repeat):
            t0 = hil_run(0, work, r)
            t1 = hil_run(args.count, work, r)
            slopes["hil"].append((t1 - t0) / args.count)
            if python is not None:
                o0 = openhtf_run(python, 0, work, r)
                o1 = openhtf_run(python, args.count, work, r)
                slopes["openhtf"].append((o1 - o0) / args.count)
            line = f"round {r + 1}: hil {slopes['hil'][-1] * 1e6:7.1f} µs"
            if slopes["openhtf"]:
                line += f"   openhtf {slopes['openhtf'][-1] * 1e6:7.1f} µs"
            print(line, flush=True)
    load = os.getloadavg()
    hil = statistics.median(slopes["hil"]) * 1e6
    print(f"\nper measurement (median of {args.repeat}, N={args.count}, load {load[0]:.2f} {load[1]:.2f}):")
    print(f"  hil      {hil:7.1f} µs")
    if slopes["openhtf"]:
        ref = statistics.median(slopes["openhtf"]) * 1e6
        print(f"  openhtf  {ref:7.1f} µs")
        print(f"  ratio    {hil / ref:7.2f}x OpenHTF (target <= 0.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
