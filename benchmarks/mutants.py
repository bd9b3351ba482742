"""The mutation score of a plan (the 12100's, or the D1000 Gen2's with --dut): every generated
non-conforming unit, and the conforming unit across noise seeds.

For each mutant (tests/mutation.py; the D1000's tests/mutation_d1000.py) the plan's tests for the
mutant's requirement IDs run against the twin configured as that unit; a mutant is caught when
the run fails and a failing measurement names one of its IDs. Then the conforming twin runs the
whole plan over N seeds and every failure is counted.

    .venv/bin/python benchmarks/mutants.py [--dut bms12100|prohelion-d1000-gen2|movicom-main-2.1|
        movicom-main-2r]
        [--jobs 2] [--seeds 20] [--only NAME-SUBSTRING] [--name NAME] [--focus | --whole-plan | --compare]

Which tests run per mutant (the score line names it): `--focus` (the default) only the tests
marked with one of the mutant's requirement IDs (`--hil-requirement`; in the EOL profile that
includes the read-back test, which names every row a parameter governs), so a sweep costs a
fraction of whole-plan runs; `--whole-plan` every test of the profile; `--compare` both, and says
for each mutant whether they agree (caught or missed, and the mutant's IDs that failed).

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
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import mutation_d1000  # noqa: E402
import mutation_eol  # noqa: E402
import mutation_movicom  # noqa: E402
from mutation import (  # noqa: E402
    FOCUS,
    WHOLE_PLAN,
    MutantRun,
    broken_tests,
    failing_ids,
    mutants,
    run_declared,
    run_mutant,
)

from hil import registry  # noqa: E402
from hil.spec import load_spec  # noqa: E402

D1000 = "prohelion-d1000-gen2"


#: what each mode runs per mutant, as the score line says it
MODES = {"focus": FOCUS, "whole": WHOLE_PLAN, "compare": f"compare: {FOCUS} against the {WHOLE_PLAN}"}

Runner = Callable[[Any, Path, bool], MutantRun]


def _generated(dut: str, profile: str) -> tuple[list[Any], list[str], Runner]:
    """The DUT family's mutants, the ones left out, and how one runs (in a folder, focused or not)."""
    spec = load_spec(ROOT / registry.dut_family(dut).spec)
    if dut == D1000:
        found_d, skipped_d = mutation_d1000.mutants(spec)
        return (
            found_d,
            skipped_d,
            lambda m, folder, focus: run_declared(m, folder, ROOT, profile, focus),
        )
    if dut in mutation_movicom.VARIANTS:
        generate = mutation_movicom.eol_mutants if profile == "eol" else mutation_movicom.mutants
        found_m, skipped_m = generate(spec, dut)
        return (
            found_m,
            skipped_m,
            lambda m, folder, focus: run_declared(m, folder, ROOT, profile, focus),
        )
    if profile == "eol":
        found_e, skipped_e = mutation_eol.eol_mutants(spec)
        return found_e, skipped_e, lambda m, folder, focus: run_mutant(m, folder, ROOT, "eol", focus=focus)
    found, skipped = mutants(spec)
    return found, skipped, lambda m, folder, focus: run_mutant(m, folder, ROOT, profile, focus=focus)


def tested_ids(dut: str, profile: str) -> frozenset[str]:
    """The requirement IDs the plan has a test of in this profile (`hil run --list`)."""
    cmd = [sys.executable, "-m", "hil", "run", "--dut", dut, "--profile", profile, "--list"]
    listed = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return frozenset(line.strip() for line in listed.splitlines() if line.strip() and not line[0].isspace())


def _line(profile: str, run: MutantRun, label: str = "") -> str:
    """One mutant's result: caught or MISSED, exit code, failing IDs, wall time, and for a miss why."""
    status = "caught" if run.caught else "MISSED"
    why = ""
    if not run.caught:
        why = (
            " (the run failed without a failing measurement)"
            if run.exit_code == 1 and not run.failing
            else f" ({run.judged} judged result(s) of {sorted(run.mutant.requirements)}, none failing)"
        )
    return (
        f"{profile:4s} {label}{status:6s} {run.mutant.name:55s} exit {run.exit_code} "
        f"failing {sorted(run.failing)} ({run.wall_s:.1f} s){why}"
    )


