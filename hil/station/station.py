"""A station opened for a run: instruments by role, the DUT's buses, the clock.

This is the one layer that knows whether the bench is simulated: for a simulated station it
starts the lab, points every resource at the lab's endpoints and uses the lab's virtual clock.
Everything below (drivers, DUT clients, procedures) sees only resources, buses and a Clock.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, TypeVar

from hil import registry
from hil.clock import Clock, WallClock
from hil.config import load_model
from hil.errors import BenchError, ConfigError
from hil.instruments.base import InstrumentInfo, Limits, ScpiInstrument
from hil.instruments.roles import CellEmulator, Dmm, ElectronicLoad, PowerSupply, TemperatureEmulator
from hil.instruments.transport import VisaTransport
from hil.sim.client import SimProcess
from hil.sim.clock import SimClock
from hil.station.model import RoleKind, StationModel

T = TypeVar("T", bound=ScpiInstrument)

#: the order outputs are made safe in: load first, then charger, cells, temperatures
SAFE_ORDER: tuple[RoleKind, ...] = (
    "electronic_load",
    "power_supply",
    "cell_emulator",
    "temperature_emulator",
    "dmm",
)


def load_station(path: Path) -> StationModel:
    """Read and validate a station file."""
    station = load_model(path, StationModel)
    for name, inst in station.instruments.items():
        if inst.driver not in registry.INSTRUMENTS:
            known = ", ".join(sorted(registry.INSTRUMENTS))
            raise ConfigError(
                str(path), f"instruments.{name}.driver", f"one of: {known} (got {inst.driver!r})"
            )
        kind = registry.INSTRUMENTS[inst.driver][0]
        if kind != inst.role:
            raise ConfigError(
                str(path),
                f"instruments.{name}.role",
                f"{kind!r} for driver {inst.driver} (got {inst.role!r})",
            )
    if station.dut.name not in registry.DUTS:
        known = ", ".join(sorted(registry.DUTS))
        raise ConfigError(str(path), "dut.name", f"one of: {known} (got {station.dut.name!r})")
    return station


class Station:
    """The bench for one run."""

    def __init__(self, model: StationModel, file: Path, clock: Clock, sim: SimProcess | None = None) -> None:
        self.model = model
        self.file = file
        self.clock = clock
        self.sim = sim
        self._open: dict[str, ScpiInstrument] = {}

    @classmethod
    def open(
        cls,
        file: Path,
        firmware_file: Path | None = None,
        seed: int | None = None,
        log_dir: Path | None = None,
        paced: bool = False,
    ) -> Station:
        """Load the station file; for a simulated station start the lab and bind to its endpoints."""
        model = load_station(file)
        if not model.simulated:
            return cls(model, file, WallClock())
        log = (log_dir / "sim.log") if log_dir else None
        sim = SimProcess(file, firmware_file=firmware_file, seed=seed, log_file=log, paced=paced)
        try:
            bound = bind_endpoints(model, sim.endpoints)
            return cls(bound, file, SimClock(sim.control, paced=paced), sim)
        except Exception:
            sim.stop()
            raise

    @property
    def simulated(self) -> bool:
        return self.sim is not None

    def instrument(self, role: RoleKind, kind: type[T]) -> T:
        """The driver filling `role`, opened on first use."""
        name, inst = self.model.by_role(role)
        if name not in self._open:
            _, driver_ref, _ = registry.instrument_entry(inst.driver)
            driver_cls = registry.load(driver_ref)
            info = InstrumentInfo(
                role=name,
                model=inst.model,
                resource=inst.resource,
                channels=inst.channels,
                limits=Limits(**inst.limits.model_dump()),
                asset_id=inst.asset_id,
                calibration_due=inst.calibration_due.isoformat(),
            )
            transport = VisaTransport(name, inst.resource, timeout_s=inst.timeout_s)
            driver = driver_cls(info, transport)
            if not isinstance(driver, kind):
                raise BenchError(f"{name}: driver {inst.driver} is not a {kind.__name__}")
            self._open[name] = driver
        found = self._open[name]
        assert isinstance(found, kind)
        return found

    @property
    def charger(self) -> PowerSupply:
        return self.instrument("power_supply", PowerSupply)

    @property
    def load(self) -> ElectronicLoad:
        return self.instrument("electronic_load", ElectronicLoad)

    @property
    def cells(self) -> CellEmulator:
        return self.instrument("cell_emulator", CellEmulator)

    @property
    def ntc(self) -> TemperatureEmulator:
        return self.instrument("temperature_emulator", TemperatureEmulator)

    @property
    def dmm(self) -> Dmm:
        return self.instrument("dmm", Dmm)

    def make_safe(self, keep_cells: bool = False) -> dict[str, str]:
        """Every opened instrument to its safe state, in SAFE_ORDER; returns what happened per instrument.

        `keep_cells` leaves the cell emulator at its present level between tests (it powers the DUT).
        """
        report: dict[str, str] = {}
        by_role = {self.model.instruments[name].role: name for name in self._open}
        for role in SAFE_ORDER:
            name = by_role.get(role)
            if name is None or (keep_cells and role == "cell_emulator"):
                continue
            try:
                self._open[name].safe()
                report[name] = "safe"
            except Exception as exc:  # keep going: every other output must still go off
                report[name] = f"could not make safe: {exc}"
        return report

    def close(self) -> None:
        """Make safe, close every instrument, stop the lab if there is one."""
        try:
            self.make_safe()
        finally:
            for inst in self._open.values():
                with contextlib.suppress(Exception):
                    inst.close()
            self._open.clear()
            if self.sim is not None:
                self.sim.stop()


def bind_endpoints(model: StationModel, endpoints: dict[str, Any]) -> StationModel:
    """A copy of a simulated station with every resource and bus pointed at the lab's endpoints."""
    data = model.model_dump()
    for name, resource in endpoints["instruments"].items():
        data["instruments"][name]["resource"] = resource
    can = endpoints.get("can")
    if can and data["buses"].get("can"):
        data["buses"]["can"].update(
            interface=can["interface"], host=can["host"], port=can["port"], channel=can["channel"]
        )
    if endpoints.get("rs485") and data["buses"].get("rs485"):
        data["buses"]["rs485"]["url"] = endpoints["rs485"]
    return StationModel.model_validate(data)
