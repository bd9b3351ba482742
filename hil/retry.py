"""The fault policy of every request/answer link: a read is asked again, a write is sent once.

A read that got no usable answer (a timeout, a lost connection, a garbled frame) changes nothing
on the other side, so it may be repeated. A write whose answer was lost may or may not have taken
effect: repeating it could apply it twice, so it is never re-sent; the caller decides (read the
value back, or report the write as unconfirmed). Instrument drivers and DUT clients share this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often a read is asked again after a lost answer (`retries`); writes: never."""

    retries: int = 2

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError(f"retries must be >= 0, got {self.retries}")

    def attempts(self, read: bool) -> int:
        """How many times a request is sent at most: 1 + retries for a read, 1 for a write."""
        return 1 + self.retries if read else 1

    def call(
        self,
        request: Callable[[], T],
        *,
        read: bool,
        lost: tuple[type[Exception], ...],
        retrying: Callable[[int, int], None] | None = None,
    ) -> T:
        """Run `request`; while it raises one of `lost`, run it again if it is a read and attempts remain.

        `retrying(attempt, attempts)` is told before each repeat (attempt counts from 1, so the
        first repeat is attempt 2). The last `lost` error propagates unchanged; any other error
        (the other side answered, and refused) propagates at once.
        """
        attempts = self.attempts(read)
        for attempt in range(1, attempts + 1):
            if attempt > 1 and retrying is not None:
                retrying(attempt, attempts)
            try:
                return request()
            except lost:
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
