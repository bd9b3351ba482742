"""The Movicom bench's protection section (MM-PROT): each threshold protection of config.Protections
as a stimulus (cell L1C01; the first Logic thermistor, trimmed to the unit's own reading; or the
current on every Hall-sensor input, trimmed with the DMM where the station wires it), its error bit,
its tolerance and budget, and the relays it opens. `protection_setup(section)` drives one
protection across its configured threshold for `hil.procedures.threshold` (limits from the unit's
configuration).
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from hil.duts.movicom_main_2.bench_base import CHARGE_RELAYS, POLL_S, VREF_V, MovicomBenchBase
from hil.duts.movicom_main_2.config import ERROR_NAMES, PROTECTION_DIRECTIONS, InputFunction
from hil.duts.movicom_main_2.terminals import sensor_terminals
from hil.measure import Measurement, within
from hil.procedures.threshold import ThresholdSetup
from hil.uncertainty import Budget, budget, rectangular, resolution

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
#: how each row's method text goes on after the current sensor's gain (the two rows word the trim
#: differently; kept so that their records read as before)
TRIM_WORDING = {
    "MM-CS": "), trimmed by the DMM where the station wires Vcs and Vref",
    "MM-MODBUS": ", configuration; trimmed by the DMM where the station wires it)",
}
UNITS = {"cell_voltage": "V", "cell_temperature": "°C", "current": "A"}
#: the unit's reading a temperature stimulus is trimmed to, by the protection's direction
TRIM_READINGS = {"below": "min_cell_temperature", "above": "max_cell_temperature"}
#: the largest correction the trim applies: the Logic's ±2 °C and room (a reading further off is
#: not the trimmed thermistor's, and MM-MODBUS fails the unit)
TRIM_MAX_C = 3.0
#: where the reading error is measured: this far inside a temperature protection's tolerant level
TRIM_SAFE_C = 3.0
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
        0.5,
        "in the unit's own reading (the stimulus is trimmed to it; the Logic's ±2 °C is MM-MODBUS's): "
        "the firmware's comparison and the reading's resolution",
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


class ProtectionsMixin(MovicomBenchBase):
    """The MM-PROT rows' stimuli, error bits, tolerances, budgets and relays (see the module docstring)."""

    #: the last reading of a protection's error: (section, station time, tripped)
    _last_trip: tuple[str, float, bool] | None = None

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
            self.set_temperature_trimmed(section, level)
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

    def current_reading_result(
        self, requirement: str, name: str, value: float, amps: float, covers: list[str]
    ) -> Measurement:
        """A reported current judged against the trimmed stimulus `amps` (MM-CS, MM-MODBUS): limits
        `amps` ∓ (the ADC's 1 mV through the first sensor's gain + the stimulus's limit of error:
        each contribution's half-width, a resolution step's half), U the stimulus's budget."""
        sensor = self.config.current_sensors[0]
        adc = self.config.fixed.adc_error_mv / 1000.0 * sensor.rated_a / sensor.volts_at_rated
        u = self.current_budget(amps)
        setting = sum(c.figure / 2 if c.kind == "resolution" else c.figure for c in u.contributions)
        return within(
            requirement,
            name,
            value,
            "A",
            self.clock.now(),
            low=amps - adc - setting,
            high=amps + adc + setting,
            uncertainty=u,
            method=f"Vcs - Vref set for {amps:+g} A ({sensor.volts_at_rated} V at {sensor.rated_a:g} A"
            f"{TRIM_WORDING[requirement]}; limit: the ADC's 1 mV (S4) through that gain, {adc:.3g} A, + "
            f"the stimulus's limit of error {setting:.3g} A",
            data={"covers": covers},
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

    def set_temperature_trimmed(self, section: str, celsius: float) -> None:
        """The first Logic thermistor at `celsius` corrected by the unit's reading error there: the
        firmware compares its own reading with the threshold, and the Logic's ±2 °C error (judged by
        MM-MODBUS) is wider than a threshold moved by less than the hysteresis."""
        terminal = self.ntc_terminals[0]
        offset = self.temperature_reading_offset(section)
        self.ntcs[terminal].set_temperature(terminal, celsius - offset, self.ntc.resistance_ohm)
        self.log_level(f"thermistor {terminal} [°C]", celsius - offset, self.NEUTRAL_C)

    def temperature_reading_offset(self, section: str) -> float:
        """What the unit reads minus what the first Logic thermistor is set to, on the safe side of
        the protection's tolerant level (TRIM_SAFE_C inside it): measured once per protection (the
        reading settles first), 0 when further off than TRIM_MAX_C (MM-MODBUS fails such a unit)."""
        if section in self._reading_offsets:
            return self._reading_offsets[section]
        p, direction = self.protection(section), PROTECTION_DIRECTIONS[section]
        celsius = p.tolerant - TRIM_SAFE_C if direction == "above" else p.tolerant + TRIM_SAFE_C
        terminal = self.ntc_terminals[0]
        self.ntcs[terminal].set_temperature(terminal, celsius, self.ntc.resistance_ohm)
        self.log_level(f"thermistor {terminal} [°C]", celsius, self.NEUTRAL_C)
        self.clock.sleep(self.settle_s)
        read = self.dut.value(TRIM_READINGS[direction], self._poll_transport())
        offset = float(read) - celsius if isinstance(read, float) else 0.0
        self._reading_offsets[section] = offset if abs(offset) <= TRIM_MAX_C else 0.0
        return self._reading_offsets[section]

    def stimulus_note(self, section: str) -> str:
        """How the protection's levels are set, for a result's notes ('' for cell voltage and current)."""
        if PROTECTION_QUANTITIES[section] != "cell_temperature":
            return ""
        offset = self._reading_offsets.get(section)
        measured = "" if offset is None else f": the unit read {offset:+.3g} °C off the thermistor"
        return (
            f" Levels are the unit's own {TRIM_READINGS[PROTECTION_DIRECTIONS[section]]} reading (the first "
            f"Logic thermistor trimmed by the reading error{measured}; OUR READING: the firmware compares "
            "that reading; the Logic's accuracy is MM-MODBUS's)."
        )

    @cached_property
    def _reading_offsets(self) -> dict[str, float]:
        """`temperature_reading_offset` by protection section."""
        return {}

    def protection_error(self, section: str) -> str:
        """The error (register bit name) the protection raises."""
        return ERROR_NAMES[section]

    def protection_tripped(self, section: str) -> bool:
        """Whether the protection's error is active now (one Modbus read: the register with its bit;
        a read costs tens of ms at 9600 Bd, and delays are polled)."""
        bit = ERROR_NAMES[section]
        register = next(
            r.name
            for r in self.dut.codec.register_map.registers
            if r.name.startswith("errors_") and any(b.name == bit for b in r.bits)
        )
        value = self.dut.value(register, self._poll_transport())
        tripped = isinstance(value, frozenset) and bit in value
        self._last_trip = (section, self.clock.now(), tripped)
        return tripped

    def acknowledgeable(self, section: str) -> bool:
        """Whether the protection's error has a bit in the acknowledge register's layout (errors_1,
        OUR READING; the charge temperature errors are in errors_2)."""
        return any(b.name == ERROR_NAMES[section] for b in self.dut.codec.register_map.get("errors_1").bits)

    def acknowledge_protection(self, section: str) -> None:
        """Unlock the protection's locked error: its errors_1 bit written to holding 0x4001."""
        bit = self.dut.codec.register_map.get("errors_1").bit(ERROR_NAMES[section])
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
            self.set_input(index + 1, True)
        wanted = set(self.protection_relays())
        self.clock.sleep(self.config.charge_control.ton_s + self.settle_s)
        met, _ = self.clock.wait_until(lambda: wanted <= self.relays_closed(), 1.0, POLL_S)
        return bool(met)
