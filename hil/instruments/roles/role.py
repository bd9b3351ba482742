"""What every role shares: its name on the station, what the station file says about it, its safe state.

A role says what an instrument can do for a BMS bench, never how it is reached: drivers fill a
role and speak a dialect over a transport (`hil.instruments.base`). Terminals are the DUT's names
(e.g. "CELL1", "T_CELL1", "PACK"); each driver maps them to its own channels through the station
file, so a plan never names an instrument channel.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

from hil.instruments.info import InstrumentInfo


class Role(ABC):
    """An instrument role: the station makes every role safe and reads its outputs back at the end."""

    #: the instrument's name in the station file
    name: str
    #: what the station file says about the instrument (channels, limits)
    info: InstrumentInfo

    @abstractmethod
    def safe(self) -> None:
        """Put outputs in their safe state."""

    @abstractmethod
    def output_state(self) -> dict[str, object]:
        """The outputs as read back from the instrument (queries only)."""

    @abstractmethod
    def state_is_safe(self, state: Mapping[str, object]) -> bool:
        """Whether a read-back `output_state` is this role's safe state."""
