"""Acquiring a labgrid place through a coordinator (gRPC, labgrid >= 25) and releasing it on every way out.

`acquired_place(name)` is the one entry point (`hil run --place`, `hil eol`): it refuses a place
held by someone else with one line (`BusyError`, exit 2), or waits for it; it yields the place's
resources as labgrid resource objects; it releases the place when the block ends, by an
exception, Ctrl-C or SIGTERM/SIGHUP too. The coordinator sees the holder as labgrid's
`host/user`. A process killed with SIGKILL cannot release: `labgrid-client -p NAME release`.

The run does not keep a coordinator session open: one session acquires, another releases, so
a long run does not depend on a gRPC stream staying healthy while no event loop is running.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import hil.labgrid.resources  # noqa: F401 (registers hil's resource classes with labgrid)
from hil.errors import RunInterrupted, UsageError
from hil.locks import BusyError

#: labgrid's default coordinator port
DEFAULT_PORT = 20408
#: how often a waiting client looks again (s); place changes are pushed meanwhile
WAIT_POLL_S = 1.0


def coordinator_address(given: str | None) -> str:
    """HOST:PORT of the coordinator: given, else $LG_COORDINATOR (as labgrid's tools), else local."""
    return given or os.environ.get("LG_COORDINATOR") or f"127.0.0.1:{DEFAULT_PORT}"


@dataclass
class Place:
    """An acquired place: its name, holder, tags and resources by name (labgrid resource objects)."""

    name: str
    coordinator: str
    holder: str
    tags: dict[str, str] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)


class _Session:
    """A labgrid client session, opened and closed around one exchange with the coordinator."""

    def __init__(self, address: str) -> None:
        from labgrid.remote.client import Error, start_session

        self.address = address
        logging.disable(logging.ERROR)  # labgrid logs a refused connection itself: one line is ours
        try:
            self.client: Any = start_session(address)
        except (Error, OSError) as exc:
            raise UsageError(f"no labgrid coordinator answers at {address} ({exc})") from None
        finally:
            logging.disable(logging.NOTSET)
        self.loop: asyncio.AbstractEventLoop = self.client.loop
        self.closed = False

    @property
    def me(self) -> str:
        return f"{self.client.gethostname()}/{self.client.getuser()}"

    def place(self, name: str) -> Any:
        found = self.client.places.get(name)
        if found is None:
            raise UsageError(f"no place {name!r} on the labgrid coordinator at {self.address}")
        return found

    def call(self, method: str, request: Any) -> str | None:
        """One coordinator request; None when it succeeded, else the coordinator's reason."""
        import grpc  # type: ignore[import-untyped]

        async def exchange() -> None:
            await getattr(self.client.stub, method)(request)
            await self.client.sync_with_coordinator()

        try:
            self.loop.run_until_complete(exchange())
        except grpc.aio.AioRpcError as exc:
            return str(exc.details())
        return None

    def pause(self, seconds: float) -> None:
        """Let the session receive the coordinator's updates for a while."""
        self.loop.run_until_complete(asyncio.sleep(seconds))

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            self.loop.run_until_complete(self.client.stop())
            self.loop.run_until_complete(self.client.close())


def _since(place: Any) -> str:
    changed = dt.datetime.fromtimestamp(float(place.changed), dt.UTC).replace(microsecond=0)
    return changed.isoformat().replace("+00:00", "Z")


def _acquire(session: _Session, name: str, wait: bool, on_wait: Callable[[str], None]) -> Any:
    from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

    waiting = False
    while True:
        place = session.place(name)
        reason = None
        if not place.acquired:
            reason = session.call("AcquirePlace", pb.AcquirePlaceRequest(placename=name))
            place = session.place(name)
            if reason is None and place.acquired == session.me:
                return place
        if place.acquired:
            busy = f"place {name} is held by {place.acquired} (since {_since(place)})"
        else:  # refused although free: a resource it matches belongs to another place held now
            shared = _held_elsewhere(session, place)
            if not shared:
                raise UsageError(f"place {name}: the coordinator refused it ({reason})")
            busy = f"place {name}: {shared}"
        if not wait:
            raise BusyError(f"{busy}; --wait to wait for it")
        if not waiting:
            on_wait(f"waiting, {busy}")
            waiting = True
        session.pause(WAIT_POLL_S)


def _held_elsewhere(session: _Session, place: Any) -> str:
    """Which resource of the place another held place has, and who holds that place ("" if none)."""
    for exporter, groups in sorted(session.client.resources.items()):
        for group_name, group in sorted(groups.items()):
            for resource_name, entry in sorted(group.items()):
                path = (exporter, group_name, entry.cls, resource_name)
                if entry.acquired and entry.acquired != place.name and place.getmatch(path) is not None:
                    other = session.client.places.get(entry.acquired)
                    who = f" by {other.acquired} (since {_since(other)})" if other and other.acquired else ""
                    return f"its resource {'/'.join(path)} is in place {entry.acquired}, held{who}"
    return ""


def _resources(session: _Session, place: Any) -> dict[str, Any]:
    from labgrid import Target
    from labgrid.factory import target_factory

    target = Target(place.name)
    found: dict[str, Any] = {}
    for (name, cls), entry in session.client.get_target_resources(place).items():
        if not entry.avail:
            raise UsageError(f"place {place.name}: resource {name} ({cls}) is not available")
        found[name] = target_factory.make_resource(target, cls, name, dict(entry.args))
    return found


def release(name: str, coordinator: str, holder: str) -> str | None:
    """Release the place if `holder` still holds it; None when done, else why it could not be."""
    from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

    try:
        session = _Session(coordinator)
    except UsageError as exc:
        return str(exc)
    try:
        return session.call("ReleasePlace", pb.ReleasePlaceRequest(placename=name, fromuser=holder))
    finally:
        session.close()


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise RunInterrupted(signum)


@contextlib.contextmanager
def _signals(handler: Any) -> Iterator[None]:
    """SIGTERM/SIGHUP (and SIGINT) handled by `handler` inside the block (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = [s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]
    previous = {s: signal.signal(s, handler) for s in sigs}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


@contextlib.contextmanager
def acquired_place(
    name: str,
    coordinator: str | None = None,
    wait: bool = False,
    on_wait: Callable[[str], None] = _stderr,
) -> Iterator[Place]:
    """Hold the place `name` for the block; released on every way out (signals end the block too)."""
    address = coordinator_address(coordinator)
    with _signals(_raise_interrupt):
        session = _Session(address)
        holder = session.me
        acquired = False
        try:
            raw = _acquire(session, name, wait, on_wait)
            acquired = True
            place = Place(name, address, holder, dict(raw.tags), _resources(session, raw))
            session.close()
            yield place
        finally:
            session.close()
            if acquired:
                with _signals(signal.SIG_IGN):  # the release is not cut short by a second signal
                    problem = release(name, address, holder)
                if problem is not None:
                    _stderr(
                        f"warning: place {name} could not be released ({problem}); "
                        f"release it with: labgrid-client -x {address} -p {name} release"
                    )
