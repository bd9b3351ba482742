"""The results database on SQLite and on a real PostgreSQL server: import, attempts, stats, trend,
CSV, the MES outbox, and the index written when `hil run` seals its record."""

from __future__ import annotations

import csv
import datetime as dt
import fcntl
import json
import math
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from db_records import CHECKS, T0, RunSpec, write_run, write_with
from hilcli import hil, settings_file
from pgserver import PostgresServer, postgres_server
from sqlalchemy import select

from hil.cli import main
from hil.db import ResultsDB, default_url
from hil.db.hook import index_sealed
from hil.db.mes import flush
from hil.db.models import Base, Instrument, MeasurementRow, MesOutbox, Run, Station, Unit
from hil.db.stats import Filters, line_stats
from hil.db.store import HEAD_REVISION, MES_URL_KEY, alembic_config
from hil.db.summary import summarise
from hil.db.trend import plot, trend
from hil.measure import equals, info, within
from hil.record import Recorder, file_sha256
from hil.report.model import RecordAlteredError

__all__ = ["postgres_server"]  # the session fixture, used through `db_url`


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'results.sqlite'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.database()


@pytest.fixture
def db(db_url: str) -> Iterator[ResultsDB]:
    results = ResultsDB(db_url)
    yield results
    results.close()


#: the line scenario of the stats test (minutes after T0); U2 is retested, U5 was interrupted
LINE = {
    "u1": RunSpec("U1", 0, 60, socket="s1", lot="L1"),
    "u2a": RunSpec("U2", 2, 80, fail=("ACC-CV",), socket="s1", lot="L1"),
    "u2b": RunSpec("U2", 4, 60, socket="s1", lot="L1"),
    "u3": RunSpec("U3", 6, 100, fail=("ACC-CV", "TEMP"), socket="s2", lot="L1"),
    "u4": RunSpec("U4", 8, 70, fail=("TEMP",), socket="s2", lot="L1"),
    "u5": RunSpec("U5", 10, complete=False, socket="s2", lot="L1"),
    "u6": RunSpec("U6", 12, 50, socket="s1", lot="L2"),
}


def _line(tmp_path: Path, db: ResultsDB, order: list[str] | None = None) -> dict[str, Path]:
    folders = {key: write_run(tmp_path / "runs" / key, spec) for key, spec in LINE.items()}
    for key in order or list(LINE):
        assert db.import_run(folders[key]) == 1
    return folders


