"""Analog source driver: Keysight DAQ970A with DAQM907A multifunction modules (their ±12 V DACs).

Each DAQM907A has two 16-bit analog outputs (DAC channels s04 and s05 of its slot s, e.g. 104,
105), besides two 8-bit digital I/O ports (s01, s02) and a totalizer (s03). The bench drives the
DUT's sensor inputs from the DACs: a Hall current sensor's Vcs and Vref, a humidity or temperature
sensor's output voltage. The DACs source at most 10 mA, enough for a sensor input.

Followed: *Keysight DAQ970A Data Acquisition System Programming Guide* (SOURce subsystem:
``SOURce:VOLTage <voltage>,(@<ch_list>)`` sets a DAC output, ``SOURce:VOLTage? (@<ch_list>)``
reads the setting back; the SYST:ERR? queue after settings) and the DAQM907A description in the
DAQ970A User's Guide. Edition not confirmed from the copies consulted; see `MANUAL`.

Accuracy (`ACCURACY`, the station file's ``accuracy.voltage`` block): OUR READING ±(0.25 % of the
setting + 20 mV), 1 year, 23 °C ± 5 °C, resolution 1 mV: the figures of the DAQM907A's
predecessor, the 34907A, which the DAQ970A data sheet is taken to repeat; not confirmed from the
data sheet itself. Confirm on the bench copy before an audit relies on them.
"""

from __future__ import annotations

from typing import ClassVar

from hil.instruments.roles import AnalogSource
from hil.instruments.scpi import ScpiInstrument, nrf

#: the DAC range (V): the instrument refuses beyond it (-222), the station's limits may be tighter
DAC_RANGE = (-12.0, 12.0)
#: setting accuracy for the station file's accuracy block: ± (gain·|setting| + offset) V
ACCURACY: dict[str, dict[str, float]] = {"voltage": {"gain": 0.0025, "offset": 0.020, "resolution": 0.001}}


class KeysightDAQM907A(AnalogSource, ScpiInstrument):
    """DAQ970A + DAQM907A modules; terminals map to DAC channels such as "104", "205"."""

    MANUAL = (
        "Keysight DAQ970A Data Acquisition System Programming Guide (SOURce subsystem) and User's "
        "Guide (DAQM907A multifunction module: DAC channels s04/s05, ±12 V); edition to be confirmed "
        "on the bench copy; accuracy OUR READING (34907A figures)"
    )

    ACCURACY: ClassVar[dict[str, dict[str, float]]] = ACCURACY

    def set_voltage(self, terminal: str, volts: float) -> None:
        """SOUR:VOLT on the terminal's DAC, refused beyond the station's voltage limits first."""
        channel = self.channel(terminal)
        self.info.limits.check(self.name, "voltage", volts)
        self.configure(f"SOUR:VOLT {nrf(volts)},(@{channel})")

    def voltage(self, terminal: str) -> float:
        return self.query_float(f"SOUR:VOLT? (@{self.channel(terminal)})")

    def zero(self) -> None:
        """Every mapped DAC to 0 V in one command (not limit-checked: 0 V is the safe state)."""
        channels = sorted(set(self.info.channels.values()), key=int)
        if channels:
            self.configure(f"SOUR:VOLT 0,(@{','.join(channels)})")
