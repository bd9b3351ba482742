"""The D1000 Gen2's terminal names on a bench, shared by the station files, the plant and the harness.

Cells are `N<nn>C<cc>` (CMU node nn from 00, cell cc from 01: `N00C01`), thermistor inputs
`N<nn>T<t>` (sensor t from 1: `N03T4`); node and cell numbers are those of the CAN messages
(Node3Cell07 is N03C07). The other terminals:

- supplies: `BMU` (the BMU's supply input), `LINK` (the bench DC link that the load contactors
  1/2/3 and the charge contactors 4/5 connect to the battery), `BATT` (an optional battery
  emulator on B+/B-; without one the pack behind the BJU is the series cells);
- DAQ points: `PACK` (U1, B+/B-), `LINK` (U2 = U3), `COIL1`..`COIL5` (contactor coil outputs),
  `HVIL` (the loop's return), `SUPPLY` (BMU supply current, a current channel);
- fault-insertion relays (closed = fault inserted): `C<k>_WELDED` (contactor k's auxiliary
  contact reads closed whatever its coil), `C<k>_AUX_OPEN` (reads open), `HVIL_OPEN`, `HVIL_SCG`
  (short to ground), `HVIL_SCB` (short to battery), `CMU_BREAK` (the CMU bus cut before the last
  node), `PRE_SHUNT` (a low resistor switched across the precharge resistor);
- environment: `AIR` (the climatic chamber's air around the BMU: its two thermistors and its
  humidity sensor), `ENCLOSURE` (the small sealed enclosure over the BMU's pressure sensor, on the
  pressure controller's output).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CELL_RE = re.compile(r"^N(\d{2})C(\d{2})$")
NTC_RE = re.compile(r"^N(\d{2})T(\d)$")
CONTACTOR_IDS = (1, 2, 3, 4, 5)
COILS = tuple(f"COIL{k}" for k in CONTACTOR_IDS)
WELDED = tuple(f"C{k}_WELDED" for k in CONTACTOR_IDS)
AUX_OPEN = tuple(f"C{k}_AUX_OPEN" for k in CONTACTOR_IDS)
HVIL_FAULTS = ("HVIL_OPEN", "HVIL_SCG", "HVIL_SCB")
CMU_BREAK = "CMU_BREAK"
PRE_SHUNT = "PRE_SHUNT"
AIR = "AIR"
ENCLOSURE = "ENCLOSURE"
FAULT_POINTS = (*WELDED, *AUX_OPEN, *HVIL_FAULTS, CMU_BREAK, PRE_SHUNT)


@dataclass(frozen=True, order=True)
class CellId:
    """One cell input: node from 0, cell from 1 (as on CAN)."""

    node: int
    cell: int

    @property
    def terminal(self) -> str:
        return cell_terminal(self.node, self.cell)


@dataclass(frozen=True, order=True)
class SensorId:
    """One thermistor input: node from 0, sensor from 1 (as on CAN)."""

    node: int
    sensor: int

    @property
    def terminal(self) -> str:
        return ntc_terminal(self.node, self.sensor)


def cell_terminal(node: int, cell: int) -> str:
    """`N00C01` for node 0, cell 1."""
    return f"N{node:02d}C{cell:02d}"


def ntc_terminal(node: int, sensor: int) -> str:
    """`N00T1` for node 0, sensor 1."""
    return f"N{node:02d}T{sensor}"


def parse_cell(terminal: str) -> CellId | None:
    """The cell a terminal names (None if it is not a cell terminal)."""
    m = CELL_RE.match(terminal)
    return CellId(int(m[1]), int(m[2])) if m else None


def parse_ntc(terminal: str) -> SensorId | None:
    """The thermistor input a terminal names (None if it is not one)."""
    m = NTC_RE.match(terminal)
    return SensorId(int(m[1]), int(m[2])) if m else None


def cells_of(cells_per_node: tuple[int, ...]) -> list[CellId]:
    """Every configured cell, node by node."""
    return [CellId(n, c) for n, count in enumerate(cells_per_node) for c in range(1, count + 1)]


def sensors_of(temps_per_node: tuple[int, ...]) -> list[SensorId]:
    """Every configured thermistor input, node by node."""
    return [SensorId(n, s) for n, count in enumerate(temps_per_node) for s in range(1, count + 1)]
