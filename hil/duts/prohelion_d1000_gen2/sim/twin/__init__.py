"""Firmware twin of the Prohelion BMS D1000 Gen2 BMU (firmware V1.2), with its CMUs and BJU.

`D1000Twin` is the whole interface: inputs as Python calls (`PlantInputs`, `set_*`, `command`),
outputs as a `D1000Snapshot` named after the DBC signals, time through `step`/`advance` with
`max_step` as the next-event hint. It knows nothing of CAN encoding; mapping a snapshot onto
frames is the integration's job.
"""

from hil.duts.prohelion_d1000_gen2.protocol.codes import (
    CONTACTOR_CLOSED,
    CONTACTOR_OPEN,
    CONTACTORS,
    LOW_SIDE_SWITCHES,
    BmsCommand,
    BmsState,
    CommandType,
    HvilLoop,
    InfoBit,
    LowSideStatus,
    balancing_allowed,
    contactor_fault_bit,
    engaged_contactors,
)
from hil.duts.prohelion_d1000_gen2.sim.twin.frontend import Frontend, Readings
from hil.duts.prohelion_d1000_gen2.sim.twin.inputs import (
    BjuInputs,
    EnvironmentInputs,
    NodeInputs,
    PlantInputs,
)
from hil.duts.prohelion_d1000_gen2.sim.twin.protection import CELL_ID_BASE, NODE_ID_BASE, SENSOR_ID_BASE
from hil.duts.prohelion_d1000_gen2.sim.twin.snapshot import D1000Snapshot, NodeSnapshot
from hil.duts.prohelion_d1000_gen2.sim.twin.twin import (
    ACTIVE_MAX_STEP_S,
    IDLE_MAX_STEP_S,
    D1000Twin,
    Transition,
)
from hil.models.channel import ChannelError

__all__ = [
    "ACTIVE_MAX_STEP_S",
    "CELL_ID_BASE",
    "CONTACTORS",
    "CONTACTOR_CLOSED",
    "CONTACTOR_OPEN",
    "IDLE_MAX_STEP_S",
    "LOW_SIDE_SWITCHES",
    "NODE_ID_BASE",
    "SENSOR_ID_BASE",
    "BjuInputs",
    "BmsCommand",
    "BmsState",
    "ChannelError",
    "CommandType",
    "D1000Snapshot",
    "D1000Twin",
    "EnvironmentInputs",
    "Frontend",
    "HvilLoop",
    "InfoBit",
    "LowSideStatus",
    "NodeInputs",
    "NodeSnapshot",
    "PlantInputs",
    "Readings",
    "Transition",
    "balancing_allowed",
    "contactor_fault_bit",
    "engaged_contactors",
]
