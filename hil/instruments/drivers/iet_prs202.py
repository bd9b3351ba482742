"""Temperature emulator driver: four IET Labs PRS-202 decade resistance substituters, one per NTC.

Why this product: the PRS-202 ("High Precision Manual or SCPI Programmable Decade Resistance
Substituters", IET Labs) is a real programmable resistance whose remote command set is public
in its operation manual, and its open-circuit option gives the "broken NTC" case. A unit has
one output, so a bench needs one per NTC; the four sit on one GPIB bus behind a Prologix
GPIB-ETHERNET controller, which gives the station a single raw-socket resource (the channel of
each NTC terminal in the station file is that unit's GPIB primary address, e.g. "5").

PRS-202 commands (operation manual, chapter 7 "Programming"): ``SOURce:DATA <string>`` where
the string has 10 characters, one per decade, the last one the 0.1 Ω decade for the unit
modelled here (7 decades, 0.1 Ω to 999 999.9 Ω, code PRS-202-A-7-100m-0-1). Digits for decades
the unit does not have are ignored, not refused; the character just above the most
significant decade selects the optional open circuit (1, 5, 9) or short circuit (2, 3, 6, 7).
The read-back ``SOURce:DATA?`` follows the SCPI query convention; the manual copy at hand does
not list it explicitly, so confirm it on the first unit before relying on get_resistance.

Error reporting: the manual calls the interface SCPI but the copy at hand does not show an
error-queue command, so the driver relies on what IEEE 488.2 mandates for every such unit:
after configuring it reads ``*ESR?`` (read-and-clear) and raises InstrumentError when the
query-, device-, execution- or command-error bit is set. Instrument responses are fetched
through the controller with ``++read eoi`` (read-after-write is switched off with ``++auto 0``).
"""

from __future__ import annotations

import math

from hil.errors import InstrumentError, LimitError
from hil.instruments.base import LINK_FAULTS
from hil.instruments.info import InstrumentInfo
from hil.instruments.roles import TemperatureEmulator
from hil.instruments.scpi import ScpiInstrument
from hil.instruments.transport import Transport

#: Prologix set-up sent once per connection: controller mode, no automatic read-after-write
CONTROLLER_SETUP = ("++mode 1", "++auto 0")
#: the controller's read of the addressed unit's answer (up to EOI)
READ_AFTER = "++read eoi"
#: the unit's error check: its Standard Event Status Register, cleared by reading
ESR_QUERY = "*ESR?"
#: IEEE 488.2 Standard Event Status Register error bits
ESR_ERRORS = {4: "query error", 8: "device-specific error", 16: "execution error", 32: "command error"}
#: resolution (the least significant decade) and range of the unit modelled
STEP_OHM = 0.1
DECADES = 7
MAX_OHM = (10**DECADES - 1) * STEP_OHM
#: 25 °C on a 10 kΩ NTC: the neutral (safe) setting
NEUTRAL_OHM = 10_000.0
OPEN_CHARS = "159"
SHORT_CHARS = "2367"


def encode(ohms: float) -> str:
    """The 10-character resistance string for `ohms` (rounded to the 0.1 Ω decade)."""
    steps = round(ohms / STEP_OHM)
    if steps < 0 or steps >= 10**DECADES:
        raise ValueError(f"{ohms:g} Ω is outside 0 .. {MAX_OHM:g} Ω")
    return f"{steps:010d}"


def decode(data: str) -> float:
    """Ohms for a resistance string: inf when open, 0 when shorted."""
    text = data.strip().strip('"')
    if len(text) != 10 or not text.isdigit():
        raise ValueError(f"not a PRS resistance string: {data!r}")
    mode = text[-DECADES - 1]
    if mode in OPEN_CHARS:
        return math.inf
    if mode in SHORT_CHARS:
        return 0.0
    return int(text[-DECADES:]) * STEP_OHM


OPEN_DATA = "0" * (9 - DECADES) + "1" + "0" * DECADES


