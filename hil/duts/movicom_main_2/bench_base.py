"""The Movicom Main 2.1 / 2R bench's base: its instruments, stimuli and hooks, and the primitives
several test sections share (the configured protections, the relays as Modbus and the DAQ report
them, the inputs and their signals, software control over Modbus 0x5100+, the DMM, the errors).

Stimuli: the Logic boards' cells (cell emulator), their thermistors (temperature emulator, as
`LOGIC_NTC`), the board's supply (power supply `SUPPLY`), the Hall-sensor outputs against their
references (analog source; the current a sensor reports is (Vcs - Vref) / (V at rated / rated A),
positive = charging) and the dry-contact inputs (switch). Each stimulus primitive logs what it
applied (stimulus_log.py); the plan's `check` declares it on each result, for the report's
timeline. The sections (bench_protections, bench_analog, bench_relays) are mixins on this class;
MovicomBench (bench.py) joins them.
"""

from __future__ import annotations

import dataclasses
from functools import cached_property
from typing import ClassVar, Literal

from hil.bench import DutBench
from hil.duts.movicom_main_2.client import MovicomClient
from hil.duts.movicom_main_2.config import PROTECTION_DIRECTIONS, InputFunction, Protection
from hil.duts.movicom_main_2.stimulus_log import StimulusLog
from hil.duts.movicom_main_2.terminals import (
    LOGIC_NTC,
    SUPPLY,
    cell_terminal,
    humidity_terminal,
    jumper_terminal,
    load_terminal,
    ntc_terminal,
    relay_terminal,
    sensor_terminals,
    temperature_terminals,
    termination_terminal,
    terminations,
)
from hil.duts.movicom_main_2.variants import RelayFunctionName
from hil.errors import BenchError
from hil.instruments.bank import TerminalBank
from hil.instruments.roles import (
    AnalogSource,
    CellEmulator,
    Dmm,
    LedAnalyser,
    PowerSupply,
    Switch,
    TemperatureEmulator,
)
from hil.measure import Measurement
from hil.spec import Requirement
from hil.station.station import Station
from hil.uncertainty import Budget, station_uncertainty

#: the Hall sensors' reference voltage on this bench (V)
VREF_V = 2.5
#: the supply's current limit (A): the board draws about 0.1 A
SUPPLY_LIMIT_A = 0.5
#: the humidity the Vhs input is set to at nominal conditions (%RH)
NEUTRAL_HUMIDITY_PCT = 40.0
#: Modbus 0x5100+: a value from this on hands a signal back to the physical inputs
SOFTWARE_CONTROL_PHYSICAL = 2
#: how often a wait polls the DUT (s)
POLL_S = 0.1
#: the preparation's wait for errors to clear: no result is timed from it, and each poll is a
#: Modbus round trip (about 80 ms on the RTU-only 2R), so it polls coarser than a measurement
PREPARE_POLL_S = 0.5
#: a relay contact reads closed below this (Ω): the DAQ's 2-wire ohms, open reads as overload
CONTACT_CLOSED_OHM = 10.0
#: the relay functions a protection opens (S8, S9): the charge relays and the discharge relay
CHARGE_RELAYS: frozenset[str] = frozenset({"allow_charging", "charge"})
PROTECTION_RELAYS: frozenset[str] = CHARGE_RELAYS | {"discharge"}


