"""The DUT client role: what every DUT family's client offers the fixtures and reports."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any


class DutClient(ABC):
    """Talks to the DUT over its own buses (CAN, RS-485, Modbus) with the family's codecs."""

    @abstractmethod
    def identity(self) -> dict[str, Any]:
        """What the DUT says it is: serial number, firmware and protocol versions, model."""

    @abstractmethod
    def close(self) -> None:
        """Release the buses."""


class DutBench(ABC):
    """The DUT-specific half of the procedures: how this bench powers, stimulates and observes the DUT."""

    @abstractmethod
    def power_up(self) -> None:
        """Bring the DUT from a bench with every output off to running and answering."""

    @abstractmethod
    def prepare(self) -> Any:
        """Nominal conditions before a test: outputs idle, nothing active on the DUT."""