def test_schema_matches_the_models(db: ResultsDB) -> None:
    """The Alembic migration creates exactly what the models declare, and it is the head."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head == HEAD_REVISION
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_an_older_schema_is_upgraded_on_open(db_url: str, tmp_path: Path) -> None:
    """A database at the first revision, with a run in it, is migrated to the head by ResultsDB()."""
    from alembic import command
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(db_url)
    with engine.begin() as connection:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0001")
    engine.dispose()
    with ResultsDB(db_url) as db:
        # ResultsDB upgraded it already; go back to 0001 with a run inside, then open again
        assert db.import_run(write_run(tmp_path / "old", RunSpec("OLD1", 0))) == 1
        with db.engine.begin() as connection:
            cfg = alembic_config()
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, "0001")
            names = {ix["name"] for ix in inspect(connection).get_indexes("measurement")}
            assert "ix_measurement_req_run_verdict" not in names
            assert "ix_measurement_req_name" in names
    with ResultsDB(db_url) as db:
        with db.engine.connect() as connection:
            assert connection.scalar(text("SELECT version_num FROM alembic_version")) == HEAD_REVISION
            names = {ix["name"] for ix in inspect(connection).get_indexes("measurement")}
            # 0002 added the TFPY index, 0003 folded it and the trend's into one
            assert "ix_measurement_req_name_run_verdict" in names
            assert not names & {"ix_measurement_req_run_verdict", "ix_measurement_req_name"}
        assert [a.status for a in db.attempts("OLD1")] == ["pass"]


def test_a_run_is_indexed_from_its_record(db: ResultsDB, tmp_path: Path) -> None:
    folder = write_run(tmp_path / "r1", RunSpec("SN001", 5, 42.5, fail=("ACC-CT",), socket="s3", lot="L7"))
    assert db.import_run(folder) == 1
    with db.session() as s:
        run = s.scalars(select(Run)).one()
        assert run.unit is not None and run.station is not None
        assert (run.unit.serial, run.unit.part, run.unit.revision) == ("SN001", "bms12100", "12100-1203")
        assert (run.profile, run.socket, run.lot, run.operator) == ("eol", "s3", "L7", "alice")
        assert (run.plan_sha256, run.spec_sha256, run.firmware) == ("a" * 64, "b" * 64, "1.3")
        assert run.started == (T0 + dt.timedelta(minutes=5)).replace(tzinfo=None)
        assert run.duration_s == pytest.approx(42.5)
        assert (run.status, run.first_failed, run.attempt) == ("fail", "ACC-CT", 1)
        assert run.record_sha256 == file_sha256(folder / "record.jsonl")
        assert run.record_path == str((folder / "record.jsonl").resolve())
        assert run.station.name == "line-a"
        inst = s.scalars(select(Instrument)).one()
        assert (inst.name, inst.asset_id, inst.calibration_due) == ("dmm", "A-1", dt.date(2027, 10, 31))
        rows = s.scalars(select(MeasurementRow).order_by(MeasurementRow.seq)).all()
        assert [r.requirement for r in rows] == list(CHECKS)
        ct = rows[1]
        assert (ct.name, ct.unit, ct.low, ct.high, ct.uncertainty) == (
            "current at 50 A",
            "A",
            49.0,
            51.0,
            0.2,
        )
        assert (ct.value, ct.verdict) == (52.0, "fail")
        assert rows[0].verdict == "pass" and rows[0].value == pytest.approx(3.301)


@pytest.mark.parametrize("complete", [True, False])
def test_a_run_indexed_from_the_entries_as_written_equals_its_import(
    db: ResultsDB, tmp_path: Path, complete: bool
) -> None:
    """`hil run` hands the indexer the entries its recorder wrote (the record is not read back):
    the summary and the rows are those `hil db import` makes from the file."""
    rec = Recorder(tmp_path / "r" / "record.jsonl", keep=True)
    write_with(rec, RunSpec("SN7", 0, 30.0, fail=("ACC-CT",), complete=complete))
    written = rec.written()
    assert written is not None
    from_file = summarise(tmp_path / "r")
    assert summarise(tmp_path / "r", written) == from_file
    assert len(from_file.measurements) == len(CHECKS)
    assert db.import_run(tmp_path / "r", written) == 1
    assert db.import_run(tmp_path / "r") == 0  # the same record (SHA-256) is already in
    with db.session() as s:
        run = s.scalars(select(Run)).one()
        assert (run.status, run.first_failed) == (from_file.status, from_file.first_failed)
        assert run.record_sha256 == file_sha256(tmp_path / "r" / "record.jsonl")
        rows = s.scalars(select(MeasurementRow).order_by(MeasurementRow.seq)).all()
        assert [(r.seq, r.requirement, r.value, r.verdict) for r in rows] == [
            (m.seq, m.requirement, m.value, m.verdict) for m in from_file.measurements
        ]


def test_rows_keep_every_kind_of_result_and_older_entries(db: ResultsDB, tmp_path: Path) -> None:
    """The rows are built from the entries without `Measurement`s: an int is a number, a bool, a
    state and a missing value are not, U and limits stay as recorded, and an entry of an older
    recorder without the optional fields gives None there; the kept entries give the same rows."""
    rec = Recorder(tmp_path / "r" / "record.jsonl", keep=True)
    rec.write("header", started=T0.isoformat(), dut={"family": "bms12100", "expected_serial": "SN9"})
    test = "testplans/bms12100/test_x.py::test_kinds"
    rec.measurement(within("ACC-CV", "count", 7, "", 0.0, low=5, high=9, uncertainty=0.5), test)
    rec.measurement(equals("PROT-OV", "tripped", True, True, 1.0), test)
    rec.measurement(equals("PROT-OV", "state", "FAULT", "OPEN", 2.0), test)
    rec.measurement(within("ACC-CT", "no reading", None, "A", 3.0, high=51.0), test)
    rec.measurement(info("TEMP", "ambient", 21.5, "°C", 4.0), test)
    rec.write(
        "measurement",
        test=test,
        requirement="OLD",
        name="older",
        value=1.5,
        unit="V",
        verdict="pass",
        time=5.0,
    )
    rec.write("test", test=test, phase="call", outcome="failed", duration_s=1.0, requirements=["ACC-CV"])
    rec.write("end", ended=T0.isoformat(), status="completed", reason="", exitstatus=1)
    rec.close()
    written = rec.written()
    assert written is not None
    rows = summarise(tmp_path / "r").measurements
    assert summarise(tmp_path / "r", written).measurements == rows
    assert [(r.seq, r.requirement, r.name, r.value, r.value_text, r.unit) for r in rows] == [
        (1, "ACC-CV", "count", 7.0, None, ""),
        (2, "PROT-OV", "tripped", None, "True", ""),
        (3, "PROT-OV", "state", None, "FAULT", ""),
        (4, "ACC-CT", "no reading", None, None, "A"),
        (5, "TEMP", "ambient", 21.5, None, "°C"),
        (6, "OLD", "older", 1.5, None, "V"),
    ]
    assert isinstance(rows[0].value, float) and (rows[0].low, rows[0].high, rows[0].uncertainty) == (
        5.0,
        9.0,
        0.5,
    )
    assert [(r.expected, r.verdict) for r in rows[1:3]] == [("True", "pass"), ("OPEN", "fail")]
    assert [r.verdict for r in rows[3:]] == ["fail", "info", "pass"]
    assert (rows[5].low, rows[5].high, rows[5].expected, rows[5].uncertainty) == (None, None, None, None)
    assert rows[5].test == test
    assert db.import_run(tmp_path / "r", written) == 1
    with db.session() as s:
        stored = s.scalars(select(MeasurementRow).order_by(MeasurementRow.seq)).all()
        assert [(m.value, m.value_text, m.verdict) for m in stored] == [
            (r.value, r.value_text, r.verdict) for r in rows
        ]
        assert s.scalars(select(Run.status)).one() == "fail"


def test_every_row_is_stored_as_summarised_and_in_record_order(db: ResultsDB, tmp_path: Path) -> None:
    """A run of 257 measurements (on SQLite, more than several multi-row inserts and not a whole
    number of them) with each nullable column empty in some rows and set in others: the stored
    rows are the summary's, column for column (an empty column NULL, an infinite limit kept), their
    ids in the record's order."""
    rec = Recorder(tmp_path / "r" / "record.jsonl", keep=True)
    rec.write("header", started=T0.isoformat(), dut={"family": "bms12100", "expected_serial": "SN9"})
    test = "testplans/bms12100/test_x.py::test_rows"
    for i in range(257):
        kind = i % 5
        if kind == 0:
            m = within("ACC-CV", f"v{i}", 3.3 + i * 1e-3, "V", i, low=3.2, high=3.6, uncertainty=0.01)
        elif kind == 1:
            m = within("ACC-CT", f"c{i}", None if i % 2 else 50.0, "A", i, high=float("inf"))
        elif kind == 2:
            m = equals("PROT-OV", f"s{i}", "FAULT" if i % 2 else "OPEN", "OPEN", i)
        elif kind == 3:
            m = info("TEMP", f"t{i}", 21.5 if i % 2 else None, "°C", i)
        else:
            m = within("ACC-CV", f"l{i}", -0.0, "V", i, low=-1.0)
        rec.measurement(m, test)
    rec.write("test", test=test, phase="call", outcome="failed", duration_s=1.0, requirements=["ACC-CV"])
    rec.write("end", ended=T0.isoformat(), status="completed", reason="", exitstatus=1)
    rec.close()
    summary = summarise(tmp_path / "r")
    assert len(summary.measurements) == 257
    assert db.import_run(tmp_path / "r") == 1
    with db.session() as s:
        stored = s.scalars(select(MeasurementRow).order_by(MeasurementRow.id)).all()
        assert [
            (
                r.run_id,
                r.seq,
                r.test,
                r.requirement,
                r.name,
                r.value,
                r.value_text,
                r.unit,
                r.low,
                r.high,
                r.expected,
                r.uncertainty,
                r.verdict,
            )
            for r in stored
        ] == [(summary.run_id, *m) for m in summary.measurements]
    for column in ("value", "value_text", "low", "high", "expected", "uncertainty"):  # empty and set
        assert 0 < sum(getattr(m, column) is None for m in summary.measurements) < 257


