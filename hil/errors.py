"""The framework's exception hierarchy: catch what you can handle, let the rest name itself."""

from __future__ import annotations


class HilError(Exception):
    """Base of every error the framework raises on purpose."""


class ConfigError(HilError):
    """A file given by the user is malformed: names the file, the field and what was expected."""

    def __init__(self, file: str, field: str, expected: str) -> None:
        self.file = file
        self.field = field
        self.expected = expected
        super().__init__(f"{file}: {field}: {expected}")


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


class ProtocolError(DutError):
    """Bytes from the DUT do not form a valid frame of its protocol (bad checksum, length, field)."""


class SimError(HilError):
    """The simulated lab could not be started or refused a control command."""
