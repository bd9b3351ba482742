"""Durability barrier: the record's pending entries reach the disk before the bench acts again.

The recorder flushes every entry to the operating system at once (a killed process loses nothing)
and makes it durable (fsync) in groups, at most a few ms later. A stimulus that follows a verdict
must not overtake it: instrument transports call `barrier()` before each command they send, which
makes every open record's pending entries durable first. Cheap when nothing is pending.
"""

from __future__ import annotations

from collections.abc import Callable

_syncers: dict[int, Callable[[], None]] = {}
#: set by a recorder when it has entries that are flushed but not yet fsync'ed
pending = False


def register(key: int, sync: Callable[[], None]) -> None:
    """Make `sync` part of the barrier (a recorder registers itself while it is open)."""
    _syncers[key] = sync


def unregister(key: int) -> None:
    _syncers.pop(key, None)


def barrier() -> None:
    """Make every open record's pending entries durable before returning."""
    global pending
    if not pending:
        return
    pending = False
    for sync in list(_syncers.values()):
        sync()
