"""The base of every SCPI driver: command/query with the station's limits and error checking.

Fault policy: a command (anything that sets or changes the instrument) is sent once; if its
connection fails or times out the error names the instrument and the command and nothing is
re-sent. A query that only reads (`idempotent`) is asked again on a fresh connection, up to the
station's `retries`, before its error is raised. Queries that change state as they read (the error
queue, the event status register) count as commands.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from hil.errors import (
    BenchUnusable,
    InstrumentConnectionError,
    InstrumentError,
    InstrumentTimeout,
    LimitError,
)
from hil.instruments.transport import Transport
from hil.station import interrupts

#: query headers that change the instrument's state when read: never asked twice
NOT_IDEMPOTENT = ("SYST:ERR", "SYSTEM:ERR", "*ESR?", "DATA:REM", "R?")
#: what each limited quantity is measured in, for messages
UNITS = {
    "voltage": "V",
    "current": "A",
    "resistance": "Ω",
    "temperature": "°C",
    "humidity": "%RH",
    "pressure": "kPa",
}


def nrf(value: float) -> str:
    """A number as an SCPI <NRf> parameter: 6 significant digits, no trailing zeros."""
    return f"{value:.6g}"


def idempotent(command: str) -> bool:
    """Whether a message only reads (a query that changes nothing), so asking again is harmless."""
    header = command.strip().split(" ", 1)[0].lstrip(":").upper()
    return header.endswith("?") and not header.startswith(NOT_IDEMPOTENT)


@dataclass(frozen=True)
class Limits:
    """Safe operating limits of one instrument on this station; None means no limit set.

    The station merges the instrument's own limits with the DUT's (the tighter one wins) and
    `sources` names the station-file field each bound came from, for the error message.
    """

    voltage_max: float | None = None
    voltage_min: float | None = None
    current_max: float | None = None
    resistance_min: float | None = None
    resistance_max: float | None = None
    temperature_min: float | None = None  # °C, an emulated temperature (NTC inputs) or a chamber setpoint
    temperature_max: float | None = None
    humidity_min: float | None = None  # %RH, a climatic chamber's humidity setpoint
    humidity_max: float | None = None
    pressure_min: float | None = None  # kPa absolute, a pressure controller's setpoint
    pressure_max: float | None = None
    sum_voltage_max: float | None = None  # V, every channel's voltage added up (a cell stack)
    short_circuit: bool | None = None  # False: the load's short mode is refused
    voltage_slew_max: float | None = None  # V/s, programmed into the instrument at open
    current_slew_max: float | None = None  # A/s, programmed into the instrument at open
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    def source(self, key: str) -> str:
        """The station-file field a bound came from, for error messages."""
        return self.sources.get(key, "station file")

    def check(self, instrument: str, quantity: str, value: float) -> None:
        """Refuse a setting beyond the limits before it leaves the computer."""
        unit = UNITS.get(quantity, "")
        if not math.isfinite(value):
            raise LimitError(f"{instrument}: {quantity} {value} is not a finite number; not sent")
        low = getattr(self, f"{quantity}_min", None)
        high = getattr(self, f"{quantity}_max", None)
        if high is not None and value > high:
            raise LimitError(
                f"{instrument}: {quantity} {value:g} {unit} is above the safe limit {high:g} {unit} "
                f"({self.source(f'{quantity}_max')}); not sent"
            )
        if low is not None and value < low:
            raise LimitError(
                f"{instrument}: {quantity} {value:g} {unit} is below the safe limit {low:g} {unit} "
                f"({self.source(f'{quantity}_min')}); not sent"
            )

    def check_sum(self, instrument: str, total: float) -> None:
        """Refuse channel voltages that add up beyond `sum_voltage_max` (a cell stack's pack voltage)."""
        if self.sum_voltage_max is not None and total > self.sum_voltage_max:
            raise LimitError(
                f"{instrument}: the channels would add up to {total:g} V, above the safe limit "
                f"{self.sum_voltage_max:g} V ({self.source('sum_voltage_max')}); not sent"
            )

    def check_edge(self, instrument: str, quantity: str, step: float, within_s: float) -> None:
        """Refuse a stimulus whose edge of `step` must be done within `within_s` faster than the slew limit.

        The instrument ramps at most at the limit; an edge that could not finish in time would
        give the DUT another stimulus than the test asks for, and a faster one is not allowed here.
        """
        rate = getattr(self, f"{quantity}_slew_max", None)
        if rate is None or step == 0:
            return
        unit = UNITS.get(quantity, "")
        needed = abs(step) / within_s if within_s > 0 else math.inf
        if needed > rate:
            raise LimitError(
                f"{instrument}: a {abs(step):g} {unit} edge within {within_s:g} s needs {needed:g} {unit}/s, "
                f"above the slew limit {rate:g} {unit}/s ({self.source(f'{quantity}_slew_max')}); not sent"
            )

    def check_short(self, instrument: str) -> None:
        """Refuse the load's short-circuit mode where the station does not allow it."""
        if self.short_circuit is False:
            raise LimitError(
                f"{instrument}: short circuit is not allowed ({self.source('short_circuit')}); not sent"
            )


@dataclass
class InstrumentInfo:
    """What the station file says about one instrument, handed to its driver."""

    role: str
    model: str
    resource: str
    channels: dict[str, str] = field(default_factory=dict)  # DUT terminal -> instrument channel
    limits: Limits = field(default_factory=Limits)
    asset_id: str = ""
    calibration_due: str = ""
    retries: int = 2  # further attempts of an idempotent query after a timeout or lost connection


class ScpiInstrument:
    """A driver speaking one instrument's SCPI dialect over a Transport."""

    #: the programming manual this driver follows (model, document, revision)
    MANUAL: str = ""
    #: the quantities ("voltage", "current") whose slew this instrument can limit
    SLEW: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, info: InstrumentInfo, transport: Transport) -> None:
        self.info = info
        self.name = info.role
        self.transport = transport
        #: the last timeout or lost connection, until `check` finds the instrument answering again
        self.suspect: str | None = None

    # --- messages -----------------------------------------------------------------------------

    def write(self, command: str) -> None:
        """Send a command once (never repeated: its effect after a failure is unknown)."""
        try:
            self.transport.write(command)
        except (InstrumentTimeout, InstrumentConnectionError) as exc:
            self.suspect = str(exc)
            raise

    def _exchange(self, command: str) -> str:
        """One query and its answer; drivers behind a gateway override this."""
        return self.transport.query(command)

    def query(self, command: str) -> str:
        """Ask and read the answer; an idempotent query is asked again on a fresh connection."""
        attempts = 1 + (max(self.info.retries, 0) if idempotent(command) else 0)
        for attempt in range(1, attempts + 1):
            try:
                with interrupts.shielded():
                    return self._exchange(command)
            except (InstrumentTimeout, InstrumentConnectionError) as exc:
                self.suspect = str(exc)
                if attempt == attempts:
                    if attempts == 1:
                        raise
                    raise type(exc)(self.name, command, f"{exc.detail} ({attempts} attempts)") from exc
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def query_float(self, command: str) -> float:
        answer = self.query(command)
        try:
            return float(answer.split(",")[0])
        except ValueError as exc:
            raise InstrumentError(self.name, command, f"expected a number, got {answer!r}") from exc

    def idn(self) -> str:
        return self.query("*IDN?")

    def check(self) -> str:
        """Whether the instrument answers *IDN?, reconnecting once if not; raises BenchUnusable.

        Run before a test when the instrument failed earlier: the test then starts on an
        instrument known to answer, or is reported as a bench error.
        """
        try:
            with interrupts.shielded():
                answer = self._exchange("*IDN?")
        except (InstrumentTimeout, InstrumentConnectionError) as first:
            try:
                self.transport.reconnect()
                with interrupts.shielded():
                    answer = self._exchange("*IDN?")
            except (InstrumentTimeout, InstrumentConnectionError) as second:
                self.suspect = str(second)
                raise BenchUnusable(
                    f"{self.name}: does not answer '*IDN?' ({first.detail}), nor after reconnecting "
                    f"({second.detail})"
                ) from second
        self.suspect = None
        return answer

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
            except (InstrumentTimeout, InstrumentConnectionError) as exc:
                # the whole unit is named: which of its commands took effect is unknown
                raise type(exc)(self.name, unit, f"{exc.detail} (at {exc.command!r})") from exc
        if problems:
            raise InstrumentError(self.name, unit, "; ".join(problems))

    def channel(self, terminal: str) -> str:
        """The instrument channel wired to a DUT terminal, per the station file."""
        try:
            return self.info.channels[terminal]
        except KeyError:
            raise InstrumentError(
                self.name, "-", f"no channel mapped to terminal {terminal!r} in the station file"
            ) from None

    def reset(self) -> None:
        """*RST and *CLS, then the station's slew limits again (*RST puts the defaults back)."""
        self.configure("*RST", "*CLS")
        self.program_slew()

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

    # --- safe state ---------------------------------------------------------------------------

    def safe(self) -> None:
        """Put outputs in their safe state (off); every role overrides this."""

    def output_state(self) -> dict[str, object]:
        """The outputs as read back from the instrument (queries only); roles with outputs override."""
        return {}

    def state_is_safe(self, state: Mapping[str, object]) -> bool:
        """Whether a read-back `output_state` is this role's safe state."""
        del state
        return True

    def close(self) -> None:
        self.transport.close()
