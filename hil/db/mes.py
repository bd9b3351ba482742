"""Unit results to the MES over HTTP through an outbox table: nothing is lost while the MES is down.

A result is queued in the same transaction that inserts its run. `flush` POSTs the queued results
strictly in queue order, one at a time; the first failure stops the flush (a later result never
overtakes an earlier one) and sets the head's next try with exponential backoff. Each POST carries
the run id as `Idempotency-Key`, so a MES can drop a repeat (a reply lost after the MES took it).
Only one process flushes a database at a time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from hil.db.models import MesOutbox, Run
from hil.db.store import MES_URL_KEY, ResultsDB
from hil.db.summary import RunSummary

#: first retry after BACKOFF_S, doubling per failure, at most MAX_BACKOFF_S
BACKOFF_S = 2.0
MAX_BACKOFF_S = 300.0
TIMEOUT_S = 5.0
#: PostgreSQL advisory lock key held while one process flushes the outbox
FLUSH_LOCK = 0x68696C02


def payload(summary: RunSummary, attempt: int) -> dict[str, object]:
    """What the MES receives for one run: the unit, the verdict and where the evidence is."""
    data = summary.model_dump(mode="json", exclude={"measurements", "station"})
    data["station"] = summary.station.name
    data["attempt"] = attempt
    return data


def enqueue(session: Session, summary: RunSummary) -> None:
    """Queue a run's result (inside the transaction that inserts the run)."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    attempt = session.scalar(select(Run.attempt).where(Run.id == summary.run_id)) or 1
    body = json.dumps(payload(summary, attempt), sort_keys=True)
    session.add(MesOutbox(run_id=summary.run_id, payload=body, created=now, tries=0, next_try=now))


def backoff(tries: int) -> float:
    """Seconds to wait before the next try after `tries` failures."""
    return float(min(MAX_BACKOFF_S, BACKOFF_S * 2 ** max(0, tries - 1)))


@dataclass
class FlushResult:
    delivered: int
    pending: int
    error: str | None = None  # why the head of the queue is still there


def post(url: str, body: str, key: str, timeout: float = TIMEOUT_S) -> None:
    """POST one result; raises OSError (urllib's errors included) unless the MES answers 2xx."""
    request = urllib.request.Request(
        url,
        data=body.encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Idempotency-Key": key},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        if not 200 <= response.status < 300:
            raise OSError(f"HTTP {response.status}")


@contextlib.contextmanager
def _flush_lock(db: ResultsDB) -> Iterator[bool]:
    """True when this process may flush (no other is flushing the same database)."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as connection:
            got = bool(connection.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": FLUSH_LOCK}))
            connection.commit()
            try:
                yield got
            finally:
                if got:
                    connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": FLUSH_LOCK})
                    connection.commit()
        return
    database = db.engine.url.database
    if not database or database == ":memory:":
        yield True
        return
    with Path(database + ".mes-lock").open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def pending(db: ResultsDB) -> int:
    return sum(1 for row in db.outbox() if row.delivered is None)


def flush(
    db: ResultsDB, url: str | None = None, force: bool = False, now: dt.datetime | None = None
) -> FlushResult:
    """Deliver the queue in order until it is empty or the MES fails.

    `force` ignores the backoff (an operator asking for a flush now); `now` is for tests.
    """
    url = url or db.setting(MES_URL_KEY)
    if not url:
        return FlushResult(0, pending(db), "no MES endpoint configured (hil db mes --url URL)")
    delivered = 0
    with _flush_lock(db) as mine:
        if not mine:
            return FlushResult(0, pending(db), "another process is flushing the outbox")
        while True:
            moment = (now or dt.datetime.now(dt.UTC)).replace(tzinfo=None)
            with db.session() as session:
                head = session.scalar(
                    select(MesOutbox).where(MesOutbox.delivered.is_(None)).order_by(MesOutbox.id).limit(1)
                )
                if head is None:
                    return FlushResult(delivered, 0)
                due = force or head.next_try <= moment
                body, key, row_id, last_error = head.payload, head.run_id, head.id, head.last_error
            if not due:  # the head waits for its backoff; nothing may overtake it
                return FlushResult(delivered, pending(db), last_error)
            try:
                post(url, body, key)
                error = None
            except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts, refused, bad URL
                error = f"{type(exc).__name__}: {exc}"
            with db.session() as session:
                row = session.get(MesOutbox, row_id)
                assert row is not None
                if error is None:
                    row.delivered = moment
                    row.last_error = None
                    delivered += 1
                    continue
                row.tries += 1
                row.last_error = error
                row.next_try = moment + dt.timedelta(seconds=backoff(row.tries))
            return FlushResult(delivered, pending(db), error)
