"""Driver for the Keysight N8900 series autoranging DC supply, used as the charger on P+/P-.

Station model: Keysight N8920A (80 V, 170 A, 5 kW, single output). The 12 V / 100 Ah pack is
charged at up to about 110 A and the charger over-voltage test needs about 20 V, both well
inside the N8920A's autoranging envelope (20 V x 170 A = 3.4 kW).

Followed: "Keysight N8900 Series Autoranging System DC Power Supply - Operating and Service
Guide", chapter "SCPI Programming Reference" (manual part number N8900-90901). The edition
line of the guide could not be read from the copies consulted; see `MANUAL`.

Commands used: VOLT, CURR, VOLT:PROT, VOLT:SLEW (V/s), OUTP ON|OFF, OUTP?, VOLT?, MEAS:VOLT?, MEAS:CURR?,
SYST:ERR? (through `configure`), *RST/*CLS (through `reset`).
"""

from __future__ import annotations

from hil.instruments.roles import PowerSupply
from hil.instruments.scpi import ScpiInstrument, nrf


class KeysightN8900(PowerSupply, ScpiInstrument):
    """Keysight N8900 series (N8920A on this station) as the charger: CV/CC with OVP."""

    MANUAL = (
        "Keysight N8920A; Keysight N8900 Series Autoranging System DC Power Supply, "
        "Operating and Service Guide, part number N8900-90901 (SCPI Programming Reference); "
        "edition not confirmed from the copies consulted"
    )
    SLEW = frozenset({"voltage"})

    def slew_commands(self, quantity: str, rate: float) -> list[str]:
        """VOLT:SLEW in V/s (the output ramps to each new setting at no more than this)."""
        return [f"VOLT:SLEW {nrf(rate)}"]

    def set_voltage(self, volts: float) -> None:
        """Program the CV setpoint (VOLT), refused above the station's voltage limit."""
        self.info.limits.check(self.name, "voltage", volts)
        self.configure(f"VOLT {nrf(volts)}")

    def set_current_limit(self, amps: float) -> None:
        """Program the CC limit (CURR), refused above the station's current limit."""
        self.info.limits.check(self.name, "current", amps)
        self.configure(f"CURR {nrf(amps)}")

    def set_ovp(self, volts: float) -> None:
        """Program the over-voltage protection level (VOLT:PROT).

        Checked against the station's voltage limit too, so the supply's own protection trips
        before the output can exceed what the station allows.
        """
        self.info.limits.check(self.name, "voltage", volts)
        self.configure(f"VOLT:PROT {nrf(volts)}")

    def setup(self, voltage: float, current_limit: float, ovp: float) -> None:
        """Program setpoint, current limit and OVP together, then check the error queue.

        Every value is checked before anything is sent. OVP and setpoint are sent in the order
        that never leaves the OVP level below the setpoint, so this is safe with the output on.
        """
        if ovp < voltage:
            raise ValueError(f"{self.name}: OVP {ovp:g} V is below the setpoint {voltage:g} V")
        for quantity, value in (("voltage", voltage), ("current", current_limit), ("voltage", ovp)):
            self.info.limits.check(self.name, quantity, value)
        present = self.query_float("VOLT?")
        if ovp >= present:
            order = (f"VOLT:PROT {nrf(ovp)}", f"VOLT {nrf(voltage)}")
        else:
            order = (f"VOLT {nrf(voltage)}", f"VOLT:PROT {nrf(ovp)}")
        self.configure(*order, f"CURR {nrf(current_limit)}")

    def set_output(self, on: bool) -> None:
        self.configure("OUTP ON" if on else "OUTP OFF")

    def output_is_on(self) -> bool:
        return self.query("OUTP?").strip().upper() in ("1", "ON")

    def output_state(self) -> dict[str, object]:
        """Output state and the programmed setpoints (OUTP?, VOLT?, CURR?)."""
        return {
            "output": self.output_is_on(),
            "voltage": self.query_float("VOLT?"),
            "current_limit": self.query_float("CURR?"),
        }

    def measure_voltage(self) -> float:
        return self.query_float("MEAS:VOLT?")

    def measure_current(self) -> float:
        return self.query_float("MEAS:CURR?")
