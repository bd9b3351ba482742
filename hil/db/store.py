"""`ResultsDB`: open (and migrate) the results database, index sealed records, list a unit's attempts.

SQLite by default (a file `results.sqlite` in the runs root), PostgreSQL for a
`postgresql+psycopg://` URL. The schema is created and upgraded with Alembic on open.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, insert, inspect, select, text, update
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError
from sqlalchemy.orm import Session

from hil.db.models import Instrument, MeasurementRow, MesOutbox, Run, Setting, Station, Unit
from hil.db.summary import MeasurementInfo, RunSummary, Written, summarise
from hil.errors import HilError, UsageError

#: a placeholder per DB-API parameter style (sqlite3: qmark, psycopg: pyformat)
PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
DB_FILE = "results.sqlite"
#: PostgreSQL advisory lock key held while the schema is migrated (two sockets may open at once)
MIGRATION_LOCK = 0x68696C01
MES_URL_KEY = "mes_url"
#: the newest migration in migrations/versions (a test checks it): a database there needs no Alembic
HEAD_REVISION = "0003"
#: how long a SQLite writer waits for another socket's transaction
SQLITE_BUSY_TIMEOUT_S = 60.0
#: beside a SQLite file: the lock its openers take in turn to switch it to WAL (`results.sqlite.wal-lock`)
WAL_LOCK_SUFFIX = ".wal-lock"


def default_url(runs_root: Path) -> str:
    """The default database: a SQLite file `results.sqlite` in the runs root (beside the run folders)."""
    return f"sqlite:///{(runs_root / DB_FILE).resolve()}"


@dataclass(frozen=True)
class Attempt:
    """One run of a unit, oldest first: attempt 1 is the unit's first pass through the test."""

    run_id: str
    status: str  # pass, fail, incomplete, error
    started: dt.datetime  # UTC, time-zone aware
    folder: Path
    attempt: int = 0  # 0: not numbered (read from a record outside the database)
    profile: str = ""


def naive_utc(when: dt.datetime) -> dt.datetime:
    """How times are stored: naive UTC."""
    return when.astimezone(dt.UTC).replace(tzinfo=None) if when.tzinfo else when


def aware_utc(when: dt.datetime) -> dt.datetime:
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when


def alembic_config() -> Any:
    """Alembic's configuration for the packaged migrations (Alembic is imported only to migrate)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _engine(url: str) -> Engine:
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
            database = engine.url.database
            wal_lock: Path | None = None  # in memory: no other connection to wait for
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
                wal_lock = Path(database + WAL_LOCK_SUFFIX)

            @event.listens_for(engine, "connect")
            def _connect(dbapi_connection: Any, _record: Any) -> None:
                dbapi_connection.isolation_level = None  # transactions as SQLAlchemy begins them
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA foreign_keys=ON")
                _switch_to_wal(cursor, wal_lock)
                # an index `hil db import` rebuilds from the records: a commit need not wait for the
                # disk (WAL stays consistent after a crash; a power loss can cost the last runs' rows)
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.execute("PRAGMA cache_size=-32768")  # 32 MB: a run's rows and indexes in memory
                cursor.close()

            @event.listens_for(engine, "begin")
            def _begin(connection: Any) -> None:
                connection.exec_driver_sql("BEGIN IMMEDIATE")  # one writer at a time, waits its turn

            return engine
        return create_engine(url, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise UsageError(f"--db: {url!r} is not a database URL this build can open ({exc})") from None


def _switch_to_wal(cursor: Any, lock: Path | None) -> None:
    """`PRAGMA journal_mode=WAL` with the lock file `lock` held (an exclusive flock) around it.

    SQLite answers a journal-mode change with "database is locked" at once, without its busy
    timeout, when several sockets open a new database together; so each opener waits in the kernel
    for its turn instead (a lock file of its own: SQLite's POSIX locks on the database file are
    dropped when any descriptor of it closes). Closing the file releases the flock.
    """
    if lock is None:
        cursor.execute("PRAGMA journal_mode=WAL")
        return
    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        cursor.execute("PRAGMA journal_mode=WAL")


def _revision(connection: Any) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.scalar(text("SELECT version_num FROM alembic_version"))  # type: ignore[no-any-return]


def migrate(engine: Engine) -> None:
    """Bring the schema to the packaged head revision (a no-op when it is there already)."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        if _revision(connection) == HEAD_REVISION:
            return
        from alembic import command

        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


