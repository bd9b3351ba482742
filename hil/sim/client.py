"""Client side of the simulated lab: start it as a process, talk to its control port, own its clock."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

from hil.errors import SimError

START_TIMEOUT_S = 60.0


class ControlClient:
    """JSON-lines requests to the lab's control port."""

    def __init__(self, url: str, timeout_s: float = 120.0) -> None:
        host, _, port = url.removeprefix("tcp://").rpartition(":")
        self._sock = socket.create_connection((host, int(port)), timeout=timeout_s)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._file = self._sock.makefile("rwb")

    def request(self, cmd: str, **params: Any) -> dict[str, Any]:
        self._file.write(json.dumps({"cmd": cmd, **params}).encode() + b"\n")
        self._file.flush()
        line = self._file.readline()
        if not line:
            raise SimError("the simulated lab closed its control connection")
        reply: dict[str, Any] = json.loads(line)
        if not reply.get("ok"):
            raise SimError(f"simulated lab refused {cmd!r}: {reply.get('error')}")
        return reply

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
            self._sock.close()


class SimProcess:
    """`hil sim serve` as a child process with virtual time and ephemeral ports."""

    def __init__(
        self,
        station_file: Path,
        firmware_file: Path | None = None,
        seed: int | None = None,
        log_file: Path | None = None,
        paced: bool = False,
    ) -> None:
        cmd = [sys.executable, "-m", "hil", "sim", "serve", "--station", str(station_file)]
        if os.environ.get("HIL_LAB_PROFILE"):  # a developer's aid: the lab's cProfile statistics to this file
            cmd[1:1] = ["-m", "cProfile", "-o", os.environ["HIL_LAB_PROFILE"]]
        cmd += ["--ephemeral-ports", "--exit-with-stdin"]
        if not paced:
            cmd.append("--no-pace")
        if firmware_file is not None:
            cmd += ["--dut-config", str(firmware_file)]
        if seed is not None:
            cmd += ["--seed", str(seed)]
        self._log: IO[bytes] | int = log_file.open("ab") if log_file else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,  # the lab stops when this pipe closes, even if we are killed
            stdout=subprocess.PIPE,
            stderr=self._log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # a Ctrl-C in the terminal reaches the test run, which stops the lab
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait(10)
            raise SimError(f"the simulated lab did not start (exit code {code}); see {log_file}")
        self.endpoints: dict[str, Any] = json.loads(line)
        self.control = ControlClient(self.endpoints["control"])

    def stop(self) -> None:
        """Stop the lab (SIGTERM, then SIGKILL if it does not go)."""
        self.control.close()
        if self.proc.stdin:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()  # the lab stops on EOF
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout:
            self.proc.stdout.close()
        if not isinstance(self._log, int):
            self._log.close()