def test_absent_socket_and_lot_are_null_and_an_interrupted_run_is_incomplete(
    db: ResultsDB, tmp_path: Path
) -> None:
    folder = write_run(tmp_path / "r", RunSpec("SN2", 0, complete=False))
    db.import_run(folder)
    with db.session() as s:
        run = s.scalars(select(Run)).one()
        assert (run.socket, run.lot, run.status, run.duration_s) == (None, None, "incomplete", None)


def test_import_is_idempotent_on_the_record_sha256(db: ResultsDB, tmp_path: Path) -> None:
    folder = write_run(tmp_path / "a", RunSpec("SN3", 0))
    assert db.import_run(folder) == 1
    assert db.import_run(folder) == 0
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "record.jsonl").write_bytes((folder / "record.jsonl").read_bytes())
    assert db.import_run(copy) == 0
    # the folder was reused: its record moved to previous/; importing it there updates the path
    moved = folder / "previous" / "20261201-080000" / "record.jsonl"
    moved.parent.mkdir(parents=True)
    (folder / "record.jsonl").rename(moved)
    assert db.import_run(moved.parent) == 0
    assert db.attempts("SN3")[0].folder == moved.parent.resolve()
    with db.session() as s:
        assert len(s.scalars(select(Run)).all()) == 1
        assert len(s.scalars(select(MeasurementRow)).all()) == len(CHECKS)
        assert len(s.scalars(select(Station)).all()) == 1
        assert len(s.scalars(select(Unit)).all()) == 1


