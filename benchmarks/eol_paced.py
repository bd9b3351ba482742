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

    .venv/bin/python benchmarks/eol_paced.py [--dut NAME] [--no-pace]

Exit 0 when the EOL run accepted the unit, 3 when it did not (or did not finish): a bench figure
from a failing run is not a figure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hil import registry  # noqa: E402
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
        "travel 125 °C / 0.2 °C/s = 625 s (25>58>62>-18>-22>-18, once; back inside Max on the way) + "
        "4 levels held 5 s from entering their ±0.5 °C band (+2.5 s each) + 5 s soak after the last "
        "pass + 2 x 1.3 s inside holds; humidity (1 %RH/s) and pressure ride on it; station, not DUT",
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


def entries(out: Path) -> list[dict[str, Any]]:
    path = out / "record.jsonl"
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def per_row(record: list[dict[str, Any]], unit_rows: set[str]) -> tuple[dict[str, float], float, float]:
    """Virtual seconds per unit row, of the read-back, and between tests (preparation)."""
    rows: dict[str, float] = defaultdict(float)
    readback = between = 0.0
    last_end: float | None = None
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


def per_test(record: list[dict[str, Any]]) -> list[tuple[str, float, float, str]]:
    """Each test's virtual seconds, the preparation before it (gap since the last test) and outcome."""
    tests: list[tuple[str, float, float, str]] = []
    last_end = 0.0
    for e in record:
        if e.get("type") != "test" or e.get("phase") != "call" or e.get("t_start") is None:
            continue
        start, end = float(e["t_start"]), float(e["t_end"])
        name = str(e.get("test")).rsplit("/", 1)[-1]
        tests.append((name, end - start, start - last_end, str(e.get("outcome"))))
        last_end = end
    return tests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dut", default="bms12100", help="DUT family (default bms12100)")
    parser.add_argument("--no-pace", action="store_true", help="virtual time only (a quick check)")
    args = parser.parse_args()
    family = registry.dut_family(args.dut)
    spec = load_spec(ROOT / family.spec)
    unit_rows = {r.id for r in spec.requirements if r.eol.class_ == "unit"}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "eol"
        cmd = [sys.executable, "-m", "hil", "run", "--dut", args.dut, "--profile", "eol", "--reports", "none"]
        cmd += ["--out", str(out)] + ([] if args.no_pace else ["--", "--hil-pace"])
        start = time.monotonic()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
        wall = time.monotonic() - start
        record = entries(out)
    sealed = bool(record) and record[-1].get("type") == "end"
    failed = [str(e.get("test")) for e in record if e.get("type") == "test" and e.get("outcome") == "failed"]
    dwell = next((float(e["seconds"]) for e in record if e.get("type") == "dwell"), None)
    mode = "virtual time (--no-pace)" if args.no_pace else "paced to the wall clock"
    print(f"{args.dut} EOL, {mode}: exit {proc.returncode}, wall {wall:.1f} s, dwell {dwell} s")
    print(f"{'test':66s} {'test s':>7s} {'prep s':>7s}")
    for name, took, prep, outcome in per_test(record):
        print(f"{name:66s} {took:7.2f} {prep:7.2f}" + ("" if outcome == "passed" else f"  {outcome}"))
    rows, readback, between = per_row(record, unit_rows)
    floors = FLOORS.get(args.dut, {})
    print(f"{'row':11s} {'tests s':>8s} {'floor s':>8s}  floor from")
    for rid in sorted(unit_rows):
        floor = floors.get(rid)
        f_text = f"{floor[0]:8.1f}  {floor[1]}" if floor else f"{'-':>8s}  not computed"
        print(f"{rid:11s} {rows.get(rid, 0.0):8.1f} {f_text}")
    print(f"{'read-back':11s} {readback:8.1f}")
    print(f"{'between':11s} {between:8.1f}  (preparation between tests: settling, power cycles, precharge)")
    if floors:
        total = sum(f for f, _ in floors.values())
        carrier = OVERLAPPED_BY.get(args.dut)
        if carrier is not None:
            rest = total - floors[carrier][0]
            total = max(floors[carrier][0], rest)
            print(f"the other unit rows' floors ({rest:.1f} s) run inside {carrier}'s travel")
        print(f"floor of the run {total:.1f} s; floor + 10 % = {total * 1.1:.1f} s")
        if not args.no_pace:
            verdict = "met" if wall <= total * 1.1 else "NOT met"
            print(f"floor + 10 %: {verdict} ({wall:.1f} s of wall time)")
    target = TARGET_S.get(args.dut)
    if target is not None and not args.no_pace:
        verdict = "met" if wall <= target else "NOT met"
        print(f"target {target:g} s of wall time per unit: {verdict} ({wall:.1f} s)")
    if proc.returncode != 0 or not sealed:
        why = f"failed tests: {', '.join(failed)}" if failed else proc.stderr.strip()[-500:]
        print(
            f"bench error: the EOL run did not accept the unit (exit {proc.returncode}); {why}",
            file=sys.stderr,
        )
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
