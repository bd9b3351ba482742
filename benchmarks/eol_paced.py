"""Wall time of one unit's EOL profile on the simulated lab paced to the wall clock, row by row.

Runs `hil run --dut DUT --profile eol --reports none -- --hil-pace` and prints: the wall time of
the command and of the plan (record opened to sealed), the plan's dwell (sum of its waits), the
virtual time each `unit` row's tests took (a test of several rows is shared between them; the
read-back and the preparation between tests on lines of their own), each test's own seconds and
the preparation before it (power cycles, settling), and each unit
row's floor: the waits the DUT itself imposes on that row's EOL check (for the D1000's PH-ENV,
the station's chamber travel; docs/eol.md). The floor of the run is the sum of the rows' floors,
or, where the family's EOL order runs the other tests inside one row's travel (`OVERLAPPED_BY`:
the D1000's PH-ENV), the larger of that row's floor and the others' sum; paced, it prints whether
the wall time is within floor + 10 %.

    .venv/bin/python benchmarks/eol_paced.py [--dut NAME] [--no-pace] [--units N]

`--units N` (N > 1) runs N units one after another on one socket as a line does: one simulated lab
started once and every unit's run attached to it (`sim.attach`), so the chamber keeps the air where
the last unit left it (a fresh lab per run would start every unit at ambient). It prints each
unit's figures, the chamber's air at its start, and the steady-state cycle time (the mean wall time
of units 2..N, the next unit started at once: the operator's swap is not in it).

Exit 0 when the EOL run accepted the unit, 3 when it did not (or did not finish): a bench figure
from a failing run is not a figure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from hil import registry  # noqa: E402
from hil.sim.client import SimProcess  # noqa: E402
from hil.spec import load_spec  # noqa: E402

TARGET_S = {"bms12100": 60.0, "prohelion-d1000-gen2": 120.0}
#: 12100 unit rows: the DUT-imposed waits of their EOL check (s) and where each comes from. The
#: voltage trip/release delays are the twin's (1 s each; the seed gives none); the rest are the
#: released parameters or the protocol's periods.
FLOORS_12100: dict[str, tuple[float, str]] = {
    "CV-OVP": (2.0, "trip delay 1 s + release delay 1 s (twin's voltage delay)"),
    "CV-UVP": (2.0, "trip delay 1 s + release delay 1 s (twin's voltage delay)"),
    "SCP": (0.0, "300 µs firmware delay; the charge releases it at once"),
    "PRE": (2.0, "precharge.time_ms 2000 at start-up"),
    "PM-SLEEP-I": (1.0, "PM-UVSD shutdown delay at its smallest wire step (1 s) before the sleep current"),
    "PM-WAKE": (1.0, "first CAN frame after the RS-485 wake (telemetry period 1 s)"),
    "COM-CAN": (1.0, "two frames of every ID: one 1 s period"),
    "COM-485": (0.0, "one poll"),
    "BAL-CHG": (0.0, "bleed switch on the next firmware cycle"),
    "ACC-CV": (0.0, "one reading per level"),
    "ACC-PV": (0.0, "one reading per level"),
    "ACC-T": (0.0, "one reading per level"),
    "ACC-I": (0.0, "one reading per level"),
    "EL-VOP": (0.0, "one reading per supply level"),
    "EL-RDS": (0.0, "one DMM reading at load"),
}

#: D1000 Gen2 unit rows: the waits their EOL check cannot avoid (s). PH-ENV's is the station's: the
#: chamber must carry the BMU beyond each configured temperature limit and back inside at its rate
#: (sim model 0.2 °C/s), default limits and margins, the station's 5 s soak in a ±0.5 °C band.
FLOORS_D1000: dict[str, tuple[float, str]] = {
    "PH-ENV": (
        642.6,
        "first unit, air at 25 °C: travel 125 °C / 0.2 °C/s = 625 s (25>58>62>-18>-22>-18, once; back "
        "inside Max on the way) + 4 levels held 5 s from entering their ±0.5 °C band (+2.5 s each) + 5 s "
        "soak after the last pass + 2 x 1.3 s inside holds; humidity (1 %RH/s) and pressure ride on it; "
        "station, not DUT",
    ),
    "PH-SUP-V": (1.5, "start-up at the nominal supply: initialise 0.5 s + calibrate 1 s (assumed)"),
    "PH-SUP-I": (1.5, "start-up to SAFE for the SAFE reading (initialise + calibrate)"),
    "PH-CAN": (1.0, "every frame of the layout at least once: the 1 s slow period (OUR CHOICE)"),
    "PH-CMU": (1.0, "NodeStats after a CMU break: one slow period"),
    "PH-CONT": (0.0, "aux inputs read at once (no debounce documented)"),
    "PH-HVIL": (0.0, "HVIL read at once"),
    "PH-MSG-ACC": (0.1, "one fast period per reading"),
    "PH-LSS": (0.0, "nothing to command in V1.2"),
}
FLOORS = {"bms12100": FLOORS_12100, "prohelion-d1000-gen2": FLOORS_D1000}
#: a row whose station wait the other rows' tests run inside (the family's EOL order): the run's
#: floor is the larger of its floor and the sum of the others', not the sum of all
OVERLAPPED_BY = {"prohelion-d1000-gen2": "PH-ENV"}
#: the D1000's PH-ENV floor for a unit after the first on a line (the chamber left at the last
#: unit's side): 92 °C of travel either way (58>62>-18>-22>-18 or -18>-22>-18>58>62>58, 460 s) + the
#: same holds (17.6 s); the humidity and pressure probes could ride on its warm part. Below what
#: the tests take one after another (the design rows' own waits, the humidity probes): the run's
#: bound is then the tests' serial time, not the chamber
FLOORS_NEXT_UNIT = {
    "prohelion-d1000-gen2": (
        477.6,
        "next unit on a line: travel 92 °C / 0.2 °C/s = 460 s from the side the last unit left + 17.6 s "
        "holds; the tests in series take longer (see their seconds above)",
    )
}


def entries(out: Path) -> list[dict[str, Any]]:
    path = out / "record.jsonl"
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def per_row(
    record: list[dict[str, Any]], unit_rows: set[str], t0: float = 0.0
) -> tuple[dict[str, float], float, float]:
    """Virtual seconds per unit row, of the read-back, and between tests (preparation); `t0`: the
    lab's time when the run started (0 for a lab of its own)."""
    rows: dict[str, float] = defaultdict(float)
    readback = between = 0.0
    last_end: float | None = t0
    for e in record:
        if e.get("type") != "test" or e.get("phase") != "call" or e.get("t_start") is None:
            continue
        start, end = float(e["t_start"]), float(e["t_end"])
        between += start - (last_end if last_end is not None else 0.0)
        last_end = end
        reqs = [r for r in e.get("requirements", []) if r in unit_rows]
        if "test_released_set_read_back" in str(e.get("test")):
            readback += end - start
        elif reqs:
            for rid in reqs:
                rows[rid] += (end - start) / len(reqs)
    return dict(rows), readback, between


