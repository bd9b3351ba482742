"""Units per hour of a line with 1, 2 and 4 sockets on the simulated 12100, paced to the wall clock.

Each socket runs its units one after another exactly as `hil eol` does (the same `Line` and
socket runners: each unit's `hil run` forked by the socket's warm process, or with --fresh a new
process per unit; each unit with its own simulated lab on ports the OS picks); the operator's clicks
are made by this script at once, so the figure is the line's own throughput. The warm processes
start (and import) before the clock starts, as they do once when `hil eol` starts. Each unit runs
the whole EOL profile (about 12 minutes for 1, 2 and 4 sockets); `--requirement CV-OVP` runs a
short subset instead (about 5 minutes), whose units are mostly start-up. Prints units per hour
per socket count, CPU seconds per unit (the unit's processes and its lab, from the OS's accounting
of children), the machine's load beside each, and the 4-socket / 1-socket ratio (target >= 3.6x).

    .venv/bin/python benchmarks/eol_sockets.py [--units 8] [--requirement all|ID] [--sockets 1,2,4] [--fresh]

Exit 3 if any unit did not pass (the figures would not be a line's).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from hil.production.line import LineModel, SocketModel
from hil.production.runner import Line

ROOT = Path(__file__).resolve().parents[1]
STATION = ROOT / "stations" / "sim-bms12100.yaml"
SERIAL = "12100A0000001"  # the simulated 12100's serial: every unit of the bench is that one


def run_line(
    sockets: int, units: int, requirement: str, out: Path, warm: bool
) -> tuple[float, list[str], list[float]]:
    """Wall time to run `units` units on `sockets` sockets; the verdicts; each unit's duration."""
    model = LineModel(
        name=f"bench-{sockets}",
        dut="bms12100",
        lot=f"B{sockets}",
        max_retests=10 * units,
        out=str(out),
        pytest_args=([] if requirement == "all" else ["--hil-requirement", requirement]) + ["--hil-pace"],
        sockets=[SocketModel(name=f"S{i + 1}", station=str(STATION)) for i in range(sockets)],
    )
    line = Line(model, ROOT, out, warm=warm)
    line.warm_up()
    for runner in line.sockets.values():
        if not runner.ready(120.0):
            raise SystemExit(f"error: the warm process of socket {runner.name} did not start")
    started = units
    verdicts: list[str] = []
    durations: list[float] = []
    t0 = time.monotonic()
    try:
        while len(verdicts) < units:
            for runner in line.sockets.values():
                runner.poll()
                if runner.state == "done" and runner.unit is not None:
                    verdicts.append(runner.unit.verdict)
                    durations.append((runner.unit.ended or 0.0) - runner.unit.started)
                    runner.next_unit()
                if runner.state == "idle" and started > 0:
                    runner.busy_serials = None  # the sim's units share one serial; a real line's do not
                    if runner.submit_serial(SERIAL, "bench") is None and runner.start() is None:
                        started -= 1
            time.sleep(0.1)
    finally:  # Ctrl-C: the running units stop the Ctrl-C way too
        line.shutdown()
    return time.monotonic() - t0, verdicts, durations


def _children_cpu_s() -> float:
    """CPU seconds (user + system) of this script's ended children and theirs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _load() -> str:
    """The machine's load averages (1, 5, 15 min), as `uptime` prints them."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=8, help="units per socket count (default 8)")
    parser.add_argument(
        "--requirement",
        default="all",
        help="the plan subset each unit runs (default all: the whole EOL profile)",
    )
    parser.add_argument("--sockets", default="1,2,4", help="socket counts to measure")
    parser.add_argument(
        "--fresh", action="store_true", help="a new `hil run` process per unit (no warm process)"
    )
    args = parser.parse_args()
    counts = [int(c) for c in args.sockets.split(",")]
    print(
        f"machine: {os.cpu_count()} CPU cores; {args.units} units per line; subset {args.requirement}, "
        f"paced; {'a fresh process' if args.fresh else 'forked by the warm process'} per unit"
    )
    rates: dict[int, float] = {}
    bad = False
    with tempfile.TemporaryDirectory(prefix="eol-sockets-") as tmp:
        for n in counts:
            cpu0 = _children_cpu_s()
            wall, verdicts, durations = run_line(
                n, args.units, args.requirement, Path(tmp) / f"s{n}", warm=not args.fresh
            )
            cpu = (_children_cpu_s() - cpu0) / args.units  # the warm processes' imports included
            rates[n] = args.units / wall * 3600
            mean = sum(durations) / len(durations)
            print(
                f"{n} socket(s): {args.units} units in {wall:6.1f} s = {rates[n]:6.1f} units/h "
                f"(mean unit {mean:5.1f} s, {cpu:4.1f} s CPU per unit; verdicts "
                f"{' '.join(sorted(set(verdicts)))}; load {_load()})",
                flush=True,
            )
            bad = bad or any(v != "PASS" for v in verdicts)
    if 1 in rates and 4 in rates:
        print(f"4 sockets / 1 socket: {rates[4] / rates[1]:.2f}x (target >= 3.6x)")
    if bad:
        print("error: a unit did not pass; the figures are not a line's", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
