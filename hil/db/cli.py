"""`hil db ...`: import records, line figures (stats, trend, CSV), the MES outbox.

Registered by hil/cli.py with `add_parser`; SQLAlchemy is imported only when a command runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from hil.cli import EXIT_FAILED, EXIT_OK, ROOT
from hil.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from hil.db.stats import Filters
    from hil.db.store import ResultsDB

#: the runs root of `hil run`; the default database is `results.sqlite` in it
RUNS_ROOT = ROOT / "reports" / "runs"


def _open(args: argparse.Namespace) -> ResultsDB:
    from hil.db.store import ResultsDB, default_url

    return ResultsDB(args.db or default_url(RUNS_ROOT))


def _since(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--since: expected an ISO date or date-time (2026-12-01, 2026-12-01T08:00), not {text!r}"
        ) from None
    return when.astimezone(dt.UTC).replace(tzinfo=None) if when.tzinfo else when


def _filters(args: argparse.Namespace) -> Filters:
    from hil.db.stats import Filters

    return Filters(station=args.station, lot=args.lot, since=_since(args.since), profile=args.profile)


def _records(folder: Path) -> list[Path]:
    """Every folder holding a record at or below `folder` (earlier records moved to previous/ too)."""
    if not folder.is_dir():
        raise ConfigError(str(folder), "-", "a run folder or a folder holding run folders")
    return sorted(p.parent for p in folder.rglob("record.jsonl"))


def cmd_import(args: argparse.Namespace) -> int:
    from hil.report.model import RecordAlteredError

    folders = [run for d in args.dirs for run in _records(Path(d))]
    inserted = known = refused = 0
    with _open(args) as db:
        for folder in folders:
            try:
                if db.import_run(folder):
                    inserted += 1
                else:
                    known += 1
            except RecordAlteredError as exc:
                refused += 1
                print(f"{folder}: not imported: {exc}", file=sys.stderr)
    print(f"imported {inserted} runs, {known} already indexed, {refused} refused (of {len(folders)} records)")
    return EXIT_FAILED if refused else EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    from hil.db.stats import line_stats, render, write_stats_csv

    if args.plot and not args.trend:
        raise UsageError("--plot needs --trend REQ/NAME")
    filters = _filters(args)
    with _open(args) as db:
        stats = line_stats(db, filters)
        sys.stdout.write(render(stats, filters))
        if args.csv:
            write_stats_csv(stats, Path(args.csv))
            print(f"csv:    {args.csv}")
        if args.trend:
            from hil.db.trend import parse_key, plot, trend

            requirement, name = parse_key(args.trend)
            series = trend(db, requirement, name, filters)
            sys.stdout.write(series.describe())
            if args.plot:
                plot(series, Path(args.plot))
                print(f"plot:   {args.plot}")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from hil.db.stats import export_runs

    with _open(args) as db:
        n = export_runs(db, _filters(args), Path(args.csv))
    print(f"csv:    {args.csv} ({n} runs)")
    return EXIT_OK


def cmd_mes(args: argparse.Namespace) -> int:
    from hil.db.mes import flush

    with _open(args) as db:
        if args.clear:
            db.set_mes_url(None)
        if args.url:
            if not args.url.startswith(("http://", "https://")):
                raise UsageError(f"--url: expected an http:// or https:// URL, not {args.url!r}")
            db.set_mes_url(args.url)
        code = EXIT_OK
        if args.flush:
            result = flush(db, force=True)
            print(f"delivered {result.delivered}, {result.pending} still queued")
            if result.pending:
                print(f"MES not reached: {result.error}", file=sys.stderr)
                code = EXIT_FAILED
        rows = db.outbox()
        waiting = [r for r in rows if r.delivered is None]
        print(f"MES endpoint: {db.mes_url or '(none: results are not queued)'}")
        print(f"outbox: {len(waiting)} queued, {len(rows) - len(waiting)} delivered")
        if waiting:
            head = waiting[0]
            print(
                f"next: run {head.run_id}, {head.tries} failed tries, next try {head.next_try.isoformat()}Z"
                + (f", last error: {head.last_error}" if head.last_error else "")
            )
    return code


def _add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", help=f"database URL (default: sqlite file results.sqlite in {RUNS_ROOT})")


def _add_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--station", help="only runs on this station (its name)")
    p.add_argument("--lot", help="only runs of this lot")
    p.add_argument("--since", help="only runs started at or after this date (UTC, ISO 8601)")
    p.add_argument("--profile", help="only runs of this profile (eol, full, ...)")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `hil db` command and its subcommands."""
    db = sub.add_parser("db", help="the results database: import records, line statistics, MES outbox")
    db_sub = db.add_subparsers(dest="db_command", required=True)

    imp = db_sub.add_parser("import", help="index sealed records (run folders, or folders holding them)")
    imp.add_argument("dirs", nargs="+", metavar="DIR")
    _add_db(imp)
    imp.set_defaults(func=cmd_import)

    stats = db_sub.add_parser("stats", help="FPY, TFPY, Pareto, cycle time, units per hour, retests")
    _add_db(stats)
    _add_filters(stats)
    stats.add_argument("--csv", help="also write the figures to this CSV file")
    stats.add_argument("--trend", metavar="REQ/NAME", help="a measurement's values across units")
    stats.add_argument("--plot", metavar="FILE.png", help="with --trend: plot it to this PNG file")
    stats.set_defaults(func=cmd_stats)

    export = db_sub.add_parser("export", help="one CSV row per run")
    _add_db(export)
    _add_filters(export)
    export.add_argument("--csv", required=True, help="the CSV file to write")
    export.set_defaults(func=cmd_export)

    mes = db_sub.add_parser("mes", help="the MES endpoint and its outbox")
    _add_db(mes)
    mes.add_argument("--url", help="set the MES endpoint (results are queued for it from now on)")
    mes.add_argument("--clear", action="store_true", help="forget the MES endpoint (stop queueing)")
    mes.add_argument("--flush", action="store_true", help="deliver the queued results now, in order")
    mes.set_defaults(func=cmd_mes)
