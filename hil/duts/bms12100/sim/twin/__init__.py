"""Firmware twin of the 12100 BMS, hosted by the simulated lab's electrical model.

`Bms12100Twin` is the whole interface the electrical model uses; the alarm and protection logic is
data (`tables.ALL_MONITORS`, one `MonitorSpec` per requirement ID) run by the generic `Monitor`;
the locks (`locks.LOCKS`), balancing and power management are small state machines beside it.
"""

from hil.duts.bms12100.rules import validate_settings
from hil.duts.bms12100.sim.twin.balancing import BLEED_CURRENT_A, Balancer
from hil.duts.bms12100.sim.twin.frontend import Frontend, Readings, TerminalInputs
from hil.duts.bms12100.sim.twin.locks import LOCKS, NORMAL_DISCHARGE_S, Lock, LockSpec
from hil.duts.bms12100.sim.twin.monitor import (
    Block,
    Direction,
    Monitor,
    MonitorSpec,
    Phase,
    ReleaseAlternative,
    ReleaseContext,
    Scaled,
)
from hil.duts.bms12100.sim.twin.power import AWAKE_SUPPLY_A, PRECHARGE_OHM, SLEEP_SUPPLY_A
from hil.duts.bms12100.sim.twin.tables import ALL_MONITORS, VOLTAGE_MONITORS
from hil.duts.bms12100.sim.twin.twin import Bms12100Twin, HistoryEvent
from hil.models.channel import ChannelError

__all__ = [
    "ALL_MONITORS",
    "AWAKE_SUPPLY_A",
    "BLEED_CURRENT_A",
    "LOCKS",
    "NORMAL_DISCHARGE_S",
    "PRECHARGE_OHM",
    "SLEEP_SUPPLY_A",
    "VOLTAGE_MONITORS",
    "Balancer",
    "Block",
    "Bms12100Twin",
    "ChannelError",
    "Direction",
    "Frontend",
    "HistoryEvent",
    "Lock",
    "LockSpec",
    "Monitor",
    "MonitorSpec",
    "Phase",
    "Readings",
    "ReleaseAlternative",
    "ReleaseContext",
    "Scaled",
    "TerminalInputs",
    "validate_settings",
]
