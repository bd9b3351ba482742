"""Simulated Keysight DAQ970A with DAQM907A multifunction modules: the DAC outputs of a bench.

Speaks ``SOURce:VOLTage <v>,(@<ch_list>)`` and ``SOURce:VOLTage? (@<ch_list>)`` on the DAC channels
s04 and s05 of each slot holding a DAQM907A (slots 1..`modules`); a value beyond ±12 V raises -222
(Data out of range), a channel that is not a DAC of an installed module -241 (Hardware missing) or,
on a module's digital or totalizer channel, -221 (Settings conflict); nothing of that message is
executed. *RST sets every DAC to 0 V.

The plant reads each output with `output(terminal)`: the setting with the DAC's error, a seeded
gain and offset per channel inside the accuracy the driver declares (OUR READING of the figures).
Output current limits (10 mA) and settling are not modelled.
"""

from __future__ import annotations

from hil.sim.instruments.base import SimInstrument
from hil.sim.scpi import DATA_OUT_OF_RANGE, MISSING_PARAMETER, SETTINGS_CONFLICT, Call, ScpiError

HARDWARE_MISSING = -241
DAC_CHANNELS = (4, 5)
OTHER_CHANNELS = (1, 2, 3)  # digital I/O ports and the totalizer
DAC_LIMIT = 12.0
#: ± (gain·|V| + offset): OUR READING of the DAQM907A DAC's 1-year accuracy (34907A figures)
GAIN = 0.0025
OFFSET = 0.020


class SimKeysightDAQM907A(SimInstrument):
    """A DAQ970A with DAQM907A modules in slots 1..`modules`."""

    VENDOR = "Keysight Technologies"
    MODEL = "DAQ970A"
    FIRMWARE = "A.03.02-01.00-03.02-00.02-02-01"

    def __init__(
        self, role: str, channels: dict[str, str], seed: int = 0, serial: str = "", modules: int = 2
    ) -> None:
        self.modules = modules
        self._set: dict[int, float] = {}
        super().__init__(role, channels, seed=seed, serial=serial or "MY58010077")
        # the DAC's own error, fixed per channel (a calibration's residue), inside the accuracy
        self._error = {
            slot * 100 + n: (self.rng.uniform(-0.5, 0.5) * GAIN, self.rng.uniform(-0.5, 0.5) * OFFSET)
            for slot in range(1, modules + 1)
            for n in DAC_CHANNELS
        }
        self.engine.add("SOURce:VOLTage", self._source)
        self.engine.add("SOURce:VOLTage?", self._query)

    def reset(self) -> None:
        """*RST: every DAC at 0 V."""
        self._set = {}

    # --- the plant's side ---------------------------------------------------------------------
    def output(self, terminal: str) -> float:
        """The voltage on the DAC wired to a DUT terminal (0 V if none is)."""
        channel = self.channels.get(terminal)
        if channel is None:
            return 0.0
        ch = int(channel)
        gain, offset = self._error.get(ch, (0.0, 0.0))
        setting = self._set.get(ch, 0.0)
        return setting * (1.0 + gain) + (offset if setting != 0.0 else 0.0)

    def outputs(self) -> dict[str, object]:
        return {"voltage": {str(ch): v for ch, v in sorted(self._set.items())}}

    # --- SCPI handlers ------------------------------------------------------------------------
    def _dacs(self, call: Call) -> list[int]:
        if not call.channels:
            raise ScpiError(MISSING_PARAMETER, f"{call.header} needs a channel list")
        for ch in call.channels:
            slot, number = divmod(ch, 100)
            if not 1 <= slot <= self.modules:
                raise ScpiError(HARDWARE_MISSING, f"no module in slot {slot}", text="Hardware missing")
            if number in OTHER_CHANNELS:
                raise ScpiError(SETTINGS_CONFLICT, f"channel {ch} is not a DAC", text="Settings conflict")
            if number not in DAC_CHANNELS:
                raise ScpiError(HARDWARE_MISSING, f"no channel {ch}", text="Hardware missing")
        return call.channels

    def _source(self, call: Call) -> None:
        channels = self._dacs(call)
        if not call.args:
            raise ScpiError(MISSING_PARAMETER, call.header)
        value = call.number(0, unit="V", minimum=-DAC_LIMIT, maximum=DAC_LIMIT)
        if not -DAC_LIMIT <= value <= DAC_LIMIT:
            raise ScpiError(DATA_OUT_OF_RANGE, f"{value:g} V")
        for ch in channels:
            self._set[ch] = round(value, 4)

    def _query(self, call: Call) -> str:
        return ",".join(f"{self._set.get(ch, 0.0):+.9E}" for ch in self._dacs(call))
