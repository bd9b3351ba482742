"""CPU and instructions per firmware cycle of the 12100 twin, in process, this tree against a git ref.

What a full plan's lab asks of the twin, in three scenarios (default settings, seed 1, 4 cells at
3.30 V, 25 °C):
- held: a discharge at -20 A with the inputs held, 100 cycles of 1 s per `step(..., until_change=True)`
  (the plant's held steps: 20,841 of the plan's 38,762 cycles);
- standby: the same without current (60 s cycles);
- stepped: a 1 s plant step at a time with what the plant asks around it (a zero-length step,
  `max_step`, the step, `outputs`, the paths, bleed and supply currents, `telemetry`), the inputs
  held (the CAN-bound steps: 15,314 cycles).
CPU is the least per cycle of `--trials` trials (a busy machine disturbs the least trial least);
`--instructions` adds cachegrind's instruction count per cycle: the difference of two runs of
different length divided by the cycles between them (start-up cancels). `--against REF` measures
the code of a git ref too (its `hil/` from `git archive` into a temporary folder), side by side.

    .venv/bin/python benchmarks/twin_cycle_probe.py [--against main] [--instructions] [--trials 15]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ("held", "standby", "stepped")
CYCLES = 400  # per trial
CELL_V = 3.3


def _twin(scenario: str) -> tuple[Any, Any]:
    """A powered twin with 90 Ah left and the scenario's held inputs, run for 10 cycles."""
    from hil.duts.bms12100 import ntc
    from hil.duts.bms12100.config import Settings
    from hil.duts.bms12100.sim.twin import Bms12100Twin, TerminalInputs

    current = 0.0 if scenario == "standby" else -20.0
    pack = 4 * CELL_V
    inputs = TerminalInputs([CELL_V] * 4, [ntc.resistance_ohm(25.0)] * 4, current, pack - 0.03)
    twin = Bms12100Twin(Settings(), 1)
    twin.power_on(0.0, inputs)
    twin.set_remaining_capacity(90.0)
    twin.step(10 * twin.max_step(), 10 * twin.max_step(), inputs)
    return twin, inputs


def run(twin: Any, inputs: Any, scenario: str, cycles: int) -> None:
    """`cycles` firmware cycles of `scenario` on `twin` (which stays as it is, held)."""
    t = twin.telemetry().time_s
    if scenario != "stepped":
        per_call = 100
        h = twin.max_step()
        for _ in range(cycles // per_call):
            t = twin.step(t + per_call * h, per_call * h, inputs, until_change=True)
        return
    for _ in range(cycles):
        twin.step(t, 0.0, inputs)
        h = min(1.0, twin.max_step())
        t = twin.step(t + h, h, inputs)
        twin.outputs()
        for _ in range(2):
            twin.charge_path_closed, twin.discharge_path_closed, twin.precharge_active  # noqa: B018
        twin.bleed_currents(), twin.supply_current_a()
        twin.telemetry()


def worker(scenario: str, cycles: int, trials: int) -> dict[str, Any]:
    """The least CPU per cycle (µs) of `trials` trials, each on a fresh twin (setup not timed)."""
    best = float("inf")
    for _ in range(trials):
        twin, inputs = _twin(scenario)
        t0 = time.process_time()
        run(twin, inputs, scenario, cycles)
        best = min(best, (time.process_time() - t0) / cycles)
    import hil

    return {"us": 1e6 * best, "code": str(Path(hil.__file__).resolve().parents[1])}


def _child(root: Path, *args: str, valgrind: bool = False) -> tuple[dict[str, Any], int | None]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--root", str(root), *args]
    if valgrind:
        cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    refs = re.search(r"I\s+refs:\s+([\d,]+)", proc.stderr)
    return json.loads(proc.stdout.splitlines()[-1]), int(refs.group(1).replace(",", "")) if refs else None


def figures(root: Path, trials: int, instructions: bool) -> dict[str, tuple[float, float | None]]:
    """Per scenario: µs CPU per cycle and (with `instructions`) instructions per cycle."""
    out: dict[str, tuple[float, float | None]] = {}
    for scenario in SCENARIOS:
        cpu = _child(root, scenario, str(CYCLES), str(trials))[0]["us"]
        per: float | None = None
        if instructions:
            short = _child(root, scenario, str(CYCLES), "1", valgrind=True)[1]
            long = _child(root, scenario, str(3 * CYCLES), "1", valgrind=True)[1]
            per = None if short is None or long is None else (long - short) / (2 * CYCLES)
        out[scenario] = (cpu, per)
    return out


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", metavar="REF", help="also measure the code of this git ref")
    parser.add_argument("--trials", type=int, default=15)
    parser.add_argument("--instructions", action="store_true", help="also count instructions (cachegrind)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        sys.path.insert(0, str(args.root.resolve()))
        scenario, cycles, trials = args.args[0], int(args.args[1]), int(args.args[2])
        print(json.dumps(worker(scenario, cycles, trials)))
        return 0
    with tempfile.TemporaryDirectory(prefix="twin-probe-") as tmp:
        roots = {"this tree": ROOT}
        if args.against:
            archive = subprocess.run(
                ["git", "-C", str(ROOT), "archive", args.against, "hil"], capture_output=True, check=True
            )
            subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
            roots[args.against] = Path(tmp)
        print(f"load {_load()}; CPU µs per cycle (least of {args.trials} trials of {CYCLES} cycles)")
        header = "".join(f"{s:>20}" for s in SCENARIOS)
        print(f"{'code':<12}{header}")
        for name, root in roots.items():
            result = figures(root, args.trials, args.instructions)
            cells = "".join(
                f"{cpu:>9.1f} µs" + (f" {ir:>7.0f} I" if ir is not None else " " * 9)
                for cpu, ir in result.values()
            )
            print(f"{name:<12}{cells}", flush=True)
        print(f"load {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
