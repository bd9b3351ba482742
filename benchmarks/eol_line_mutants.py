"""D1000 Gen2 EOL mutants on a unit that starts where a line's last unit left the chamber: the air
cold (-18 °C, cold side first) or hot (58 °C, Max side first), not at ambient.

`benchmarks/mutants.py` starts a fresh lab per mutant, whose chamber powers on at ambient: it shows
only the first unit's order. Here each mutant's lab is started with the mutant applied (the twin's
--dut-config), its chamber sent to the side and left in standby, and the run attached to it
(`sim.attach`), as the next unit on a line; the plan checks the declared configuration
(--hil-dut-config) with the tests of the mutant's IDs (`--hil-requirement`). Caught: the run fails
(exit 1) and a failing measurement names one of the mutant's IDs.

    .venv/bin/python benchmarks/eol_line_mutants.py [--side cold|hot|both] [--name NAME ...]

Exit 3 when a mutant is missed (the score would not be the plan's).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import mutation_d1000  # noqa: E402
from mutation import failing_ids, focus_selection  # noqa: E402

from hil import registry  # noqa: E402
from hil.instruments.roles import ClimaticChamber  # noqa: E402
from hil.sim.client import SimProcess  # noqa: E402
from hil.spec import load_spec  # noqa: E402
from hil.station.station import Station  # noqa: E402

DUT = "prohelion-d1000-gen2"
#: where the last unit left the air: each side's inside level (default limits and margin)
SIDES = {"cold": -18.0, "hot": 58.0}
#: the sim chamber's ramp (°C/s), to wait for the air to get there from the lab's 25 °C
RAMP_C_PER_S = 0.2


def leave_chamber_at(station_file: Path, celsius: float) -> None:
    """The chamber sent to `celsius`, waited for, then in standby, as the last unit's end leaves it."""
    station = Station.open(station_file)
    try:
        chamber = next(
            station.named(name, ClimaticChamber)
            for name, inst in station.model.instruments.items()
            if inst.role == "climatic_chamber"
        )
        chamber.set_humidity(None)
        chamber.set_temperature(celsius)
        chamber.run()
        station.clock.sleep(abs(celsius - 25.0) / RAMP_C_PER_S + 5.0)
        chamber.standby()
    finally:
        station.close()


def run_one(
    mutant: mutation_d1000.D1000Mutant, side: str, folder: Path
) -> tuple[bool, int, list[str], float]:
    """(caught, exit code, failing IDs, wall s) of one mutant on a unit started at `side`."""
    default = registry.dut_family(DUT).default_station
    start = time.monotonic()
    lab = SimProcess(default, firmware_file=mutant.write(folder), paced=False)
    try:
        data = yaml.safe_load(default.read_text(encoding="utf-8"))
        data["sim"]["attach"] = lab.endpoints["control"]
        attached = folder / f"station-{mutant.name}-{side}.yaml"
        attached.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        leave_chamber_at(attached, SIDES[side])
        out = folder / f"out-{side}-{mutant.name}"
        cmd = [sys.executable, "-m", "hil", "run", "--station", str(attached), "--profile", "eol"]
        cmd += ["--reports", "none", "--out", str(out), "--"]
        cmd += mutant.plan_args(folder) + focus_selection(mutant)
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    finally:
        lab.stop()
    failing = failing_ids(out)
    caught = proc.returncode == 1 and bool(failing & mutant.requirements)
    return caught, proc.returncode, sorted(failing), time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", default="both", choices=["cold", "hot", "both"])
    parser.add_argument("--name", action="append", help="the mutant of this exact name (repeatable)")
    args = parser.parse_args()
    found, _ = mutation_d1000.mutants(load_spec(ROOT / registry.dut_family(DUT).spec))
    chosen = [m for m in found if not args.name or m.name in args.name]
    sides = ["cold", "hot"] if args.side == "both" else [args.side]
    caught = total = 0
    with tempfile.TemporaryDirectory(prefix="eol-line-mutants-") as tmp:
        for side in sides:
            for mutant in chosen:
                ok, code, failing, wall = run_one(mutant, side, Path(tmp))
                total += 1
                caught += ok
                status = "caught" if ok else "MISSED"
                print(
                    f"{side:4s} {status:6s} {mutant.name:45s} exit {code} failing {failing} ({wall:.1f} s)",
                    flush=True,
                )
    one, five, fifteen = os.getloadavg()
    print(
        f"EOL mutants on a unit started at a side: {caught}/{total} caught "
        f"(load {one:.2f} {five:.2f} {fifteen:.2f})"
    )
    return 0 if caught == total else 3


if __name__ == "__main__":
    raise SystemExit(main())