def test_an_altered_record_is_refused(db: ResultsDB, tmp_path: Path) -> None:
    folder = write_run(tmp_path / "a", RunSpec("SN4", 0))
    record = folder / "record.jsonl"
    record.write_bytes(record.read_bytes().replace(b'"alice"', b'"mallory"'))
    with pytest.raises(RecordAlteredError):
        db.import_run(folder)


def test_attempts_are_numbered_in_start_order_whatever_the_import_order(
    db: ResultsDB, tmp_path: Path
) -> None:
    _line(tmp_path, db, order=["u2b", "u6", "u1", "u2a", "u3", "u4", "u5"])
    attempts = db.attempts("U2")
    assert [(a.attempt, a.status) for a in attempts] == [(1, "fail"), (2, "pass")]
    assert [a.folder.name for a in attempts] == ["u2a", "u2b"]
    assert attempts[0].started == T0 + dt.timedelta(minutes=2)
    assert attempts[0].started.tzinfo is not None
    assert [a.status for a in db.attempts("U5")] == ["incomplete"]
    assert db.attempts("nobody") == []


def test_concurrent_writers_share_one_database(db_url: str, tmp_path: Path) -> None:
    """Four sockets sealing runs at once: every run in, one station row, attempts right."""
    specs = [RunSpec(f"C{i % 6}", i, socket=f"s{i % 4}") for i in range(12)]
    folders = [write_run(tmp_path / f"c{i}", spec) for i, spec in enumerate(specs)]
    errors: list[BaseException] = []

    def socket_worker(mine: list[Path]) -> None:
        try:
            with ResultsDB(db_url) as own:
                for folder in mine:
                    assert own.import_run(folder) == 1
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=socket_worker, args=(folders[k::4],)) for k in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert errors == []
    with ResultsDB(db_url) as db, db.session() as s:
        assert len(s.scalars(select(Run)).all()) == 12
        assert len(s.scalars(select(Station)).all()) == 1
        assert len(s.scalars(select(Unit)).all()) == 6
    with ResultsDB(db_url) as db:
        assert [a.attempt for a in db.attempts("C0")] == [1, 2]
        assert [a.folder.name for a in db.attempts("C0")] == ["c0", "c6"]


