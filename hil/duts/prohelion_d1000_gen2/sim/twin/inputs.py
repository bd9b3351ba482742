"""What the plant feeds the BMU twin: the true electrical state at its inputs.

One `PlantInputs` holds everything the BMU and its CMUs and BJU sense: per CMU the voltage at each
cell sense input and the resistance at each thermistor input, the BJU's current and voltages (the
IVT-S channels: U1 battery, U2 charger, U3 load), the auxiliary contacts, the HVIL loop, the
low-side switch sense lines, the BMU's environment sensors and its supply. The twin never reads CAN:
the plant (or a test) sets these and calls the twin's stepping methods.

Sign convention (from the BMSInfo descriptions: NEGCURRENT is "current flowing into the pack"):
current is positive out of the pack (discharge), negative into it (charge).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from hil.duts.prohelion_d1000_gen2.config import (
    CELLS_PER_NODE_MAX,
    CONTACTOR_COUNT,
    TEMPS_PER_NODE_MAX,
    D1000Config,
)
from hil.duts.prohelion_d1000_gen2.protocol.codes import LOW_SIDE_SWITCHES, HvilLoop, InfoBit
from hil.models.ntc import BetaNtc

NOMINAL_CELL_V = 3.7


@dataclass
class NodeInputs:
    """One CMU as wired: cell sense inputs from cell 1 up (absent = 0 V) and thermistor inputs."""

    cell_v: list[float]
    thermistor_ohm: list[float | None]  # None = open input (no thermistor)
    connected: bool = True  # on the CMU bus (answers the BMU)

    def check(self) -> None:
        """Raise ValueError if the node has more inputs than a CMU."""
        if len(self.cell_v) > CELLS_PER_NODE_MAX:
            raise ValueError(f"a CMU has {CELLS_PER_NODE_MAX} cell inputs, got {len(self.cell_v)}")
        if len(self.thermistor_ohm) > TEMPS_PER_NODE_MAX:
            raise ValueError(
                f"a CMU has {TEMPS_PER_NODE_MAX} thermistor inputs, got {len(self.thermistor_ohm)}"
            )


@dataclass
class BjuInputs:
    """The battery junction unit (IVT-S): present on CAN1, its current and three voltages."""

    present: bool = True
    current_a: float = 0.0  # + out of the pack (discharge)
    battery_v: float = 0.0  # U1
    charger_v: float = 0.0  # U2
    load_v: float = 0.0  # U3


@dataclass
class EnvironmentInputs:
    """The BMU's own sensors: two thermistors, pressure, humidity, VOC and NOx."""

    temperature1_c: float = 25.0
    temperature2_c: float = 25.0
    pressure_kpa: float = 101.3
    humidity_pct: float = 40.0
    voc_ppb: int = 0
    nox_ppb: int = 0


@dataclass
class PlantInputs:
    """Everything the BMU senses, held by the twin until the plant changes it."""

    nodes: list[NodeInputs]
    bju: BjuInputs
    aux_closed: list[bool] = field(default_factory=lambda: [False] * CONTACTOR_COUNT)  # contactor 1..5
    hvil: HvilLoop = HvilLoop.CLOSED
    #: sense line of low-side switch 1..3: high = output node pulled up through its load
    low_side_sense_high: list[bool] = field(default_factory=lambda: [True] * len(LOW_SIDE_SWITCHES))
    environment: EnvironmentInputs = field(default_factory=EnvironmentInputs)
    supply_v: float = 12.0
    self_test_ok: bool = True
    #: BMSInfo reasons the twin has no physical input for (watchdog, IO expander, internal comms...),
    #: forced active by fault insertion
    injected: set[InfoBit] = field(default_factory=set)

    @classmethod
    def nominal(
        cls, config: D1000Config, cell_v: float = NOMINAL_CELL_V, temp_c: float = 25.0
    ) -> PlantInputs:
        """A healthy bench for `config`: every configured node, cell and thermistor present at `cell_v`
        and `temp_c`, BJU reading the pack, contactors open with their aux contacts to match."""
        ntc = BetaNtc(config.fixed.thermistor_r25_ohm, float(config.thermistor_beta_value))
        ohm = ntc.resistance_ohm(temp_c)
        nodes = [
            NodeInputs([cell_v] * cells, [ohm] * temps)
            for cells, temps in zip(config.cells_per_node(), config.temps_per_node(), strict=True)
        ]
        pack_v = cell_v * sum(config.cells_per_node())
        aux = [config.aux_normally_closed(n) for n in range(1, CONTACTOR_COUNT + 1)]
        return cls(
            nodes=nodes,
            bju=BjuInputs(battery_v=pack_v),
            aux_closed=aux,
            supply_v=float(config.supply_variant_v),
        )

    def check(self) -> None:
        """Raise ValueError if the inputs cannot describe a D1000 Gen2 bench."""
        for node in self.nodes:  # at every settle, up to 32 nodes: the call only where one is wrong
            if len(node.cell_v) > CELLS_PER_NODE_MAX or len(node.thermistor_ohm) > TEMPS_PER_NODE_MAX:
                node.check()
        if len(self.aux_closed) != CONTACTOR_COUNT:
            raise ValueError(f"aux_closed needs {CONTACTOR_COUNT} entries, got {len(self.aux_closed)}")
        if len(self.low_side_sense_high) != len(LOW_SIDE_SWITCHES):
            raise ValueError(f"low_side_sense_high needs {len(LOW_SIDE_SWITCHES)} entries")

    def copy(self) -> PlantInputs:
        """An independent copy."""
        return copy.deepcopy(self)
