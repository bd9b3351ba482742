"""Local locks of one machine: a bench (each of its endpoints) and an out folder, one run at a time.

Without a labgrid coordinator nothing else stops two runs from driving the same instruments or
writing into the same folder. Each lock is an `fcntl.flock` on a file in the lock directory
($HIL_LOCK_DIR, else $XDG_RUNTIME_DIR/hil-locks, else /tmp/hil-locks): the kernel drops it when
the process ends, however it ends, so a crashed run never leaves a bench locked. The file holds
who took it (pid, host, start time, command) for the refusal message.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import os
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from pydantic import BaseModel, ValidationError

from hil.errors import UsageError
from hil.station.model import StationModel


class BusyError(UsageError):
    """A bench, an out folder or a labgrid place is held by another run (exit 2)."""


class LockHolder(BaseModel):
    """What a lock file says about the run holding it."""

    pid: int
    host: str
    started: str
    command: str = ""

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, since {self.started}"


def lock_dir() -> Path:
    """Where the lock files live; shared by every user of the machine."""
    if os.environ.get("HIL_LOCK_DIR"):
        return Path(os.environ["HIL_LOCK_DIR"])
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return Path(runtime) / "hil-locks" if runtime else Path("/tmp/hil-locks")


def _holder_now() -> LockHolder:
    started = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return LockHolder(pid=os.getpid(), host=socket.gethostname(), started=started, command=" ".join(sys.argv))


def _read_holder(handle: IO[str]) -> str:
    handle.seek(0)
    try:
        return LockHolder.model_validate_json(handle.read()).describe()
    except (ValidationError, ValueError):
        return "a run that is just starting"


@dataclass
class HeldLocks:
    """Locks taken together and released together (closing a file releases its flock)."""

    files: list[IO[str]] = field(default_factory=list)

    def release(self) -> None:
        for handle in self.files:
            with contextlib.suppress(OSError):
                handle.close()
        self.files.clear()


def _take(path: Path, what: str, held: HeldLocks) -> None:
    """Lock `path` (a lock file) without waiting; BusyError naming `what` and the holder if taken."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # every user of the machine locks in the same folder
        path.parent.chmod(0o1777)
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_holder(handle)
        handle.close()
        raise BusyError(f"{what} is in use by another run ({holder})") from None
    except BaseException:
        handle.close()
        raise
    handle.seek(0)
    handle.truncate()
    handle.write(_holder_now().model_dump_json())
    handle.flush()
    held.files.append(handle)


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def station_endpoints(station: StationModel) -> list[str]:
    """The endpoints that make up the bench, normalised; empty for a simulated lab the run starts itself.

    A simulated station that attaches to a running lab is that lab (its control port).
    """
    if station.simulated:
        attach = station.sim.attach if station.sim else None
        return [f"sim lab {attach}"] if attach else []
    found = [inst.resource.strip().lower() for inst in station.instruments.values()]
    can = station.buses.can
    if can is not None:
        where = f"{can.host}:{can.port}/" if can.interface == "socketcand" else ""
        found.append(f"can {can.interface} {where}{can.channel}".lower())
    if station.buses.rs485 is not None:
        found.append(f"serial {station.buses.rs485.url.strip()}")
    return sorted(set(found))


def _take_out(out: Path, held: HeldLocks) -> None:
    folder = out.resolve()
    _take(lock_dir() / f"out-{_key(str(folder))}.lock", f"out folder {folder}", held)


@contextlib.contextmanager
def out_folder_lock(out: Path) -> Iterator[None]:
    """Only the out folder's lock, for a block that writes into it before the run proper starts."""
    held = HeldLocks()
    try:
        _take_out(out, held)
        yield
    finally:
        held.release()


def hold_run_locks(station: StationModel, out: Path) -> HeldLocks:
    """The out folder's lock, then one lock per bench endpoint; BusyError (exit 2) if any is held."""
    held = HeldLocks()
    try:
        _take_out(out, held)
        for endpoint in station_endpoints(station):
            _take(
                lock_dir() / f"bench-{_key(endpoint)}.lock",
                f"station {station.name} ({endpoint})",
                held,
            )
    except BaseException:
        held.release()
        raise
    return held


@contextlib.contextmanager
def run_locks(station: StationModel, out: Path) -> Iterator[HeldLocks]:
    """`hold_run_locks` as a context manager (for callers such as `hil eol`)."""
    held = hold_run_locks(station, out)
    try:
        yield held
    finally:
        held.release()
