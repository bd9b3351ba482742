"""The mutation score of a plan (the 12100's, or the D1000 Gen2's with --dut): every generated
non-conforming unit, and the conforming unit across noise seeds.

For each mutant (tests/mutation.py; the D1000's tests/mutation_d1000.py) the plan's tests for the
mutant's requirement IDs run against the twin configured as that unit; a mutant is caught when
the run fails and a failing measurement names one of its IDs. Then the conforming twin runs the
whole plan over N seeds and every failure is counted.

    .venv/bin/python benchmarks/mutants.py [--dut bms12100|prohelion-d1000-gen2|movicom-main-2.1|
        movicom-main-2r]
        [--jobs 2] [--seeds 20] [--only NAME-SUBSTRING]

EOL mode (`--profile eol`): the 12100's EOL mutants (tests/mutation_eol.py: every SIM-ONLY
per-unit hardware fault and every parameter moved one wire step) through the EOL profile; the
D1000's generated mutants through its EOL profile (it has no read-back: its design rows stay
tests). `--profile both` prints the full-profile and the EOL score side by side.

A D1000 mutant applies its configuration (--firmware) while the plan checks the declared one
(-- --hil-dut-config): the documented defaults, or chargingMethod External for the charging rows.
A Movicom mutant (tests/mutation_movicom.py) does the same on the variant's example configuration;
its EOL mutants are the unit rows' and the design rows the Movicom cannot read back (they stay
tests in its EOL profile), plus each readable parameter changed (caught by the read-back).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import mutation_d1000  # noqa: E402
import mutation_eol  # noqa: E402
import mutation_movicom  # noqa: E402
from mutation import MutantRun, failing_ids, mutants, run_mutant  # noqa: E402

from hil import registry  # noqa: E402
from hil.spec import load_spec  # noqa: E402

D1000 = "prohelion-d1000-gen2"


def _generated(dut: str, profile: str) -> tuple[list[Any], list[str], Callable[[Any, Path], MutantRun]]:
    """The DUT family's mutants, the ones left out, and how one runs (in a folder)."""
    spec = load_spec(ROOT / registry.dut_family(dut).spec)
    if dut == D1000:
        found_d, skipped_d = mutation_d1000.mutants(spec)
        return found_d, skipped_d, lambda m, folder: mutation_d1000.run_d1000_mutant(m, folder, ROOT, profile)
    if dut in mutation_movicom.VARIANTS:
        generate = mutation_movicom.eol_mutants if profile == "eol" else mutation_movicom.mutants
        found_m, skipped_m = generate(spec, dut)
        return (
            found_m,
            skipped_m,
            lambda m, folder: mutation_movicom.run_movicom_mutant(m, folder, ROOT, profile),
        )
    if profile == "eol":
        found_e, skipped_e = mutation_eol.eol_mutants(spec)
        return found_e, skipped_e, lambda m, folder: run_mutant(m, folder, ROOT, "eol")
    found, skipped = mutants(spec)
    return found, skipped, lambda m, folder: run_mutant(m, folder, ROOT, profile)


def tested_ids(dut: str, profile: str) -> frozenset[str]:
    """The requirement IDs the plan has a test of in this profile (`hil run --list`)."""
    cmd = [sys.executable, "-m", "hil", "run", "--dut", dut, "--profile", profile, "--list"]
    listed = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return frozenset(line.strip() for line in listed.splitlines() if line.strip() and not line[0].isspace())


def _score(args: argparse.Namespace, profile: str, folder: Path) -> tuple[int, int, list[str]]:
    """Run one profile's mutants; print each and the left-out ones; (caught, generated, missed)."""
    found, skipped, run_one = _generated(args.dut, profile)
    if args.only:
        found = [m for m in found if any(part in m.name for part in args.only)]
    caught = 0
    missed: list[str] = []
    # a mutant none of whose IDs the plan tests yet is missed without a run (it cannot fail one)
    tested = tested_ids(args.dut, profile)
    for mutant in [m for m in found if not m.requirements & tested]:
        print(
            f"{profile:4s} MISSED {mutant.name:55s} no test of {sorted(mutant.requirements)} in this profile"
        )
        missed.append(mutant.name)
    runnable = [m for m in found if m.requirements & tested]
    with ThreadPoolExecutor(args.jobs) as pool:
        for run in pool.map(lambda m: run_one(m, folder), runnable):
            caught += run.caught
            status = "caught" if run.caught else "MISSED"
            why = (
                " (the run failed without a failing measurement)"
                if run.exit_code == 1 and not run.failing
                else ""
            )
            print(
                f"{profile:4s} {status:6s} {run.mutant.name:55s} exit {run.exit_code} "
                f"failing {sorted(run.failing)} ({run.wall_s:.1f} s){why}",
                flush=True,
            )
            if not run.caught:
                missed.append(run.mutant.name)
    for line in skipped:
        print(f"  {profile}: not generated: {line}")
    return caught, len(found), missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dut", default="bms12100", choices=["bms12100", D1000, *mutation_movicom.VARIANTS])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--profile", default="full", choices=["eol", "full", "both"])
    parser.add_argument(
        "--only", action="append", help="run only mutants whose name contains this (repeatable: any of them)"
    )
    args = parser.parse_args()
    profiles = ["full", "eol"] if args.profile == "both" else [args.profile]
    missed: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        scores = {}
        for profile in profiles:
            caught, total, lost = _score(args, profile, folder)
            scores[profile] = (caught, total)
            missed += [f"{name} ({profile})" for name in lost]
        print()
        for profile, (caught, total) in scores.items():
            label = "EOL mutation score" if profile == "eol" else "full-profile mutation score"
            print(f"{label}: {caught}/{total} caught with the right requirement ID")
        if missed:
            print("  missed: " + ", ".join(missed))
        if args.seeds:
            failures = 0
            for seed in range(1, args.seeds + 1):
                out = folder / f"seed-{seed}"
                cmd = [sys.executable, "-m", "hil", "run", "--dut", args.dut, "--seed", str(seed)]
                cmd += ["--profile", profiles[-1], "--reports", "none"]
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
