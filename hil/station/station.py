"""A station opened for a run: instruments by role, the DUT's buses, the clock.

This is the one layer that knows whether the bench is simulated: for a simulated station it
starts the lab (or binds to one already running), points every resource at the lab's endpoints
and uses the lab's virtual clock. Everything below (drivers, DUT clients, procedures) sees only
resources, buses and a Clock.

Safe state: `make_safe` takes every opened output to its safe state in SAFE_ORDER, carrying on
past an instrument that fails; `final_safe_state` does the same for every instrument of the
station, then reads each output back, for the record's last entry before its seal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from hil import interrupts, registry
from hil.clock import Clock, WallClock
from hil.errors import BenchError, ConfigError
from hil.instruments.base import Instrument
from hil.instruments.info import InstrumentInfo, Limits
from hil.instruments.roles import CellEmulator, Dmm, ElectronicLoad, PowerSupply, TemperatureEmulator
from hil.instruments.transport import VisaTransport
from hil.sim.client import ControlClient, SimProcess
from hil.sim.clock import SimClock
from hil.station.model import InstrumentModel, RoleKind, StationModel

T = TypeVar("T")

#: the order outputs are made safe in: load first, then charger, cells, temperatures, relays; the
#: environment last (pressure controller off and vented, then the chamber to standby): electrical
#: energy first, the slow and non-electrical stimuli after it
SAFE_ORDER: tuple[RoleKind, ...] = (
    "electronic_load",
    "power_supply",
    "cell_emulator",
    "analog_source",
    "temperature_emulator",
    "switch",
    "pressure_controller",
    "climatic_chamber",
    "dmm",
    "led_analyser",
)

#: limits a real bench must declare per role (a simulated one may leave them out)
REQUIRED_LIMITS: dict[RoleKind, tuple[str, ...]] = {
    "power_supply": ("voltage_max", "current_max"),
    "electronic_load": ("current_max",),
    "cell_emulator": ("voltage_max", "current_max"),
    "temperature_emulator": ("resistance_min",),
    "dmm": (),
    "switch": (),
    "climatic_chamber": ("temperature_min", "temperature_max"),
    "pressure_controller": ("pressure_min", "pressure_max"),
    "analog_source": ("voltage_max",),
    "led_analyser": (),
}

#: how the DUT's limits apply to each role: driver limit <- dut.limits field
DUT_LIMITS: dict[RoleKind, dict[str, str]] = {
    "power_supply": {"voltage_max": "pack_voltage_max", "current_max": "charge_current_max"},
    "electronic_load": {"current_max": "discharge_current_max", "short_circuit": "short_circuit"},
    "cell_emulator": {
        "voltage_min": "cell_voltage_min",
        "voltage_max": "cell_voltage_max",
        "sum_voltage_max": "pack_voltage_max",
    },
    "temperature_emulator": {"temperature_min": "temperature_min", "temperature_max": "temperature_max"},
    "dmm": {},
    "switch": {},
    # the air around the DUT: the DUT's temperature range applies to the chamber's setpoint too
    "climatic_chamber": {"temperature_min": "temperature_min", "temperature_max": "temperature_max"},
    "pressure_controller": {},
    "analog_source": {},
    "led_analyser": {},
}

#: how long the lab's control port may take to answer the safe-state read-back (s)
CONTROL_TIMEOUT_S = 10.0


def load_station(path: Path) -> StationModel:
    """Read and validate a station file (schema, drivers, roles, slew limits, DUT family).

    Every problem is raised at once (`ConfigError.more`); what the DUT family's plan needs is
    checked by `hil.station.check` before a run.
    """
    from hil.station import check

    result = check.parse(path)
    if result.station is not None:
        result.problems += check.model_problems(result.station)
    result.raise_first()
    assert result.station is not None
    return result.station


def require_limits(station: StationModel, path: Path) -> None:
    """A real bench runs only with its safe operating limits declared (DUT and every output)."""
    if station.simulated:
        return
    if station.dut.limits is None:
        raise ConfigError(
            str(path), "dut.limits", "the DUT's safe operating limits (required on a real bench)"
        )
    for name, inst in station.instruments.items():
        for key in REQUIRED_LIMITS[inst.role]:
            if getattr(inst.limits, key) is None:
                raise ConfigError(
                    str(path),
                    f"instruments.{name}.limits.{key}",
                    f"a {key} for this {inst.role} (required on a real bench)",
                )


def effective_limits(station: StationModel, name: str) -> Limits:
    """One instrument's limits for its driver: its own and the DUT's, the tighter of each."""
    inst = station.instruments[name]
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, value in inst.limits.model_dump().items():
        if value is not None:
            values[key], sources[key] = value, f"instruments.{name}.limits.{key}"
    dut = station.dut.limits
    if dut is not None:
        for key, dut_key in DUT_LIMITS[inst.role].items():
            value = getattr(dut, dut_key)
            own = values.get(key)
            tighter = (
                own is None
                or (key.endswith("_max") and value < own)
                or (key.endswith("_min") and value > own)
                or (key == "short_circuit" and value is False)
            )
            if tighter:
                values[key], sources[key] = value, f"dut.limits.{dut_key}"
    return Limits(**values, sources=sources)


class LabHandle(Protocol):
    """A simulated lab the station is bound to: its endpoints and control port."""

    endpoints: dict[str, Any]
    control: ControlClient

    def stop(self) -> None: ...


class AttachedLab:
    """A lab started elsewhere (`hil sim serve`), bound through its control port and left running."""

    def __init__(self, url: str) -> None:
        try:
            self.control = ControlClient(url)
        except OSError as exc:
            raise BenchError(f"no simulated lab answers at {url} (sim.attach): {exc}") from exc
        self.endpoints: dict[str, Any] = self.control.request("endpoints")["endpoints"]

    def stop(self) -> None:
        """Only the control connection: the lab belongs to whoever started it."""
        self.control.close()


@dataclass
class SafeState:
    """What the final safe state did per instrument and what each output read back as."""

    reason: str
    order: list[str] = field(default_factory=list)
    actions: dict[str, str] = field(default_factory=dict)  # "safe" or "could not make safe: why"
    read_back: dict[str, dict[str, object]] = field(default_factory=dict)
    read_back_safe: dict[str, bool] = field(default_factory=dict)
    unread: dict[str, str] = field(default_factory=dict)  # instrument -> why it could not be read
    sim_outputs: dict[str, Any] | None = None  # the lab's own view (control port), simulated only
    sim_unread: str = ""

    @property
    def safe(self) -> bool:
        """Every instrument made safe and read back in its safe state."""
        return (
            all(a == "safe" for a in self.actions.values())
            and not self.unread
            and all(self.read_back_safe.values())
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "scope": "run",
            "reason": self.reason,
            "order": self.order,
            "instruments": self.actions,
            "read_back": self.read_back,
            "read_back_safe": self.read_back_safe,
            "unread": self.unread,
            "safe": self.safe,
        }
        if self.sim_outputs is not None or self.sim_unread:
            data["sim_outputs"] = self.sim_outputs
            if self.sim_unread:
                data["sim_unread"] = self.sim_unread
        return data


def _failure(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class Station:
    """The bench for one run."""

    def __init__(self, model: StationModel, file: Path, clock: Clock, sim: LabHandle | None = None) -> None:
        self.model = model
        self.file = file
        self.clock = clock
        self.sim = sim
        self._open: dict[str, Instrument] = {}
        #: per instrument made safe by the last `make_safe`: its transport's message count just after
        self._safe_marks: dict[str, int] = {}
        self.final: SafeState | None = None
        #: the DUT configuration file the plan reads (the --firmware file unless the run names another
        #: with --hil-dut-config; None: the documented defaults)
        self.firmware_file: Path | None = None

    @classmethod
    def open(
        cls,
        file: Path,
        firmware_file: Path | None = None,
        seed: int | None = None,
        log_dir: Path | None = None,
        paced: bool = False,
    ) -> Station:
        """Load the station file; for a simulated station start the lab (or attach) and bind to it."""
        model = load_station(file)
        require_limits(model, file)
        if not model.simulated:
            real = cls(model, file, WallClock())
            real.firmware_file = firmware_file  # read by plans whose limits are configuration
            return real
        attach = model.sim.attach if model.sim else None
        sim: LabHandle
        if attach:
            if firmware_file is not None:
                raise ConfigError(
                    str(file), "sim.attach", "no --firmware for an attached lab (give it to `hil sim serve`)"
                )
            sim = AttachedLab(attach)
        else:
            log = (log_dir / "sim.log") if log_dir else None
            sim = SimProcess(file, firmware_file=firmware_file, seed=seed, log_file=log, paced=paced)
        try:
            bound = bind_endpoints(model, sim.endpoints)
            simulated = cls(bound, file, SimClock(sim.control, paced=paced), sim)
            simulated.firmware_file = firmware_file
            return simulated
        except BaseException:
            sim.stop()
            raise

    @property
    def simulated(self) -> bool:
        return self.sim is not None

    def _by_name(self, name: str) -> Instrument:
        """The driver of one instrument of the station, opened on first use."""
        if name not in self._open:
            inst: InstrumentModel = self.model.instruments[name]
            _, driver_ref, _ = registry.instrument_entry(inst.driver)
            driver_cls = registry.load(driver_ref)
            info = InstrumentInfo(
                role=name,
                model=inst.model,
                resource=inst.resource,
                channels=inst.channels,
                limits=effective_limits(self.model, name),
                asset_id=inst.asset_id,
                calibration_due=inst.calibration_due.isoformat(),
                retries=inst.retries,
            )
            transport = VisaTransport(
                name, inst.resource, timeout_s=inst.timeout_s, visa_library=self.model.visa_library
            )
            driver = driver_cls(info, transport)
            if not isinstance(driver, Instrument):
                raise BenchError(f"{name}: driver {inst.driver} is not an instrument driver")
            try:
                driver.program_slew()  # before the first output command
            except BaseException:
                driver.close()
                raise
            self._open[name] = driver
        return self._open[name]

    def named(self, name: str, kind: type[T]) -> T:
        """The driver of the instrument called `name` in the station file (a role may span several)."""
        found = self._by_name(name)
        if not isinstance(found, kind):
            raise BenchError(f"{name}: driver {self.model.instruments[name].driver} is not a {kind.__name__}")
        return found

    def instrument(self, role: RoleKind, kind: type[T]) -> T:
        """The driver filling `role`, opened on first use."""
        name, inst = self.model.by_role(role)
        found = self._by_name(name)
        if not isinstance(found, kind):
            raise BenchError(f"{name}: driver {inst.driver} is not a {kind.__name__}")
        return found

    def all_of(self, role: str, kind: type[T]) -> list[T]:
        """The drivers of every instrument of `role`, in station-file order (a role may span several)."""
        return [self.named(name, kind) for name, inst in self.model.instruments.items() if inst.role == role]

    @property
    def opened(self) -> dict[str, Instrument]:
        """The instruments opened so far, by name."""
        return dict(self._open)

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

    def _in_safe_order(self, names: list[str]) -> list[str]:
        roles = self.model.instruments
        return sorted(names, key=lambda n: SAFE_ORDER.index(roles[n].role))

    def make_safe(self, keep_cells: bool = False, keep: Collection[str] = ()) -> dict[str, str]:
        """Every opened instrument to its safe state, in SAFE_ORDER; returns what happened per instrument.

        Best effort: an instrument that fails is reported ("could not make safe: why") and the
        others are still made safe. `keep_cells` leaves the cell emulator at its present level
        between tests (it powers the DUT; its level is inside the limits the driver enforces);
        `keep` names further instruments left as they are between tests (reported "kept").
        """
        report: dict[str, str] = {}
        for name in self._in_safe_order(list(self._open)):
            if keep_cells and self.model.instruments[name].role == "cell_emulator":
                continue
            if name in keep:
                report[name] = "kept"
                continue
            try:
                self._open[name].safe()
                report[name] = "safe"
            except Exception as exc:  # keep going: every other output must still go off
                report[name] = f"could not make safe: {_failure(exc)}"
        self._safe_marks = {
            name: count
            for name, what in report.items()
            if what == "safe" and (count := self._open[name].transport.messages) is not None
        }
        return report

    def untouched_since_safe(self, names: Collection[str]) -> bool:
        """Whether each named instrument was made safe by the last `make_safe` and has been sent nothing
        since: its outputs are still as its safe state left them (a bench need not set them again)."""
        marks = self._safe_marks
        for name in names:
            inst = self._open.get(name)
            if inst is None or name not in marks or inst.transport.messages != marks[name]:
                return False
        return True

    def final_safe_state(self, reason: str) -> SafeState:
        """Every instrument of the station safe (cells off), then each output read back.

        Instruments not opened during the run are opened now: their outputs may have been left
        on by someone else. Signals wait until this is done.
        """
        state = SafeState(reason=reason)
        with interrupts.safe_state_section():
            names = self._in_safe_order(list(self.model.instruments))
            for name in names:
                try:
                    self._by_name(name)
                except Exception as exc:
                    state.actions[name] = f"could not make safe: {_failure(exc)}"
            state.actions.update(self.make_safe())
            state.order = [n for n in names if n in state.actions]
            for name in names:
                inst = self._open.get(name)
                if inst is None:
                    why = state.actions[name].removeprefix("could not make safe: ")
                    state.unread[name] = f"not opened: {why}"
                    continue
                try:
                    read = inst.output_state()
                except Exception as exc:
                    state.unread[name] = _failure(exc)
                    continue
                state.read_back[name] = read
                state.read_back_safe[name] = inst.state_is_safe(read)
            if self.sim is not None:
                try:
                    state.sim_outputs = read_sim_outputs(self.sim.endpoints["control"])
                except Exception as exc:
                    state.sim_unread = _failure(exc)
        self.final = state
        return state

    def close(self) -> None:
        """Make safe (unless the final safe state was reached), close every instrument, stop the lab."""
        try:
            if self.final is None:
                self.make_safe()
        finally:
            for inst in self._open.values():
                with contextlib.suppress(Exception):
                    inst.close()
            self._open.clear()
            if self.sim is not None:
                self.sim.stop()


def read_sim_outputs(control_url: str) -> dict[str, Any]:
    """Every simulated instrument's output state, through a fresh connection to the lab's control port.

    A fresh connection: the run's own one may have been cut mid-request by a signal.
    """
    client = ControlClient(control_url, timeout_s=CONTROL_TIMEOUT_S)
    try:
        outputs: dict[str, Any] = client.request("outputs")["outputs"]
        return outputs
    finally:
        client.close()


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
    if endpoints.get("modbus_tcp") and data["buses"].get("modbus_tcp"):
        data["buses"]["modbus_tcp"].update(endpoints["modbus_tcp"])
    return StationModel.model_validate(data)
