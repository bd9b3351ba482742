"""The session's PostgreSQL server for the database tests (hil.db.pgtemp): a test error, never a
skip, when it cannot start."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from hil.db.pgtemp import PostgresServer, start_postgres

__all__ = ["PostgresServer", "postgres_server"]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole session."""
    server, base = start_postgres()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
