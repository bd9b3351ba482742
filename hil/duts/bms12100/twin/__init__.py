"""Firmware twin of the 12100 BMS, hosted by the simulated lab's electrical model.

`Bms12100Twin` is the whole interface the electrical model uses; the alarm and protection logic is
data (`tables.ALL_MONITORS`, one `MonitorSpec` per requirement ID) run by the generic `Monitor`.
"""

from hil.duts.bms12100.twin.measurement import ChannelError, Frontend, Measurement, TerminalInputs
from hil.duts.bms12100.twin.monitor import (
    Block,
    Direction,
    Monitor,
    MonitorSpec,
    Phase,
    ReleaseAlternative,
    ReleaseContext,
)
from hil.duts.bms12100.twin.tables import ALL_MONITORS, VOLTAGE_MONITORS
from hil.duts.bms12100.twin.twin import Bms12100Twin, HistoryEvent
from hil.duts.bms12100.twin.validation import validate_settings

__all__ = [
    "ALL_MONITORS",
    "VOLTAGE_MONITORS",
    "Block",
    "Bms12100Twin",
    "ChannelError",
    "Direction",
    "Frontend",
    "HistoryEvent",
    "Measurement",
    "Monitor",
    "MonitorSpec",
    "Phase",
    "ReleaseAlternative",
    "ReleaseContext",
    "TerminalInputs",
    "validate_settings",
]
