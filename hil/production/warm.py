"""A socket's warm process: hil and its heavy libraries imported once, then one forked child per unit.

A fresh `python -m hil run` per unit spends most of its start-up importing (pytest, SQLAlchemy,
cantools, numpy, pyvisa, hil); four sockets starting units at once on a small PC contend for that
CPU. The warm process imports them once per socket and forks each unit's run from that state. The
child does what `hil run` does in a process of its own: its own session, stdout/stderr to the unit's
log, the runner's environment, `hil run`'s exit code. The plan's modules (`fixtures.*`,
`testplans.*`, `hil.progress`) are never imported here: pytest rewrites their asserts in the child.

Protocol (JSON lines): the runner writes `{"argv", "env", "cwd", "log"}` on the warm process's stdin;
the warm process says `{"ready": true}` once it has imported, then `{"pid"}` once a child runs and
`{"pid", "code"}` when it has ended (`code` as `Popen.returncode`: negative for a signal). EOF on
stdin ends the warm process.

    python -m hil.production.warm [--dut FAMILY]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import os
import pkgutil
import random
import select
import signal
import subprocess
import sys
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

#: imported once by the warm process: what every `hil run` of a unit imports before its first test.
#: Never a module pytest must load itself (plugins given with -p, conftest files, test modules).
WARM_MODULES = (
    "pytest",
    "numpy",
    "yaml",
    "pydantic",
    "cantools",
    "can",
    "serial",
    "pyvisa",
    "pyvisa_py",
    "sqlalchemy",
    "allure_commons",
    "pygments.lexers.python",
    "pygments.formatters.terminal",
    "jinja2",
    "pdb",
    "statistics",
    "tomllib",
    "urllib.request",
    "can.interfaces.socketcand",
    "serial.urlhandler.protocol_socket",
    "sqlalchemy.dialects.sqlite.pysqlite",
    "pydantic.root_model",
    "faulthandler",
    "encodings.idna",
    "_pytest._argcomplete",
    "hil.cli",
    "hil.runopts",
    "hil.record",
    "hil.bench",
    "hil.eol",
    "hil.procedures",
    "hil.sim.client",
    "hil.station.check",
    "hil.station.station",
    "hil.station.commands",
    "hil.instruments.drivers",
    "hil.spec",
    "hil.spec_overlay",
    "hil.uncertainty",
    "hil.identity",
    "hil.interrupts",
    "hil.locks",
    "hil.diskspace",
    "hil.db.store",
    "hil.db.hook",
    "hil.report",
    "hil.report.junit",
    "hil.report.allure",
    "hil.report.document",
    "hil.report.prefetch",
    "hil.procedures.placement",
    "hil.procedures.timing",
    "hil.station.identity",
    "hil.models.ocv",
)
#: never imported before the child's pytest.main: pytest loads (and rewrites) them itself
NOT_WARM = ("fixtures", "testplans", "conftest", "hil.progress")

#: how long a stopped unit whose warm process died may take to seal its record before SIGKILL
ORPHAN_TIMEOUT_S = 60.0


def warm_up(dut: str | None) -> None:
    """Import what a unit's run imports, the DUT family's client and bench included."""
    for name in WARM_MODULES:
        importlib.import_module(name)
    import hil.instruments.drivers as drivers
    from hil.cli import build_parser

    build_parser()  # the families' entries and the sub-commands' modules, as `hil run` parses its line
    for driver in pkgutil.iter_modules(drivers.__path__, f"{drivers.__name__}."):
        importlib.import_module(driver.name)  # the station's instruments, whichever the line has
    import _pytest.config

    for plugin in _pytest.config.default_plugins:  # pytest's built-in plugins, loaded by every run
        importlib.import_module(f"_pytest.{plugin}")
    from hil import registry

    for name in registry.DUTS:  # a run looks every family up (the station names one)
        with contextlib.suppress(Exception):  # a broken family fails in the unit's own run, not here
            family = registry.DUTS[name]
            if name == dut:
                for what in ("config", "client", "bench"):
                    family.load(what)
    bad = [m for m in sys.modules if m.split(".")[0] in NOT_WARM or m in NOT_WARM]
    if bad:  # pytest would warn (and not rewrite) in every unit
        raise RuntimeError(f"warm process imported {bad[0]}, which pytest must import itself")


def serve(requests: IO[str], replies: IO[str]) -> dict[str, Any] | None:
    """Fork one child per request until EOF; in the child, return its request (the parent returns None)."""
    for line in requests:
        if not line.strip():
            continue
        request: dict[str, Any] = json.loads(line)
        if threading.active_count() != 1:  # a fork with threads could inherit a held lock
            raise RuntimeError(f"warm process has {threading.active_count()} threads; it must have one")
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            return request
        replies.write(json.dumps({"pid": pid}) + "\n")
        replies.flush()
        _, status = os.waitpid(pid, 0)
        replies.write(json.dumps({"pid": pid, "code": os.waitstatus_to_exitcode(status)}) + "\n")
        replies.flush()
    return None


def become_unit(request: dict[str, Any], private: tuple[IO[str], ...]) -> list[str]:
    """In the forked child: what a fresh `hil run` process would have; its argv returned."""
    os.setsid()  # Ctrl-C in a terminal reaches the panel, which forwards it once (as a fresh child)
    for pipe in private:  # the runner must see EOF when the warm process dies, not when units end
        pipe.close()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    random.seed()  # a fork copies the generator's state: every unit would draw the same numbers
    if "numpy" in sys.modules:
        import numpy

        numpy.random.seed()
    argv: list[str] = list(request["argv"])
    sys.argv = [str(Path(__file__).resolve().parents[1] / "__main__.py"), *argv]
    return argv


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dut", help="the DUT family whose client and bench to import once")
    args = parser.parse_args()
    # the protocol gets fds of its own; 0 and 1 become /dev/null and stderr for whatever prints
    fd_in, fd_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    warm_up(args.dut)
    gc.freeze()  # what is imported stays shared with the children: their collector never walks it
    requests, replies = os.fdopen(fd_in, "r"), os.fdopen(fd_out, "w")
    replies.write(json.dumps({"ready": True}) + "\n")
    replies.flush()
    request = serve(requests, replies)
    if request is None:
        return 0
    argv = become_unit(request, (requests, replies))
    try:
        from hil.cli import main as hil_main

        return hil_main(argv)
    except SystemExit as exc:  # as `python -m hil` would end
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
        return 1


@dataclass
class UnitProcess:
    """A unit's run forked by a warm process, handled like `subprocess.Popen` by the socket runner."""

    pid: int
    server: WarmProcess
    returncode: int | None = None
    #: why the unit could not be judged when its warm process died (a bench error)
    error: str = ""
    done: threading.Event = field(default_factory=threading.Event)

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self.done.wait(timeout):
            raise subprocess.TimeoutExpired(f"unit pid {self.pid}", timeout or 0.0)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None and self.pid > 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def _end(self, code: int, error: str = "") -> None:
        self.returncode, self.error = code, error
        self.done.set()


