"""The Movicom Main 2.1 / 2R bench on the shared bench base (hil.bench): its stimuli and hooks.

Stimuli: the Logic boards' cells (cell emulator), their thermistors (temperature emulator, as
`LOGIC_NTC`), the board's supply (power supply `SUPPLY`), the Hall-sensor outputs against their
references (analog source; the current a sensor reports is (Vcs - Vref) / (V at rated / rated A),
positive = charging) and the dry-contact inputs (switch). Observations: the client's Modbus
registers and CANopen frames, the DMM on the outputs and relay contacts, the LED analyser.
Protection rows: `protection_setup(section)` drives one protection of config.Protections across
its configured threshold for `hil.procedures.threshold` (limits from the unit's configuration).
"""

from __future__ import annotations

from functools import cached_property
from typing import ClassVar, Literal

from hil.bench import DutBench, Stimulus
from hil.duts.movicom_main_2.client import MovicomClient
from hil.duts.movicom_main_2.config import PROTECTION_DIRECTIONS, InputFunction, Protection
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
    ElectronicLoad,
    LedAnalyser,
    PowerSupply,
    Switch,
    TemperatureEmulator,
)
from hil.procedures.threshold import ThresholdSetup
from hil.spec import Requirement
from hil.station.station import Station
from hil.uncertainty import Budget, budget, rectangular, resolution, station_uncertainty

#: the Hall sensors' reference voltage on this bench (V)
VREF_V = 2.5
#: the supply's current limit (A): the board draws about 0.1 A
SUPPLY_LIMIT_A = 0.5
#: OUR READING of a BMS Logic board's cell voltage accuracy (V; not documented)
LOGIC_CELL_ACCURACY_V = 0.002
#: the humidity the Vhs input is set to at nominal conditions (%RH)
NEUTRAL_HUMIDITY_PCT = 40.0
#: Modbus 0x5100+: a value from this on hands a signal back to the physical inputs
SOFTWARE_CONTROL_PHYSICAL = 2
#: how often a wait polls the DUT (s)
POLL_S = 0.1
#: error name (register bits) each protection section raises (the twin's and the map's names)
ERRORS = {
    "overvoltage": "overvoltage",
    "undervoltage": "undervoltage",
    "charge_overcurrent": "overcurrent",
    "discharge_overcurrent": "overcurrent",
    "low_charge_temperature": "low_charge_temperature",
    "low_discharge_temperature": "low_discharge_temperature",
    "high_charge_temperature": "high_charge_temperature",
    "high_discharge_temperature": "high_discharge_temperature",
}


