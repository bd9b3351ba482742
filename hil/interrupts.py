"""Signals during a bench run: SIGINT, SIGTERM and SIGHUP all stop the run the way Ctrl-C does.

Each becomes a `RunInterrupted` (a KeyboardInterrupt), so pytest tears the fixtures down, the
outputs go to their safe state and the record is sealed as interrupted. Two places must never be
cut in half, because what follows relies on them: an instrument exchange (a query's answer left
unread would be taken as the answer to the next one) and a record entry (a half-written line
breaks the hash chain). They run `shielded()`: a signal arriving inside is held and raised when
the section ends. Once the run is stopping, further signals are noted and ignored until the
safe state has been reached; SIGKILL remains the way to end the process at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from threading import get_ident
from types import FrameType
from typing import Any

from hil.errors import RunInterrupted

#: the signals that end a run through the safe-state path
SIGNALS: tuple[signal.Signals, ...] = tuple(
    s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None
)

Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


@dataclass
class _State:
    installs: int = 0
    previous: dict[int, Handler] = field(default_factory=dict)
    depth: int = 0  # nesting of shielded sections in the main thread
    strict: int = 0  # of which strict (a second signal does not break them either)
    pending: int | None = None  # a signal held until the outermost shielded section ends
    stopping: bool = False  # a RunInterrupted was raised: the run is on its way to the safe state
    safe_done: bool = False  # the final safe state was reached: signals act again
    received: list[int] = field(default_factory=list)


_state = _State()


#: the main thread's id (signal handlers run there): read once, and again in a child process that
#: a fork made from another thread (there that thread is the main one); `shielded()` compares it on
#: every record entry and instrument exchange, where `threading.main_thread().ident` costs two calls
_main_ident: int | None = threading.main_thread().ident


def _after_fork() -> None:
    global _main_ident
    _main_ident = threading.main_thread().ident


os.register_at_fork(after_in_child=_after_fork)


def _in_main_thread() -> bool:
    return get_ident() == _main_ident


def _note(text: str) -> None:
    with contextlib.suppress(Exception):
        sys.stderr.write(f"hil: {text}\n")
        sys.stderr.flush()


def _handler(signum: int, frame: FrameType | None) -> None:
    del frame
    _state.received.append(signum)
    name = signal.Signals(signum).name
    if _state.stopping and not _state.safe_done:
        _note(f"{name} ignored: the run is stopping and the bench is being made safe")
        return
    if _state.depth > 0 and (_state.pending is None or _state.strict > 0):
        _state.pending = _state.pending or signum
        return
    # not shielded, or a second signal while an exchange is pending: stop now
    _state.pending = None
    _state.stopping = True
    raise RunInterrupted(signum)


def install() -> None:
    """Route SIGINT, SIGTERM and SIGHUP to `RunInterrupted` (nested calls are counted)."""
    if not _in_main_thread():
        return
    _state.installs += 1
    if _state.installs > 1:
        return
    _state.pending, _state.stopping, _state.safe_done = None, False, False
    _state.received.clear()
    for sig in SIGNALS:
        _state.previous[sig] = signal.signal(sig, _handler)


def uninstall() -> None:
    """Undo one `install`; the last one restores the handlers found before."""
    if not _in_main_thread() or _state.installs == 0:
        return
    _state.installs -= 1
    if _state.installs > 0:
        return
    for sig, previous in _state.previous.items():
        signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
    _state.previous.clear()


def installed() -> bool:
    return _state.installs > 0


def last_signal() -> int | None:
    """The last signal received since `install`, if any (for the exit code: 128 + signal)."""
    return _state.received[-1] if _state.received else None


def stopping() -> bool:
    """Whether a signal has stopped the run (it is tearing down)."""
    return _state.stopping


class _Shield:
    """The section `shielded()` returns (a class, not a generator: every record entry and every
    instrument exchange enters one, and a generator-based context manager costs several times more;
    its methods test the state inline, as they run for every one)."""

    __slots__ = ("active", "strict")

    def __init__(self, strict: bool) -> None:
        self.strict = 1 if strict else 0  # an int: adding a bool to an int is not specialised
        self.active = False

    def __enter__(self) -> None:
        if _state.installs == 0 or get_ident() != _main_ident:  # not installed, or not the main thread
            return
        self.active = True
        _state.depth += 1
        _state.strict += self.strict

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        if not self.active:
            return
        _state.depth -= 1
        _state.strict -= self.strict
        held = _state.pending
        if _state.depth == 0 and held is not None:
            _state.pending = None
            if not (_state.stopping and not _state.safe_done):
                _state.stopping = True
                raise RunInterrupted(held)


def shielded(strict: bool = False) -> _Shield:
    """Hold signals until the block ends (then raise the held one).

    A second signal breaks a non-strict block at once (an exchange that hangs must not keep
    the operator waiting twice); a strict block (a record entry) always completes.
    """
    return _Shield(strict)


@contextlib.contextmanager
def safe_state_section() -> Iterator[None]:
    """The final safe state: no signal interrupts it; one arriving meanwhile is noted, not raised."""
    if not _in_main_thread() or not installed():
        yield
        return
    _state.depth += 1
    _state.strict += 1
    try:
        yield
    finally:
        _state.depth -= 1
        _state.strict -= 1
        if _state.pending is not None:
            _note(f"{signal.Signals(_state.pending).name} received while making the bench safe; noted")
            _state.pending = None
        _state.safe_done = True
