"""Roles apart from dialects and transports: every driver fills one role and speaks one dialect."""

from __future__ import annotations

import subprocess
import sys
from typing import TypeVar

import pytest

from hil import registry
from hil.errors import BenchError
from hil.instruments.bank import TerminalBank
from hil.instruments.base import Instrument
from hil.instruments.drivers.espec_p300 import EspecP300
from hil.instruments.drivers.keysight_n6705c import KeysightN6705C
from hil.instruments.info import InstrumentInfo
from hil.instruments.roles import (
    AnalogSource,
    CellEmulator,
    ClimaticChamber,
    Dmm,
    ElectronicLoad,
    LedAnalyser,
    PowerSupply,
    PressureController,
    Role,
    Switch,
    TemperatureEmulator,
)
from hil.instruments.scpi import ScpiInstrument
from hil.instruments.transport import Transport

R = TypeVar("R", bound=Role)

ROLE_OF_KIND: dict[str, type[Role]] = {
    "power_supply": PowerSupply,
    "electronic_load": ElectronicLoad,
    "cell_emulator": CellEmulator,
    "temperature_emulator": TemperatureEmulator,
    "dmm": Dmm,
    "switch": Switch,
    "climatic_chamber": ClimaticChamber,
    "pressure_controller": PressureController,
    "led_analyser": LedAnalyser,
    "analog_source": AnalogSource,
}
#: the line-protocol instruments (their own dialect, not SCPI)
NOT_SCPI = ("climatic_chamber", "led_analyser")


class Silent(Transport):
    """A wire to nowhere: commands vanish, queries answer '0'."""

    def write(self, message: str) -> None:
        del message

    def query(self, message: str) -> str:
        del message
        return "0"

    def close(self) -> None:
        pass


def test_every_registered_driver_fills_its_role_and_speaks_a_dialect() -> None:
    for name, (kind, driver_ref, _) in registry.INSTRUMENTS.items():
        driver = registry.load(driver_ref)
        role = ROLE_OF_KIND[kind]
        assert issubclass(driver, role) and issubclass(driver, Instrument), name
        mro = driver.__mro__
        assert mro.index(role) < mro.index(Instrument), f"{name}: the role must come before the dialect"
        assert driver.IDENTITY, name


def test_the_chamber_is_not_scpi_and_the_others_are() -> None:
    assert not issubclass(EspecP300, ScpiInstrument)
    assert EspecP300.IDENTITY == ("TYPE?", "ROM?")
    assert ScpiInstrument.IDENTITY == ("*IDN?",)
    for _, (kind, driver_ref, _) in registry.INSTRUMENTS.items():
        if kind not in NOT_SCPI:
            assert issubclass(registry.load(driver_ref), ScpiInstrument), driver_ref


class Meter(Dmm, ScpiInstrument):
    """A DMM driver listed the right way round: role, then dialect."""

    def measure_dc_voltage(self, point: str) -> float:
        return self.query_float(f"MEAS:VOLT? (@{self.channel(point)})")

    def measure_resistance(self, point: str) -> float:
        return self.query_float(f"MEAS:RES? (@{self.channel(point)})")

    def measure_dc_current(self, point: str) -> float:
        return self.query_float(f"MEAS:CURR? (@{self.channel(point)})")


class Backwards(ScpiInstrument, Dmm):
    """The same driver with its dialect first: the role's safe state would be hidden."""

    def measure_dc_voltage(self, point: str) -> float:
        return 0.0

    def measure_resistance(self, point: str) -> float:
        return 0.0

    def measure_dc_current(self, point: str) -> float:
        return 0.0


def test_a_driver_listing_its_dialect_before_its_role_cannot_be_built() -> None:
    info = InstrumentInfo(role="daq", model="any", resource="-", channels={"PACK": "101"})
    meter = Meter(info, Silent())
    assert meter.state_is_safe(meter.output_state())
    with pytest.raises(TypeError, match="safe"):
        Backwards(info, Silent())  # type: ignore[abstract]


class Drivers:
    """What a bank is handed: the drivers of a role (the station in a run)."""

    def __init__(self, *drivers: Role) -> None:
        self.drivers = drivers

    def all_of(self, role: str, kind: type[R]) -> list[R]:
        del role
        return [d for d in self.drivers if isinstance(d, kind)]


def _cells(name: str, channels: dict[str, str]) -> KeysightN6705C:
    return KeysightN6705C(
        InstrumentInfo(role=name, model="N6705C", resource="-", channels=channels), Silent()
    )


def test_a_bank_maps_terminals_to_the_drivers_handed_to_it() -> None:
    low, high = _cells("cells_a", {"N01C01": "1", "N01C02": "2"}), _cells("cells_b", {"N02C01": "1"})
    bank = TerminalBank(Drivers(low, high), "cell_emulator", CellEmulator)
    assert bank["N01C02"] is low and bank["N02C01"] is high and len(bank) == 3
    assert bank.instruments == [low, high]
    assert {name: terms for name, (_, terms) in bank.grouped(["N02C01", "N01C01"]).items()} == {
        "cells_b": ["N02C01"],
        "cells_a": ["N01C01"],
    }
    with pytest.raises(BenchError, match="no cell_emulator instrument on this station is wired to N09C09"):
        bank["N09C09"]
    twice = _cells("cells_c", {"N01C01": "3"})
    with pytest.raises(BenchError, match="N01C01 is wired to two cell_emulator instruments"):
        TerminalBank(Drivers(low, twice), "cell_emulator", CellEmulator)


def test_instruments_load_neither_the_station_nor_the_simulator() -> None:
    modules = ["hil.instruments.bank", "hil.instruments.scpi", "hil.instruments.roles"]
    modules += [ref.split(":")[0] for _, ref, _ in registry.INSTRUMENTS.values()]
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + "print(sorted(m for m in sys.modules if m.startswith(('hil.station', 'hil.sim', 'hil.duts'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