class MovicomBench(DutBench):
    """The bench of a Main 2.1 / 2R (see the module docstring)."""

    NOMINAL_CELL_V: ClassVar[float] = 3.30
    ACCURACY_NEEDS = (
        ("cell_emulator", "voltage"),
        ("power_supply", "voltage"),
        ("analog_source", "voltage"),
        ("temperature_emulator", "resistance"),  # MM-PROT temperature stimulus
        ("dmm", "voltage"),  # MM-PROT current stimulus (trimmed with the DMM), MM-TS, MM-RLY-RATE, MM-DO
        ("dmm", "current"),
        ("dmm", "resistance"),
        ("electronic_load", "current"),
    )
    STIMULI: ClassVar[dict[str, Stimulus[MovicomBench]]] = {
        "cell_voltage": Stimulus(lambda b, v: b.set_cell(1, 1, v), 3.30),
        "supply_voltage": Stimulus(lambda b, v: b.set_supply(v), 12.0),
        "current": Stimulus(lambda b, a: b.set_current(a), 0.0),
    }

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

    # --- stimuli ----------------------------------------------------------------------------------
    def set_cell(self, board: int, cell: int, volts: float) -> None:
        """One cell of one Logic board (sent only when it changes)."""
        terminal = cell_terminal(board, cell)
        if self._cell_v.get(terminal) != volts:
            self.cells[terminal].set_voltage(terminal, volts)
            self._cell_v[terminal] = volts

    def set_cells(self, volts: float) -> None:
        """Every configured cell to `volts`."""
        for terminal in self.cell_terminals:
            if self._cell_v.get(terminal) != volts:
                self.cells[terminal].set_voltage(terminal, volts)
                self._cell_v[terminal] = volts

    def set_temperatures(self, celsius: float) -> None:
        """Every Logic thermistor to the NTC resistance of `celsius`."""
        for terminal in self.ntc_terminals:
            self.ntcs[terminal].set_temperature(terminal, celsius, self.ntc.resistance_ohm)

    def set_supply(self, volts: float) -> None:
        """The board's supply to `volts` (output on)."""
        self.hold_supply(self.supply, volts, SUPPLY_LIMIT_A)
        self.supply_v = volts

    def set_current(self, amps: float) -> None:
        """Every Hall-sensor output to what its sensor gives at `amps` (positive = charging)."""
        for (out, ref), sensor in zip(sensor_terminals(self.hw), self.config.current_sensors, strict=False):
            self.analog[ref].set_voltage(ref, VREF_V)
            self.analog[out].set_voltage(out, VREF_V + amps * sensor.volts_at_rated / sensor.rated_a)

    def set_external_temperature(self, celsius: float) -> None:
        """The analog temperature inputs (Vts / T_SENS) wired on this station to `celsius`."""
        a = self.config.analog
        for terminal in temperature_terminals(self.hw):
            if terminal in self.analog:
                volts = a.temperature_v_at_0c + celsius * a.temperature_v_per_c
                self.analog[terminal].set_voltage(terminal, volts)

    def set_contact(self, index: int, closed: bool) -> None:
        """Dry-contact input `index` (1-4) closed or open by its relay."""
        terminal = self.hw.inputs[index - 1]
        self.switches[terminal].set_closed(terminal, closed)

    # --- hooks ------------------------------------------------------------------------------------
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
        clears after its clear delay once its condition is gone; a locked one is acknowledged)."""
        self.nominal_inputs()
        if not self.supply.output_is_on() or self.supply_v != self.hw.supply.nominal_v:
            self.boot()
        self.clock.wait_until(lambda: not self.errors(), self._longest_clear_s() + 1.0, POLL_S)
        locked = self.errors()
        if locked:  # a locked error stays until acknowledged (Modbus 0x4001)
            errors_1 = self.dut.codec.register_map.get("errors_1")  # one bit per error, its layout
            self.dut.write("acknowledge_errors", sum(1 << errors_1.bit(name) for name in locked))
            self.clock.wait_until(lambda: not self.errors(), self._longest_clear_s() + 1.0, POLL_S)

    def _longest_clear_s(self) -> float:
        p = self.config.protections
        return max(float(getattr(p, s).clear_delay_s) for s in PROTECTION_DIRECTIONS)

    def errors(self) -> frozenset[str]:
        """The unit's active errors (Modbus errors_1 and errors_2 bits: the charge temperature
        errors are in errors_2)."""
        values = self.dut.read(["errors_1", "errors_2"])
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

    # --- protections ----------------------------------------------------------------------------
    # MM-PROT: each threshold protection of config.Protections as a stimulus (cell L1C01, the first
    # Logic thermistor, or the current on every Hall-sensor input, trimmed with the DMM where the
    # station wires it), its error bit, its tolerance and budget, and the relays it opens.

    #: the last reading of a protection's error: (section, station time, tripped)
    _last_trip: tuple[str, float, bool] | None = None

    def protection(self, section: str) -> Protection:
        """The unit's configured protection `section` (config.Protections)."""
        found: Protection = getattr(self.config.protections, section)
        return found

    def protection_unit(self, section: str) -> str:
        """The unit of the protection's threshold (V, °C or A)."""
        return UNITS[PROTECTION_QUANTITIES[section]]

    def set_protection_level(self, section: str, level: float) -> None:
        """The protection's stimulus at `level` (currents as magnitudes: a discharge current is set
        negative on the sensors)."""
        quantity = PROTECTION_QUANTITIES[section]
        if quantity == "cell_voltage":
            self.set_cell(1, 1, level)
        elif quantity == "cell_temperature":
            terminal = self.ntc_terminals[0]
            self.ntcs[terminal].set_temperature(terminal, level, self.ntc.resistance_ohm)
        else:
            self.set_current_trimmed(level if section == "charge_overcurrent" else -level)

    def protection_nominal(self, section: str) -> float:
        """The protection's stimulus at nominal conditions."""
        quantity = PROTECTION_QUANTITIES[section]
        return {"cell_voltage": self.NOMINAL_CELL_V, "cell_temperature": self.NEUTRAL_C}.get(quantity, 0.0)

    def protection_tolerance(self, section: str) -> tuple[float, str]:
        """Where a conforming unit may trip around the configured value, and why (no figure is
        documented: the station's expectation, else OUR READING of the front end's accuracy)."""
        key, default, why = TOLERANCES[PROTECTION_QUANTITIES[section]]
        if key in self.expectations:
            return self.expectations[key], f"station expectation {key} = {self.expectations[key]:g}"
        return default, f"{why} (OUR READING; the station may set {key})"

    def protection_budget(self, section: str, level: float) -> Budget:
        """The uncertainty of the stimulus at `level` (protection unit)."""
        quantity, unit = PROTECTION_QUANTITIES[section], self.protection_unit(section)
        if quantity == "cell_voltage":
            name, error = self.cell_error(level)
            return budget(rectangular(f"{name}: setting {level:g} V", error), unit=unit)
        if quantity == "cell_temperature":
            name, error = self.ntc_error(self.ntcs[self.ntc_terminals[0]].name, level)
            return budget(rectangular(f"{name}: NTC at {level:g} °C", error), unit=unit)
        return self.current_budget(level)

    def current_budget(self, amps: float) -> Budget:
        """The current stimulus's uncertainty (A): with the DMM trim, the DMM on Vcs and Vref and
        the DAC's step; without it, the analog source's limit of error on both."""
        sensor = max(self.config.current_sensors, key=lambda s: s.rated_a / s.volts_at_rated)
        per_volt = sensor.rated_a / sensor.volts_at_rated
        out, ref = sensor_terminals(self.hw)[self.config.current_sensors.index(sensor)]
        volts = VREF_V + abs(amps) / per_volt
        if not self._trimmed(out, ref):
            name, error = self.current_error()
            return budget(rectangular(f"{name}: Vcs and Vref (not trimmed)", error), unit="A")
        assert self.dmm is not None
        dmm = self.dmm.name
        _, on_out = self.instrument_error(dmm, "voltage", volts)
        _, on_ref = self.instrument_error(dmm, "voltage", VREF_V)
        acc = self.accuracy(self.analog[out].name, "voltage")
        step = acc.resolution if acc else 0.0
        return budget(
            rectangular(f"{self.instrument_label(dmm)}: Vcs at {volts:.4g} V", on_out * per_volt),
            rectangular(f"{self.instrument_label(dmm)}: Vref at {VREF_V:g} V", on_ref * per_volt),
            resolution(
                f"{self.instrument_label(self.analog[out].name)}: DAC step {step:g} V", step * per_volt
            ),
            unit="A",
        )

    def _trimmed(self, out: str, ref: str) -> bool:
        return self.dmm is not None and out in self.dmm.info.channels and ref in self.dmm.info.channels

    def set_current_trimmed(self, amps: float) -> None:
        """`set_current`, then each sensor's Vcs corrected by what the DMM reads across Vcs - Vref
        (the DAC's own error is far larger than a protection's tolerance) where the station wires it."""
        self.set_current(amps)
        for (out, ref), sensor in zip(sensor_terminals(self.hw), self.config.current_sensors, strict=False):
            if not self._trimmed(out, ref):
                continue
            assert self.dmm is not None
            target = amps * sensor.volts_at_rated / sensor.rated_a
            measured = self.dmm.measure_dc_voltage(out) - self.dmm.measure_dc_voltage(ref)
            self.analog[out].set_voltage(out, VREF_V + 2 * target - measured)

    def protection_error(self, section: str) -> str:
        """The error (register bit name) the protection raises."""
        return ERRORS[section]

    def protection_tripped(self, section: str) -> bool:
        """Whether the protection's error is active now (one Modbus read: the register with its bit;
        a read costs tens of ms at 9600 Bd, and delays are polled)."""
        bit = ERRORS[section]
        register = next(
            r.name
            for r in self.dut.codec.register_map.registers
            if r.name.startswith("errors_") and any(b.name == bit for b in r.bits)
        )
        value = self.dut.value(register, self._poll_transport())
        tripped = isinstance(value, frozenset) and bit in value
        self._last_trip = (section, self.clock.now(), tripped)
        return tripped

    def _poll_transport(self) -> Literal["rtu", "tcp"]:
        """Modbus TCP where the unit has it (the same registers as RTU, read in a few ms), else RTU."""
        return "tcp" if self.dut.tcp is not None else "rtu"

    def acknowledgeable(self, section: str) -> bool:
        """Whether the protection's error has a bit in the acknowledge register's layout (errors_1,
        OUR READING; the charge temperature errors are in errors_2)."""
        return any(b.name == ERRORS[section] for b in self.dut.codec.register_map.get("errors_1").bits)

    def acknowledge_protection(self, section: str) -> None:
        """Unlock the protection's locked error: its errors_1 bit written to holding 0x4001."""
        bit = self.dut.codec.register_map.get("errors_1").bit(ERRORS[section])
        self.dut.write("acknowledge_errors", 1 << bit)

    def rearm_protection(self, section: str) -> None:
        """Nominal inputs; if the error was active, its clear delay (the normal way out; a locked
        error acknowledged first), else `prepare` (which waits for any error to clear)."""
        last = self._last_trip  # a probe's reading at this very station time is still valid
        if last is not None and last[:2] == (section, self.clock.now()):
            was_tripped = last[2]
        else:
            was_tripped = self.protection_tripped(section)
        self.nominal_inputs()
        if not was_tripped:
            return
        if self.protection(section).lock and self.acknowledgeable(section):
            self.acknowledge_protection(section)
        self.clock.sleep(self.protection(section).clear_delay_s + self.settle_s)
        if self.errors() or not self.supply.output_is_on():
            self.prepare()

    def protection_setup(self, section: str) -> ThresholdSetup:
        """One protection for the threshold procedures: its stimulus, its error bit, its clear
        delay back; each probe is held for the set delay and the station's settle time."""
        p = self.protection(section)
        return ThresholdSetup(
            clock=self.clock,
            apply=lambda level: self.set_protection_level(section, level),
            tripped=lambda: self.protection_tripped(section),
            rearm=lambda: self.rearm_protection(section),
            settle_s=self.settle_s + p.set_delay_s,
            direction=PROTECTION_DIRECTIONS[section],
        )

    # --- analog inputs, supply and termination ----------------------------------------------------
    # MM-SUP-I (the supply current), MM-RLY-RATE (contact drop at rated current), MM-TS (the sensor
    # inputs against the DMM's reading of the stimulus), MM-TERM-CAN / MM-TERM-485 (2-wire ohms
    # through the switch, both jumper positions where a fixture relay replaces the jumper).
    @cached_property
    def relay_loads(self) -> TerminalBank[ElectronicLoad]:
        """The electronic loads, one per relay contact (`RLY1`..`RLY4`)."""
        return TerminalBank(self.station, "electronic_load", ElectronicLoad)

    def meter(self) -> Dmm:
        """The DMM (a station without one cannot measure these rows)."""
        if self.dmm is None:
            raise BenchError(f"station {self.station.model.name} has no dmm instrument")
        return self.dmm

    def dmm_budget(self, quantity: str, value: float, scale: float = 1.0, unit: str = "") -> Budget:
        """The DMM's accuracy and resolution at `value` (its unit: V, A, Ω) from the station file."""
        return station_uncertainty(self.station, self.meter().name, quantity, value, scale, unit)

    def software_control(self, function: InputFunction, value: int) -> None:
        """Force an input signal over Modbus 0x5100 + code - 1 (0 reset, 1 set, 2 physical input)."""
        self.dut.write(f"input_control_{function.name.lower()}", value)

    def supply_current_ma(self) -> float:
        """The board's supply current on the DMM's current channel in series with `SUPPLY` (mA)."""
        return self.meter().measure_dc_current(SUPPLY) * 1000.0

    def heater_on_c(self) -> float:
        """A Logic temperature that turns the heater on and trips no low-temperature protection:
        half-way between the highest low-temperature trip and the heater's on temperature."""
        p = self.config.protections
        floor = max(p.low_charge_temperature.set, p.low_discharge_temperature.set)
        on = self.config.heater.on_below_c
        return (floor + on) / 2.0 if floor < on else on - 1.0

    def close_relay_functions(self) -> None:
        """Bring about every relay function's closing condition: the charger signal by software
        control (charge and allow-charging close after Ton) and a Logic temperature below the heater's
        on level; discharge is closed at nominal conditions. `release_relay_functions` undoes it."""
        self.software_control(InputFunction.CHARGER_CONNECTED, 1)
        self.set_temperatures(self.heater_on_c())
        self.clock.sleep(self.config.charge_control.ton_s + self.settle_s)

    def release_relay_functions(self) -> None:
        """The charger signal back to the physical input, the Logic temperatures neutral."""
        self.software_control(InputFunction.CHARGER_CONNECTED, SOFTWARE_CONTROL_PHYSICAL)
        self.set_temperatures(self.NEUTRAL_C)

    def contact_drop(self, relay: int, amps: float) -> tuple[float, float]:
        """(drop across relay `relay`'s closed contact on the DMM (V), the load's current readback
        (A)) while its electronic load draws `amps` from the bench's contact source; the load is
        switched off again before returning."""
        terminal = relay_terminal(relay)
        load = self.relay_loads[terminal]
        load.set_cc(amps)
        load.set_input(True)
        try:
            self.clock.sleep(self.settle_s)
            drop = self.meter().measure_dc_voltage(terminal)
            current = load.measure_current()
        finally:
            load.set_input(False)
        return drop, current

    def set_sensor_voltage(self, terminal: str, volts: float) -> float:
        """One sensor input (Vts, Vhs, T_SENS1/2) driven to `volts`; returns the DMM's reading of the
        level at the pin after the settle time (the stimulus's reference value)."""
        self.analog[terminal].set_voltage(terminal, volts)
        self.clock.sleep(self.settle_s)
        return self.meter().measure_dc_voltage(terminal)

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

    def termination_ohm(self, jumper: str) -> float:
        """2-wire ohms across the bus pair behind `jumper`, the switch routing it to the DMM (and away
        from the bench's bus adapter) for the reading only; an open pair reads as the DMM's overload."""
        route = termination_terminal(jumper)
        switch = self.switches.get(route)
        if switch is not None:
            switch.set_closed(route, True)
        try:
            self.clock.sleep(self.settle_s)
            return self.meter().measure_resistance(route)
        finally:
            if switch is not None:
                switch.set_closed(route, False)

    # --- relays and discrete I/O ---------------------------------------------------------------
    # Conditions a relay/output test applies (named as the spec rows' coverage items), the relays as
    # the DAQ sees their contacts and as Modbus reports them, the inputs driven by the switch at the
    # level their inversion flag makes active (or forced by Modbus 0x5100+ software control when no
    # input carries the function), and the outputs under the fixture's 20 mA load.
    def inputs_inactive(self) -> None:
        """Every input at its inactive level (an inverted one closed) and no signal forced by
        software control: part of the nominal inputs."""
        for index, assignment in enumerate(self.config.inputs, 1):
            if assignment.inverted and assignment.function is not InputFunction.NONE:
                self.set_input(index, False)
        self.release_signals()

    def relay_number(self, function: RelayFunctionName) -> int:
        """The relay (1-4) the unit's configuration gives `function`."""
        index = self.config.relay_with(function)
        if index is None:
            raise BenchError(f"the unit's configuration gives no relay the function {function!r}")
        return index + 1

    def relay_closed(self, number: int) -> bool:
        """Relay `number`'s contact (V+ to NO) closed, as the DAQ reads its resistance."""
        terminal = relay_terminal(number)
        return self.io_dmms[terminal].measure_resistance(terminal) < CONTACT_CLOSED_OHM

    def wait_charge_relay_open(self) -> None:
        """Wait (at most Toff) for the charging relay to open: after a charger goes it stays closed
        for Toff, which outlasts the per-test preparation."""
        number = self.relay_number("charge")
        toff = self.config.charge_control.toff_s
        self.clock.wait_until(lambda: not self.relay_closed(number), toff + self.settle_s, POLL_S)

    def relay_observations(self, number: int) -> list[tuple[str, bool]]:
        """(source, closed) of relay `number`: the DAQ on its contact, and Modbus where the map has
        the relay states (0x200C, provisional: OUR READING of an unnamed 4-bit field)."""
        found = [
            (f"{relay_terminal(number)} contact < {CONTACT_CLOSED_OHM:g} Ω (DAQ)", self.relay_closed(number))
        ]
        if "relays" in self.dut.codec.register_map:
            reported = self.dut.value("relays")
            closed = isinstance(reported, frozenset) and f"relay_{number}" in reported
            found.append((f"Modbus relays bit {number - 1} (provisional map)", closed))
        return found

    def input_of(self, function: InputFunction) -> int | None:
        """The input (1-4) the unit's configuration gives `function`, None if none."""
        assigned = self.config.input_assigned(function)
        return assigned[0] + 1 if assigned else None

    def set_input(self, index: int, active: bool) -> None:
        """Input `index` (1-4) at the contact level that makes its function active or inactive
        (an inverted input is active while its contact is open)."""
        self.set_contact(index, active != self.config.inputs[index - 1].inverted)

    def set_signal(self, function: InputFunction, active: bool) -> str:
        """Make `function` active or inactive: through its input when one carries it, else by Modbus
        software control (0x5100 + code - 1: 1 set, 2 back to the inputs). Returns how, for the method."""
        index = self.input_of(function)
        if index is not None:
            self.set_input(index, active)
            inverted = self.config.inputs[index - 1].inverted
            level = "closed" if active != inverted else "open"
            return f"{self.hw.inputs[index - 1]} {level}{' (inverted input)' if inverted else ''}"
        name = f"input_control_{function.name.lower()}"
        self.dut.write(name, 1 if active else SOFTWARE_CONTROL_PHYSICAL)
        self._forced.add(name)
        return (
            f"Modbus write {name} = {1 if active else SOFTWARE_CONTROL_PHYSICAL} (no input has the function)"
        )

    def release_signals(self) -> None:
        """Every signal a test forced by software control back to the physical inputs."""
        for name in sorted(self._forced):
            self.dut.write(name, SOFTWARE_CONTROL_PHYSICAL)
        self._forced.clear()

    def signal_reported(self, function: InputFunction) -> bool:
        """Whether Modbus reports the input signal `function` active (0x2000 / the map's second
        inputs register; bits 1-7 of 0x2000 are OUR READING from the TPDO1 layout)."""
        name = function.name.lower()
        for register in ("discrete_inputs_1", "discrete_inputs_2"):
            if register in self.dut.codec.register_map and name in {
                b.name for b in self.dut.codec.register_map.get(register).bits
            }:
                value = self.dut.value(register)
                return isinstance(value, frozenset) and name in value
        raise BenchError(f"the register map reports no input signal {name!r}")

    def set_output_load(self, output: int, on: bool) -> None:
        """The fixture's 20 mA load on discrete output `output` (1-4) connected or not."""
        terminal = load_terminal(self.hw.outputs[output - 1])
        self.switches[terminal].set_closed(terminal, on)

    def output_voltage(self, output: int) -> float:
        """Discrete output `output` (1-4) as the DAQ reads it (V)."""
        terminal = self.hw.outputs[output - 1]
        return self.io_dmms[terminal].measure_dc_voltage(terminal)

    def output_reported(self, output: int) -> bool | None:
        """Modbus 0x200B (provisional: OUR READING of an unnamed 4-bit field) for output `output`."""
        if "discrete_outputs" not in self.dut.codec.register_map:
            return None
        value = self.dut.value("discrete_outputs")
        return isinstance(value, frozenset) and f"output_{output}" in value

    def output_error(self, volts: float) -> tuple[str, float]:
        """The DAQ reading the outputs and its limit of error at `volts`."""
        terminal = self.hw.outputs[0]
        return self.instrument_error(self.io_dmms[terminal].name, "voltage", volts)

    @cached_property
    def io_dmms(self) -> TerminalBank[Dmm]:
        """The DAQ channels on the relay contacts and outputs, by terminal."""
        return TerminalBank(self.station, "dmm", Dmm)

    @cached_property
    def _forced(self) -> set[str]:
        """Software-control registers a test has forced (set back by `release_signals`)."""
        return set()

    def temperature_margin(self, celsius: float) -> float:
        """How far beyond a temperature limit is clearly beyond: the Logic's ±2 °C (MM-TS) and the
        resistance emulator's limit of error there."""
        terminal = self.ntc_terminals[0]
        return LOGIC_TEMPERATURE_ACCURACY_C + self.ntc_error(self.ntcs[terminal].name, celsius)[1]

    def cell_margin(self, volts: float) -> float:
        """Twice the Logic's cell error and the emulator's at `volts` (as the MM-PROT go/no-go)."""
        return 2 * (LOGIC_CELL_ACCURACY_V + self.cell_error(volts)[1])

    def current_margin(self) -> float:
        """The analog source's error on Vcs and Vref and the 1 mV ADC, through the widest sensor (A)."""
        out, _ = sensor_terminals(self.hw)[0]
        _, volts = self.instrument_error(self.analog[out].name, "voltage", VREF_V)
        widest = max(s.rated_a / s.volts_at_rated for s in self.config.current_sensors)
        return (2 * volts + self.config.fixed.adc_error_mv / 1000.0) * widest

    def set_sensor_reference(self, volts: float) -> None:
        """Hall sensor 1's Vref (and Vcs with it: zero current) at `volts`."""
        for terminal in sensor_terminals(self.hw)[0]:
            self.analog[terminal].set_voltage(terminal, volts)

    def apply_condition(self, condition: str) -> tuple[str, float]:
        """Apply the named condition from nominal; (what was done, how long until it acts: the set
        delay of the error it raises plus the settle time). Limits are the unit's configuration."""
        p, cc = self.config.protections, self.config.charge_control
        if condition in CELL_CONDITIONS:
            section = CELL_CONDITIONS[condition]
            limit = cc.ev_cell_v if section is None else self.protection(section).set
            volts = (
                limit - self.cell_margin(limit)
                if section == "undervoltage"
                else limit + self.cell_margin(limit)
            )
            self.set_cell(1, 1, volts)
            delay = 0.0 if section is None else self.protection(section).set_delay_s
            where = "EV" if section is None else f"{section} set"
            return f"cell L1C01 at {volts:.3f} V (configured {where} {limit:g} V)", delay + self.settle_s
        if condition in TEMPERATURE_CONDITIONS:
            section = TEMPERATURE_CONDITIONS[condition]
            limit = self.protection(section).set
            margin = self.temperature_margin(limit)
            celsius = limit + margin if PROTECTION_DIRECTIONS[section] == "above" else limit - margin
            self.set_temperatures(celsius)
            return (
                f"every Logic thermistor at {celsius:.2f} °C (configured {section} set {limit:g} °C)",
                self.protection(section).set_delay_s + self.settle_s,
            )
        if condition == "discharge over-current":
            amps = -(p.discharge_overcurrent.set + self.current_margin())
            self.set_current(amps)
            return (
                f"Hall sensors at {amps:.1f} A (configured discharge over-current "
                f"{p.discharge_overcurrent.set:g} A)",
                p.discharge_overcurrent.set_delay_s + self.settle_s,
            )
        if condition in SIGNAL_CONDITIONS:
            function = SIGNAL_CONDITIONS[condition]
            how = self.set_signal(function, True)
            delay = p.battery_cover.set_delay_s if function is InputFunction.BATTERY_COVER else 0.0
            return f"{function.name.lower()}: {how}", delay + self.settle_s
        if condition == "ADC error":
            volts = self.config.fixed.vref_min_v - ADC_FAULT_MARGIN_V
            self.set_sensor_reference(volts)
            ref = sensor_terminals(self.hw)[0][1]
            return (
                f"{ref} (and its Vcs) at {volts:g} V, below the plausible Vref range (OUR READING)",
                self.settle_s,
            )
        if condition == "charger":
            how = self.set_signal(InputFunction.CHARGER_CONNECTED, True)
            return f"charger connected: {how}, held Ton {cc.ton_s:g} s", cc.ton_s + self.settle_s
        if condition == "cold":
            celsius = self.config.heater.on_below_c - self.temperature_margin(self.config.heater.on_below_c)
            self.set_temperatures(celsius)
            return (
                f"every Logic thermistor at {celsius:.2f} °C "
                f"(heater on below {self.config.heater.on_below_c:g} °C)",
                self.settle_s,
            )
        raise ValueError(f"no condition {condition!r} on this bench")

    def heater_setup(self, side: Literal["on", "off"]) -> ThresholdSetup:
        """The heater relay for the threshold procedures: `on` trips (relay closed) below on_below_c
        from a warm start; `off` trips (relay open) above off_above_c from a cold start (heater on)."""
        number = self.relay_number("heater")
        if side == "on":
            return ThresholdSetup(
                clock=self.clock,
                apply=self.set_temperatures,
                tripped=lambda: self.relay_closed(number),
                rearm=self.prepare,
                settle_s=self.settle_s,
                direction="below",
            )

        def rearm_cold() -> None:
            self.prepare()
            self.apply_condition("cold")
            self.clock.sleep(self.settle_s)

        return ThresholdSetup(
            clock=self.clock,
            apply=self.set_temperatures,
            tripped=lambda: not self.relay_closed(number),
            rearm=rearm_cold,
            settle_s=self.settle_s,
            direction="above",
        )

    def protection_relays(self) -> dict[int, RelayFunctionName]:
        """Relays (1-4) whose configured function a protection opens, with that function."""
        return {n: r.function for n, r in enumerate(self.config.relays, 1) if r.function in PROTECTION_RELAYS}

    def relays_opened_at(self, section: str, level: float) -> frozenset[int]:
        """The relays the configuration says are open with the protection's stimulus at `level`:
        those of every protection whose condition then holds (one stimulus can trip two: a cold cell
        trips both low-temperature protections)."""
        quantity = PROTECTION_QUANTITIES[section]
        nominal = self.protection_nominal(section)
        signed = -level if section == "discharge_overcurrent" else level
        functions: set[str] = set()
        for other, q in PROTECTION_QUANTITIES.items():
            p = self.protection(other)
            if q != quantity or not p.enabled:
                continue
            if q == "current":
                value = signed if other == "charge_overcurrent" else -signed
            else:
                value = (
                    max(level, nominal) if PROTECTION_DIRECTIONS[other] == "above" else min(level, nominal)
                )
            above = PROTECTION_DIRECTIONS[other] == "above"
            if (value > p.set) if above else (value < p.set):
                functions |= OPENS[other]
        return frozenset(n for n, f in self.protection_relays().items() if f in functions)

    def connect_charger(self) -> bool:
        """The charger-connected input active (through its inversion); True once every protection
        relay is closed (the charge relays close Ton after it)."""
        for index in self.config.input_assigned(InputFunction.CHARGER_CONNECTED):
            self.set_contact(index + 1, not self.config.inputs[index].inverted)
        wanted = set(self.protection_relays())
        self.clock.sleep(self.config.charge_control.ton_s + self.settle_s)
        met, _ = self.clock.wait_until(lambda: wanted <= self.relays_closed(), 1.0, POLL_S)
        return bool(met)

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


