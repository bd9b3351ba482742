"""The Movicom bench's analog inputs, supply and termination section: MM-SUP-I (the supply current),
MM-RLY-RATE (contact drop at rated current), MM-TS (the sensor inputs against the DMM's reading of
the stimulus), MM-TERM-CAN / MM-TERM-485 (2-wire ohms through the switch, both jumper positions
where a fixture relay replaces the jumper).
"""

from __future__ import annotations

from functools import cached_property

from hil.duts.movicom_main_2.bench_base import SOFTWARE_CONTROL_PHYSICAL, MovicomBenchBase
from hil.duts.movicom_main_2.config import InputFunction
from hil.duts.movicom_main_2.terminals import SUPPLY, relay_terminal, termination_terminal
from hil.instruments.bank import TerminalBank
from hil.instruments.roles import ElectronicLoad


class AnalogMixin(MovicomBenchBase):
    """The supply-current, relay-rating, sensor-input and termination rows (see the module docstring)."""

    @cached_property
    def relay_loads(self) -> TerminalBank[ElectronicLoad]:
        """The electronic loads, one per relay contact (`RLY1`..`RLY4`)."""
        return TerminalBank(self.station, "electronic_load", ElectronicLoad)

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
        self.log_event(f"{terminal} load", f"{amps:g} A for the reading")
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
        self.log_pin(terminal, volts)
        self.clock.sleep(self.settle_s)
        return self.meter().measure_dc_voltage(terminal)

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
