"""Name → implementation tables: instrument drivers, their simulated twins, and DUT families.

Entries are "module:Class" strings imported on use, so a bench only imports what it has.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from hil.errors import UsageError
from hil.identity import DEFAULT_SERIAL_PATTERN

#: driver name -> (role kind, client driver, simulated instrument)
INSTRUMENTS: dict[str, tuple[str, str, str]] = {
    "keysight-n8900": (
        "power_supply",
        "hil.instruments.drivers.keysight_n8900:KeysightN8900",
        "hil.sim.instruments.keysight_n8900:SimKeysightN8900",
    ),
    "itech-it8900": (
        "electronic_load",
        "hil.instruments.drivers.itech_it8900:ItechIT8900",
        "hil.sim.instruments.itech_it8900:SimItechIT8900",
    ),
    "keysight-n6705c": (
        "cell_emulator",
        "hil.instruments.drivers.keysight_n6705c:KeysightN6705C",
        "hil.sim.instruments.keysight_n6705c:SimKeysightN6705C",
    ),
    "iet-prs202": (
        "temperature_emulator",
        "hil.instruments.drivers.iet_prs202:IetPrs202Bank",
        "hil.sim.instruments.iet_prs202:SimIetPrs202Bank",
    ),
    "keysight-daq970a": (
        "dmm",
        "hil.instruments.drivers.keysight_daq970a:KeysightDAQ970A",
        "hil.sim.instruments.keysight_daq970a:SimKeysightDAQ970A",
    ),
    "keysight-34980a": (
        "switch",
        "hil.instruments.drivers.keysight_34980a:Keysight34980A",
        "hil.sim.instruments.keysight_34980a:SimKeysight34980A",
    ),
    "espec-p300": (
        "climatic_chamber",
        "hil.instruments.drivers.espec_p300:EspecP300",
        "hil.sim.instruments.espec_p300:SimEspecP300",
    ),
    "druck-pace5000": (
        "pressure_controller",
        "hil.instruments.drivers.druck_pace5000:DruckPace5000",
        "hil.sim.instruments.druck_pace5000:SimDruckPace5000",
    ),
    "feasa-led-analyser": (
        "led_analyser",
        "hil.instruments.drivers.feasa_led_analyser:FeasaLedAnalyser",
        "hil.sim.instruments.feasa_led_analyser:SimFeasaLedAnalyser",
    ),
    "keysight-daqm907a": (
        "analog_source",
        "hil.instruments.drivers.keysight_daqm907a:KeysightDAQM907A",
        "hil.sim.instruments.keysight_daqm907a:SimKeysightDAQM907A",
    ),
}


@dataclass(frozen=True)
class DutFamily:
    """Where everything about one DUT family lives."""

    name: str
    title: str
    package: str
    plan_dir: str
    default_station: str
    plant: str
    client: str
    bench: str
    settings: str
    spec: str
    #: "module:function" returning the default settings file as text (commented); "" = plain YAML dump
    settings_dump: str = ""
    #: the released firmware and parameter set the EOL profile reads back ("" = the DUT offers no
    #: read-back: its design rows stay in the EOL profile as tests; docs/eol.md)
    released: str = ""
    #: a valid serial number of this family (re.fullmatch); empty, all-zero or other serials stop a run
    serial_pattern: str = DEFAULT_SERIAL_PATTERN


DUTS: dict[str, DutFamily] = {
    "bms12100": DutFamily(
        name="bms12100",
        title="12100-1203-1CA 12 V 100 Ah 4S LiFePO4 BMS",
        package="hil.duts.bms12100",
        plan_dir="testplans/bms12100",
        default_station="stations/sim-bms12100.yaml",
        plant="hil.duts.bms12100.sim.plant:Bms12100Plant",
        client="hil.duts.bms12100.client:Bms12100Client",
        bench="hil.duts.bms12100.bench:Bms12100Bench",
        settings="hil.duts.bms12100.config:Settings",
        spec="hil/duts/bms12100/spec.yaml",
        released="hil/duts/bms12100/released.yaml",
    ),
    "prohelion-d1000-gen2": DutFamily(
        name="prohelion-d1000-gen2",
        title="Prohelion BMS D1000 Gen2 (BMU + 1-32 CMUs, firmware V1.2)",
        package="hil.duts.prohelion_d1000_gen2",
        plan_dir="testplans/prohelion_d1000_gen2",
        default_station="stations/sim-prohelion-d1000-gen2.yaml",
        plant="hil.duts.prohelion_d1000_gen2.sim.plant:D1000Plant",
        client="hil.duts.prohelion_d1000_gen2.client:D1000Client",
        bench="hil.duts.prohelion_d1000_gen2.bench:D1000Bench",
        settings="hil.duts.prohelion_d1000_gen2.config:D1000Config",
        spec="hil/duts/prohelion_d1000_gen2/spec.yaml",
        settings_dump="hil.duts.prohelion_d1000_gen2.config:dump_default",
    ),
}


def load(ref: str) -> Any:
    """Import "module:attr"."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def dut_family(name: str) -> DutFamily:
    try:
        return DUTS[name]
    except KeyError:
        known = ", ".join(sorted(DUTS))
        raise UsageError(f"unknown DUT {name!r}; known DUTs: {known}") from None


def instrument_entry(driver: str) -> tuple[str, str, str]:
    try:
        return INSTRUMENTS[driver]
    except KeyError:
        known = ", ".join(sorted(INSTRUMENTS))
        raise UsageError(f"unknown instrument driver {driver!r}; known drivers: {known}") from None
