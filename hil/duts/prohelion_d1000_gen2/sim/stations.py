"""Simulated D1000 Gen2 stations for any pack: nodes × cells × thermistors, as a station file.

The default station (stations/sim-prohelion-d1000-gen2.yaml) is wired for one CMU of 10 cells; a
configuration with more nodes needs a station with their channels. This writes one with the same
instruments and the cell and thermistor roles spread over as many boxes as the pack needs:
N6705C mainframes of four N6781A channels (4 cells each) and PRS-202 banks behind one Prologix
controller each (GPIB addresses 1..30, so 30 thermistors per bank). The pack port is a battery
emulator (`BATT`) at BATTERY_V: the cells of a large pack add up to more than a SELV bench's
charger and load may see, and the BMU's power-path functions do not depend on the pack voltage.

    python -m hil.duts.prohelion_d1000_gen2.sim.stations --nodes 27 --cells 14 --temps 4 -o station.yaml
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from hil.duts.prohelion_d1000_gen2.terminals import cell_terminal, ntc_terminal

ROOT = Path(__file__).resolve().parents[4]
DEFAULT_STATION = ROOT / "stations" / "sim-prohelion-d1000-gen2.yaml"
CHANNELS_PER_MAINFRAME = 4
ADDRESSES_PER_BANK = 30
#: the battery emulator's voltage on B+/B- (V): the power-path rows run at this SELV level
BATTERY_V = 48.0


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def station(nodes: int, cells: int, temps: int, template: Path = DEFAULT_STATION) -> dict[str, Any]:
    """A simulated station for `nodes` CMUs of `cells` cells and `temps` thermistors each."""
    data: dict[str, Any] = yaml.safe_load(template.read_text(encoding="utf-8"))
    instruments: dict[str, Any] = data["instruments"]
    cell_proto = next(v for v in instruments.values() if v["role"] == "cell_emulator")
    ntc_proto = next(v for v in instruments.values() if v["role"] == "temperature_emulator")
    kept = {
        k: v for k, v in instruments.items() if v["role"] not in ("cell_emulator", "temperature_emulator")
    }
    terminals = [cell_terminal(n, c) for n in range(nodes) for c in range(1, cells + 1)]
    built: dict[str, Any] = {}
    for i, group in enumerate(_chunks(terminals, CHANNELS_PER_MAINFRAME)):
        built[f"cells_{i:03d}"] = {
            **cell_proto,
            "channels": {t: str(ch) for ch, t in enumerate(group, start=1)},
            "asset_id": f"SIM-CELL-{i:03d}",
            "serial": f"SIMCELL{i:04d}",
        }
    sensors = [ntc_terminal(n, s) for n in range(nodes) for s in range(1, temps + 1)]
    for i, group in enumerate(_chunks(sensors, ADDRESSES_PER_BANK)):
        built[f"ntc_{i:02d}"] = {
            **ntc_proto,
            "model": f"{len(group)}x IET Labs PRS-202 behind a Prologix GPIB-ETHERNET controller",
            "channels": {t: str(address) for address, t in enumerate(group, start=1)},
            "asset_id": f"SIM-NTC-{i:02d}",
            "serial": f"SIMNTC{i:04d}",
        }
    charger = instruments["charger"]
    kept["battery"] = {  # the pack behind the BJU at a bench voltage: a 1 kV pack is not a SELV bench
        **charger,
        "channels": {"BATT": "1"},
        "asset_id": "SIM-PSU-103",
        "serial": "SIMPSU0103",
    }
    data["instruments"] = {**built, **kept}
    data["expectations"]["battery_v"] = BATTERY_V
    data["name"] = f"sim-prohelion-d1000-gen2-{nodes}x{cells}"
    data["description"] = (
        f"Simulated Prohelion BMS D1000 Gen2 bench, {nodes} CMUs x {cells} cells x {temps} NTCs"
    )
    return data


def main(argv: Sequence[str] | None = None) -> int:
    """Write a station file for a pack of the given size."""
    parser = argparse.ArgumentParser(prog="python -m hil.duts.prohelion_d1000_gen2.sim.stations")
    parser.add_argument("--nodes", type=int, required=True, help="CMU nodes (numCMUNodes)")
    parser.add_argument("--cells", type=int, default=10, help="cells per node (nodeNumCells)")
    parser.add_argument("--temps", type=int, default=4, help="thermistors per node (nodeNumTemp)")
    parser.add_argument("-o", "--output", type=Path, help="station file to write (default: stdout)")
    args = parser.parse_args(argv)
    text = yaml.safe_dump(station(args.nodes, args.cells, args.temps), sort_keys=False, width=110)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
