"""`hil db stats` on 100,000 synthetic runs, on SQLite and on a throwaway PostgreSQL server.

Builds the database with bulk inserts (3 stations x 4 sockets, 20 lots, about 8 % of units
retested, M measurements per run over M requirements, one in ten runs failing one of them), then
times:

* `hil db stats` as a user runs it (a new process: interpreter start, open, migrate check, figures);
* the figures alone in this process (`line_stats`), and the trend of one measurement;
* the same with --lot, and with --station.

Prints the build time and the median of R repeats. Exit 3 when a backend cannot be measured.

    .venv/bin/python benchmarks/db_stats.py                 # 100,000 runs, 10 measurements each
    .venv/bin/python benchmarks/db_stats.py -n 20000 --sqlite-only
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sqlalchemy import insert

from hil.db import ResultsDB
from hil.db.models import MeasurementRow, Run, Station, Unit
from hil.db.stats import Filters, line_stats
from hil.db.trend import trend

ROOT = Path(__file__).resolve().parents[1]
EXIT_BENCH = 3
CHUNK = 20_000
T0 = dt.datetime(2026, 1, 5, 6, 0)


def build(db: ResultsDB, runs: int, per_run: int, seed: int = 1) -> float:
    """Insert `runs` synthetic runs; seconds taken."""
    rng = np.random.default_rng(seed)
    t = time.perf_counter()
    stations = [f"line-{c}" for c in "abc"]
    with db.session() as s:
        rows = [{"id": i + 1, "name": n, "sha256": "c" * 64, "file": f"{n}.yaml", "lab": "bench"}
                for i, n in enumerate(stations)]  # fmt: skip
        s.execute(insert(Station), [{**row, "simulated": True} for row in rows])
    retest = rng.random(runs) < 0.08
    units = int(runs - retest.sum())
    with db.session() as s:
        for lo in range(0, units, CHUNK):
            ids = range(lo + 1, min(units, lo + CHUNK) + 1)
            s.execute(insert(Unit), [{"id": i, "serial": f"SN{i:07d}", "part": "bms12100"} for i in ids])
    requirements = [f"REQ-{k:02d}" for k in range(per_run)]
    fails = rng.random(runs) < 0.10
    failing_req = rng.integers(0, per_run, runs)
    durations = rng.normal(55.0, 4.0, runs).clip(30, 120)
    values = rng.normal(3.300, 0.004, (runs, per_run))
    socket_of = rng.integers(0, 12, runs)
    unit_id, attempt = 0, 1
    attempts_of: dict[int, int] = {}
    run_rows: list[dict[str, object]] = []
    m_rows: list[dict[str, object]] = []
    for i in range(runs):
        if retest[i] and unit_id:
            attempts_of[unit_id] = attempts_of.get(unit_id, 1) + 1
            attempt = attempts_of[unit_id]
            uid = unit_id
        else:
            unit_id += 1
            uid, attempt = unit_id, 1
        started = T0 + dt.timedelta(seconds=20.0 * i)
        run_id = f"{i:032x}"
        failed = bool(fails[i])
        sock = int(socket_of[i])
        run_rows.append({
            "id": run_id, "unit_id": uid, "station_id": sock // 4 + 1, "profile": "eol",
            "socket": f"s{sock % 4 + 1}", "lot": f"L{i * 20 // runs + 1:02d}", "operator": "bench",
            "started": started, "duration_s": float(durations[i]), "status": "fail" if failed else "pass",
            "first_failed": requirements[failing_req[i]] if failed else None, "attempt": attempt,
            "record_sha256": f"{i:064x}", "record_path": f"/runs/{i}/record.jsonl",
            "plan_sha256": "a" * 64, "spec_sha256": "b" * 64, "firmware": "1.3",
        })  # fmt: skip
        for k, req in enumerate(requirements):
            bad = failed and k == failing_req[i]
            v = 3.33 if bad else float(values[i, k])
            m_rows.append({
                "run_id": run_id, "seq": 4 + k, "test": f"test_{k}", "requirement": req,
                "name": "cell 1 at 3.30 V", "value": v, "unit": "V", "low": 3.28, "high": 3.32,
                "uncertainty": 0.0002, "verdict": "fail" if bad else "pass",
            })  # fmt: skip
        if len(run_rows) >= CHUNK:
            _flush(db, run_rows, m_rows)
    _flush(db, run_rows, m_rows)
    with db.engine.begin() as connection:  # planner statistics, as a maintained database has them
        connection.exec_driver_sql("ANALYZE")
    return time.perf_counter() - t


def _flush(db: ResultsDB, run_rows: list[dict[str, object]], m_rows: list[dict[str, object]]) -> None:
    if not run_rows:
        return
    with db.session() as s:
        s.execute(insert(Run), run_rows)
        s.execute(insert(MeasurementRow), m_rows)
    run_rows.clear()
    m_rows.clear()


def _cpu() -> float:
    """CPU seconds of this process and its finished children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (this process and the `hil` it starts)."""
    walls, cpus = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), _cpu()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(_cpu() - c)
    return statistics.median(walls), statistics.median(cpus)


def cli_stats(url: str, *extra: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hil", "db", "stats", "--db", url, *extra],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"hil db stats failed: {result.stderr.strip()}")


def measure(label: str, url: str, runs: int, per_run: int, repeats: int) -> None:
    with ResultsDB(url) as db:
        built = build(db, runs, per_run)
        print(f"{label}: built {runs:,} runs x {per_run} measurements in {built:.1f} s wall")
        stats = line_stats(db, Filters())
        print(f"{label}:   FPY {100 * (stats.fpy or 0):.2f} %, TFPY {100 * (stats.tfpy or 0):.2f} %, "
              f"{len(stats.pareto)} Pareto rows, {stats.retest_runs:,} retests")  # fmt: skip
        rows = [
            ("hil db stats (new process)", lambda: cli_stats(url)),
            ("line_stats, all runs", lambda: line_stats(db, Filters())),
            ("line_stats --lot L07", lambda: line_stats(db, Filters(lot="L07"))),
            ("line_stats --station line-b", lambda: line_stats(db, Filters(station="line-b"))),
            ("trend REQ-03/cell 1 at 3.30 V", lambda: trend(db, "REQ-03", "cell 1 at 3.30 V", Filters())),
        ]
        for name, fn in rows:
            wall, cpu = timed(fn, repeats)
            print(f"{label}:   {name:<32} {wall:7.2f} s wall, {cpu:6.2f} s CPU (median of {repeats})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=100_000)
    parser.add_argument("-m", "--measurements", type=int, default=10, help="per run")
    parser.add_argument("-r", "--repeats", type=int, default=3)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs at the start")
    tmp = Path(tempfile.mkdtemp(prefix="hil-db-bench-"))
    try:
        measure("sqlite", f"sqlite:///{tmp / 'results.sqlite'}", args.runs, args.measurements, args.repeats)
        if args.sqlite_only:
            return 0
        from hil.db.pgtemp import start_postgres

        try:
            server, base = start_postgres()
        except RuntimeError as exc:
            print(f"postgresql: not measured: {exc}", file=sys.stderr)
            return EXIT_BENCH
        try:
            measure("postgresql", server.database(), args.runs, args.measurements, args.repeats)
        finally:
            server.stop()
            shutil.rmtree(base, ignore_errors=True)
        return 0
    except Exception as exc:
        print(f"bench failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_BENCH
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
