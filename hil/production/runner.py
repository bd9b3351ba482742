"""Units through the sockets of a line: one `hil run` child process per unit, sockets in parallel.

Each socket keeps a warm process (hil.production.warm) that has imported hil once and forks each
unit's `hil run` from there, so units starting at once on parallel sockets do not contend for the
CPU their imports would take; `warm=False` starts a fresh `python -m hil run` per unit instead.

Per socket: serial accepted (pattern, retest policy) → fixture loaded and closed → running (the
child's progress and questions come through the panel) → PASS / FAIL / STOPPED / ERROR with the
ticket and label in the run folder → next unit. Stop sends SIGINT to the child: the same way out
as Ctrl-C (safe state, record sealed as interrupted, exit 130).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hil.production.history import RecordHistory, UnitHistory, read_summary
from hil.production.line import LineModel, SocketModel, check_serial, resolve
from hil.production.ticket import UnitResult, write_label, write_ticket
from hil.production.warm import UnitProcess, WarmProcess

#: the panel answers a child's question with this when the unit was stopped
CANCELLED = "\x18cancelled"


@dataclass
class Prompt:
    """A question from test code to the operator, waiting for the panel's answer."""

    id: int
    kind: str  # confirm | ask
    text: str
    answer: str | None = None
    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class Unit:
    """One unit on a socket, from its accepted serial to its verdict."""

    serial: str
    operator: str
    note: str = ""  # e.g. "already passed on ...: retest 1 of 2"
    profile: str = "eol"
    sampling: str | None = None
    folder: Path | None = None
    proc: subprocess.Popen[bytes] | UnitProcess | None = None
    started: float = 0.0
    ended: float | None = None
    test: str = ""
    index: int = 0
    total: int = 0
    verdict: str = ""  # PASS FAIL STOPPED ERROR
    failed: list[str] = field(default_factory=list)
    message: str = ""
    stopping: bool = False
    exit_code: int | None = None
    finisher: threading.Thread | None = None  # writes the ticket and label once the run has ended


class LotCounter:
    """Units of the lot started on this line (the folder's earlier ones included): audit every Nth."""

    def __init__(self, start: int) -> None:
        self._n = start
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            self._n += 1
            return self._n


