"""The base of every SCPI driver: command/query with the station's limits and error checking."""

from __future__ import annotations

from dataclasses import dataclass, field

from hil.errors import InstrumentError, LimitError
from hil.instruments.transport import Transport


def nrf(value: float) -> str:
    """A number as an SCPI <NRf> parameter: 6 significant digits, no trailing zeros."""
    return f"{value:.6g}"


@dataclass(frozen=True)
class Limits:
    """Safe operating limits of one instrument on this station; None means no limit set."""

    voltage_max: float | None = None
    voltage_min: float | None = None
    current_max: float | None = None
    resistance_min: float | None = None
    resistance_max: float | None = None

    def check(self, instrument: str, quantity: str, value: float) -> None:
        """Refuse a setting beyond the limits before it leaves the computer."""
        low = getattr(self, f"{quantity}_min", None)
        high = getattr(self, f"{quantity}_max", None)
        if high is not None and value > high:
            raise LimitError(f"{instrument}: {quantity} {value:g} is above the station limit {high:g}")
        if low is not None and value < low:
            raise LimitError(f"{instrument}: {quantity} {value:g} is below the station limit {low:g}")


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


class ScpiInstrument:
    """A driver speaking one instrument's SCPI dialect over a Transport."""

    #: the programming manual this driver follows (model, document, revision)
    MANUAL: str = ""

    def __init__(self, info: InstrumentInfo, transport: Transport) -> None:
        self.info = info
        self.name = info.role
        self.transport = transport

    def write(self, command: str) -> None:
        self.transport.write(command)

    def query(self, command: str) -> str:
        return self.transport.query(command)

    def query_float(self, command: str) -> float:
        answer = self.query(command)
        try:
            return float(answer.split(",")[0])
        except ValueError as exc:
            raise InstrumentError(self.name, command, f"expected a number, got {answer!r}") from exc

    def idn(self) -> str:
        return self.query("*IDN?")

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
        """Send configuration commands, then check the error queue; raise if anything failed."""
        for command in commands:
            self.write(command)
        problems = self.errors()
        if problems:
            raise InstrumentError(self.name, "; ".join(commands), "; ".join(problems))

    def channel(self, terminal: str) -> str:
        """The instrument channel wired to a DUT terminal, per the station file."""
        try:
            return self.info.channels[terminal]
        except KeyError:
            raise InstrumentError(
                self.name, "-", f"no channel mapped to terminal {terminal!r} in the station file"
            ) from None

    def reset(self) -> None:
        self.configure("*RST", "*CLS")

    def safe(self) -> None:
        """Put outputs in their safe state (off); every role overrides this."""

    def close(self) -> None:
        self.transport.close()
