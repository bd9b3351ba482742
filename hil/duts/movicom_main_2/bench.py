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

from typing import ClassVar, Literal

from hil.bench import DutBench, Stimulus
from hil.duts.movicom_main_2.client import MovicomClient
from hil.duts.movicom_main_2.config import PROTECTION_DIRECTIONS, InputFunction, Protection
from hil.duts.movicom_main_2.terminals import (
    LOGIC_NTC,
    SUPPLY,
    cell_terminal,
    humidity_terminal,
    ntc_terminal,
    relay_terminal,
    sensor_terminals,
    temperature_terminals,
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
from hil.procedures.threshold import ThresholdSetup
from hil.spec import Requirement
from hil.station.station import Station
from hil.uncertainty import Budget, budget, rectangular, resolution

#: the Hall sensors' reference voltage on this bench (V)
VREF_V = 2.5
#: the supply's current limit (A): the board draws about 0.1 A
SUPPLY_LIMIT_A = 0.5
#: OUR READING of a BMS Logic board's cell voltage accuracy (V; not documented)
LOGIC_CELL_ACCURACY_V = 0.002
#: the humidity the Vhs input is set to at nominal conditions (%RH)
NEUTRAL_HUMIDITY_PCT = 40.0
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
        ("dmm", "voltage"),  # MM-PROT current stimulus, trimmed with the DMM
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
        for switch in self.switches.instruments:
            switch.open_all()

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
            n for n, t in terminals.items() if self.dmm.measure_resistance(t) < CONTACT_CLOSED_MAX_OHM
        )


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
#: a relay contact reading below this is closed (the contact is about 0.02 Ω; open reads overload)
CONTACT_CLOSED_MAX_OHM = 10.0
