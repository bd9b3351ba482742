"""Name → implementation tables: instrument drivers, their simulated twins, and DUT families.

Entries are "module:Class" strings imported on use, so a bench only imports what it has. DUT
families are plug-ins found through the `hil.duts` entry-point group (hil.family, docs/families.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import metadata

from hil.errors import UsageError
from hil.family import DutFamily, load

__all__ = ["DUTS", "INSTRUMENTS", "DutFamily", "Families", "dut_family", "instrument_entry", "load"]

ENTRY_POINT_GROUP = "hil.duts"

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


class Families(Mapping[str, DutFamily]):
    """The DUT families installed: entry points of the `hil.duts` group, each loaded when first used.

    Loading one family imports only its declaration; a broken entry point stops only the runs that
    name it (one line, exit 2). Tests may replace a family in place (`DUTS[name] = ...`).
    """

    def __init__(self) -> None:
        self._loaded: dict[str, DutFamily] = {}
        self._found: dict[str, metadata.EntryPoint] | None = None

    def _points(self) -> dict[str, metadata.EntryPoint]:
        """The group's entry points by name, read once per process (a scan of every distribution)."""
        if self._found is None:
            self._found = {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
        return self._found

    def __getitem__(self, name: str) -> DutFamily:
        if name in self._loaded:
            return self._loaded[name]
        point = self._points().get(name)
        if point is None:
            raise KeyError(name)
        try:
            family = point.load()
        except Exception as exc:
            raise UsageError(
                f"DUT family {name!r} (entry point {point.value!r} in group {ENTRY_POINT_GROUP}) "
                f"does not load: {type(exc).__name__}: {exc}"
            ) from None
        if not isinstance(family, DutFamily) or family.name != name:
            raise UsageError(
                f"DUT family {name!r}: entry point {point.value!r} is not a DutFamily named {name!r}"
            )
        self._loaded[name] = family
        return family

    def __setitem__(self, name: str, family: DutFamily) -> None:
        self._loaded[name] = family

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(set(self._points()) | set(self._loaded)))

    def __len__(self) -> int:
        return len(set(self._points()) | set(self._loaded))

    def __contains__(self, name: object) -> bool:
        return name in self._loaded or name in self._points()


#: every installed DUT family by name
DUTS = Families()


def dut_family(name: str) -> DutFamily:
    """The family of that name; an unknown name is a usage error listing the known ones."""
    try:
        return DUTS[name]
    except KeyError:
        known = ", ".join(DUTS)
        raise UsageError(f"unknown DUT {name!r}; known DUTs: {known}") from None


def instrument_entry(driver: str) -> tuple[str, str, str]:
    try:
        return INSTRUMENTS[driver]
    except KeyError:
        known = ", ".join(sorted(INSTRUMENTS))
        raise UsageError(f"unknown instrument driver {driver!r}; known drivers: {known}") from None