class MovicomBenchBase(DutBench):
    """The bench of a Main 2.1 / 2R without its test sections (see the module docstring)."""

    NOMINAL_CELL_V: ClassVar[float] = 3.30

    def __init__(self, station: Station, client: MovicomClient) -> None:
        super().__init__(station, LOGIC_NTC)
        self.dut = client
        self.config = client.config
        self.hw = self.config.hardware_variant
        self.cells = TerminalBank(station, "cell_emulator", CellEmulator)
        self.ntcs = TerminalBank(station, "temperature_emulator", TemperatureEmulator)
        self.supply = TerminalBank(station, "power_supply", PowerSupply)[SUPPLY]
        self.analog = TerminalBank(station, "analog_source", AnalogSource)
        self.switches = TerminalBank(station, "switch", Switch)
        dmms = TerminalBank(station, "dmm", Dmm)
        self.dmm = dmms.instruments[0] if dmms.instruments else None
        self.leds = TerminalBank(station, "led_analyser", LedAnalyser)
        logic = self.config.logic
        self.cell_terminals = [
            cell_terminal(b, c)
            for b in range(1, logic.boards + 1)
            for c in range(1, logic.cells_per_board + 1)
        ]
        self.ntc_terminals = [
            ntc_terminal(b, s)
            for b in range(1, logic.boards + 1)
            for s in range(1, logic.temperatures_per_board + 1)
        ]
        missing = [t for t in self.cell_terminals if t not in self.cells]
        missing += [t for t in self.ntc_terminals if t not in self.ntcs]
        if missing:
            raise BenchError(
                f"station {station.model.name} has no channel for {', '.join(missing[:4])}: the station "
                "must wire logic.boards x cells_per_board cells and temperatures_per_board thermistors"
            )
        self._cell_v: dict[str, float] = {}
        self.supply_v = self.hw.supply.nominal_v
        #: what the primitives below applied, for the `stimulus` each result declares (the report's timeline)
        self.stimulus_log = StimulusLog()

    # --- the stimulus a result declares ---------------------------------------------------------------
    def log_level(self, name: str, value: float, nominal: float | None) -> None:
        """Log a stimulus level set now (`name` ends in its unit: "supply [V]") and its nominal level."""
        self.stimulus_log.level(self.clock.now(), name, value, nominal)

    def log_pin(self, terminal: str, volts: float) -> None:
        """Log an analog input pin set to `volts` now (its nominal: `pin_nominal_v`)."""
        self.log_level(f"{terminal} [V]", volts, self.pin_nominal_v(terminal))

    def pin_nominal_v(self, terminal: str) -> float | None:
        """An analog input pin's level at nominal conditions (what `nominal_inputs` sets), None if unknown."""
        a = self.config.analog
        if terminal in temperature_terminals(self.hw):
            return a.temperature_v_at_0c + self.NEUTRAL_C * a.temperature_v_per_c
        if terminal == humidity_terminal(self.hw):
            return a.humidity_v_offset + NEUTRAL_HUMIDITY_PCT * a.humidity_v_per_percent
        if any(terminal in pair for pair in sensor_terminals(self.hw)):
            return VREF_V  # zero current: Vcs at Vref
        return None

    def log_event(self, name: str, value: str) -> None:
        """Log a stimulus without a level done now ("IN_1" -> "closed")."""
        self.stimulus_log.event(self.clock.now(), name, value)

    def with_stimulus(self, m: Measurement) -> Measurement:
        """`m` declaring in `data["stimulus"]` what the bench applied before it was taken (unless it
        declares its own); unchanged when nothing beyond nominal was applied."""
        if "stimulus" in m.data:
            return m
        applied = self.stimulus_log.before(m.time, m.requirement)
        return dataclasses.replace(m, data={**m.data, "stimulus": applied}) if applied else m

    # --- stimuli --------------------------------------------------------------------------------------
    def set_cell(self, board: int, cell: int, volts: float, log: bool = True) -> None:
        """One cell of one Logic board (sent only when it changes; `log` False: the caller logs it)."""
        terminal = cell_terminal(board, cell)
        if self._cell_v.get(terminal) != volts:
            self.cells[terminal].set_voltage(terminal, volts)
            self._cell_v[terminal] = volts
        if log:
            self.log_level(f"cell {terminal} [V]", volts, self.NOMINAL_CELL_V)

    def set_board_cells(self, board: int, volts: float) -> None:
        """Every cell of Logic board `board` to `volts` (one stimulus: the board's cells)."""
        for cell in range(1, self.config.logic.cells_per_board + 1):
            self.set_cell(board, cell, volts, log=False)
        self.log_level(f"Logic board {board} cells [V]", volts, self.NOMINAL_CELL_V)

    def set_cells(self, volts: float) -> None:
        """Every configured cell to `volts`."""
        for terminal in self.cell_terminals:
            if self._cell_v.get(terminal) != volts:
                self.cells[terminal].set_voltage(terminal, volts)
                self._cell_v[terminal] = volts
        self.log_level("every cell [V]", volts, self.NOMINAL_CELL_V)

    def set_temperatures(self, celsius: float) -> None:
        """Every Logic thermistor to the NTC resistance of `celsius`."""
        for terminal in self.ntc_terminals:
            self.ntcs[terminal].set_temperature(terminal, celsius, self.ntc.resistance_ohm)
        self.log_level("Logic thermistors [°C]", celsius, self.NEUTRAL_C)

    def set_supply(self, volts: float) -> None:
        """The board's supply to `volts` (output on)."""
        self.hold_supply(self.supply, volts, SUPPLY_LIMIT_A)
        self.supply_v = volts
        self.log_level("supply [V]", volts, self.hw.supply.nominal_v)

    def supply_off(self) -> None:
        """The board's supply output off (`set_supply` or `prepare` turns it on again)."""
        self.supply.set_output(False)
        self.log_event("supply output", "off")

    def set_current(self, amps: float) -> None:
        """Every Hall-sensor output to what its sensor gives at `amps` (positive = charging)."""
        for (out, ref), sensor in zip(sensor_terminals(self.hw), self.config.current_sensors, strict=False):
            self.analog[ref].set_voltage(ref, VREF_V)
            self.analog[out].set_voltage(out, VREF_V + amps * sensor.volts_at_rated / sensor.rated_a)
        self.log_level("current [A]", amps, 0.0)

    def set_external_temperature(self, celsius: float) -> None:
        """The analog temperature inputs (Vts / T_SENS) wired on this station to `celsius`."""
        a = self.config.analog
        for terminal in temperature_terminals(self.hw):
            if terminal in self.analog:
                volts = a.temperature_v_at_0c + celsius * a.temperature_v_per_c
                self.analog[terminal].set_voltage(terminal, volts)
                self.log_pin(terminal, volts)

    def set_contact(self, index: int, closed: bool) -> None:
        """Dry-contact input `index` (1-4) closed or open by its relay."""
        terminal = self.hw.inputs[index - 1]
        self.switches[terminal].set_closed(terminal, closed)
        self.log_event(terminal, "closed" if closed else "open")

    # --- hooks ----------------------------------------------------------------------------------------
    def nominal_inputs(self) -> None:
        """Cells at nominal, thermistors neutral, sensors at zero current and the sensor inputs at
        their neutral levels, contacts open (what every test starts from)."""
        self.set_cells(self.NOMINAL_CELL_V)
        self.set_temperatures(self.NEUTRAL_C)
        self.set_current(0.0)
        self.set_external_temperature(self.NEUTRAL_C)
        humidity = humidity_terminal(self.hw)
        if humidity and humidity in self.analog:
            a = self.config.analog
            volts = a.humidity_v_offset + NEUTRAL_HUMIDITY_PCT * a.humidity_v_per_percent
            self.analog[humidity].set_voltage(humidity, volts)
        self.rest_switches()
        self.inputs_inactive()
        self.stimulus_log.nominal(self.clock.now())

    def rest_switches(self) -> None:
        """The dry-contact inputs, the outputs' 20 mA loads and the DMM routes open; a jumper's
        fixture relay at the position the station declares (fitted unless `termination_<jumper>_fitted`
        is 0): opening every relay of the switch would remove the termination jumpers between tests."""
        opened = [
            *self.hw.inputs,
            *(load_terminal(o) for o in self.hw.outputs),
            *(termination_terminal(j) for j, _ in terminations(self.hw)),
        ]
        for terminal in opened:
            if terminal in self.switches:
                self.switches[terminal].set_closed(terminal, False)
        for jumper, _ in terminations(self.hw):
            if self.jumper_settable(jumper):
                declared = self.jumper_declared(jumper)
                self.set_jumper(jumper, True if declared is None else declared)

    def power_up(self) -> None:
        """Nominal inputs with the cells on, then the supply on at its nominal voltage; returns
        once Modbus answers and the Logic link is up."""
        self.nominal_inputs()
        for instrument in self.cells.instruments:
            instrument.set_output(True, [t for t in self.cell_terminals if t in instrument.info.channels])
        self.boot()

    def boot(self) -> None:
        """The supply on at nominal; wait for the firmware to answer and its Logic link to come up."""
        self.set_supply(self.hw.supply.nominal_v)
        if not self.wait_running(self.config.fixed.logic_init_s + 5.0):
            raise BenchError("the DUT did not answer on Modbus after power-up")
        self.clock.sleep(self.config.fixed.logic_init_s + self.settle_s)

    def wait_running(self, timeout: float) -> bool:
        """Wait until the unit answers on Modbus RTU."""
        met, _ = self.clock.wait_until(self.dut.answers, timeout, POLL_S)
        return bool(met)

    def prepare(self) -> None:
        """Nominal inputs; the supply back on at nominal if it is not (the bench's safe state after
        every test switches power supplies off: the board boots again), and no error left (an error
        clears after its clear delay once its condition is gone; a locked one is acknowledged, or
        power-cycled away when the acknowledge layout has no bit for it)."""
        self.nominal_inputs()
        if not self.supply.output_is_on() or self.supply_v != self.hw.supply.nominal_v:
            self.boot()
        self._wait_errors_cleared()
        locked = self.errors()
        if locked:
            errors_1 = self.dut.codec.register_map.get("errors_1")  # one bit per error, its layout
            if locked <= {b.name for b in errors_1.bits}:  # locked until acknowledged (0x4001)
                self.dut.write("acknowledge_errors", sum(1 << errors_1.bit(name) for name in locked))
                self._wait_errors_cleared()
            else:  # e.g. a locked charge-temperature error (errors_2): only a power cycle clears it
                self.power_cycle()
        self.stimulus_log.nominal(self.clock.now())

    def power_cycle(self) -> None:
        """The supply off for the settle time, then on again: the firmware starts afresh (every
        error cleared, locked ones included)."""
        self.supply_off()
        self.clock.sleep(self.settle_s)
        self.boot()

    def _longest_clear_s(self) -> float:
        p = self.config.protections
        return max(float(getattr(p, s).clear_delay_s) for s in PROTECTION_DIRECTIONS)

    def _wait_errors_cleared(self) -> None:
        self.clock.wait_until(lambda: not self.errors(), self._longest_clear_s() + 1.0, PREPARE_POLL_S)

    def errors(self) -> frozenset[str]:
        """The unit's active errors (Modbus errors_1 and errors_2 bits: the charge temperature
        errors are in errors_2), over the polling transport: the waits poll them often."""
        values = self.dut.read(["errors_1", "errors_2"], self._poll_transport())
        return frozenset().union(*(v for v in values.values() if isinstance(v, frozenset)))

    def tripped(self, req: Requirement) -> bool:
        """Any error active (a protection row's own check reads its bit: `protection_setup`)."""
        return bool(self.errors())

    def rearm(self, req: Requirement) -> None:
        self.prepare()

    def settle(self, req: Requirement) -> float:
        return self.settle_s + (req.delay_s or 0.0)

    def setting_error(self, req: Requirement, value: float) -> tuple[str, float]:
        if req.quantity == "cell_voltage":
            return self.cell_error(value)
        if req.quantity == "supply_voltage":
            return self.instrument_error(self.supply.name, "voltage", value)
        if req.quantity == "current":
            return self.current_error()
        raise ValueError(f"{req.id}: no stimulus for {req.quantity!r} on this bench")

    def cell_error(self, volts: float) -> tuple[str, float]:
        """The cell emulator and its limit of error at `volts` (V)."""
        return self.instrument_error(self.cells[cell_terminal(1, 1)].name, "voltage", volts)

    def current_error(self) -> tuple[str, float]:
        """The analog source and the current its limit of error on Vcs and on Vref amounts to (A)."""
        out, _ = sensor_terminals(self.hw)[0]
        sensor = self.config.current_sensors[0]
        name, volts = self.instrument_error(self.analog[out].name, "voltage", VREF_V)
        return name, 2 * volts * sensor.rated_a / sensor.volts_at_rated

    # --- primitives the sections share ---------------------------------------------------------------
    def protection(self, section: str) -> Protection:
        """The unit's configured protection `section` (config.Protections)."""
        found: Protection = getattr(self.config.protections, section)
        return found

    def _poll_transport(self) -> Literal["rtu", "tcp"]:
        """Modbus TCP where the unit has it (the same registers as RTU, read in a few ms), else RTU."""
        return "tcp" if self.dut.tcp is not None else "rtu"

    def meter(self) -> Dmm:
        """The DMM (a station without one cannot measure these rows)."""
        if self.dmm is None:
            raise BenchError(f"station {self.station.model.name} has no dmm instrument")
        return self.dmm

    def dmm_budget(self, quantity: str, value: float, scale: float = 1.0, unit: str = "") -> Budget:
        """The DMM's accuracy and resolution at `value` (its unit: V, A, Ω) from the station file."""
        return station_uncertainty(self.station, self.meter().name, quantity, value, scale, unit)

    @cached_property
    def _forced(self) -> set[str]:
        """Software-control registers forced away from the physical inputs (`release_signals`)."""
        return set()

    def software_control(self, function: InputFunction, value: int) -> str:
        """Force an input signal over Modbus 0x5100 + code - 1 (0 reset, 1 set, 2 physical input);
        the one way the bench writes software control. Returns the register written."""
        name = f"input_control_{function.name.lower()}"
        self.dut.write(name, value)
        self.log_event(f"Modbus {name}", {0: "reset", 1: "set"}.get(value, "physical input"))
        if value >= SOFTWARE_CONTROL_PHYSICAL:
            self._forced.discard(name)
        else:
            self._forced.add(name)
        return name

    def release_signals(self) -> None:
        """Every signal forced by software control back to the physical inputs."""
        for name in sorted(self._forced):
            self.dut.write(name, SOFTWARE_CONTROL_PHYSICAL)
        self._forced.clear()

    def set_signal(self, function: InputFunction, active: bool) -> str:
        """Make `function` active or inactive: through its input when one carries it, else by Modbus
        software control (0x5100 + code - 1: 1 set, 2 back to the inputs). Returns how, for the method."""
        index = self.input_of(function)
        if index is not None:
            self.set_input(index, active)
            inverted = self.config.inputs[index - 1].inverted
            level = "closed" if active != inverted else "open"
            return f"{self.hw.inputs[index - 1]} {level}{' (inverted input)' if inverted else ''}"
        value = 1 if active else SOFTWARE_CONTROL_PHYSICAL
        name = self.software_control(function, value)
        return f"Modbus write {name} = {value} (no input has the function)"

    def input_of(self, function: InputFunction) -> int | None:
        """The input (1-4) the unit's configuration gives `function`, None if none."""
        assigned = self.config.input_assigned(function)
        return assigned[0] + 1 if assigned else None

    def set_input(self, index: int, active: bool) -> None:
        """Input `index` (1-4) at the contact level that makes its function active or inactive
        (an inverted input is active while its contact is open)."""
        self.set_contact(index, active != self.config.inputs[index - 1].inverted)

    def inputs_inactive(self) -> None:
        """Every input at its inactive level (an inverted one closed) and no signal forced by
        software control: part of the nominal inputs."""
        for index, assignment in enumerate(self.config.inputs, 1):
            if assignment.inverted and assignment.function is not InputFunction.NONE:
                self.set_input(index, False)
        self.release_signals()

    def jumper_settable(self, jumper: str) -> bool:
        """Whether a fixture relay replaces termination jumper `jumper` (the bench can fit and remove it)."""
        return jumper_terminal(jumper) in self.switches

    def jumper_declared(self, jumper: str) -> bool | None:
        """The jumper position the station declares (expectation `termination_<jumper>_fitted`), if any."""
        value = self.expectations.get(f"termination_{jumper}_fitted")
        return None if value is None else bool(value)

    def set_jumper(self, jumper: str, fitted: bool) -> None:
        """Fit (pins 1-2) or remove termination jumper `jumper` through its fixture relay."""
        terminal = jumper_terminal(jumper)
        self.switches[terminal].set_closed(terminal, fitted)
        self.log_event(f"jumper {jumper}", "fitted" if fitted else "not fitted")

    def protection_relays(self) -> dict[int, RelayFunctionName]:
        """Relays (1-4) whose configured function a protection opens, with that function."""
        return {n: r.function for n, r in enumerate(self.config.relays, 1) if r.function in PROTECTION_RELAYS}

    def relays_closed(self) -> frozenset[int]:
        """Relays (1-4) the unit reports closed (Modbus `relays`)."""
        value = self.dut.value("relays", self._poll_transport())
        names = value if isinstance(value, frozenset) else frozenset()
        return frozenset(n for n in range(1, 5) if f"relay_{n}" in names)

    def contacts_closed(self) -> frozenset[int] | None:
        """Relays (1-4) whose contact (DAQ RLYn, V+ to NO) is closed; None without the DMM wiring."""
        if self.dmm is None:
            return None
        terminals = {n: relay_terminal(n) for n in self.protection_relays()}
        if not all(t in self.dmm.info.channels for t in terminals.values()):
            return None
        return frozenset(
            n for n, t in terminals.items() if self.dmm.measure_resistance(t) < CONTACT_CLOSED_OHM
        )
