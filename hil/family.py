"""The DUT-family contract: what a family declares so the core can run it without naming it.

A family is a Python package that exposes one `DutFamily` through the `hil.duts` entry-point group
(docs/families.md). References to its classes are "module:attr" strings, imported only when used
(a bench imports only what it has); a leading dot makes the module relative to the family's
package. Paths are relative to the package's folder (spec.yaml beside its __init__.py) unless
absolute, so a family installed from anywhere finds its own files.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from hil.identity import DEFAULT_SERIAL_PATTERN

#: the buses a family may declare: the station file's `buses` keys (hil.station.model.BusesModel)
Bus = Literal["can", "rs485", "modbus_tcp"]
BUSES: tuple[str, ...] = get_args(Bus)


@dataclass(frozen=True)
class DutFamily:
    """Where everything about one DUT family lives: the family's declaration to the core."""

    #: the name stations (`dut.name`) and `hil run --dut` use; equals the entry point's name
    name: str
    #: one line for reports, e.g. "12100-1203-1CA 12 V 100 Ah 4S LiFePO4 BMS"
    title: str
    #: the family's import package (its folder holds the files named below)
    package: str
    #: "module:Class" of the pydantic model of the DUT's configuration (`hil dut config` prints it)
    config: str
    #: "module:Class" of the DUT client, built as Client(station, can_monitor or None)
    client: str
    #: "module:Class" of the bench (hil.dut.DutBench), built as Bench(station, client)
    bench: str
    #: "module:Class" of the simulated plant (hil.sim.plant.Plant), with the twin inside
    plant: str
    #: the station's buses the client talks over (() = none); the `dut` fixture gets a CAN monitor
    #: only when "can" is among them, and a station without one of them is refused before a run
    buses: tuple[Bus, ...]
    #: the simulated station `hil run --dut NAME` uses when no station is given
    default_station: Path
    #: the spec data (requirement IDs, values, tolerances)
    spec: Path = Path("spec.yaml")
    #: the folder of the plan's tests (pytest collects it); may be inside the package
    plan_dir: Path = Path("plans")
    #: the released firmware and parameter set the EOL profile reads back (None: the DUT offers no
    #: read-back: its design rows stay in the EOL profile as tests; docs/eol.md)
    released: Path | None = None
    #: a valid serial number of this family (re.fullmatch); empty, all-zero or other serials stop a run
    serial_pattern: str = DEFAULT_SERIAL_PATTERN
    #: "module:function" returning the default configuration file as text (commented); "" = YAML dump
    config_dump: str = ""
    #: which of the spec's `variants` this family is, when several families share one spec ("": the
    #: spec is this family's alone); coverage items and tests marked for another variant do not apply
    variant: str = ""
    #: the package's folder, found from `package` (not given)
    folder: Path = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        bad = [b for b in self.buses if b not in BUSES]
        if bad:
            raise ValueError(f"DUT family {self.name!r}: unknown bus {bad[0]!r}; known: {', '.join(BUSES)}")
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise ValueError(f"DUT family {self.name!r}: {self.package!r} is not an importable package")
        folder = Path(next(iter(spec.submodule_search_locations))).resolve()
        object.__setattr__(self, "folder", folder)
        for name in ("config", "client", "bench", "plant", "config_dump"):
            ref = getattr(self, name)
            if ref.startswith("."):
                object.__setattr__(self, name, self.package + ref)
        for name in ("default_station", "spec", "plan_dir", "released"):
            path = getattr(self, name)
            if path is not None:
                object.__setattr__(self, name, folder / Path(path))

    def load(self, what: Literal["config", "client", "bench", "plant", "config_dump"]) -> Any:
        """The class (or function) a reference names, imported now."""
        return load(getattr(self, what))


def load(ref: str) -> Any:
    """Import "module:attr"."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


#: the station `hil run` uses with no options; its `dut.name` is the default DUT family (the core
#: names a station file here, never a family)
DEFAULT_STATION = Path(__file__).resolve().parents[1] / "stations" / "sim-bms12100.yaml"