class SocketRunner:
    """One socket: its state machine and its current unit."""

    def __init__(
        self,
        line: LineModel,
        line_dir: Path,
        sock: SocketModel,
        out: Path,
        history: UnitHistory,
        lot: LotCounter,
        panel_url: str = "",
        warm: bool = True,
    ) -> None:
        self.line, self.line_dir, self.sock, self.out = line, line_dir, sock, out
        self.history, self.lot = history, lot
        self.panel_url = panel_url
        self.warm = warm  # units forked by this socket's warm process, else a fresh process each
        self._warm: WarmProcess | None = None
        self.state = "idle"  # idle | loaded | running | done
        self.unit: Unit | None = None
        self.message = ""  # why the last serial was refused
        self.prompt: Prompt | None = None
        self._prompt_ids = 0
        self._lock = threading.RLock()
        self.busy_serials: set[str] | None = None  # shared by the line: serials on some socket now

    @property
    def name(self) -> str:
        return self.sock.name

    # --- operator actions -------------------------------------------------------------------
    def submit_serial(self, serial: str, operator: str) -> str | None:
        """Accept a serial for the next unit, or say why not (nothing is started either way)."""
        serial = serial.strip()
        with self._lock:
            if self.state not in ("idle", "done"):
                return self._refuse(f"socket {self.name} is busy")
            if not operator:
                return self._refuse("sign in first")
            why = check_serial(self.line.dut, serial)
            if why is None and self.busy_serials is not None and serial in self.busy_serials:
                why = f"serial {serial} is on another socket now"
            if why is not None:
                return self._refuse(why)
            attempts = self.history.attempts(serial)
            if len(attempts) > self.line.max_retests:
                return self._refuse(
                    f"serial {serial} refused: {len(attempts)} attempt(s) already, the line allows "
                    f"{self.line.max_retests} retest(s) per serial"
                )
            note = ""
            passed = [a for a in attempts if a.status == "pass"]
            if passed:
                note = f"ALREADY PASSED on {passed[-1].started:%Y-%m-%d %H:%M} ({passed[-1].folder.name}). "
            if attempts:
                note += f"Retest {len(attempts)} of {self.line.max_retests}."
            self.message = ""
            self.unit = Unit(serial=serial, operator=operator, note=note)
            if self.busy_serials is not None:
                self.busy_serials.add(serial)
            self.state = "loaded"
            return None

    def _refuse(self, why: str) -> str:
        self.message = why
        return why

    def start(self) -> str | None:
        """The fixture is loaded and closed: start the unit's run."""
        with self._lock:
            if self.state != "loaded" or self.unit is None:
                return f"socket {self.name}: no unit loaded"
            unit = self.unit
            self.choose_profile(unit)
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            safe_serial = re.sub(r"[^A-Za-z0-9._-]", "_", unit.serial)
            folder = self.out / f"{stamp}-{self.name}-{safe_serial}"
            k = 1
            while folder.exists():
                k += 1
                folder = self.out / f"{stamp}-{self.name}-{safe_serial}-{k}"
            folder.mkdir(parents=True)
            unit.folder = folder
            env = dict(os.environ, HIL_PANEL_URL=self.panel_url, HIL_PANEL_SOCKET=self.name)
            unit.started = time.monotonic()
            if self.warm:
                unit.proc = self._fork(self.command(unit, folder)[3:], env, folder / "hil-run.log")
            else:
                with (folder / "hil-run.log").open("wb") as log:
                    unit.proc = subprocess.Popen(
                        self.command(unit, folder),
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=log,
                        env=env,
                        start_new_session=True,  # Ctrl-C reaches the panel, which forwards it once
                    )
            self.state = "running"
            return None

    def warm_up(self) -> None:
        """Start the socket's warm process (it imports while the operator loads the fixture)."""
        if self.warm and (self._warm is None or not self._warm.alive()):
            if self._warm is not None:
                self._warm.close()
            self._warm = WarmProcess(self.line.dut, self.out / f"warm-{self.name}.log")

    def ready(self, timeout_s: float) -> bool:
        """True once the warm process has imported (at once without one); False if it died."""
        return self._warm is None or self._warm.wait_ready(timeout_s)

    def _fork(self, argv: list[str], env: dict[str, str], log: Path) -> UnitProcess:
        """The unit's run forked by the warm process; its death is the unit's bench error (exit 3)."""
        self.warm_up()
        assert self._warm is not None
        try:
            return self._warm.run(argv, env, log)
        except RuntimeError as exc:
            gone = UnitProcess(0, self._warm)
            gone._end(3, str(exc))
            return gone

    def close(self) -> None:
        """End the warm process (after its current unit)."""
        if self._warm is not None:
            self._warm.close()
            self._warm = None

    def choose_profile(self, unit: Unit) -> None:
        """The line's profile, or the audit profile for every `audit_every`th unit of the lot."""
        n = self.lot.next()
        unit.profile, unit.sampling = self.line.profile, None
        if self.line.audit_every and n % self.line.audit_every == 0:
            unit.profile = "audit"
            what = f" ({self.line.audit_sampling})" if self.line.audit_sampling else ""
            unit.sampling = (
                f"audit: every {self.line.audit_every}th unit of lot {self.line.lot} (unit {n}){what}"
            )

    def command(self, unit: Unit, folder: Path) -> list[str]:
        """The unit's `hil run` command line."""
        cmd = [
            sys.executable,
            "-m",
            "hil",
            "run",
            "--station",
            str(resolve(self.line_dir, self.sock.station)),
        ]
        cmd += ["--profile", unit.profile, "--serial", unit.serial, "--operator", unit.operator]
        cmd += ["--socket", self.name, "--lot", self.line.lot, "--out", str(folder), "--reports", "junit"]
        if self.sock.firmware:
            cmd += ["--firmware", str(resolve(self.line_dir, self.sock.firmware))]
        if self.line.db:
            cmd += ["--db", self.line.db]
        if unit.sampling:
            cmd += ["--sampling", unit.sampling]
        return [*cmd, "--", *self.line.pytest_args, *self.sock.pytest_args]

    def stop(self) -> str | None:
        """Ctrl-C's way out for the running unit: SIGINT to its process."""
        with self._lock:
            unit = self.unit
            if self.state == "loaded" and unit is not None:  # not started: just unload
                self._release(unit)
                self.state, self.unit = "idle", None
                return None
            if self.state != "running" or unit is None or unit.proc is None:
                return f"socket {self.name}: nothing running"
            unit.stopping = True
            if unit.proc.poll() is None:
                unit.proc.send_signal(signal.SIGINT)
            if self.prompt is not None:
                self.prompt.answer = CANCELLED
                self.prompt.done.set()
            return None

    def next_unit(self) -> None:
        with self._lock:
            if self.state == "done":
                self.state, self.unit = "idle", None

    # --- the child's channel ----------------------------------------------------------------
    def progress(self, test: str, index: int, total: int) -> None:
        with self._lock:
            if self.unit is not None and self.state == "running":
                self.unit.test, self.unit.index, self.unit.total = test, index, total

    def ask(self, kind: str, text: str) -> str:
        """Show a question on the panel and wait for the operator (or CANCELLED when stopped)."""
        with self._lock:
            if self.state != "running" or (self.unit is not None and self.unit.stopping):
                return CANCELLED
            self._prompt_ids += 1
            prompt = self.prompt = Prompt(self._prompt_ids, kind, text)
        prompt.done.wait()
        with self._lock:
            if self.prompt is prompt:
                self.prompt = None
        return prompt.answer if prompt.answer is not None else CANCELLED

    def answer(self, prompt_id: int, answer: str) -> str | None:
        with self._lock:
            if self.prompt is None or self.prompt.id != prompt_id:
                return "no such question"
            self.prompt.answer = answer
            self.prompt.done.set()
            return None

    # --- the watcher ------------------------------------------------------------------------
    def poll(self) -> None:
        """Called periodically: finish the unit whose process has ended."""
        with self._lock:
            unit = self.unit
            if self.state != "running" or unit is None or unit.proc is None:
                return
            code = unit.proc.poll()
            if code is None or unit.finisher is not None:
                return
            # the ticket takes a few seconds to render: never hold the other sockets up
            unit.finisher = threading.Thread(target=self._finish, args=(unit, code), daemon=True)
            unit.finisher.start()

    def _finish(self, unit: Unit, code: int) -> None:
        assert unit.folder is not None
        summary = read_summary(unit.folder / "record.jsonl")
        if code == 0:
            verdict = "PASS"
        elif code == 1:
            verdict = "FAIL"
        elif code > 128 or code < 0 or unit.stopping:
            verdict = "STOPPED"
        else:
            verdict = "ERROR"
        failed = summary.failed_requirements
        message = ""
        if (
            verdict in ("PASS", "FAIL", "ERROR") and summary.bench_errors
        ):  # the bench's problem (hil run exits 3): the unit is not judged
            verdict, message = "ERROR", f"bench error: {summary.bench_errors[0]}"
        elif isinstance(unit.proc, UnitProcess) and unit.proc.error:
            verdict, message = "ERROR", f"bench error: {unit.proc.error}"
        elif verdict == "ERROR":
            message = _last_error(unit.folder / "hil-run.log") or f"hil run exit code {code}"
        elif verdict == "STOPPED":
            if summary.safe_state is None:
                message = "stopped before the bench was opened (no output was switched on)"
            else:
                safe = summary.safe_state.get("safe")
                message = "stopped; bench " + ("safe" if safe else "NOT confirmed safe: check it")
            message += (
                f"; record sealed as {summary.end.get('status')}" if summary.end else "; record not sealed"
            )
        ended = time.monotonic()
        result = UnitResult(
            serial=unit.serial,
            verdict=verdict,
            failed=failed,
            operator=unit.operator,
            socket=self.name,
            lot=self.line.lot,
            line=self.line.name,
            profile=unit.profile,
            duration_s=ended - unit.started,
            note=" ".join(x for x in (unit.note, message) if x),
        )
        try:
            if summary.header:
                write_ticket(unit.folder, result, summary)
            write_label(unit.folder, result, dt.date.today().isoformat())
        except Exception as exc:  # the verdict stands; say that the paperwork failed
            message = f"{message} (ticket/label not written: {type(exc).__name__}: {exc})".strip()
        with self._lock:
            unit.exit_code, unit.verdict, unit.failed, unit.message = code, verdict, failed, message
            unit.ended = ended
            self._release(unit)
            if self.prompt is not None:
                self.prompt.answer = CANCELLED
                self.prompt.done.set()
            self.state = "done"

    def _release(self, unit: Unit) -> None:
        if self.busy_serials is not None:
            self.busy_serials.discard(unit.serial)

    def snapshot(self) -> dict[str, Any]:
        """The socket as the panel shows it."""
        with self._lock:
            u = self.unit
            data: dict[str, Any] = {"name": self.name, "state": self.state, "message": self.message}
            if u is not None:
                now = u.ended if u.ended is not None else time.monotonic()
                data |= {
                    "serial": u.serial,
                    "note": u.note,
                    "profile": u.profile,
                    "sampling": u.sampling,
                    "test": u.test,
                    "index": u.index,
                    "total": u.total,
                    "elapsed_s": round(now - u.started, 1) if u.started else 0.0,
                    "verdict": u.verdict,
                    "failed": u.failed,
                    "unit_message": u.message,
                    "stopping": u.stopping,
                    "exit_code": u.exit_code,
                    "folder": str(u.folder) if u.folder else None,
                    "ticket": bool(u.folder and (u.folder / "eol-ticket.pdf").exists()),
                    "label": bool(u.folder and (u.folder / "label.zpl").exists()),
                }
            if self.prompt is not None:
                data["prompt"] = {"id": self.prompt.id, "kind": self.prompt.kind, "text": self.prompt.text}
            return data


