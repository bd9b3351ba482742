"""How a D1000 Gen2 bench exercises the BMS: stimuli by quantity, observations, the ways back.

The DUT-specific half of the generic procedures (hil.procedures): `threshold_setup(row)` builds
the `ThresholdSetup` of a spec row from its quantity (which stimulus), its `setting` (which
configuration parameter is the limit and which BMSInfo flag or state-of-power value shows the
trip) and whether the trip disconnects (how to re-arm). Every limit is read from the unit's
configuration (`dut.config`: the run's --firmware/configuration file, else the documented
defaults), never from the spec's default numbers, so a differently configured unit needs no code.

Instruments are found by DUT terminal (terminals.py), a role spanning as many instruments as the
station file lists (`TerminalBank`). The BMU must keep receiving BMSCommands: on a simulated
station the client repeats it after each wait, so `wait()` splits long waits (MAX_WAIT_S).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from hil.bench import DutBench, Stimulus
from hil.duts.prohelion_d1000_gen2.bench_environment import BmuEnvironment
from hil.duts.prohelion_d1000_gen2.client import D1000Client, state_of
from hil.duts.prohelion_d1000_gen2.config import D1000Config
from hil.duts.prohelion_d1000_gen2.protocol.codes import BmsCommand, BmsState, InfoBit
from hil.duts.prohelion_d1000_gen2.terminals import (
    COILS,
    FAULT_POINTS,
    CellId,
    SensorId,
    cells_of,
    sensors_of,
)
from hil.errors import BenchError
from hil.instruments.bank import TerminalBank
from hil.instruments.roles import (
    CellEmulator,
    Dmm,
    ElectronicLoad,
    PowerSupply,
    Switch,
    TemperatureEmulator,
)
from hil.measure import Measurement, equals
from hil.models.ntc import BetaNtc
from hil.spec import Requirement
from hil.station.station import Station

NOMINAL_CELL_V = 3.7
NEUTRAL_C = DutBench.NEUTRAL_C
#: the longest single wait: the client repeats BMSCommands between waits (control timeout 5 s)
MAX_WAIT_S = 1.0
POLL_S = 0.1
#: cell emulator current limit (A): above the CMU's 650 mA balancing bleed
CELL_CURRENT_LIMIT_A = 1.0
BMU_SUPPLY_LIMIT_A = 1.0
#: a coil output above this (V) is energised
COIL_ON_V = 3.0
#: the DC link counts as discharged below this (V)
LINK_DISCHARGED_V = 0.5
LINK_DISCHARGE_A = 2.0
#: a configured limit is a parameter of `D1000Config`; the row's `setting` names it (vendor key)
DISCONNECT_FLAGS: dict[str, InfoBit] = {
    "critCellOverVoltage": InfoBit.REASON_OVERVOLT,
    "critCellUnderVoltage": InfoBit.REASON_UNDERVOLT,
    "maxCellTemperature": InfoBit.REASON_OVERTEMP,
    "minCellTemperature": InfoBit.REASON_UNDERTEMP,
    "maxChargeCurrent": InfoBit.REASON_OVERCURRENT,
    "maxDischargeCurrent": InfoBit.REASON_OVERCURRENT,
}
#: warnings: the state-of-power value that drops to 0 ("further charging/discharging disabled")
WARNING_SIGNALS: dict[str, str] = {
    "warningCellOverVoltage": "SoPMaxCurrentCharge",
    "warningCellUnderVoltage": "SoPMaxCurrentDischarge",
}
#: faults a BMU may keep until it is reset (contactor, self-test): not kept powered between tests
RESET_FAULTS = (
    InfoBit.CONTACTOR_FAULT_1,
    InfoBit.CONTACTOR_FAULT_2,
    InfoBit.CONTACTOR_FAULT_3,
    InfoBit.CONTACTOR_FAULT_4,
    InfoBit.CONTACTOR_FAULT_5,
    InfoBit.REASON_CONTACTORFAIL,
    InfoBit.REASON_SELFTESTFAIL,
)
#: station expectation keys for rows without a documented tolerance, by quantity
TOLERANCE_KEYS = {
    "cell_temperature": ("temperature_tolerance_c", 1.0),
    "charge_current": ("current_tolerance_a", 2.0),
    "discharge_current": ("current_tolerance_a", 2.0),
}


def config_value(config: D1000Config, key: str) -> float:
    """A configuration parameter by its vendor key (critCellOverVoltage), in engineering units."""
    for name, info in type(config).model_fields.items():
        aliases = {info.alias, info.serialization_alias, info.validation_alias}
        if key in aliases or key == name:
            value = getattr(config, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"configuration parameter {key} is not a number")
            return float(value)
    raise KeyError(f"no configuration parameter {key!r}")


def _cell(bench: D1000Bench, volts: float) -> None:
    bench.set_cell(bench.target_cell, volts)


def _temperature(bench: D1000Bench, celsius: float) -> None:
    bench.set_temperature(bench.target_sensor, celsius)


def _charge(bench: D1000Bench, amps: float) -> None:
    bench.charge(amps)


def _discharge(bench: D1000Bench, amps: float) -> None:
    bench.discharge(amps)


#: how this bench sets each quantity a spec row can stimulate
STIMULI: dict[str, Stimulus[D1000Bench]] = {
    "cell_voltage": Stimulus(_cell, NOMINAL_CELL_V),
    "cell_temperature": Stimulus(_temperature, NEUTRAL_C),
    "charge_current": Stimulus(_charge, 0.0),
    "discharge_current": Stimulus(_discharge, 0.0),
}
#: quantities whose stimulus needs current through the pack: the drive path closed (ENABLED)
CURRENT_QUANTITIES = ("charge_current", "discharge_current")


#: the reasons the BMU's environment sensors set (PH-ENV): a unit showing only these after power-up
#: is in air beyond its own limits (a line's chamber left at a side), which PH-ENV's tests judge
ENV_REASONS = frozenset(
    {InfoBit.REASON_PRESSURE, InfoBit.REASON_HUMIDITY, InfoBit.REASON_OVERTEMP, InfoBit.REASON_UNDERTEMP}
)


class D1000Bench(DutBench):
    """Stimuli and observations on a D1000 Gen2 station, in the BMS's own terms."""

    NOMINAL_CELL_V = NOMINAL_CELL_V
    SETTLE_S = 0.3
    STIMULI = STIMULI

    ACCURACY_NEEDS = (
        ("power_supply", "current"),
        ("electronic_load", "current"),
        ("cell_emulator", "voltage"),
        ("temperature_emulator", "resistance"),
        ("dmm", "voltage"),
        ("dmm", "current"),
        ("climatic_chamber", "temperature"),
        ("climatic_chamber", "humidity"),
        ("pressure_controller", "pressure"),
    )

    def __init__(self, station: Station, dut: D1000Client) -> None:
        config: D1000Config = dut.config
        super().__init__(
            station, BetaNtc(config.fixed.thermistor_r25_ohm, float(config.thermistor_beta_value))
        )
        self.dut = dut
        self.config = config
        self.cells = TerminalBank(station, "cell_emulator", CellEmulator)
        self.ntcs = TerminalBank(station, "temperature_emulator", TemperatureEmulator)
        self.faults = TerminalBank(station, "switch", Switch)
        supplies = TerminalBank(station, "power_supply", PowerSupply)
        self.bmu_supply = supplies["BMU"]
        self.charger = supplies.get("LINK")
        self.battery = supplies.get("BATT")
        loads = TerminalBank(station, "electronic_load", ElectronicLoad)
        self.load = loads.get("LINK")
        daqs = TerminalBank(station, "dmm", Dmm)
        self.daq = daqs.instruments[0] if daqs.instruments else None
        # the BMU's environment (PH-ENV), optional: a chamber around it, a controller on its enclosure
        self.env = BmuEnvironment(station, self.wait)
        self.cell_ids: list[CellId] = cells_of(self.config.cells_per_node())
        self.sensor_ids: list[SensorId] = sensors_of(self.config.temps_per_node())
        missing = [c.terminal for c in self.cell_ids if c.terminal not in self.cells]
        missing += [s.terminal for s in self.sensor_ids if s.terminal not in self.ntcs]
        if missing:
            raise BenchError(
                f"station {station.model.name} has no channel for {len(missing)} configured inputs "
                f"({', '.join(missing[:4])}...): the station must match numCMUNodes/nodeNumCells/nodeNumTemp"
            )
        self.target_cell = self.cell_ids[0]
        self.target_sensor = self.sensor_ids[0] if self.sensor_ids else SensorId(0, 1)
        self._temp_c: dict[SensorId, float] = {}
        self._fault_on: set[str] = set()

    # --- time -------------------------------------------------------------------------------
    def wait(self, seconds: float) -> None:
        """Wait in pieces of at most MAX_WAIT_S, so the BMS commands keep coming."""
        left = seconds
        while left > 1e-9:
            piece = min(left, MAX_WAIT_S)
            self.clock.sleep(piece)
            left -= piece

    def wait_until(self, condition: Callable[[], bool], timeout: float, poll: float = POLL_S) -> bool:
        """Poll `condition` for up to `timeout` seconds; whether it became true."""
        met, _ = self.clock.wait_until(condition, timeout, min(poll, MAX_WAIT_S))
        return met

    def wait_fresh(self, names: list[str], since: float | None = None, timeout: float = 2.0) -> bool:
        """Wait until every message in `names` was received at or after `since` (default: now)."""
        t0 = self.clock.now() if since is None else since
        return self.wait_until(lambda: self.dut.fresh(names, t0), timeout)

    # --- stimuli ----------------------------------------------------------------------------
    def set_cell(self, cell: CellId, volts: float) -> None:
        """One cell input to `volts` (the emulator sends it only when it changes)."""
        self.cells[cell.terminal].set_cell_voltages({cell.terminal: volts})

    def set_cells(self, volts: float, cells: list[CellId] | None = None) -> None:
        """Every configured cell (or the listed ones) to `volts`."""
        self.set_cell_voltages(dict.fromkeys(cells if cells is not None else self.cell_ids, volts))

    def set_cell_voltages(self, volts: Mapping[CellId, float]) -> None:
        """Several cells, each to its own voltage: one message per emulator (of the cells that
        change: the emulator sends only those)."""
        by_emulator: dict[str, dict[str, float]] = {}
        for cell, value in volts.items():
            by_emulator.setdefault(self.cells[cell.terminal].name, {})[cell.terminal] = value
        for cells in by_emulator.values():
            self.cells[next(iter(cells))].set_cell_voltages(cells)

    def set_temperature(self, sensor: SensorId, celsius: float) -> None:
        """One thermistor input to the NTC resistance of `celsius` (configured Beta, assumed R25)."""
        if self._temp_c.get(sensor) == celsius:
            return
        self.ntcs[sensor.terminal].set_temperature(sensor.terminal, celsius, self.ntc.resistance_ohm)
        self._temp_c[sensor] = celsius

    def set_temperatures(self, celsius: float) -> None:
        for sensor in self.sensor_ids:
            self.set_temperature(sensor, celsius)

    def set_fault(self, point: str, inserted: bool) -> None:
        """Insert (close the relay) or remove a fault at a fault point (terminals.py)."""
        self.faults[point].set_closed(point, inserted)
        if inserted:
            self._fault_on.add(point)
        else:
            self._fault_on.discard(point)

    def clear_faults(self) -> None:
        for switch in self.faults.instruments:
            switch.open_all()
        self._fault_on.clear()

    @property
    def pack_v(self) -> float:
        """The pack voltage the cell stimuli add up to."""
        return sum(self.cells[c.terminal].programmed.get(c.terminal, NOMINAL_CELL_V) for c in self.cell_ids)

    @property
    def path_v(self) -> float:
        """The voltage of the power path behind the BJU: the battery emulator's, else the cells'."""
        if self.battery is not None:
            return self.expectations.get("battery_v", self.pack_v)
        return self.pack_v

    def charge(self, amps: float) -> None:
        """Push `amps` into the pack from the DC link (charger CC a little above the pack); 0: off."""
        if self.charger is None:
            raise BenchError("this station has no charger on the DC link (terminal LINK)")
        if amps <= 0.0:
            self.charger.set_output(False)
            return
        self.charge_from(self.charger, amps, self.path_v)

    def hold_link(self, volts: float, current_limit: float) -> None:
        """The charger as a CV source on the DC link (the charge port's voltage, PH-SM-CHARGE)."""
        if self.charger is None:
            raise BenchError("this station has no charger on the DC link (terminal LINK)")
        self.hold_supply(self.charger, volts, current_limit)

    def discharge(self, amps: float) -> None:
        """Draw `amps` from the DC link with the electronic load; 0: input off."""
        if self.load is None:
            raise BenchError("this station has no electronic load on the DC link (terminal LINK)")
        if amps <= 0.0:
            self.load.set_input(False)
            return
        self.load.set_cc(amps)
        self.load.set_input(True)

    def idle_power(self) -> None:
        """Load and charger off."""
        if self.load is not None:
            self.load.set_input(False)
        if self.charger is not None:
            self.charger.set_output(False)

    def discharge_link(self, timeout: float = 10.0) -> bool:
        """Empty the DC link capacitance through the load (before a precharge from 0 V)."""
        if self.daq is None or self.load is None:
            return False
        if self.link_v() < LINK_DISCHARGED_V:
            return True
        self.discharge(LINK_DISCHARGE_A)
        done = self.wait_until(lambda: self.link_v() < LINK_DISCHARGED_V, timeout, 0.2)
        self.discharge(0.0)
        return done

    # --- between tests (EOL) ---------------------------------------------------------------
    def rest_between_tests(self) -> frozenset[str]:
        """EOL between two passed tests: the BMU commanded IDLE (contactors open) and its supply
        kept on, as the cells are, so the next test needs no boot; the chamber kept running while
        its air heads for the next level (`env.head_air`). Load, charger, relays, thermistors, pressure
        controller: made safe as after every test. A BMU showing a fault IDLE cannot clear
        (contactor, self-test: latched until reset, PH-SM-IDLE) is switched off, as after a full
        profile's test: the next test's boot resets it without waiting for an IDLE first."""
        self.dut.send_command(BmsCommand.IDLE)
        kept = set()
        if not any(self.flag(bit) for bit in RESET_FAULTS):
            kept.add(self.bmu_supply.name)
        if self.env.chamber is not None and self.env.air_heading is not None:
            kept.add(self.env.chamber.name)
        return frozenset(kept)

    # --- observations -----------------------------------------------------------------------
    def state(self) -> BmsState | None:
        return self.dut.state()

    def wait_state(self, state: BmsState, timeout: float) -> bool:
        return self.wait_until(lambda: self.dut.state() is state, timeout)

    def flag(self, bit: InfoBit) -> bool:
        return self.dut.has(bit)

    def link_v(self) -> float:
        assert self.daq is not None
        return self.daq.measure_dc_voltage("LINK")

    def pack_terminal_v(self) -> float:
        assert self.daq is not None
        return self.daq.measure_dc_voltage("PACK")

    def coils(self) -> tuple[bool, ...]:
        """The five coil outputs as the DAQ reads them (energised = True)."""
        assert self.daq is not None
        return tuple(self.daq.measure_dc_voltage(c) > COIL_ON_V for c in COILS)

    def supply_current(self) -> float:
        assert self.daq is not None
        return self.daq.measure_dc_current("SUPPLY")

    def energised(self) -> frozenset[int]:
        """The contactors whose coil output is energised (DAQ), 1..5."""
        return frozenset(k for k, on in enumerate(self.coils(), start=1) if on)

    def reported_closed(self) -> frozenset[int] | None:
        """The contactors ContactorInfo reports as commanded closed (None: no ContactorInfo)."""
        got = self.dut.contactors()
        return None if got is None else frozenset(k for k, on in enumerate(got[0], start=1) if on)

    def states_since(self, t0: float) -> list[tuple[float, BmsState]]:
        """The states BMSInfo reported from t0 on, each with the time it was first seen."""
        seen: list[tuple[float, BmsState]] = []
        self.dut.latest("BMSInfo")  # decode what was captured
        for t, word in self.dut.info_changes:
            state = state_of(word)
            if t >= t0 - 1e-6 and state is not None and (not seen or seen[-1][1] is not state):
                seen.append((t, state))
        return seen

    def entered(self, state: BmsState, since: float) -> float | None:
        """When `state` was first reported at or after `since` (None: not seen)."""
        return next((t for t, s in self.states_since(since) if s is state), None)

    def values_between(self, message: str, signal: str, t0: float, t1: float) -> list[float]:
        """One signal of every captured frame of `message` in [t0, t1] (for peaks and averages)."""
        can_id = self.dut.codec.frame_id(message)
        values = []
        for frame in self.dut.monitor.since(t0, can_id):
            if frame.timestamp <= t1 + 1e-6 and not frame.is_error_frame:
                values.append(float(self.dut.codec.decode(can_id, frame.data).signals[signal]))
        return values

    # --- sequences --------------------------------------------------------------------------
    def power_bmu(self, on: bool, volts: float | None = None) -> None:
        """The BMU supply on at `volts` (default: the variant's nominal) or off."""
        if not on:
            self.bmu_supply.set_output(False)
            return
        self.bmu_supply.set_current_limit(BMU_SUPPLY_LIMIT_A)
        self.bmu_supply.set_voltage(float(self.config.supply_variant_v) if volts is None else volts)
        self.bmu_supply.set_output(True)

    def boot(self, command: BmsCommand = BmsCommand.IDLE) -> bool:
        """Power the BMU from off and wait until it reaches SAFE, then send `command`.

        SAFE is looked for in every BMSInfo change since power-on, not only the latest frame: with
        IDLE repeated the BMU passes SAFE within one cycle, which a poll paced to the wall clock
        on a loaded machine can miss (the paced EOL's "did not reach SAFE (state IDLE)")."""
        self.power_bmu(False)
        self.wait(0.5)
        self.dut.send_command(command)
        t_on = self.clock.now()
        self.power_bmu(True)
        ok = self.wait_until(
            lambda: self.entered(BmsState.SAFE, t_on) is not None,
            self.expectations.get("start_up_max_s", 5.0),
        )
        self.dut.send_command(command)
        return ok

    def command(self, command: BmsCommand) -> None:
        self.dut.send_command(command)

    def to_idle(self, timeout: float = 3.0) -> bool:
        """Command IDLE and wait for IDLE (from SAFE once faults cleared, or from an active state)."""
        self.dut.send_command(BmsCommand.IDLE)
        return self.wait_state(BmsState.IDLE, timeout)

    def drive_enabled(self) -> bool:
        """IDLE → CONNECT → PRECHARGE → ENABLED by the commands CONNECT, then ENABLE."""
        if self.state() is BmsState.ENABLED:
            return True
        if self.state() is not BmsState.IDLE and not self.to_idle():
            return False
        self.dut.send_command(BmsCommand.CONNECT)
        if not self.wait_state(BmsState.CONNECT, 2.0):
            return False
        self.dut.send_command(BmsCommand.ENABLE)
        return self.wait_state(BmsState.ENABLED, self.config.precharge_timeout + 2.0)

    def power_up(self) -> None:
        """Relays open, thermistors at 25 °C, cells on at nominal, then the BMU supply: SAFE, IDLE."""
        self.clear_faults()
        self.idle_power()
        self._temp_c.clear()
        self.set_temperatures(NEUTRAL_C)
        for driver in self.cells.instruments:
            for cell in driver.cells:
                driver.set_current_limit(cell, CELL_CURRENT_LIMIT_A)
        self.set_cells(NOMINAL_CELL_V)
        for driver in self.cells.instruments:
            driver.set_output(True)
        if self.battery is not None:  # a battery emulator on B+/B- (large packs: at a bench voltage)
            self.battery.set_voltage(self.path_v)
            self.battery.set_output(True)
        if not self.boot():
            name = getattr(self.state(), "name", None)
            raise BenchError(f"the BMU did not reach SAFE after power-up (state {name})")
        if not self.to_idle():
            reasons = {bit for bit in self.dut.flags() if bit >= InfoBit.REASON_SELFTESTFAIL}
            if reasons and reasons <= ENV_REASONS:
                return  # the unit's own environment limits, in the air it sits in: PH-ENV judges them
            raise BenchError(
                f"the BMU did not reach IDLE on command IDLE (state {getattr(self.state(), 'name', None)}, "
                f"flags {sorted(b.signal for b in self.dut.flags())})"
            )

    def prepare(self) -> BmsState | None:
        """Nominal inputs, no fault inserted, load and charger off, the BMU powered and IDLE."""
        self.idle_power()
        if self._fault_on or self.faults.instruments:
            self.clear_faults()
        self._temp_c.clear()  # the safe state after a test set every thermistor back to neutral
        self.set_temperatures(NEUTRAL_C)
        self.set_cells(NOMINAL_CELL_V)
        cells_on = all(d.output_is_on(d.cells[0]) for d in self.cells.instruments)
        if not cells_on:
            for driver in self.cells.instruments:
                driver.set_output(True)
        if self.battery is not None and not self.battery.output_is_on():  # off after the last safe state
            self.battery.set_voltage(self.path_v)
            self.battery.set_output(True)
        if not self.bmu_supply.output_is_on() or self.state() in (None, BmsState.INITIALISE):
            self.boot()
        if not self.to_idle():
            self.boot()  # a latched fault (contactor) needs a reset
            if not self.to_idle():
                raise BenchError(
                    f"the BMU does not reach IDLE at nominal inputs (state {self.state()}, "
                    f"flags {sorted(b.signal for b in self.dut.flags())}{self.env.air_note()})"
                )
        return self.state()

    # --- thresholds -------------------------------------------------------------------------
    def limit(self, req: Requirement) -> float:
        """The row's configured limit (its `setting`'s value in this unit's configuration)."""
        if not req.setting:
            raise ValueError(f"{req.id} names no configuration parameter")
        return config_value(self.config, req.setting)

    def tolerance(self, req: Requirement) -> tuple[float, str]:
        """The row's tolerance and where it comes from (the spec's, else the station's expectation)."""
        if req.tolerance is not None:
            return req.tolerance, req.tolerance_source or "spec"
        key, default = TOLERANCE_KEYS.get(req.quantity or "", ("", 0.0))
        value = self.expectations.get(key, default)
        return value, f"no DUT accuracy documented: station expectation {key} = {value:g}"

    def tripped_signal(self, req: Requirement) -> Callable[[], bool]:
        """What shows that the row's limit was reached."""
        setting = req.setting or ""
        if setting in DISCONNECT_FLAGS:
            bit = DISCONNECT_FLAGS[setting]
            return lambda: self.dut.has(bit)
        if setting in WARNING_SIGNALS:
            signal = WARNING_SIGNALS[setting]
            return lambda: (value := self.dut.value("BMSSoPData", signal)) is not None and value == 0
        raise ValueError(f"{req.id}: no trip observation for setting {setting!r}")

    def disconnects(self, req: Requirement) -> bool:
        return (req.setting or "") in DISCONNECT_FLAGS

    def tripped(self, req: Requirement) -> bool:
        """Whether the row's limit shows as reached now (its flag, or its state-of-power value at 0)."""
        return self.tripped_signal(req)()

    def settle(self, req: Requirement) -> float:
        """How long a probe level is held: the station's expected protection delay plus a guard."""
        del req
        return self.expectations.get("protection_delay_max_s", 1.0) + self.settle_s

    def precondition(self, req: Requirement) -> None:
        """A current row needs the drive path closed: ENABLED."""
        if req.quantity in CURRENT_QUANTITIES and not self.drive_enabled():
            raise BenchError(f"{req.id}: the BMS did not reach ENABLED (state {self.state()})")

    def rearm(self, req: Requirement) -> None:
        """Back to the untripped state: nominal level, IDLE (the command is repeated), path re-driven."""
        tripped = self.tripped_signal(req)
        self.apply(req, self.nominal_level(req))
        if self.disconnects(req):
            ok = self.wait_until(lambda: self.state() is BmsState.IDLE and not tripped(), 3.0)
            if not ok:
                ok = self.to_idle() and not tripped()
        else:
            ok = self.wait_until(lambda: not tripped(), self.settle(req) + 1.0)
        if not ok:
            self.prepare()
        if req.quantity in CURRENT_QUANTITIES:
            self.precondition(req)
        if tripped():
            raise BenchError(f"{req.id} could not be released to re-arm the probe")

    def setting_error(self, req: Requirement, value: float) -> tuple[str, float]:
        """The instrument behind the target cell, thermistor input or DC-link current, and its
        limit of error there."""
        if req.quantity == "cell_voltage":
            return self.instrument_error(self.cells[self.target_cell.terminal].name, "voltage", value)
        if req.quantity == "cell_temperature":
            return self.ntc_error(self.ntcs[self.target_sensor.terminal].name, value)
        if req.quantity in CURRENT_QUANTITIES:
            driver = self.charger if req.quantity == "charge_current" else self.load
            if driver is None:
                return "no instrument", 0.0
            return self.instrument_error(driver.name, "current", value)
        return "set digitally", 0.0

    def margin(self, req: Requirement, value: float | None = None) -> float:
        """Tolerance plus the uncertainty of setting the stimulus at the limit (go/no-go distance)."""
        level = self.limit(req) if value is None else value
        return self.tolerance(req)[0] + self.setting_uncertainty(req, level)

    def positions(self, req: Requirement) -> list[CellId] | list[SensorId]:
        """Where the row's limit applies: every configured cell, or every thermistor input."""
        if req.quantity == "cell_voltage":
            return self.cell_ids
        if req.quantity == "cell_temperature":
            return self.sensor_ids
        return []

    def target(self, position: CellId | SensorId) -> None:
        """Direct the row's stimulus at one cell or thermistor input (the previous one back to nominal)."""
        if isinstance(position, CellId):
            if position != self.target_cell:
                self.set_cell(self.target_cell, NOMINAL_CELL_V)
            self.target_cell = position
        else:
            if position != self.target_sensor:
                self.set_temperature(self.target_sensor, NEUTRAL_C)
            self.target_sensor = position

    def extremes_at(self, req: Requirement) -> tuple[int, int] | None:
        """(node, cell/sensor ID) the extremes message reports for the row's direction."""
        if req.quantity == "cell_voltage":
            message, key = "NodeCellInfo", ("Max" if req.direction == "above" else "Min") + "CellVoltage"
            index = "CellID"
        else:
            message, key = "NodeTempInfo", ("Max" if req.direction == "above" else "Min") + "Temperature"
            index = "SensorID"
        got = self.dut.latest(message)
        if got is None:
            return None
        return int(got.signals[f"{key}NodeID"]), int(got.signals[f"{key}{index}"])


def _text(value: object) -> bool | str:
    return value if isinstance(value, bool) else str(value)


def same(
    requirement: str, name: str, value: object, expected: object, time: float, **extra: Any
) -> Measurement:
    """`equals` for any observation (a state, a list, a number): compared as is, recorded as text."""
    shown, wanted = _text(value), _text(expected)
    if value == expected:
        wanted = shown
    elif shown == wanted:
        shown = f"{shown} (as {type(value).__name__}, expected {type(expected).__name__})"
    return equals(requirement, name, shown, wanted, time, **extra)


def position_name(position: CellId | SensorId) -> str:
    """N03C07 / N03T2."""
    return position.terminal


def is_finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


__all__ = ["FAULT_POINTS", "STIMULI", "D1000Bench", "config_value", "position_name", "same"]