# --- relays and discrete I/O (module constants) ---------------------------------------------------
#: a relay contact reads closed below this (Ω): the DAQ's 2-wire ohms, open reads as overload
CONTACT_CLOSED_OHM = 10.0
#: the BMS Logic's temperature error (°C): the ±2 °C of MM-TS (OUR READING that it bounds the Logic)
LOGIC_TEMPERATURE_ACCURACY_C = 2.0
#: how far below the plausible Vref range the ADC-error condition sets Vref (V)
ADC_FAULT_MARGIN_V = 0.5
#: cell-voltage conditions: the protection section whose set level is crossed (None: the EV level)
CELL_CONDITIONS: dict[str, str | None] = {
    "under-voltage": "undervoltage",
    "over-voltage": "overvoltage",
    "EV level": None,
}
#: temperature conditions: the protection section whose set level is crossed
TEMPERATURE_CONDITIONS = {
    "low discharge temperature": "low_discharge_temperature",
    "high discharge temperature": "high_discharge_temperature",
    "low charge temperature": "low_charge_temperature",
    "high charge temperature": "high_charge_temperature",
}
#: input-signal conditions: the signal made active
SIGNAL_CONDITIONS = {
    "inhibit-discharging input": InputFunction.INHIBIT_DISCHARGING,
    "inhibit-charging input": InputFunction.INHIBIT_CHARGING,
    "critical error": InputFunction.BATTERY_COVER,
    "battery cover error": InputFunction.BATTERY_COVER,
}
#: the quantity each protection section compares (cell voltages and temperatures from the Logic
#: boards, the current from the Hall sensors)
PROTECTION_QUANTITIES: dict[str, Literal["cell_voltage", "cell_temperature", "current"]] = {
    "overvoltage": "cell_voltage",
    "undervoltage": "cell_voltage",
    "charge_overcurrent": "current",
    "discharge_overcurrent": "current",
    "low_charge_temperature": "cell_temperature",
    "low_discharge_temperature": "cell_temperature",
    "high_charge_temperature": "cell_temperature",
    "high_discharge_temperature": "cell_temperature",
}
UNITS = {"cell_voltage": "V", "cell_temperature": "°C", "current": "A"}
#: per quantity: (station expectation key, default, why) of a protection's trip tolerance; no
#: tolerance is documented, so the default is the front end's accuracy (OUR READING)
TOLERANCES: dict[str, tuple[str, float, str]] = {
    "cell_voltage": (
        "protection_cell_tolerance_v",
        0.003,
        "the BMS Logic cell error, ±3 mV on a Logic 12 (the family's widest; Logic 18 ±2 mV)",
    ),
    "cell_temperature": (
        "protection_temperature_tolerance_c",
        2.0,
        "the Logic temperature error ±2 °C (MM-TS)",
    ),
    "current": (
        "protection_current_tolerance_a",
        1.0,
        "1 A: the ADC's 1 mV (S4) through the sensor's V/A, 0.32 A on a 200 A HASS, with room for the "
        "sensor range in use",
    ),
}
#: the relay functions each protection opens (S8, S9; spec MM-PROT notes): the charge relays on
#: over-voltage and the charge temperature limits, the discharge relay on under-voltage and the
#: discharge temperature limits, both on over-current
CHARGE_RELAYS: frozenset[str] = frozenset({"allow_charging", "charge"})
OPENS: dict[str, frozenset[str]] = {
    "overvoltage": CHARGE_RELAYS,
    "undervoltage": frozenset({"discharge"}),
    "charge_overcurrent": CHARGE_RELAYS | {"discharge"},
    "discharge_overcurrent": CHARGE_RELAYS | {"discharge"},
    "low_charge_temperature": CHARGE_RELAYS,
    "low_discharge_temperature": frozenset({"discharge"}),
    "high_charge_temperature": CHARGE_RELAYS,
    "high_discharge_temperature": frozenset({"discharge"}),
}
PROTECTION_RELAYS: frozenset[str] = CHARGE_RELAYS | {"discharge"}
