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
#: the error queue's next entry (SCPI-1999 SYSTem:ERRor[:NEXT]?)
ERROR_QUERY = "SYST:ERR?"
#: at most this many SYST:ERR? per check (an instrument that never answers 0 does not hang us)
ERROR_QUERIES_MAX = 32


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
    #: whether a configure may hand its commands and first SYST:ERR? to the transport as one
    #: exchange (`Transport.pipeline`), bypassing `write` and `errors`: a driver that changes how its
    #: messages travel (`write`, `_exchange`) or how its errors are read (`errors`) sets it False,
    #: or overrides `_send_checked` with its own pipeline (the PRS-202 behind its GPIB gateway)
    PIPELINE_CHECK: ClassVar[bool] = True

    def reads_only(self, message: str) -> bool:
        return idempotent(message)

    def errors(self) -> list[str]:
        """Drain the error queue (SYST:ERR? until 0)."""
        return self._drain(self.query(ERROR_QUERY))

    def _drain(self, entry: str) -> list[str]:
        """The error queue from its first `entry` on: SYST:ERR? again until it answers 0."""
        found: list[str] = []
        while entry.split(",", 1)[0].strip() not in ("0", "+0"):
            found.append(entry)
            if len(found) == ERROR_QUERIES_MAX:
                break
            entry = self.query(ERROR_QUERY)
        return found

    def _send_checked(self, commands: tuple[str, ...]) -> list[str]:
        """The commands, then the error queue: one exchange where the transport can (a raw socket),
        the same messages in the same order either way."""
        if not self.PIPELINE_CHECK:
            for command in commands:
                self.write(command)
            return self.errors()
        try:
            first = self.transport.pipeline(commands, ERROR_QUERY)
        except LINK_FAULTS as exc:
            self.suspect = str(exc)
            raise
        return self._drain(first)

    def configure(self, *commands: str) -> None:
        """Send configuration commands, then check the error queue; raise if anything failed.

        The commands and their check are one unit: a signal waits until both are done, so no
        half-checked error is left for the next caller to find.
        """
        unit = "; ".join(commands)
        with interrupts.shielded():
            try:
                problems = self._send_checked(commands)
            except LINK_FAULTS as exc:
                # the whole unit is named: which of its commands took effect is unknown
                raise type(exc)(self.name, unit, f"{exc.detail} (at {exc.command!r})") from exc
        if problems:
            raise InstrumentError(self.name, unit, "; ".join(problems))

    def reset(self) -> None:
        """*RST and *CLS, then the station's slew limits again (*RST puts the defaults back)."""
        self.configure("*RST", "*CLS")
        self.program_slew()
