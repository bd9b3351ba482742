"""A role spread over several instruments, addressed by DUT terminal.

Real benches mix boxes: 448 cell channels are never one instrument, 128 thermistor inputs never
one decade bank. A `TerminalBank` collects every instrument of one role in the station file and
maps each DUT terminal to the driver whose `channels` name it, so a harness says "N03C07" and
never learns which box, or how many, stand behind it.

The bank is handed the instruments (anything that opens the drivers of a role, the station in a
run); it never imports the station.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar

from hil.errors import BenchError
from hil.instruments.roles import Role

T = TypeVar("T", bound=Role)


class Instruments(Protocol):
    """Where the drivers come from (the station): every instrument filling a role, opened."""

    def all_of(self, role: str, kind: type[T]) -> list[T]:
        """The drivers of every instrument of `role`, in station-file order, each checked to be a `kind`."""
        ...


class TerminalBank(Generic[T]):
    """Every instrument of `role` on the station, by the DUT terminals wired to it (its channel map)."""

    def __init__(self, instruments: Instruments, role: str, kind: type[T]) -> None:
        self.role = role
        self._by_terminal: dict[str, T] = {}
        self._instruments: dict[str, T] = {}
        for driver in instruments.all_of(role, kind):
            self._instruments[driver.name] = driver
            for terminal in driver.info.channels:
                if terminal in self._by_terminal:
                    raise BenchError(
                        f"terminal {terminal} is wired to two {role} instruments "
                        f"({self._by_terminal[terminal].name} and {driver.name})"
                    )
                self._by_terminal[terminal] = driver

    def __getitem__(self, terminal: str) -> T:
        try:
            return self._by_terminal[terminal]
        except KeyError:
            raise BenchError(f"no {self.role} instrument on this station is wired to {terminal}") from None

    def get(self, terminal: str) -> T | None:
        """The driver wired to `terminal`, None if none is."""
        return self._by_terminal.get(terminal)

    def __contains__(self, terminal: object) -> bool:
        return terminal in self._by_terminal

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_terminal)

    def __len__(self) -> int:
        return len(self._by_terminal)

    @property
    def instruments(self) -> list[T]:
        """The drivers, in station-file order."""
        return list(self._instruments.values())

    def grouped(self, terminals: list[str]) -> dict[str, tuple[T, list[str]]]:
        """The terminals sorted by the instrument they belong to (for one command per instrument)."""
        groups: dict[str, tuple[T, list[str]]] = {}
        for terminal in terminals:
            driver = self[terminal]
            groups.setdefault(driver.name, (driver, []))[1].append(terminal)
        return groups
