"""CPU of the D1000 Gen2 twin's own work per all-cells sweep probe, in process, at 1 and 32 nodes.

What `prohelion_scale.py` cannot show on a busy machine: the twin's part of a probe apart from the
round trips and the bus. Per node count (14 cells and 4 thermistors per node, noise on), the least
CPU time per call of `--trials` trials of 40 calls each (the trial a busy machine disturbed least):
a full firmware cycle (0.1 s, every cell sampled), a one-cell stimulus (the zero-length cycle it
causes and a snapshot), and a probe as the sweep makes it (two one-cell stimuli, 0.1 s, the fast
frames, the slow ones every tenth probe). `--root DIR` runs another checkout's code (e.g. main's)
for a side-by-side; the machine's load is printed with the figures.

    .venv/bin/python benchmarks/d1000_twin_probe.py [--root DIR] [--trials 25]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CALLS = 40
CELLS_PER_NODE = 14


def _setup(nodes: int) -> tuple[Any, Any]:
    """A powered twin of `nodes` CMUs with nominal cells and 25 °C thermistors, run for 2 s, and the
    telemetry encoder of its layout."""
    from hil.duts.prohelion_d1000_gen2.config import D1000Config
    from hil.duts.prohelion_d1000_gen2.sim.frames import TelemetryEncoder
    from hil.duts.prohelion_d1000_gen2.sim.twin import D1000Twin

    config = D1000Config(num_cmu_nodes=nodes, node_num_cells=[CELLS_PER_NODE], node_num_temp=[4])
    twin = D1000Twin(config, 1, powered=False)
    twin.set_all_cells(3.7)
    twin.set_all_temperatures(25.0)
    twin.power_on(0.0)
    encoder = TelemetryEncoder(config.node_id, nodes)
    for _ in range(20):
        twin.advance(0.1)
        list(encoder.frames(twin.snapshot(nodes=True), True, True))
    return twin, encoder


def _call(twin: Any, encoder: Any, nodes: int, i: int, what: str) -> None:
    if what == "cycle":
        twin.advance(0.1)
    elif what == "stimulus":
        twin.set_cell_voltage(i % nodes, 3, 3.7 + 0.001 * (i % 2))
        twin.snapshot(nodes=False)
    else:  # a probe: cell k high, its neighbour low, 0.1 s, the frames due
        twin.set_cell_voltage(i % nodes, 3, 3.7 + 0.01 * (i % 2))
        twin.snapshot(nodes=False)
        twin.set_cell_voltage((i + 1) % nodes, 5, 3.7 - 0.01 * (i % 2))
        twin.snapshot(nodes=False)
        twin.advance(0.1)
        slow = i % 10 == 0
        list(encoder.frames(twin.snapshot(nodes=slow), True, slow))


def least_cpu_us(nodes: int, what: str, trials: int) -> float:
    """The least CPU time per call (µs) of `trials` trials of CALLS calls."""
    twin, encoder = _setup(nodes)
    best = float("inf")
    for trial in range(trials):
        t0 = time.process_time()
        for i in range(CALLS):
            _call(twin, encoder, nodes, trial * CALLS + i, what)
        best = min(best, (time.process_time() - t0) / CALLS)
    return 1e6 * best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose code is measured")
    parser.add_argument("--trials", type=int, default=25)
    args = parser.parse_args()
    sys.path.insert(0, str(args.root.resolve()))
    import hil

    code = Path(hil.__file__).resolve().parents[1]  # the checkout actually imported
    print(f"code {code}; load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'nodes':>5} {'cycle µs':>9} {'stimulus µs':>11} {'probe µs':>9}")
    for nodes in (1, 32):
        figures = [least_cpu_us(nodes, what, args.trials) for what in ("cycle", "stimulus", "probe")]
        print(f"{nodes:>5} {figures[0]:>9.0f} {figures[1]:>11.0f} {figures[2]:>9.0f}", flush=True)
    print(f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
