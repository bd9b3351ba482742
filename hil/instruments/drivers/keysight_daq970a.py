"""DMM role driver: Keysight DAQ970A Data Acquisition System with a DAQM901A multiplexer.

Follows the *Keysight DAQ970A Data Acquisition System Programming Guide* (SCPI command
reference). The DAQM901A in slot 1 gives channels 101-120 for voltage and 2-wire resistance
and 121-122 for current (the only channels wired through the module's current shunts).
Each reading is one ``MEASure?`` query with a single-channel list: it configures the internal
DMM, closes that channel, measures with autorange and default resolution, opens it again and
returns the reading in +d.dddddddddE+dd form; an overload answers +9.9E+37.

Points are DUT terminal names; the station file maps each to its channel (e.g. PACK -> 101).
"""

from __future__ import annotations

from hil.instruments.roles import Dmm
from hil.instruments.scpi import ScpiInstrument

#: what the instrument returns for an overload (SCPI "9.9E37")
OVERLOAD = 9.9e37


class KeysightDAQ970A(Dmm, ScpiInstrument):
    """DAQ970A with a DAQM901A in slot 1; points map to channels 101-122 via the station file."""

    MANUAL = (
        "Keysight DAQ970A Data Acquisition System Programming Guide (SCPI Programming Reference; "
        "edition to be confirmed on the bench copy); DAQM901A 20-channel armature multiplexer "
        "as described in the Keysight DAQ970A User's Guide; accuracy from the DAQ970A data sheet"
    )

    def _measure(self, function: str, point: str) -> float:
        return self.query_float(f"MEAS:{function}? AUTO,DEF,(@{self.channel(point)})")

    def measure_dc_voltage(self, point: str) -> float:
        return self._measure("VOLT:DC", point)

    def measure_resistance(self, point: str) -> float:
        """2-wire resistance; an open circuit reads as OVERLOAD (9.9E+37)."""
        return self._measure("RES", point)

    def measure_dc_current(self, point: str) -> float:
        """Only channels 121 and 122 of the DAQM901A carry current."""
        return self._measure("CURR:DC", point)
