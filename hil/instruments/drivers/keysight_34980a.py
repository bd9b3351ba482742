"""Fault-insertion switch driver: Keysight 34980A Multifunction Switch/Measure Unit with a 34937A.

The 34937A is a 32-channel general-purpose switch module: channels 1-28 Form C (SPDT, 1 A),
29-32 Form A (SPST, 5 A). Channels are addressed as slot·1000 + channel (``(@1001)`` is slot 1,
channel 1). The bench wires each fault point so that the energised relay inserts the fault: a
Form C relay's NC contact sits in series with a loop that must stay closed (HVIL, an auxiliary
contact, a CMU link) and its NO contact across a contact that must stay open, so every relay open
(the *RST state) is the healthy wiring.

Followed: *Keysight 34980A Multifunction Switch/Measure Unit Programmer's Reference* (ROUTe
subsystem: ``ROUTe:CLOSe <ch_list>``, ``ROUTe:OPEN <ch_list>``, ``ROUTe:CLOSe? <ch_list>`` answering
1/0 per channel, ``ROUTe:OPEN:ALL [ALL|<slot>]``) and the 34937A's module description in the
34980A User's Guide. Edition not confirmed from the copies consulted; see `MANUAL`.
"""

from __future__ import annotations

from hil.errors import InstrumentError
from hil.instruments.roles import Switch
from hil.instruments.scpi import ScpiInstrument


class Keysight34980A(Switch, ScpiInstrument):
    """34980A mainframe, 34937A GP switch modules; terminals map to channels such as "1001"."""

    MANUAL = (
        "Keysight 34980A Multifunction Switch/Measure Unit Programmer's Reference (ROUTe subsystem) "
        "and User's Guide (34937A 32-channel GP switch module); edition to be confirmed on the "
        "bench copy"
    )

    def set_closed(self, terminal: str, closed: bool) -> None:
        """ROUT:CLOS or ROUT:OPEN of the terminal's channel, then the error queue is checked."""
        verb = "CLOS" if closed else "OPEN"
        self.configure(f"ROUT:{verb} (@{self.channel(terminal)})")

    def is_closed(self, terminal: str) -> bool:
        command = f"ROUT:CLOS? (@{self.channel(terminal)})"
        answer = self.query(command).strip()
        if answer not in ("0", "1"):
            raise InstrumentError(self.name, command, f"expected 0 or 1, got {answer!r}")
        return answer == "1"

    def open_all(self) -> None:
        """Every channel of every module open (ROUT:OPEN:ALL ALL)."""
        self.configure("ROUT:OPEN:ALL ALL")
