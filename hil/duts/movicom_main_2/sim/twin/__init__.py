"""The firmware twin of the Movicom Main 2.1 / 2R (with its BMS Logic boards)."""

from hil.duts.movicom_main_2.sim.twin.inputs import LogicBoardInputs, PlantInputs, SensorInputs
from hil.duts.movicom_main_2.sim.twin.leds import LedState
from hil.duts.movicom_main_2.sim.twin.twin import MovicomTwin

__all__ = ["LedState", "LogicBoardInputs", "MovicomTwin", "PlantInputs", "SensorInputs"]