class ResultsDB:
    """The results database at `url`; created and migrated on open."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _engine(url)
        migrate(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> ResultsDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine) as session, session.begin():
            yield session

    # ----------------------------------------------------------------- settings
    def setting(self, key: str) -> str | None:
        with self.session() as session:
            row = session.get(Setting, key)
            return row.value if row else None

    def set_setting(self, key: str, value: str | None) -> None:
        with self.session() as session:
            row = session.get(Setting, key)
            if value is None:
                if row is not None:
                    session.delete(row)
            elif row is None:
                session.add(Setting(key=key, value=value))
            else:
                row.value = value

    @property
    def mes_url(self) -> str | None:
        return self.setting(MES_URL_KEY)

    def set_mes_url(self, url: str | None) -> None:
        """Queue every run inserted from now on for this MES endpoint (None: stop queueing)."""
        self.set_setting(MES_URL_KEY, url)

    # ----------------------------------------------------------------- import
    def import_run(self, folder: Path, written: Written | None = None) -> int:
        """Index the sealed record in `folder`: 1 when inserted, 0 when that record is already in.

        Raises RecordAlteredError when the record does not verify. `written`: its entries as the
        recorder wrote them (`Recorder.written()`), so it is not read back. When a MES endpoint is
        configured the result is queued for it and the queue is flushed (a MES that is down
        leaves it queued, never raises).
        """
        summary = summarise(folder, written)
        inserted = self.insert(summary)
        if inserted and self.mes_url:
            from hil.db.mes import flush

            flush(self)
        return inserted

    def insert(self, summary: RunSummary) -> int:
        """Insert one run (idempotent on the record's SHA-256); retried once on a concurrent insert."""
        for attempt in range(3):
            try:
                with self.session() as session:
                    return self._insert(session, summary)
            except IntegrityError:  # a concurrent writer created the same station or unit: retry
                if attempt == 2:
                    raise
        return 0

    def _insert(self, session: Session, s: RunSummary) -> int:
        known = session.execute(
            select(Run.id, Run.record_path).where(Run.record_sha256 == s.record_sha256)
        ).first()
        if known is not None:
            if not Path(known[1]).exists():  # the record moved (to previous/ when its folder was reused)
                session.execute(update(Run).where(Run.id == known[0]).values(record_path=s.record_path))
            return 0
        if session.get(Run, s.run_id) is not None:
            raise HilError(
                f"{s.record_path}: run {s.run_id} is already indexed from a record with another SHA-256"
            )
        station_id = self._station(session, s)
        unit_id = self._unit(session, s)
        session.execute(
            insert(Run).values(
                id=s.run_id,
                unit_id=unit_id,
                station_id=station_id,
                profile=s.profile,
                socket=s.socket,
                lot=s.lot,
                sampling=s.sampling,
                operator=s.operator,
                host=s.host,
                plan_sha256=s.plan_sha256,
                spec_sha256=s.spec_sha256,
                spec_version=s.spec_version,
                firmware=s.firmware,
                firmware_sha256=s.firmware_sha256,
                started=naive_utc(s.started),
                duration_s=s.duration_s,
                status=s.status,
                first_failed=s.first_failed,
                attempt=1,
                record_sha256=s.record_sha256,
                record_path=s.record_path,
            )
        )
        if s.measurements:
            _insert_measurements(session, s)
        if unit_id is not None:
            renumber_attempts(session, unit_id)
        if session.get(Setting, MES_URL_KEY) is not None:
            from hil.db.mes import enqueue

            enqueue(session, s)
        return 1

    def _station(self, session: Session, s: RunSummary) -> int:
        info = s.station
        found = session.scalar(
            select(Station.id).where(Station.name == info.name, Station.sha256 == info.sha256)
        )
        if found is not None:
            return found
        station = Station(
            name=info.name, sha256=info.sha256, file=info.file, lab=info.lab, simulated=info.simulated
        )
        station.instruments = [Instrument(**inst.model_dump()) for inst in info.instruments]
        session.add(station)
        session.flush()
        return station.id

    def _unit(self, session: Session, s: RunSummary) -> int | None:
        if not s.serial:
            return None
        # the unit's row is locked until commit: a concurrent run of the same unit waits, so the
        # attempt numbers it computes see this run (PostgreSQL; SQLite has one writer anyway)
        unit = session.scalar(
            select(Unit).where(Unit.part == s.part, Unit.serial == s.serial).with_for_update()
        )
        if unit is None:
            unit = Unit(serial=s.serial, part=s.part, revision=s.revision)
            session.add(unit)
            session.flush()
        elif unit.revision is None and s.revision:
            unit.revision = s.revision
        return unit.id

    # ----------------------------------------------------------------- queries
    def attempts(self, serial: str) -> list[Attempt]:
        """Every run of the unit(s) with this serial, oldest first."""
        query = (
            select(Run.id, Run.status, Run.started, Run.record_path, Run.attempt, Run.profile)
            .join(Unit, Run.unit_id == Unit.id)
            .where(Unit.serial == serial)
            .order_by(Run.started, Run.id)
        )
        with self.session() as session:
            return [
                Attempt(row[0], row[1], aware_utc(row[2]), Path(row[3]).parent, row[4], row[5])
                for row in session.execute(query)
            ]

    def outbox(self) -> list[MesOutbox]:
        with self.session() as session:
            rows = list(session.scalars(select(MesOutbox).order_by(MesOutbox.id)))
            session.expunge_all()
            return rows


def _insert_measurements(session: Session, s: RunSummary) -> None:
    """The run's measurement rows: plain tuples on the driver's cursor, in the run's transaction (a
    run may hold tens of thousands; SQLAlchemy's per-row parameter handling would cost more than the
    database's own work)."""
    connection = session.connection()
    style = PLACEHOLDERS.get(connection.dialect.paramstyle)
    if style is None:  # another driver: SQLAlchemy binds the parameters
        session.execute(insert(MeasurementRow), [{"run_id": s.run_id, **m._asdict()} for m in s.measurements])
        return
    run_id = s.run_id
    if connection.dialect.name == "sqlite":
        _insert_sqlite(connection, style, run_id, s.measurements)
    else:
        connection.exec_driver_sql(_insert_sql(style, 1), [(run_id, *m) for m in s.measurements])


#: the measurement table's columns as the rows give them
_COLUMNS = ("run_id", *MeasurementInfo._fields)
#: rows per INSERT on SQLite: one statement run per row costs about 4,000 instructions more a row
#: (its start and end: the table's and indexes' cursors opened and closed); 50 x 13 parameters is
#: within any SQLite's limit (999 before 3.32)
_SQLITE_ROWS_PER_INSERT = 50
#: a None as the rows bind it on SQLite: a NaN, which SQLite stores as NULL in any column (a NaN
#: value is NULL there anyway). The `sqlite3` module binds a float as it is, but looks up an adapter
#: for every None first (a tuple built and hashed, two attribute look-ups: about 3,300 instructions;
#: most rows have 3 or 4 Nones).
_SQLITE_NULL = math.nan


def _insert_sql(style: str, rows: int) -> str:
    """An INSERT of `rows` measurement rows, each value a placeholder `style`."""
    row = f"({', '.join([style] * len(_COLUMNS))})"
    return f"INSERT INTO measurement ({', '.join(_COLUMNS)}) VALUES {', '.join([row] * rows)}"


def _insert_sqlite(connection: Any, style: str, run_id: str, rows: list[MeasurementInfo]) -> None:
    """The rows on SQLite, in their order: `_SQLITE_ROWS_PER_INSERT` to a statement, then the rest."""
    flat = list(chain.from_iterable(_sqlite_rows(run_id, rows)))
    step = _SQLITE_ROWS_PER_INSERT * len(_COLUMNS)
    whole = len(flat) - len(flat) % step
    if whole:
        chunks = [tuple(flat[i : i + step]) for i in range(0, whole, step)]
        connection.exec_driver_sql(_insert_sql(style, _SQLITE_ROWS_PER_INSERT), chunks)
    if whole < len(flat):
        rest = (len(flat) - whole) // len(_COLUMNS)
        connection.exec_driver_sql(_insert_sql(style, rest), tuple(flat[whole:]))


def _sqlite_rows(run_id: str, rows: list[MeasurementInfo]) -> list[tuple[Any, ...]]:
    """The rows' parameters for SQLite: the run's id first, a NaN for each None (`_SQLITE_NULL`)."""
    null = _SQLITE_NULL
    return [
        (
            run_id,
            seq,
            test,
            requirement,
            name,
            null if value is None else value,
            null if value_text is None else value_text,
            unit,
            null if low is None else low,
            null if high is None else high,
            null if expected is None else expected,
            null if u is None else u,
            verdict,
        )
        for seq, test, requirement, name, value, value_text, unit, low, high, expected, u, verdict in rows
    ]


def renumber_attempts(session: Session, unit_id: int) -> None:
    """Attempt numbers of a unit's runs in start order (a rebuild may import them in any order)."""
    rows = session.execute(
        select(Run.id, Run.attempt).where(Run.unit_id == unit_id).order_by(Run.started, Run.id)
    ).all()
    for number, (run_id, attempt) in enumerate(rows, start=1):
        if attempt != number:
            session.execute(update(Run).where(Run.id == run_id).values(attempt=number))
