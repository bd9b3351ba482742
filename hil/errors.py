"""The framework's exception hierarchy: catch what you can handle, let the rest name itself."""

from __future__ import annotations

import signal


class HilError(Exception):
    """Base of every error the framework raises on purpose."""


class ConfigError(HilError):
    """A file given by the user is malformed: names the file, the field and what was expected."""

    def __init__(
        self, file: str, field: str, expected: str, more: list[tuple[str, str]] | None = None
    ) -> None:
        self.file = file
        self.field = field
        self.expected = expected
        #: further problems of the same file, (field, expected) each: every one is listed
        self.more = list(more or [])
        super().__init__(f"{file}: {field}: {expected}")

    def lines(self) -> list[str]:
        """One line per problem, as the command line prints them."""
        return [problem_line(self.file, f, e) for f, e in [(self.field, self.expected), *self.more]]


def problem_line(file: str, field: str, expected: str) -> str:
    """`error: FILE: field 'F': expected E`; a problem of the whole file (field "-") names no field."""
    if field == "-":
        return f"error: {file}: expected {expected}"
    return f"error: {file}: field '{field}': expected {expected}"


class UsageError(HilError):
    """The command line asks for something that does not exist (unknown DUT, station name...)."""


class BenchError(HilError):
    """A problem of the bench, not of the DUT: the test is an error, not a failure."""


class InstrumentError(BenchError):
    """An instrument refused a command or reported an error in its error queue."""

    def __init__(self, instrument: str, command: str, detail: str) -> None:
        self.instrument = instrument
        self.command = command
        self.detail = detail
        super().__init__(f"{instrument}: {command!r}: {detail}")


class InstrumentTimeout(InstrumentError):
    """An instrument did not answer in time."""


class InstrumentConnectionError(InstrumentError):
    """The connection to an instrument could not be opened or was lost."""


class LimitError(BenchError):
    """A command would take an output beyond the station's safe operating limits; it was not sent."""


class DutError(HilError):
    """The DUT could not be talked to as expected."""


class DutTimeout(DutError):
    """The DUT did not answer."""


class DutNotAnswering(DutTimeout):
    """No valid answer to a command within its timeout, retries included: names command, address, wait."""

    def __init__(self, command: str, address: int, waited_s: float, attempts: int, detail: str = "") -> None:
        self.command = command
        self.address = address
        self.waited_s = waited_s
        self.attempts = attempts
        self.detail = detail
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        super().__init__(
            f"the DUT at address {address} gave no valid answer to {command} "
            f"(waited {waited_s:.2f} s over {tries}){': ' + detail if detail else ''}"
        )


class DutWriteUnconfirmed(DutError):
    """A write whose answer was lost, and reading back did not show the value written (not re-sent)."""

    def __init__(self, command: str, address: int, written: object, read_back: object) -> None:
        self.command = command
        self.address = address
        self.written = written
        self.read_back = read_back
        super().__init__(
            f"{command} to the DUT at address {address}: the answer was lost and reading back gives "
            f"{read_back!r}, not the {written!r} written; the write was not re-sent"
        )


class ProtocolError(DutError):
    """Bytes from the DUT do not form a valid frame of its protocol (bad checksum, length, field)."""


class SimError(HilError):
    """The simulated lab could not be started or refused a control command."""


class BenchUnusable(BenchError):
    """An instrument failed its check before a test, also after one reconnect: the run stops."""


class RunInterrupted(KeyboardInterrupt):
    """A signal (SIGINT, SIGTERM, SIGHUP) stopped the run; it takes the same path as Ctrl-C."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.name = signal.Signals(signum).name
        super().__init__(self.name)
