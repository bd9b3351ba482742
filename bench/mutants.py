"""The mutation score of the 12100 plan: every generated non-conforming unit, and the conforming
unit across noise seeds.

For each mutant (tests/mutants.py) the plan's tests for the mutant's requirement IDs run against
the twin configured as that unit; a mutant is caught when the run fails and a failing
measurement names one of its IDs. Then the conforming twin runs the whole plan over N seeds and
every failure is counted.

    .venv/bin/python bench/mutants.py [--jobs 2] [--seeds 20] [--only NAME-SUBSTRING]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from mutation import failing_ids, mutants, run_mutant  # noqa: E402

from hil.spec import load_spec  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--profile", default="full", choices=["eol", "full"])
    parser.add_argument("--only", help="run only mutants whose name contains this")
    args = parser.parse_args()
    spec = load_spec(ROOT / "hil/duts/bms12100/spec.yaml")
    found, skipped = mutants(spec)
    if args.only:
        found = [m for m in found if args.only in m.name]
    caught = 0
    missed: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(args.jobs) as pool:
        folder = Path(tmp)
        for run in pool.map(lambda m: run_mutant(m, folder, ROOT, args.profile), found):
            caught += run.caught
            status = "caught" if run.caught else "MISSED"
            print(
                f"{status:6s} {run.mutant.name:55s} exit {run.exit_code} failing {sorted(run.failing)} "
                f"({run.wall_s:.1f} s)",
                flush=True,
            )
            if not run.caught:
                missed.append(run.mutant.name)
        print(f"\nmutation score: {caught}/{len(found)} caught with the right requirement ID")
        for line in skipped:
            print(f"  not generated: {line}")
        if missed:
            print("  missed: " + ", ".join(missed))
        if args.seeds:
            failures = 0
            for seed in range(1, args.seeds + 1):
                out = folder / f"seed-{seed}"
                cmd = [sys.executable, "-m", "hil", "run", "--seed", str(seed), "--profile", args.profile]
                proc = subprocess.run([*cmd, "--out", str(out)], cwd=ROOT, capture_output=True, check=False)
                bad = failing_ids(out)
                failures += proc.returncode != 0
                print(
                    f"conforming twin, seed {seed:2d}: exit {proc.returncode} failing {sorted(bad)}",
                    flush=True,
                )
            print(f"conforming twin: {failures} failing run(s) in {args.seeds} seeds")
    return 0 if not missed else 1


if __name__ == "__main__":
    raise SystemExit(main())
