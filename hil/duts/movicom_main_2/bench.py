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
    ntc_terminal,
    relay_terminal,
    sensor_terminals,
    temperature_terminals,
    termination_terminal,
    terminations,
)
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
from hil.uncertainty import Budget, station_uncertainty

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
        ("dmm", "voltage"),
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

    def rest_switches(self) -> None:
        """The dry-contact inputs and the DMM routes open; a jumper's fixture relay at the position
        the station declares (fitted unless `termination_<jumper>_fitted` is 0): opening every relay
        of the switch would remove the termination jumpers between tests."""
        opened = [*self.hw.inputs, *(termination_terminal(j) for j, _ in terminations(self.hw))]
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
            self.dut.write("acknowledge_errors", locked)
            self.clock.wait_until(lambda: not self.errors(), self._longest_clear_s() + 1.0, POLL_S)

    def _longest_clear_s(self) -> float:
        p = self.config.protections
        return max(float(getattr(p, s).clear_delay_s) for s in PROTECTION_DIRECTIONS)

    def errors(self) -> frozenset[str]:
        """The unit's active errors (Modbus errors_1 bits)."""
        value = self.dut.value("errors_1")
        return value if isinstance(value, frozenset) else frozenset()

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
    def protection(self, section: str) -> Protection:
        """The unit's configured protection `section` (config.Protections)."""
        found: Protection = getattr(self.config.protections, section)
        return found

    def protection_setup(self, section: Literal["overvoltage", "undervoltage"]) -> ThresholdSetup:
        """One cell-voltage protection for the threshold procedures: cell 1 of Logic 1 is the
        stimulus, the protection's error bit the trip, nominal conditions the way back."""
        p = self.protection(section)
        error = ERRORS[section]
        return ThresholdSetup(
            clock=self.clock,
            apply=lambda volts: self.set_cell(1, 1, volts),
            tripped=lambda: error in self.errors(),
            rearm=self.prepare,
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

    def relays_closed(self) -> frozenset[int]:
        """The relays the unit reports closed (Modbus relay bits)."""
        value = self.dut.value("relays")
        names = value if isinstance(value, frozenset) else frozenset()
        return frozenset(n for n in range(1, 5) if f"relay_{n}" in names)

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