def test_line_stats(db: ResultsDB, tmp_path: Path) -> None:
    _line(tmp_path, db)
    stats = line_stats(db, Filters())
    assert stats.runs == 7
    assert stats.statuses == {"pass": 3, "fail": 3, "incomplete": 1}
    assert (stats.units, stats.first_pass) == (6, 2)
    assert stats.fpy == pytest.approx(2 / 6)
    # ACC-CV failed on U2 and U3's first attempts, TEMP on U3 and U4, ACC-CT never
    steps = {s.requirement: (s.accepted, s.tested) for s in stats.steps}
    assert steps == {"ACC-CT": (6, 6), "ACC-CV": (4, 6), "TEMP": (4, 6)}
    assert stats.tfpy == pytest.approx((4 / 6) * (4 / 6))
    assert stats.pareto == [("ACC-CV", 2), ("TEMP", 1)]
    assert stats.cycle_median_s == pytest.approx(65.0)  # 50 60 60 70 80 100
    assert stats.cycle_p95_s == pytest.approx(95.0)
    assert (stats.retest_runs, stats.retested_units, stats.passed_on_retest) == (1, 1, 1)
    by_socket = {t.socket: t for t in stats.throughput}
    assert by_socket["s1"].units == 3 and by_socket["s1"].runs == 4
    assert by_socket["s1"].units_per_hour == pytest.approx(3 / (770 / 3600))  # 08:00:00 .. 08:12:50
    assert by_socket["s2"].units_per_hour == pytest.approx(3 / (240 / 3600))  # 08:06:00 .. 08:10:00
    lot = line_stats(db, Filters(lot="L1"))
    assert (lot.runs, lot.units, lot.first_pass) == (6, 5, 1)
    since = line_stats(db, Filters(since=(T0 + dt.timedelta(minutes=5)).replace(tzinfo=None)))
    assert (since.runs, since.units, since.first_pass) == (4, 4, 1)
    other = line_stats(db, Filters(station="line-b"))
    assert (other.runs, other.fpy, other.tfpy, other.cycle_median_s) == (0, None, None, None)


