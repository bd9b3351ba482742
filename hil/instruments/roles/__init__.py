"""The instrument roles of a BMS bench: what each kind of instrument can do, apart from how it is reached."""

from __future__ import annotations

from hil.instruments.roles.environment import ChamberReading, ClimaticChamber, PressureController, Settled
from hil.instruments.roles.power import CellEmulator, ElectronicLoad, PowerSupply
from hil.instruments.roles.role import Role
from hil.instruments.roles.signals import (
    AnalogSource,
    Blink,
    LedAnalyser,
    LedReading,
    blink_from,
    colour_name,
)
from hil.instruments.roles.wiring import Dmm, Switch, TemperatureEmulator

__all__ = [
    "AnalogSource",
    "Blink",
    "CellEmulator",
    "ChamberReading",
    "ClimaticChamber",
    "Dmm",
    "ElectronicLoad",
    "LedAnalyser",
    "LedReading",
    "PowerSupply",
    "PressureController",
    "Role",
    "Settled",
    "Switch",
    "TemperatureEmulator",
    "blink_from",
    "colour_name",
]