def _last_error(log: Path) -> str:
    """The child's last `error:` line (hil run's one-line messages), else its last line."""
    try:
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    errors = [
        ln for ln in lines if ln.startswith(("error:", "ERROR", "Exit:")) or "is not the expected" in ln
    ]
    return (errors or lines or [""])[-1][:300]


class Line:
    """All sockets of a line, the signed-in operator and the watcher thread."""

    def __init__(
        self,
        line: LineModel,
        line_dir: Path,
        out: Path,
        history: UnitHistory | None = None,
        warm: bool = True,
    ) -> None:
        self.model, self.out = line, out
        self.operator = ""
        records = RecordHistory(out)
        self.history: UnitHistory = history or records
        counter = LotCounter(records.lot_units(line.lot))
        busy: set[str] = set()
        self.sockets = {
            s.name: SocketRunner(line, line_dir, s, out, self.history, counter, warm=warm)
            for s in line.sockets
        }
        for runner in self.sockets.values():
            runner.busy_serials = busy
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="line-watch", daemon=True)

    def set_panel_url(self, url: str) -> None:
        for runner in self.sockets.values():
            runner.panel_url = url

    def warm_up(self) -> None:
        """Start every socket's warm process, and import the ticket's PDF renderer once here (about
        a second the first unit's ticket would otherwise take while its socket waits)."""
        for runner in self.sockets.values():
            runner.warm_up()
        import weasyprint  # noqa: F401

    def start_watching(self) -> None:
        self.warm_up()
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.3):
            for runner in self.sockets.values():
                runner.poll()

    def running(self) -> bool:
        return any(r.state == "running" for r in self.sockets.values())

    def shutdown(self, timeout_s: float = 60.0) -> None:
        """Stop every running unit the Ctrl-C way and wait for their records to be sealed."""
        for runner in self.sockets.values():
            if runner.state == "running":
                runner.stop()
        deadline = time.monotonic() + timeout_s
        for runner in self.sockets.values():
            unit = runner.unit
            if unit is not None and unit.proc is not None and unit.proc.poll() is None:
                try:
                    unit.proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    unit.proc.kill()
            runner.poll()
            unit = runner.unit
            if unit is not None and unit.finisher is not None:
                unit.finisher.join(max(0.1, deadline - time.monotonic()))
            runner.close()
        self._stop.set()

    def snapshot(self) -> dict[str, Any]:
        m = self.model
        return {
            "line": m.name,
            "dut": m.dut,
            "lot": m.lot,
            "operator": self.operator,
            "cycle_time_s": m.cycle_time_s,
            "max_retests": m.max_retests,
            "sockets": [r.snapshot() for r in self.sockets.values()],
        }