def test_trend_of_a_measurement_across_units(db: ResultsDB, tmp_path: Path) -> None:
    values = [3.295, 3.300, 3.305, 3.310]
    for i, v in enumerate(values):
        db.import_run(write_run(tmp_path / f"r{i}", RunSpec(f"T{i}", i, values={"ACC-CV": v})))
    series = trend(db, "ACC-CV", "cell 1 at 3.30 V", Filters())
    assert [p.serial for p in series.points] == ["T0", "T1", "T2", "T3"]
    assert series.values == pytest.approx(values)
    assert (series.unit, series.low, series.high) == ("V", 3.28, 3.32)
    mean, sd = 3.3025, math.sqrt(sum((v - 3.3025) ** 2 for v in values) / 3)
    assert series.cpk == pytest.approx(min(3.32 - mean, mean - 3.28) / (3 * sd))
    png = tmp_path / "trend.png"
    plot(series, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_hil_db_commands(db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """import (a folder of run folders, one altered), stats with CSV and a trend plot, export."""
    folders = {key: write_run(tmp_path / "runs" / key, spec) for key, spec in LINE.items()}
    bad = write_run(tmp_path / "runs" / "zz-altered", RunSpec("U9", 20))
    (bad / "record.jsonl").write_bytes((bad / "record.jsonl").read_bytes().replace(b"U9", b"U8"))
    assert main(["db", "import", str(tmp_path / "runs"), "--db", db_url]) == 1
    out, err = capsys.readouterr()
    assert "imported 7 runs, 0 already indexed, 1 refused (of 8 records)" in out
    assert "zz-altered: not imported" in err and len(err.strip().splitlines()) == 1
    assert main(["db", "import", str(folders["u1"]), "--db", db_url]) == 0
    assert "imported 0 runs, 1 already indexed" in capsys.readouterr().out
    stats_csv, png = tmp_path / "stats.csv", tmp_path / "t.png"
    trend_args = ["--trend", "TEMP/NTC 1 at 25 °C", "--plot", str(png)]
    code = main(["db", "stats", "--db", db_url, "--csv", str(stats_csv), *trend_args])
    assert code == 0
    out = capsys.readouterr().out
    assert "FPY  first-pass yield:      33.33 % (2 of 6)" in out
    assert "TFPY true first-pass yield: 44.44 %" in out
    assert "cycle time: median 65.0 s, p95 95.0 s" in out
    assert "ACC-CV" in out.split("Pareto")[1]
    assert "TEMP/NTC 1 at 25 °C: 7 units" in out
    assert png.read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.reader(stats_csv.open()))
    assert ["pareto", "ACC-CV", "", "2"] in rows and ["pareto", "TEMP", "", "1"] in rows
    export = tmp_path / "runs.csv"
    assert main(["db", "export", "--db", db_url, "--lot", "L1", "--csv", str(export)]) == 0
    runs = list(csv.DictReader(export.open()))
    assert [r["serial"] for r in runs] == ["U1", "U2", "U2", "U3", "U4", "U5"]
    assert [r["attempt"] for r in runs] == ["1", "1", "2", "1", "1", "1"]
    assert runs[3]["first_failed"] == "ACC-CV" and runs[5]["status"] == "incomplete"


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    for args, said in (
        (["db", "stats", "--db", url, "--since", "yesterday"], "--since: expected an ISO date"),
        (["db", "stats", "--db", url, "--trend", "ACC-CV"], "--trend: expected REQUIREMENT/NAME"),
        (["db", "import", str(tmp_path / "nowhere"), "--db", url], "nowhere: expected a run folder"),
        (["db", "stats", "--db", "nosuchdb://x"], "--db: 'nosuchdb://x' is not a database URL"),
        (["db", "mes", "--db", url, "--url", "ftp://mes"], "--url: expected an http:// or https:// URL"),
    ):
        result = hil(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert said in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.stderr


def test_a_database_failure_never_costs_the_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_run(tmp_path / "runs" / "r1", RunSpec("SN5", 0))
    before = (folder / "record.jsonl").read_bytes()
    dead = "postgresql+psycopg://hil:secret@127.0.0.1:1/none"  # nothing listens on port 1
    assert index_sealed(folder, dead) is False
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "the run was not indexed" in err
    assert f"hil db import {folder}" in err and "secret" not in err
    assert (folder / "record.jsonl").read_bytes() == before
    # the default: results.sqlite beside the run folders
    assert index_sealed(folder, None) is True
    assert default_url(tmp_path / "runs").endswith(str(tmp_path / "runs" / "results.sqlite"))
    with ResultsDB(default_url(tmp_path / "runs")) as results:
        assert [a.run_id for a in results.attempts("SN5")] != []
    assert index_sealed(folder, "none") is False


class _Mes:
    """A MES on 127.0.0.1 that answers 503 while `down`, and records what it accepted."""

    def __init__(self) -> None:
        self.down = True
        self.received: list[dict[str, object]] = []
        self.keys: list[str] = []
        self.tries = 0
        mes = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                mes.tries += 1
                if mes.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                mes.received.append(json.loads(body))
                mes.keys.append(self.headers["Idempotency-Key"])
                self.send_response(201)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/results"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def mes() -> Iterator[_Mes]:
    server = _Mes()
    yield server
    server.close()


def test_mes_outbox_survives_an_outage(db_url: str, tmp_path: Path, mes: _Mes) -> None:
    """Every result reaches the MES exactly once and in order, although it was down at first."""
    assert main(["db", "mes", "--db", db_url, "--url", mes.url]) == 0
    specs = [RunSpec(f"M{i}", i, fail=("TEMP",) if i == 1 else ()) for i in range(6)]
    folders = [write_run(tmp_path / f"m{i}", spec) for i, spec in enumerate(specs)]
    with ResultsDB(db_url) as db:
        assert db.setting(MES_URL_KEY) == mes.url
        for folder in folders[:3]:
            assert db.import_run(folder) == 1  # the MES is down: queued, not raised
        assert mes.received == [] and mes.tries >= 1
        queued = db.outbox()
        assert [row.delivered for row in queued] == [None, None, None]
        head = queued[0]
        assert head.tries >= 1 and "503" in (head.last_error or "")
        assert head.next_try > head.created  # backoff
        tries = mes.tries
        early = flush(db, now=head.next_try - dt.timedelta(seconds=1))
        assert (early.delivered, early.pending, mes.tries) == (0, 3, tries)  # the backoff holds
        mes.down = False
        done = flush(db, now=head.next_try + dt.timedelta(seconds=1))
        assert (done.delivered, done.pending) == (3, 0)
        assert flush(db).delivered == 0
        assert db.import_run(folders[3]) == 1  # the MES is up: delivered at once
        mes.down = True
        assert db.import_run(folders[4]) == 1
        assert db.import_run(folders[5]) == 1
        mes.down = False
    assert main(["db", "mes", "--db", db_url, "--flush"]) == 0
    expected = [f"M{i}" for i in range(6)]
    assert [r["serial"] for r in mes.received] == expected
    assert mes.keys == [r["run_id"] for r in mes.received] and len(set(mes.keys)) == 6
    assert mes.received[1]["status"] == "fail" and mes.received[1]["first_failed"] == "TEMP"
    assert mes.received[0]["record_sha256"] == file_sha256(folders[0] / "record.jsonl")
    with ResultsDB(db_url) as db, db.session() as s:
        assert all(row.delivered is not None for row in s.scalars(select(MesOutbox)))


def test_mes_flush_reports_an_unreachable_mes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    assert main(["db", "mes", "--db", url, "--url", "http://127.0.0.1:1/mes"]) == 0
    with ResultsDB(url) as db:
        assert db.import_run(write_run(tmp_path / "r", RunSpec("N1", 0))) == 1
    capsys.readouterr()
    assert main(["db", "mes", "--db", url, "--flush"]) == 1
    captured = capsys.readouterr()
    assert "delivered 0, 1 still queued" in captured.out and "MES not reached" in captured.err
    assert "outbox: 1 queued, 0 delivered" in captured.out


@pytest.mark.slow
def test_hil_run_indexes_the_sealed_record_in_postgresql(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    """A unit fails (its over-voltage trip moved to 3.70 V), is retested with the released
    firmware and passes: both runs indexed by `hil run --db`, numbered, judged as the report does."""
    url = postgres_server.database()
    firmware = settings_file(
        tmp_path, "fw.yaml", "bms12100", {"cell_overvoltage_protection": {"trigger": 3700.0}}
    )
    select_tests = ["--", "-k", "test_threshold and CV and OVP"]
    outs = [tmp_path / "runs" / "run1", tmp_path / "runs" / "run2"]
    for out, extra in ((outs[0], ["--firmware", str(firmware)]), (outs[1], [])):
        result = hil(
            "run", "--profile", "eol", "--reports", "none", "--out", str(out), "--db", url, *extra,
            *select_tests, timeout=300,
        )  # fmt: skip
        assert result.returncode == (1 if extra else 0), result.stdout + result.stderr
        assert "not indexed" not in result.stderr
    assert not (tmp_path / "runs" / "results.sqlite").exists()
    with ResultsDB(url) as db:
        with db.session() as s:
            runs = s.scalars(select(Run).order_by(Run.started)).all()
            assert [r.record_sha256 for r in runs] == [file_sha256(o / "record.jsonl") for o in outs]
            assert [(r.status, r.first_failed, r.attempt) for r in runs] == [
                ("fail", "CV-OVP", 1),
                ("pass", None, 2),
            ]
            assert runs[0].firmware_sha256 == file_sha256(firmware) and runs[1].firmware_sha256 is None
            rows = s.scalars(select(MeasurementRow).where(MeasurementRow.run_id == runs[0].id)).all()
            assert {r.requirement for r in rows} >= {"CV-OVP"}
            assert any(r.verdict == "fail" and r.requirement == "CV-OVP" for r in rows)
            assert all(r.uncertainty is not None for r in rows if r.value is not None)
            serial = runs[0].unit.serial if runs[0].unit else ""
        assert [(a.attempt, a.status, a.folder) for a in db.attempts(serial)] == [
            (1, "fail", outs[0]), (2, "pass", outs[1])
        ]  # fmt: skip
        stats = line_stats(db, Filters())
        assert (stats.units, stats.first_pass, stats.retest_runs, stats.passed_on_retest) == (1, 0, 1, 1)
        assert stats.pareto == [("CV-OVP", 1)]


def test_sockets_opening_a_new_sqlite_database_together_all_get_it(tmp_path: Path) -> None:
    """Eight sockets open one new SQLite file at once, twenty times: none is told it is locked.

    SQLite refuses the switch to WAL at once ("database is locked") while another connection
    makes it; each socket must wait its turn, as it does for a write."""
    for k in range(20):
        url = f"sqlite:///{tmp_path / f'new{k}.sqlite'}"
        errors: list[BaseException] = []

        def opener(url: str = url, errors: list[BaseException] = errors) -> None:
            try:
                with ResultsDB(url) as own, own.engine.connect() as connection:
                    assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            except BaseException as exc:
                errors.append(exc)

        openers = [threading.Thread(target=opener) for _ in range(8)]
        for t in openers:
            t.start()
        for t in openers:
            t.join(timeout=120)
        assert errors == [], f"round {k}: {errors[0]!r}"


def test_an_opener_of_a_new_sqlite_database_waits_its_turn_on_the_wal_lock(tmp_path: Path) -> None:
    """The switch to WAL is made with `results.sqlite.wal-lock` held (an flock beside the file): an
    opener that finds it held waits for it, then opens the database in WAL mode."""
    database = tmp_path / "results.sqlite"
    modes: list[str] = []
    errors: list[BaseException] = []

    def opener() -> None:
        try:
            with ResultsDB(f"sqlite:///{database}") as own, own.engine.connect() as connection:
                modes.append(str(connection.exec_driver_sql("PRAGMA journal_mode").scalar()))
        except BaseException as exc:
            errors.append(exc)

    with (tmp_path / "results.sqlite.wal-lock").open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        waiting = threading.Thread(target=opener)
        waiting.start()
        waiting.join(timeout=2.0)
        assert waiting.is_alive() and modes == [] and errors == [], "opened with the WAL lock held"
    waiting.join(timeout=60)
    assert (modes, errors) == (["wal"], [])