class WarmProcess:
    """The runner's side of one socket's warm process: start it, hand it units, notice its death."""

    def __init__(self, dut: str | None, log: Path | None = None) -> None:
        cmd = [sys.executable, "-m", "hil.production.warm"] + (["--dut", dut] if dut else [])
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
        self._log = log.open("ab") if log else None
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log if self._log else subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C in the terminal goes to the panel, not here
        )
        self.unit: UnitProcess | None = None
        self._lock = threading.Lock()
        self._started = threading.Event()
        self._ready = threading.Event()  # imported (or dead)
        self._reader = threading.Thread(target=self._read, name="warm-reader", daemon=True)
        self._reader.start()

    def wait_ready(self, timeout_s: float) -> bool:
        """Wait until the warm process has imported; False if it died or took longer."""
        return self._ready.wait(timeout_s) and self.alive()

    def alive(self) -> bool:
        return self.proc.poll() is None and self._reader.is_alive()

    def run(self, argv: list[str], env: dict[str, str], log: Path, timeout_s: float = 120.0) -> UnitProcess:
        """Fork the unit's `hil run` with `argv`; raise RuntimeError if the warm process cannot."""
        request = {"argv": argv, "env": env, "cwd": str(Path.cwd()), "log": str(log)}
        assert self.proc.stdin is not None
        with self._lock:
            if self.unit is not None and self.unit.returncode is None:
                raise RuntimeError("the warm process is still running a unit")
            self.unit = None
            self._started.clear()
        if not self._reader.is_alive():
            raise RuntimeError(f"the socket's warm process is gone ({self._why()})")
        try:
            self.proc.stdin.write(json.dumps(request).encode() + b"\n")
            self.proc.stdin.flush()
        except OSError as exc:
            raise RuntimeError(f"the socket's warm process is gone ({exc.strerror})") from None
        # it is importing on a first unit: wait for the child, or for its death
        if not self._started.wait(timeout_s) or self.unit is None:
            self.close()
            raise RuntimeError(f"the socket's warm process did not start the unit ({self._why()})")
        return self.unit

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            reply = json.loads(line)
            with self._lock:
                if "ready" in reply:
                    self._ready.set()
                elif "code" in reply:
                    if self.unit is not None and self.unit.pid == reply["pid"]:
                        self.unit._end(int(reply["code"]))
                else:
                    self.unit = UnitProcess(int(reply["pid"]), self)
                    self._started.set()
        self._started.set()  # EOF: the warm process has ended; a unit it was running is orphaned
        self._ready.set()
        with self._lock:
            unit = self.unit
        if unit is not None and unit.returncode is None:
            self._orphaned(unit)

    def _orphaned(self, unit: UnitProcess) -> None:
        """The warm process died under a unit: stop the unit the SIGTERM way, then a bench error."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(unit.pid, signal.SIGTERM)  # safe state, record sealed as interrupted
        if not _exited(unit.pid, ORPHAN_TIMEOUT_S):
            with contextlib.suppress(ProcessLookupError):
                os.kill(unit.pid, signal.SIGKILL)
        unit._end(3, f"the socket's warm process ended during the unit ({self._why()}); unit stopped")

    def _why(self) -> str:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(2.0)
        code = self.proc.returncode
        if code is None:
            return "no answer"
        return f"signal {-code}" if code < 0 else f"exit code {code}"

    def close(self) -> None:
        """EOF to the warm process: it ends after its current unit (which is not waited for here)."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        if self.unit is None or self.unit.returncode is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5.0)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()


def _exited(pid: int, timeout_s: float) -> bool:
    """Wait until the process has ended (a zombie counts: an orphan's parent may not reap it at once)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:  # a pidfd reads ready once the process has ended
        return bool(select.select([fd], [], [], timeout_s)[0])
    finally:
        os.close(fd)


if __name__ == "__main__":
    sys.exit(main())
