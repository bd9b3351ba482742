"""Cost of the D1000 Gen2 all-cells over/under-voltage sweep on the sim, from 14 to 448 cells.

For each node count (14 cells and 4 thermistors per node) a station and a configuration are made,
the simulated lab started and the bench powered up; then every cell is swept once through the
framework's own path (SCPI to the cell emulators, virtual time through the control port, CAN
through socketcand): cell k just inside warningCellOverVoltage and its neighbour just inside
warningCellUnderVoltage (no warning, extremes at k and k+1), then both just beyond (charge and
discharge disabled on BMSSoPData, NodeCellInfo naming node/cell of both). A probe's cell settings
go out in one message per cell emulator, the previous pair's return to nominal with the next
probe's (as a plan that knows its next stimulus would send them). Each pack is swept
`--repeat` times in one lab and the fastest sweep printed (the others met a busy machine): its wall
time, its time per cell, the CPU time per cell of the test process (the framework: SCPI, clock,
CAN capture and decoding) and of the lab (the simulated pack: the twin's firmware cycles, the
instruments, the bus) apart (steadier than wall time on a busy machine), the virtual time, the
frames captured, and the start-up (lab + power-up) apart. `least CPU` is the least test + lab CPU
time per cell of any sweep (the sweep a busy machine disturbed least) and `x first` its ratio to the
first node count's: the per-cell growth. The machine's load is printed before and after.

What the sweep observes: only the fixed messages NodeCellInfo, BMSSoPData and BMSInfo. With the
vendor's ID map, more than 27 nodes at base 0x600 collide with the fixed messages 0x6EF-0x6FA
(per-node messages of nodes 27-31 and HVILInfo/ContactorInfo/NodeStats... become ambiguous): the
client decodes only the unambiguous IDs, which include all three, so the sweep is the same
measurement at 32 nodes, while per-node cell voltages are only observable for nodes 0-26.

    .venv/bin/python benchmarks/prohelion_scale.py [--nodes 1,2,4,8,16,27,32]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hil.can_monitor import CanMonitor, open_station_bus  # noqa: E402
from hil.duts.prohelion_d1000_gen2.bench import NOMINAL_CELL_V, D1000Bench  # noqa: E402
from hil.duts.prohelion_d1000_gen2.client import D1000Client  # noqa: E402
from hil.duts.prohelion_d1000_gen2.config import D1000Config, dump_config  # noqa: E402
from hil.duts.prohelion_d1000_gen2.sim.stations import station  # noqa: E402
from hil.duts.prohelion_d1000_gen2.terminals import CellId  # noqa: E402
from hil.station.station import Station  # noqa: E402

CELLS_PER_NODE = 14
MARGIN_V = 0.004
FRAME_WAIT_S = 2.0


def sweep(bench: D1000Bench) -> tuple[int, list[str]]:
    """Every cell once inside and once beyond both warnings; (probes, problems)."""
    cfg = bench.config
    cells = bench.cell_ids
    problems: list[str] = []
    probes = 0
    restore: dict[CellId, float] = {}  # the previous pair, back to nominal with the next settings
    for k, cell in enumerate(cells):
        other = cells[(k + 1) % len(cells)]
        for beyond in (False, True):
            high = cfg.warning_cell_over_voltage + (MARGIN_V if beyond else -MARGIN_V)
            low = cfg.warning_cell_under_voltage - (MARGIN_V if beyond else -MARGIN_V)
            bench.set_cell_voltages({**restore, cell: high, other: low})
            restore = {}
            t0 = bench.clock.now()
            if not bench.wait_fresh(["NodeCellInfo", "BMSSoPData"], t0 + 1e-3, FRAME_WAIT_S):
                problems.append(f"{cell.terminal}: no fresh telemetry")
                continue
            probes += 1
            ext = bench.dut.latest("NodeCellInfo")
            sop = bench.dut.latest("BMSSoPData")
            assert ext is not None and sop is not None
            s = ext.signals
            where = (
                (s["MaxCellVoltageNodeID"], s["MaxCellVoltageCellID"]),
                (s["MinCellVoltageNodeID"], s["MinCellVoltageCellID"]),
            )
            if where != ((cell.node, cell.cell), (other.node, other.cell)):
                problems.append(f"{cell.terminal}: extremes reported at {where}")
            blocked = (sop.signals["SoPMaxCurrentCharge"] == 0, sop.signals["SoPMaxCurrentDischarge"] == 0)
            if blocked != (beyond, beyond):
                problems.append(
                    f"{cell.terminal}: {'beyond' if beyond else 'inside'}: charge/discharge "
                    f"disabled {blocked}"
                )
        restore = {cell: NOMINAL_CELL_V, other: NOMINAL_CELL_V}
    bench.set_cell_voltages(restore)
    return probes, problems


def _cpu_s(pid: int | None) -> float:
    """CPU seconds of process `pid` so far, every thread (Linux: /proc's schedstat, in ns; the user +
    system ticks of /proc's stat where it is missing, 10 ms steps; 0 elsewhere)."""
    try:
        return (
            sum(
                int(Path(task, "schedstat").read_text().split()[0])
                for task in Path(f"/proc/{pid}/task").iterdir()
            )
            / 1e9
        )
    except (OSError, IndexError, ValueError):
        pass
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(nodes: int, folder: Path, repeat: int = 1) -> dict[str, float | int | str]:
    config = D1000Config(num_cmu_nodes=nodes, node_num_cells=[CELLS_PER_NODE], node_num_temp=[4])
    config_file = folder / f"pack-{nodes}x{CELLS_PER_NODE}.yaml"
    config_file.write_text(dump_config(config), encoding="utf-8")
    station_file = folder / f"station-{nodes}x{CELLS_PER_NODE}.yaml"
    station_file.write_text(yaml.safe_dump(station(nodes, CELLS_PER_NODE, 4), sort_keys=False))
    t_start = time.perf_counter()
    st = Station.open(station_file, firmware_file=config_file)
    bus = st.model.buses.can
    assert bus is not None
    monitor = CanMonitor(open_station_bus(bus), st.clock)
    client = D1000Client(st, monitor)
    try:
        bench = D1000Bench(st, client)
        bench.power_up()
        t_sweep = time.perf_counter()
        proc = getattr(st.sim, "proc", None)  # the lab's process (a SimLab)
        lab_pid = proc.pid if proc is not None else None
        wall, cpu, lab = math.inf, 0.0, 0.0
        least = math.inf  # the least test + lab CPU of any sweep: the one a busy machine disturbed least
        problems: list[str] = []
        for _ in range(repeat):  # the fastest of `repeat` sweeps: the others met a busy machine
            v0, n0 = st.clock.now(), monitor.total
            t0, cpu0, lab0 = time.perf_counter(), time.process_time(), _cpu_s(lab_pid)
            probes, found = sweep(bench)
            t1, cpu1, lab1 = time.perf_counter(), time.process_time(), _cpu_s(lab_pid)
            if t1 - t0 < wall:
                wall, cpu, lab = t1 - t0, cpu1 - cpu0, lab1 - lab0
            least = min(least, (cpu1 - cpu0) + (lab1 - lab0))
            problems += found
            virtual, frames = st.clock.now() - v0, monitor.total - n0
        return {
            "nodes": nodes,
            "cells": len(bench.cell_ids),
            "startup_s": t_sweep - t_start,
            "sweep_s": wall,
            "per_cell_ms": 1000 * wall / len(bench.cell_ids),
            "test_cpu_ms_per_cell": 1000 * cpu / len(bench.cell_ids),
            "lab_cpu_ms_per_cell": 1000 * lab / len(bench.cell_ids),
            "least_cpu_ms_per_cell": 1000 * least / len(bench.cell_ids),
            "virtual_s": virtual,
            "frames": frames,
            "probes": probes,
            "problems": len(problems),
            "layout": "collides: fixed messages only" if client.layout_error else "ok",
            "first_problem": problems[0] if problems else "",
        }
    finally:
        client.close()
        monitor.close()
        st.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="1,2,4,8,16,27,32", help="comma-separated node counts")
    parser.add_argument("--repeat", type=int, default=3, help="sweeps per node count; the fastest is shown")
    args = parser.parse_args()
    counts = [int(n) for n in args.nodes.split(",")]
    print(f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"{'nodes':>5} {'cells':>5} {'start-up s':>10} {'sweep s':>8} {'ms/cell':>8} {'test CPU':>8} "
        f"{'lab CPU':>8} {'least CPU':>9} {'x first':>7} "
        f"{'virtual s':>9} "
        f"{'frames':>7} {'probes':>6} {'problems':>8}  layout"
    )
    failed = False
    first: float | None = None  # the least CPU per cell of the first node count: the growth's base
    with tempfile.TemporaryDirectory() as tmp:
        for nodes in counts:
            r = run(nodes, Path(tmp), args.repeat)
            failed |= bool(r["problems"])
            least = float(r["least_cpu_ms_per_cell"])
            first = least if first is None else first
            print(
                f"{r['nodes']:>5} {r['cells']:>5} {r['startup_s']:>10.1f} {r['sweep_s']:>8.2f} "
                f"{r['per_cell_ms']:>8.1f} {r['test_cpu_ms_per_cell']:>8.2f} "
                f"{r['lab_cpu_ms_per_cell']:>8.2f} {least:>9.2f} {least / first:>7.2f} "
                f"{r['virtual_s']:>9.1f} "
                f"{r['frames']:>7} {r['probes']:>6} "
                f"{r['problems']:>8}  {r['layout']} {r['first_problem']}",
                flush=True,
            )
    print(f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
