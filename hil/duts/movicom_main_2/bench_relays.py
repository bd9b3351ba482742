"""The Movicom bench's relays and discrete I/O section: the conditions a relay/output test applies
(named as the spec rows' coverage items), the relays as the DAQ sees their contacts and as Modbus
reports them, the inputs' signals as Modbus reports them, and the outputs under the fixture's 20 mA
load.
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from hil.duts.movicom_main_2.bench_base import CONTACT_CLOSED_OHM, POLL_S, VREF_V, MovicomBenchBase
from hil.duts.movicom_main_2.config import PROTECTION_DIRECTIONS, InputFunction
from hil.duts.movicom_main_2.terminals import load_terminal, relay_terminal, sensor_terminals
from hil.duts.movicom_main_2.variants import RelayFunctionName
from hil.errors import BenchError
from hil.instruments.bank import TerminalBank
from hil.instruments.roles import Dmm
from hil.procedures.threshold import ThresholdSetup

#: OUR READING of a BMS Logic board's cell voltage accuracy (V; not documented)
LOGIC_CELL_ACCURACY_V = 0.002
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


class RelaysMixin(MovicomBenchBase):
    """The relay, input-signal and output rows' conditions and observations (see the module docstring)."""

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
        self.log_event(f"{self.hw.outputs[output - 1]} 20 mA load", "on" if on else "off")

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
            self.log_pin(terminal, volts)

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