def per_test(record: list[dict[str, Any]], t0: float = 0.0) -> list[tuple[str, float, float, str]]:
    """Each test's virtual seconds, the preparation before it (gap since the last test, or since
    the lab's time `t0` at the run's start) and outcome."""
    tests: list[tuple[str, float, float, str]] = []
    last_end = t0
    for e in record:
        if e.get("type") != "test" or e.get("phase") != "call" or e.get("t_start") is None:
            continue
        start, end = float(e["t_start"]), float(e["t_end"])
        name = str(e.get("test")).rsplit("/", 1)[-1]
        tests.append((name, end - start, start - last_end, str(e.get("outcome"))))
        last_end = end
    return tests


@dataclass
class UnitRun:
    """One unit's EOL run: its exit code, wall time and record."""

    code: int
    wall: float
    record: list[dict[str, Any]]
    stderr: str
    t0: float = 0.0  # the lab's time at the run's start (an attached lab's goes on from unit to unit)

    @property
    def sealed(self) -> bool:
        return bool(self.record) and self.record[-1].get("type") == "end"

    @property
    def dwell(self) -> float | None:
        return next((float(e["seconds"]) for e in self.record if e.get("type") == "dwell"), None)


def run_unit(station: list[str], out: Path, pace: bool, t0: float = 0.0) -> UnitRun:
    """`hil run --profile eol` of one unit into `out`; `t0`: the lab's time now (attached lab)."""
    cmd = [sys.executable, "-m", "hil", "run", *station, "--profile", "eol", "--reports", "none"]
    cmd += ["--out", str(out)] + (["--", "--hil-pace"] if pace else [])
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    return UnitRun(proc.returncode, time.monotonic() - start, entries(out), proc.stderr, t0)


def load() -> str:
    """The machine's load averages (1, 5, 15 min), to print beside a figure."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def print_unit(dut: str, run: UnitRun, unit_rows: set[str], pace: bool) -> None:
    """The unit's figures: wall, dwell, each test, each unit row and its floor."""
    mode = "paced to the wall clock" if pace else "virtual time (--no-pace)"
    print(f"{dut} EOL, {mode}: exit {run.code}, wall {run.wall:.1f} s, dwell {run.dwell} s ({load()})")
    print(f"{'test':66s} {'test s':>7s} {'prep s':>7s}")
    for name, took, prep, outcome in per_test(run.record, run.t0):
        print(f"{name:66s} {took:7.2f} {prep:7.2f}" + ("" if outcome == "passed" else f"  {outcome}"))
    rows, readback, between = per_row(run.record, unit_rows, run.t0)
    floors = FLOORS.get(dut, {})
    print(f"{'row':11s} {'tests s':>8s} {'floor s':>8s}  floor from")
    for rid in sorted(unit_rows):
        floor = floors.get(rid)
        f_text = f"{floor[0]:8.1f}  {floor[1]}" if floor else f"{'-':>8s}  not computed"
        print(f"{rid:11s} {rows.get(rid, 0.0):8.1f} {f_text}")
    print(f"{'read-back':11s} {readback:8.1f}")
    print(f"{'between':11s} {between:8.1f}  (preparation between tests: settling, power cycles, precharge)")
    target = TARGET_S.get(dut)
    if floors:
        total = sum(f for f, _ in floors.values())
        carrier = OVERLAPPED_BY.get(dut)
        if carrier is not None:
            rest = total - floors[carrier][0]
            total = max(floors[carrier][0], rest)
            print(f"the other unit rows' floors ({rest:.1f} s) run inside {carrier}'s travel")
        print(f"floor of the run {total:.1f} s; floor + 10 % = {total * 1.1:.1f} s")
        if pace and target is not None and total > target:  # the target impossible: the floor's rule
            verdict = "met" if run.wall <= total * 1.1 else "NOT met"
            print(f"floor + 10 % (the target is below the floor): {verdict} ({run.wall:.1f} s of wall time)")
    if target is not None and pace:
        verdict = "met" if run.wall <= target else "NOT met"
        print(f"target {target:g} s of wall time per unit: {verdict} ({run.wall:.1f} s)")


