"""A throwaway PostgreSQL server from the machine's Debian packages, for the tests and the bench.

Started on a temporary data directory, on a free loopback port (and a unix socket in that
directory), as a non-root user (initdb refuses root: as root the server runs as the Debian
`postgres` user), with trust authentication for its one user `hil`. PostgreSQL missing raises
RuntimeError naming the fix.
"""

from __future__ import annotations

import itertools
import os
import pwd
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

SETUP_HINT = "run scripts/setup-test-system (it installs the Debian package postgresql)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server; `database()` makes a fresh empty database and returns its URL."""

    bindir: Path
    datadir: Path
    port: int
    user: str
    as_user: list[str]  # command prefix that runs a program as the server's OS user
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def admin_dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres"

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def database(self) -> str:
        name = f"hil_test_{next(self._names)}"
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(
            [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"],
            capture_output=True,
            check=False,
            timeout=60,
        )


def _bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[4]))
    if not found:
        raise RuntimeError(f"PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): {SETUP_HINT}")
    return found[-1].parent


def start_postgres() -> tuple[PostgresServer, Path]:
    """Start a server in a new temporary directory; the server and the directory (to remove)."""
    bindir = _bindir()
    base = Path(tempfile.mkdtemp(prefix="hil-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError(f"no 'postgres' user to run the server as: {SETUP_HINT}") from None
        os.chown(base, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    datadir = base / "data"
    run = [*as_user, str(bindir / "initdb"), "-D", str(datadir), "-U", "hil", "-A", "trust", "--no-sync"]
    init = subprocess.run([*run, "-E", "UTF8", "--no-locale"], capture_output=True, text=True, timeout=120)
    if init.returncode != 0:
        raise RuntimeError(f"initdb failed: {init.stderr.strip() or init.stdout.strip()}")
    port = _free_port()
    options = f"-h 127.0.0.1 -p {port} -k {base} -F -c max_connections=50"
    pg_ctl = [*as_user, str(bindir / "pg_ctl"), "-D", str(datadir), "-l", str(base / "server.log")]
    start = subprocess.run(
        [*pg_ctl, "-o", options, "-w", "-t", "60", "start"],
        capture_output=True,
        text=True,
        timeout=90,
    )
    server = PostgresServer(bindir, datadir, port, "hil", as_user)
    if start.returncode != 0:
        log = (base / "server.log").read_text(errors="replace") if (base / "server.log").exists() else ""
        server.stop()
        raise RuntimeError(f"PostgreSQL did not start: {start.stderr.strip()} {log[-2000:]}")
    return server, base