class IetPrs202Bank(TemperatureEmulator, ScpiInstrument):
    """Four PRS-202 units behind a Prologix GPIB-ETHERNET controller; channel = GPIB address."""

    MANUAL = (
        "IET Labs PRS-202 Series High Precision Manual or SCPI Programmable Decade Resistance "
        "Substituters (IEEE-488.2, Ethernet or RS232) Operation Manual, PRS202 IEEE.2 im/May 2015; "
        "bus gateway: Prologix GPIB-ETHERNET Controller User Manual (++ commands)"
    )

    NEUTRAL_OHM = NEUTRAL_OHM
    #: messages travel through the controller and errors are read by *ESR?: not the SCPI pipeline
    #: (`_send_checked` below is this bank's own)
    PIPELINE_CHECK = False

    def __init__(self, info: InstrumentInfo, transport: Transport) -> None:
        super().__init__(info, transport)
        self._controller_ready: int | None = None  # the transport generation it was set up on
        self._address: str | None = None
        self._addressing: str | None = None  # the unit `configure_unit` addresses in its own write

    # --- framing through the GPIB controller ------------------------------------------------

    def _controller(self) -> None:
        """Set the controller up once per connection (again after a reconnect, re-addressing the unit)."""
        if self._controller_ready != self.transport.generation:
            for command in CONTROLLER_SETUP:
                self.transport.write(command)
            if self._address is not None:
                self.transport.write(f"++addr {self._address}")
            self._controller_ready = self.transport.generation

    def select(self, terminal: str) -> None:
        """Address the unit wired to `terminal` (every later message goes to it)."""
        address = self.channel(terminal)
        self._controller()
        super().write(f"++addr {address}")
        self._address = address

    def write(self, command: str) -> None:
        self._controller()
        super().write(command)

    def _exchange(self, command: str) -> str:
        self._controller()
        self.transport.write(command)
        return self.transport.query(READ_AFTER)

    def errors(self) -> list[str]:
        """The addressed unit's error bits from *ESR? (reading clears them)."""
        return self._esr(self.query(ESR_QUERY))

    def _esr(self, answer: str) -> list[str]:
        """The error bits of an *ESR? answer."""
        text = answer.strip()
        try:
            esr = int(text)
        except ValueError as exc:
            raise InstrumentError(self.name, ESR_QUERY, f"expected an integer, got {text!r}") from exc
        return [f"ESR={esr} ({bit_text})" for bit, bit_text in ESR_ERRORS.items() if esr & bit]

    def _send_checked(self, commands: tuple[str, ...]) -> list[str]:
        """The commands, *ESR? and the controller's read as one exchange where the transport can:
        the lines `select`, `write` and `errors` send, in their order (controller set-up first)."""
        self._controller()
        address = self._addressing
        lines = [*commands, ESR_QUERY] if address is None else [f"++addr {address}", *commands, ESR_QUERY]
        try:
            answer = self.transport.pipeline(lines, READ_AFTER)
        except LINK_FAULTS as exc:
            self.suspect = str(exc)
            raise
        finally:
            if address is not None:
                self._address = address  # as `select`: a reconnect addresses this unit again
        return self._esr(answer)

    def configure_unit(self, terminal: str, *commands: str) -> None:
        """Send commands to one unit and check its event status; raise if any failed. The unit is
        addressed (`++addr`) in the same write as its commands: one message fewer per setting."""
        address = self.channel(terminal)
        self._addressing = address
        try:
            self.configure(*commands)
        finally:
            self._addressing = None

    # --- the role -----------------------------------------------------------------------------

    def set_resistance(self, terminal: str, ohms: float) -> None:
        self.info.limits.check(self.name, "resistance", ohms)
        try:
            data = encode(ohms)
        except ValueError as exc:
            raise LimitError(f"{self.name}: {exc} (the PRS-202's range); not sent") from None
        self.configure_unit(terminal, f"SOUR:DATA {data}")

    def get_resistance(self, terminal: str) -> float:
        """The programmed (nominal) resistance; inf when open."""
        self.select(terminal)
        command = "SOUR:DATA?"
        answer = self.query(command)
        try:
            return decode(answer)
        except ValueError as exc:
            raise InstrumentError(self.name, command, str(exc)) from exc

    def set_open(self, terminal: str) -> None:
        self.configure_unit(terminal, f"SOUR:DATA {OPEN_DATA}")

    def neutral(self) -> None:
        """Every NTC channel to 10 kΩ (25 °C)."""
        for terminal in self.info.channels:
            self.set_resistance(terminal, self.NEUTRAL_OHM)

    def idn_of(self, terminal: str) -> str:
        self.select(terminal)
        return self.query("*IDN?")

    def reset(self) -> None:
        for terminal in self.info.channels:
            self.configure_unit(terminal, "*RST", "*CLS")
