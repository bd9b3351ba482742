"""Simulated Keysight 34980A with 34937A GP switch modules: the fault-insertion relays of a bench.

Speaks the ROUTe subset the driver uses: ``ROUTe:CLOSe``/``ROUTe:OPEN`` with a channel list,
their queries (1/0 per channel, in list order) and ``ROUTe:OPEN:ALL [ALL|<slot>]``. Channels are
slot·1000 + 1..32 for each installed slot; a channel without a module raises -241 (Hardware
missing) and nothing in that message is executed. *RST opens every relay.

The plant reads the relays through `closed(terminal)` (the station's terminal names); relay
timing (operate/release times) and contact bounce are not modelled.
"""

from __future__ import annotations

from collections.abc import Callable

from hil.sim.instruments.base import SimInstrument
from hil.sim.scpi import MISSING_PARAMETER, Call, ScpiError

CHANNELS_PER_MODULE = 32
HARDWARE_MISSING = -241


class _Missing(ScpiError):
    def __init__(self, detail: str) -> None:
        super().__init__(HARDWARE_MISSING, detail)

    def entry(self) -> str:
        return f'{HARDWARE_MISSING},"Hardware missing; {self.detail}"'


class SimKeysight34980A(SimInstrument):
    """A 34980A with 34937A modules in slots 1..`modules`."""

    VENDOR = "Agilent Technologies"  # the 34980A's *IDN? keeps the Agilent name
    MODEL = "34980A"
    FIRMWARE = "2.51-2.43-2.09-1.00"

    def __init__(
        self, role: str, channels: dict[str, str], seed: int = 0, serial: str = "", modules: int = 1
    ) -> None:
        self.modules = modules
        self._closed: set[int] = set()
        super().__init__(role, channels, seed=seed, serial=serial or "MY44012345")
        e = self.engine
        e.add("ROUTe:CLOSe", self._set(True))
        e.add("ROUTe:OPEN", self._set(False))
        e.add("ROUTe:CLOSe?", self._query(True))
        e.add("ROUTe:OPEN?", self._query(False))
        e.add("ROUTe:OPEN:ALL", self._open_all)

    def reset(self) -> None:
        """*RST: every relay open."""
        self._closed = set()

    # --- the plant's side ---------------------------------------------------------------------
    def closed(self, terminal: str) -> bool:
        """Whether the relay wired to a DUT fault point is closed (the fault inserted)."""
        channel = self.channels.get(terminal)
        return channel is not None and int(channel) in self._closed

    def outputs(self) -> dict[str, object]:
        return {"closed": sorted(self._closed)}

    # --- SCPI handlers ------------------------------------------------------------------------
    def _valid(self, call: Call) -> list[int]:
        if not call.channels:
            raise ScpiError(MISSING_PARAMETER, f"{call.header} needs a channel list")
        for ch in call.channels:
            slot, number = divmod(ch, 1000)
            if not (1 <= slot <= self.modules and 1 <= number <= CHANNELS_PER_MODULE):
                raise _Missing(f"no channel {ch}")
        return call.channels

    def _set(self, close: bool) -> Callable[[Call], None]:
        def handler(call: Call) -> None:
            for ch in self._valid(call):
                if close:
                    self._closed.add(ch)
                else:
                    self._closed.discard(ch)

        return handler

    def _query(self, close: bool) -> Callable[[Call], str]:
        def handler(call: Call) -> str:
            return ",".join("1" if (ch in self._closed) == close else "0" for ch in self._valid(call))

        return handler

    def _open_all(self, call: Call) -> None:
        if not call.args or call.args[0].strip().upper() == "ALL":
            self._closed = set()
            return
        slot = int(call.number(0, minimum=1, maximum=self.modules))
        self._closed = {ch for ch in self._closed if ch // 1000 != slot}
