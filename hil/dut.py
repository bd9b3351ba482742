"""The DUT client role: what every DUT family's client offers the fixtures and reports.

The link log moved to `hil.link` and the bench base to `hil.bench`; their names are still importable
from here for plans written against the old module.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from hil.bench import DutBench
from hil.link import LinkEvent, LinkLog, LinkStats, link_findings

__all__ = ["DutBench", "DutClient", "LinkEvent", "LinkLog", "LinkStats", "link_findings"]


class DutClient(ABC):
    """Talks to the DUT over its own buses (CAN, RS-485, Modbus) with the family's codecs."""

    @abstractmethod
    def identity(self) -> dict[str, Any]:
        """What the DUT says it is: serial number, firmware and protocol versions, model."""

    @abstractmethod
    def close(self) -> None:
        """Release the buses."""

    def link_stats(self) -> LinkStats:
        """Counters of the client's own link (bad answers, retries, silences); empty by default."""
        return LinkStats(type(self).__name__)