def _compare(profile: str, runs: tuple[MutantRun, MutantRun]) -> bool:
    """Print a mutant's focused and whole-plan results; whether they agree (verdict and named IDs)."""
    focused, whole = runs
    ids = focused.mutant.requirements
    same = focused.caught == whole.caught and focused.failing & ids == whole.failing & ids
    print(_line(profile, focused, "focus "), flush=True)
    print(_line(profile, whole, "whole "), flush=True)
    print(f"{profile:4s} {'same' if same else 'DIFFERENT':9s} {focused.mutant.name}", flush=True)
    return same


def _score(args: argparse.Namespace, profile: str, folder: Path) -> tuple[int, int, list[str]]:
    """Run one profile's mutants; print each and the left-out ones; (caught, generated, missed).

    In compare mode the focused run counts, and a mutant on which the two modes disagree is missed."""
    found, skipped, run_one = _generated(args.dut, profile)
    if args.only or args.name:
        found = [m for m in found if any(p in m.name for p in args.only or ()) or m.name in (args.name or ())]
    caught = 0
    missed: list[str] = []
    runnable = found
    if args.mode == "focus":
        # a mutant none of whose IDs the plan tests yet is missed without a run (it cannot fail one)
        tested = tested_ids(args.dut, profile)
        for mutant in [m for m in found if not m.requirements & tested]:
            print(
                f"{profile:4s} MISSED {mutant.name:55s} no test of {sorted(mutant.requirements)} "
                "in this profile"
            )
            missed.append(mutant.name)
        runnable = [m for m in found if m.requirements & tested]
    with ThreadPoolExecutor(args.jobs) as pool:
        if args.mode == "compare":
            pairs = pool.map(lambda m: (run_one(m, folder, True), run_one(m, folder, False)), runnable)
            for pair in pairs:
                same = _compare(profile, pair)
                caught += pair[0].caught and same
                if not (pair[0].caught and same):
                    missed.append(pair[0].mutant.name)
            runnable = []
        for run in pool.map(lambda m: run_one(m, folder, args.mode == "focus"), runnable):
            caught += run.caught
            print(_line(profile, run), flush=True)
            if not run.caught:
                missed.append(run.mutant.name)
    for line in skipped:
        print(f"  {profile}: not generated: {line}")
    return caught, len(found), missed


def _commit() -> str:
    """The checkout's commit (with "+changes" when the work tree differs), for the figures."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=ROOT, check=False).returncode
    return head.stdout.strip() + ("+changes" if dirty else "")


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dut", default="bms12100", choices=["bms12100", D1000, *mutation_movicom.VARIANTS])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--profile", default="full", choices=["eol", "full", "both"])
    parser.add_argument(
        "--only", action="append", help="run only mutants whose name contains this (repeatable: any of them)"
    )
    parser.add_argument("--name", action="append", help="run the mutant of this exact name (repeatable)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--focus",
        dest="mode",
        action="store_const",
        const="focus",
        help=f"per mutant, {FOCUS} (the default)",
    )
    mode.add_argument(
        "--whole-plan", dest="mode", action="store_const", const="whole", help=f"per mutant, {WHOLE_PLAN}"
    )
    mode.add_argument(
        "--compare",
        dest="mode",
        action="store_const",
        const="compare",
        help="run each mutant focused and on the whole plan, and say whether the results agree",
    )
    parser.set_defaults(mode="focus")
    args = parser.parse_args()
    profiles = ["full", "eol"] if args.profile == "both" else [args.profile]
    missed: list[str] = []
    start, load_before = time.monotonic(), _load()
    print(f"{args.dut}, commit {_commit()}, {MODES[args.mode]}; load {load_before}", flush=True)
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
            agree = " (and the same on the whole plan)" if args.mode == "compare" else ""
            print(
                f"{label}: {caught}/{total} caught with the right requirement ID{agree} ({MODES[args.mode]})"
            )
        wall = time.monotonic() - start
        print(f"wall {wall:.0f} s; load (1/5/15 min) {load_before} at the start, {_load()} at the end")
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
                if proc.returncode != 0:
                    for line in broken_tests(out) or [proc.stderr.decode(errors="replace")[-500:]]:
                        print(f"    {line}", flush=True)
            print(f"conforming twin: {failures} failing run(s) in {args.seeds} seeds")
    return 0 if not missed else 1


if __name__ == "__main__":
    raise SystemExit(main())
