"""The base of every instrument driver: one instrument on a transport, its fault policy and identity.

A driver fills a role (`hil.instruments.roles`: what a power supply, a load, a chamber can do)
and speaks a dialect: SCPI (`hil.instruments.scpi`) or a vendor's own line protocol (written in
its driver). The dialect says how to ask who the instrument is (`IDENTITY`), which messages only
read (`reads_only`), how settings are checked (`configure`) and how it is reset (`reset`).
A driver lists its role first, then its dialect: `class KeysightN8900(PowerSupply, ScpiInstrument)`.

Fault policy (`hil.retry`): a command (anything that sets or changes the instrument) is sent
once; if its connection fails or times out the error names the instrument and the command and
nothing is re-sent. A query that only reads is asked again on a fresh connection, up to the
station's `retries`, before its error is raised.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

from hil import interrupts
from hil.errors import (
    BenchUnusable,
    InstrumentConnectionError,
    InstrumentError,
    InstrumentTimeout,
    LimitError,
)
from hil.instruments.info import UNITS, InstrumentInfo
from hil.instruments.transport import Transport
from hil.retry import RetryPolicy

#: the faults after which the link, not the instrument, is in doubt (a read may be asked again)
LINK_FAULTS: tuple[type[InstrumentError], ...] = (InstrumentTimeout, InstrumentConnectionError)


class Instrument(ABC):
    """A driver of one instrument over a Transport; the dialect and the role fill in the rest."""

    #: the programming manual this driver follows (model, document, revision)
    MANUAL: ClassVar[str] = ""
    #: the quantities ("voltage", "current") whose slew this instrument can limit
    SLEW: ClassVar[frozenset[str]] = frozenset()
    #: the queries that ask who the instrument is, in order (`identity` joins their answers)
    IDENTITY: ClassVar[tuple[str, ...]]

    def __init__(self, info: InstrumentInfo, transport: Transport) -> None:
        self.info = info
        self.name = info.role
        self.transport = transport
        #: the last timeout or lost connection, until `check` finds the instrument answering again
        self.suspect: str | None = None

    @property
    def policy(self) -> RetryPolicy:
        """The fault policy: a read is asked again up to the station's `retries`, a command never."""
        return RetryPolicy(max(self.info.retries, 0))

    # --- the dialect --------------------------------------------------------------------------

    @abstractmethod
    def reads_only(self, message: str) -> bool:
        """Whether a message only reads (changes nothing), so asking it again is harmless."""

    @abstractmethod
    def configure(self, *commands: str) -> None:
        """Send settings and make sure the instrument took them; raise InstrumentError if not."""

    @abstractmethod
    def reset(self) -> None:
        """The instrument to its neutral state, then the station's slew limits again."""

    def identity(self, answers: Sequence[str]) -> str:
        """One identity line, in *IDN?'s order (maker, model, serial, firmware), from the answers to
        the `IDENTITY` queries; a dialect with several queries joins them its own way."""
        return ",".join(answer.strip() for answer in answers)

    # --- messages -----------------------------------------------------------------------------

    def write(self, command: str) -> None:
        """Send a command once (never repeated: its effect after a failure is unknown)."""
        try:
            self.transport.write(command)
        except LINK_FAULTS as exc:
            self.suspect = str(exc)
            raise

    def _exchange(self, command: str) -> str:
        """One query and its answer; drivers behind a gateway or with their own framing override this."""
        return self.transport.query(command)

    def _once(self, command: str) -> Callable[[], str]:
        def ask() -> str:
            try:
                with interrupts.shielded():
                    return self._exchange(command)
            except LINK_FAULTS as exc:
                self.suspect = str(exc)
                raise

        return ask

    def query(self, command: str) -> str:
        """Ask and read the answer; a query that only reads is asked again on a fresh connection."""
        read = self.reads_only(command)
        try:
            return self.policy.call(self._once(command), read=read, lost=LINK_FAULTS)
        except LINK_FAULTS as exc:
            attempts = self.policy.attempts(read)
            if attempts == 1:
                raise
            raise type(exc)(self.name, command, f"{exc.detail} ({attempts} attempts)") from exc

    def query_float(self, command: str) -> float:
        answer = self.query(command)
        try:
            return float(answer.split(",")[0])
        except ValueError as exc:
            raise InstrumentError(self.name, command, f"expected a number, got {answer!r}") from exc

    def idn(self) -> str:
        """Who the instrument says it is (the `IDENTITY` queries, each under the fault policy)."""
        return self.identity([self.query(q) for q in self.IDENTITY])

    def check(self) -> str:
        """Whether the instrument answers its identity queries, reconnecting once if not; raises
        BenchUnusable.

        Run before a test when the instrument failed earlier: the test then starts on an
        instrument known to answer, or is reported as a bench error.
        """
        try:
            answers = [self._once(q)() for q in self.IDENTITY]
        except LINK_FAULTS as first:
            try:
                self.transport.reconnect()
                answers = [self._once(q)() for q in self.IDENTITY]
            except LINK_FAULTS as second:
                asked = " and ".join(f"'{q}'" for q in self.IDENTITY)
                raise BenchUnusable(
                    f"{self.name}: does not answer {asked} ({first.detail}), nor after reconnecting "
                    f"({second.detail})"
                ) from second
        self.suspect = None
        return self.identity(answers)

    def channel(self, terminal: str) -> str:
        """The instrument channel wired to a DUT terminal, per the station file."""
        try:
            return self.info.channels[terminal]
        except KeyError:
            raise InstrumentError(
                self.name, "-", f"no channel mapped to terminal {terminal!r} in the station file"
            ) from None

    # --- slew limits --------------------------------------------------------------------------

    def slew_commands(self, quantity: str, rate: float) -> list[str]:
        """The commands that limit this instrument's `quantity` slew to `rate` (V/s or A/s).

        Drivers whose instrument has a programmable slew list the quantity in `SLEW` and
        override this; reached here, a driver listed a quantity it does not program: refused.
        """
        raise self._no_slew(quantity, rate)

    def _no_slew(self, quantity: str, rate: float) -> LimitError:
        return LimitError(
            f"{self.name}: {self.info.model} has no programmable {quantity} slew, so the limit "
            f"{rate:g} {UNITS.get(quantity, '')}/s cannot be enforced; not sent"
        )

    def program_slew(self) -> None:
        """Program every slew limit the station sets for this instrument into the instrument.

        A limit on a quantity outside `SLEW` is refused (the station already refuses it when it
        reads the file; this covers a driver built without a station).
        """
        commands: list[str] = []
        for quantity in ("voltage", "current"):
            rate = getattr(self.info.limits, f"{quantity}_slew_max")
            if rate is None:
                continue
            if quantity not in self.SLEW:
                raise self._no_slew(quantity, rate)
            commands += self.slew_commands(quantity, rate)
        if commands:
            self.configure(*commands)

    # --- the safe state: what it is, the role says ---------------------------------------------
    # Abstract here so a driver that lists its dialect before its role cannot be built.

    @abstractmethod
    def safe(self) -> None:
        """Put outputs in their safe state."""

    @abstractmethod
    def output_state(self) -> dict[str, object]:
        """The outputs as read back from the instrument (queries only)."""

    @abstractmethod
    def state_is_safe(self, state: Mapping[str, object]) -> bool:
        """Whether a read-back `output_state` is the role's safe state."""

    def close(self) -> None:
        self.transport.close()
