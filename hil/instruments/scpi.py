"""The SCPI dialect: *IDN? for identity, the SYST:ERR? queue after settings, *RST/*CLS to reset.

Which queries only read: every query but those that change the instrument's state as they read
(the error queue, the event status register, a data buffer drained by reading); those count as
commands and are never asked twice.
"""

from __future__ import annotations

from typing import ClassVar

from hil import interrupts
from hil.errors import InstrumentError
from hil.instruments.base import LINK_FAULTS, Instrument

#: query headers that change the instrument's state when read: never asked twice
NOT_IDEMPOTENT = ("SYST:ERR", "SYSTEM:ERR", "*ESR?", "DATA:REM", "R?")


def nrf(value: float) -> str:
    """A number as an SCPI <NRf> parameter: 6 significant digits, no trailing zeros."""
    return f"{value:.6g}"


def idempotent(command: str) -> bool:
    """Whether a message only reads (a query that changes nothing), so asking again is harmless."""
    header = command.strip().split(" ", 1)[0].lstrip(":").upper()
    return header.endswith("?") and not header.startswith(NOT_IDEMPOTENT)


class ScpiInstrument(Instrument):
    """A driver speaking one instrument's SCPI dialect (IEEE 488.2 common commands, SYST:ERR?)."""

    IDENTITY: ClassVar[tuple[str, ...]] = ("*IDN?",)

    def reads_only(self, message: str) -> bool:
        return idempotent(message)

    def errors(self) -> list[str]:
        """Drain the error queue (SYST:ERR? until 0)."""
        found: list[str] = []
        for _ in range(32):
            entry = self.query("SYST:ERR?")
            code = entry.split(",", 1)[0].strip()
            if code in ("0", "+0"):
                break
            found.append(entry)
        return found

    def configure(self, *commands: str) -> None:
        """Send configuration commands, then check the error queue; raise if anything failed.

        The commands and their check are one unit: a signal waits until both are done, so no
        half-checked error is left for the next caller to find.
        """
        unit = "; ".join(commands)
        with interrupts.shielded():
            try:
                for command in commands:
                    self.write(command)
                problems = self.errors()
            except LINK_FAULTS as exc:
                # the whole unit is named: which of its commands took effect is unknown
                raise type(exc)(self.name, unit, f"{exc.detail} (at {exc.command!r})") from exc
        if problems:
            raise InstrumentError(self.name, unit, "; ".join(problems))

    def reset(self) -> None:
        """*RST and *CLS, then the station's slew limits again (*RST puts the defaults back)."""
        self.configure("*RST", "*CLS")
        self.program_slew()