def refused(run: UnitRun, label: str) -> bool:
    """Say so (stderr) when the run did not accept the unit: its figures are not a unit's."""
    if run.code == 0 and run.sealed:
        return False
    failed = [
        str(e.get("test")) for e in run.record if e.get("type") == "test" and e.get("outcome") == "failed"
    ]
    why = f"failed tests: {', '.join(failed)}" if failed else run.stderr.strip()[-500:]
    print(f"bench error: {label} did not accept the unit (exit {run.code}); {why}", file=sys.stderr)
    return True


def first_side_of(record: list[dict[str, Any]]) -> str:
    """Which temperature side the run's EOL order started from (by the test order)."""
    names = [str(e.get("test")) for e in record if e.get("type") == "test" and e.get("phase") == "call"]
    sides = [
        side for n in names for side in ("Max", "Min") if n.endswith(f"test_environment_temperature[{side}]")
    ]
    return f"{sides[0]} side first" if sides else "no temperature side"


def line_of_units(dut: str, units: int, pace: bool, unit_rows: set[str], tmp: Path) -> int:
    """`units` units one after another on one socket: one lab, every run attached to it."""
    family = registry.dut_family(dut)
    lab = SimProcess(family.default_station, paced=pace, log_file=tmp / "sim.log")
    try:
        station = yaml.safe_load(family.default_station.read_text(encoding="utf-8"))
        station.setdefault("sim", {})["attach"] = lab.endpoints["control"]
        attached = tmp / "station-attached.yaml"
        attached.write_text(yaml.safe_dump(station, sort_keys=False), encoding="utf-8")
        walls: list[float] = []  # paced: wall time; --no-pace: the dwell (virtual)
        bad = False
        for n in range(1, units + 1):
            outputs = lab.control.request("outputs").get("outputs", {})
            air = {k: v for k, v in outputs.items() if isinstance(v, dict) and "humidity" in v}
            print(f"--- unit {n} of {units} on one socket; the chamber at its start: {air}")
            t0 = float(lab.control.request("time")["t"])
            run = run_unit(["--station", str(attached)], tmp / f"unit{n}", pace, t0)
            print_unit(dut, run, unit_rows, pace)
            print(f"unit {n}: {first_side_of(run.record)}; wall {run.wall:.1f} s ({load()})", flush=True)
            walls.append(run.wall if pace else run.dwell or 0.0)
            bad = refused(run, f"unit {n}") or bad
    finally:
        lab.stop()
    what = "wall" if pace else "dwell (virtual)"
    figures = ", ".join(f"unit {n}: {w:.1f} s" for n, w in enumerate(walls, 1))
    print(f"units in a row on one socket, {what}: {figures}")
    if dut in FLOORS_NEXT_UNIT:
        floor, source = FLOORS_NEXT_UNIT[dut]
        print(f"PH-ENV floor of a unit after the first: {floor:.1f} s ({source})")
    if len(walls) > 1:
        steady = sum(walls[1:]) / len(walls[1:])
        print(f"steady-state cycle time, {what} (mean of units 2..{len(walls)}): {steady:.1f} s ({load()})")
    return 3 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dut", default="bms12100", help="DUT family (default bms12100)")
    parser.add_argument("--no-pace", action="store_true", help="virtual time only (a quick check)")
    parser.add_argument("--units", type=int, default=1, help="units in a row on one socket (one lab)")
    args = parser.parse_args()
    family = registry.dut_family(args.dut)
    spec = load_spec(ROOT / family.spec)
    unit_rows = {r.id for r in spec.requirements if r.eol.class_ == "unit"}
    pace = not args.no_pace
    with tempfile.TemporaryDirectory() as tmp:
        if args.units > 1:
            return line_of_units(args.dut, args.units, pace, unit_rows, Path(tmp))
        run = run_unit(["--dut", args.dut], Path(tmp) / "eol", pace)
    print_unit(args.dut, run, unit_rows, pace)
    return 3 if refused(run, "the EOL run") else 0


if __name__ == "__main__":
    raise SystemExit(main())
