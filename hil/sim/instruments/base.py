"""Shared parts of simulated instruments: the SCPI engine, identity, seeded accuracy."""

from __future__ import annotations

import random

from hil.sim.scpi import ScpiEngine


class SimInstrument:
    """A simulated instrument: an SCPI engine plus the state its commands program.

    `channels` maps DUT terminal names to this instrument's channel strings, as in the station
    file, so the plant knows which channel is wired where.
    """

    #: vendor, model; serial and firmware are added per instance
    VENDOR = ""
    MODEL = ""
    FIRMWARE = "1.0"

    def __init__(self, role: str, channels: dict[str, str], seed: int = 0, serial: str = "") -> None:
        self.role = role
        self.channels = dict(channels)
        self.rng = random.Random(f"{role}:{seed}")
        self.serial = serial or f"SIM{abs(hash(role)) % 100000:05d}"
        self.engine = ScpiEngine(idn=f"{self.VENDOR},{self.MODEL},{self.serial},{self.FIRMWARE}")
        self.engine.add("*RST", lambda c: self.reset())
        self.reset()

    def reset(self) -> None:
        """Return to the power-on/*RST state; subclasses set their defaults here."""

    def execute(self, line: str) -> str | None:
        return self.engine.execute(line)

    def error_term(self, value: float, gain: float, offset: float) -> float:
        """A reading with a seeded error inside the instrument's accuracy (gain·|value| + offset)."""
        bound = gain * abs(value) + offset
        return value + self.rng.uniform(-0.5, 0.5) * bound

    def outputs(self) -> dict[str, object]:
        """Output states for the control port's safe-state check; subclasses report theirs."""
        return {}
