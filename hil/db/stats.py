"""Line figures from the results database: yields, the Pareto of first failures, cycle time,
units per hour, retests; a measurement's trend across units; CSV export.

Definitions (docs/results-database.md):
- FPY, first-pass yield: units whose first attempt passed / units whose first attempt is in the window;
- TFPY, true first-pass yield: the product over requirements of each requirement's first-pass
  yield (first attempts that had it accepted / first attempts that measured it): the rolled yield of
  the individual tests, each test counted even when an earlier one already failed the unit.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVarTuple

from sqlalchemy import Select, and_, case, distinct, func, select
from sqlalchemy.orm import Session

from hil.db.models import MeasurementRow, Run, Station, Unit
from hil.db.store import ResultsDB
from hil.db.summary import NOT_ACCEPTED

FAILED = ("fail", "error")
_Ts = TypeVarTuple("_Ts")
NOT_ACCEPTED_WORDS = tuple(sorted(v.value for v in NOT_ACCEPTED))


@dataclass(frozen=True)
class Filters:
    """Which runs the figures cover."""

    station: str | None = None
    lot: str | None = None
    since: dt.datetime | None = None  # naive UTC
    profile: str | None = None

    def apply(self, query: Select[*_Ts]) -> Select[*_Ts]:
        if self.station is not None:
            query = query.where(Station.name == self.station)
        if self.lot is not None:
            query = query.where(Run.lot == self.lot)
        if self.since is not None:
            query = query.where(Run.started >= self.since)
        if self.profile is not None:
            query = query.where(Run.profile == self.profile)
        return query


@dataclass(frozen=True)
class Throughput:
    station: str
    socket: str
    runs: int
    units: int
    hours: float
    units_per_hour: float | None


@dataclass(frozen=True)
class StepYield:
    requirement: str
    tested: int
    accepted: int

    @property
    def fpy(self) -> float:
        return self.accepted / self.tested if self.tested else 1.0


@dataclass
class LineStats:
    runs: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    units: int = 0  # units whose first attempt is in the window
    first_pass: int = 0
    steps: list[StepYield] = field(default_factory=list)
    pareto: list[tuple[str, int]] = field(default_factory=list)
    cycle_median_s: float | None = None
    cycle_p95_s: float | None = None
    throughput: list[Throughput] = field(default_factory=list)
    retest_runs: int = 0  # runs with attempt > 1
    retested_units: int = 0  # units with a run of attempt > 1 in the window
    passed_on_retest: int = 0  # of those, units that passed on a later attempt

    @property
    def fpy(self) -> float | None:
        return self.first_pass / self.units if self.units else None

    @property
    def tfpy(self) -> float | None:
        if not self.steps:
            return None
        return math.prod(step.fpy for step in self.steps)


def _steps(session: Session, filters: Filters) -> list[StepYield]:
    """Per requirement: first attempts that measured it, and those that had all of it accepted."""
    not_accepted = case((MeasurementRow.verdict.in_(NOT_ACCEPTED_WORDS), MeasurementRow.run_id))
    query = (
        select(
            MeasurementRow.requirement,
            func.count(distinct(MeasurementRow.run_id)),
            func.count(distinct(not_accepted)),
        )
        .join(Run, Run.id == MeasurementRow.run_id)
        .outerjoin(Station, Run.station_id == Station.id)
        .where(and_(Run.attempt == 1, Run.unit_id.is_not(None)))
        .group_by(MeasurementRow.requirement)
        .order_by(MeasurementRow.requirement)
    )
    rows = session.execute(filters.apply(query)).all()
    return [StepYield(str(req), int(tested), int(tested) - int(failed)) for req, tested, failed in rows]


def line_stats(db: ResultsDB, filters: Filters) -> LineStats:
    """Every figure of `hil db stats` for the runs the filters select."""
    out = LineStats()
    with db.session() as session:
        query = select(
            Run.unit_id,
            Run.attempt,
            Run.status,
            Run.started,
            Run.duration_s,
            Station.name,
            Run.socket,
            Run.first_failed,
        ).outerjoin(Station, Run.station_id == Station.id)
        rows = session.execute(filters.apply(query)).all()
        out.steps = _steps(session, filters)
    out.runs = len(rows)
    out.statuses = dict(Counter(row[2] for row in rows))
    first = [row for row in rows if row[0] is not None and row[1] == 1]
    out.units = len(first)
    out.first_pass = sum(1 for row in first if row[2] == "pass")
    out.pareto = Counter(row[7] for row in rows if row[2] in FAILED and row[7]).most_common()
    cycles = [row[4] for row in rows if row[2] in ("pass", "fail") and row[4] is not None]
    if cycles:
        out.cycle_median_s = statistics.median(cycles)
        # p95 interpolated between the order statistics, as numpy.percentile's default does
        out.cycle_p95_s = (
            statistics.quantiles(cycles, n=20, method="inclusive")[18] if len(cycles) > 1 else cycles[0]
        )
    groups: dict[tuple[str, str], list[Any]] = {}
    for row in rows:
        groups.setdefault((row[5] or "", row[6] or ""), []).append(row)
    for (station, socket), members in sorted(groups.items()):
        start = min(r[3] for r in members)
        end = max(r[3] + dt.timedelta(seconds=r[4] or 0.0) for r in members)
        hours = (end - start).total_seconds() / 3600
        units = len({r[0] for r in members if r[0] is not None})
        out.throughput.append(
            Throughput(station, socket, len(members), units, hours, units / hours if hours > 0 else None)
        )
    retests = [row for row in rows if row[0] is not None and row[1] > 1]
    out.retest_runs = len(retests)
    retested = {row[0] for row in retests}
    out.retested_units = len(retested)
    out.passed_on_retest = len({row[0] for row in retests if row[2] == "pass"})
    return out


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f} %"


def _seconds(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f} s"


def render(stats: LineStats, filters: Filters) -> str:
    """The figures as text for the terminal."""
    window = [
        f"{k} {v}"
        for k, v in (
            ("station", filters.station),
            ("lot", filters.lot),
            ("since", filters.since),
            ("profile", filters.profile),
        )
        if v is not None
    ]
    lines = [f"runs: {stats.runs}" + (f" ({', '.join(window)})" if window else "")]
    lines.append("status: " + (", ".join(f"{k} {v}" for k, v in sorted(stats.statuses.items())) or "-"))
    lines.append(f"units (first attempt in the window): {stats.units}")
    lines.append(f"FPY  first-pass yield:      {_pct(stats.fpy)} ({stats.first_pass} of {stats.units})")
    lines.append(
        f"TFPY true first-pass yield: {_pct(stats.tfpy)} (product over {len(stats.steps)} requirements)"
    )
    worst = sorted(stats.steps, key=lambda s: s.fpy)[:5]
    for step in worst:
        if step.accepted < step.tested:
            lines.append(f"  {step.requirement:<16} {_pct(step.fpy)} ({step.accepted} of {step.tested})")
    lines.append(f"cycle time: median {_seconds(stats.cycle_median_s)}, p95 {_seconds(stats.cycle_p95_s)}")
    lines.append(
        f"retests: {stats.retest_runs} runs on {stats.retested_units} units, "
        f"{stats.passed_on_retest} passed on a retest"
    )
    total = sum(n for _, n in stats.pareto)
    lines.append(f"Pareto of first-failing requirements ({total} failed runs):")
    running = 0
    for requirement, count in stats.pareto:
        running += count
        lines.append(
            f"  {requirement:<16} {count:>7}  {100 * count / total:5.1f} %  "
            f"cumulative {100 * running / total:5.1f} %"
        )
    lines.append("units per hour (first start to last end):")
    for t in stats.throughput:
        uph = "-" if t.units_per_hour is None else f"{t.units_per_hour:.1f}"
        lines.append(
            f"  {t.station or '(none)'} socket {t.socket or '-'}: {uph} units/h "
            f"({t.units} units, {t.runs} runs in {t.hours:.2f} h)"
        )
    return "\n".join(lines) + "\n"


def write_stats_csv(stats: LineStats, path: Path) -> None:
    """The figures as CSV: section, key, value, count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["section", "key", "value", "count"])
        w.writerow(["yield", "fpy", stats.fpy, stats.units])
        w.writerow(["yield", "tfpy", stats.tfpy, len(stats.steps)])
        for step in stats.steps:
            w.writerow(["step_fpy", step.requirement, step.fpy, step.tested])
        for requirement, count in stats.pareto:
            w.writerow(["pareto", requirement, "", count])
        w.writerow(["cycle_time_s", "median", stats.cycle_median_s, ""])
        w.writerow(["cycle_time_s", "p95", stats.cycle_p95_s, ""])
        for t in stats.throughput:
            w.writerow(["units_per_hour", f"{t.station}/{t.socket}", t.units_per_hour, t.units])
        w.writerow(["retests", "runs", "", stats.retest_runs])
        w.writerow(["retests", "units", "", stats.retested_units])
        w.writerow(["retests", "passed_on_retest", "", stats.passed_on_retest])


RUN_COLUMNS = (
    "run_id", "serial", "part", "revision", "profile", "station", "socket", "lot", "operator",
    "started", "duration_s", "status", "first_failed", "attempt", "firmware", "plan_sha256",
    "spec_sha256", "record_sha256", "record_path",
)  # fmt: skip


def export_runs(db: ResultsDB, filters: Filters, path: Path) -> int:
    """One CSV row per run (oldest first); the number of rows."""
    query = filters.apply(
        select(
            Run.id,
            Unit.serial,
            Unit.part,
            Unit.revision,
            Run.profile,
            Station.name,
            Run.socket,
            Run.lot,
            Run.operator,
            Run.started,
            Run.duration_s,
            Run.status,
            Run.first_failed,
            Run.attempt,
            Run.firmware,
            Run.plan_sha256,
            Run.spec_sha256,
            Run.record_sha256,
            Run.record_path,
        )
        .outerjoin(Unit, Run.unit_id == Unit.id)
        .outerjoin(Station, Run.station_id == Station.id)
        .order_by(Run.started, Run.id)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with db.session() as session, path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(RUN_COLUMNS)
        for row in session.execute(query):
            values = list(row)
            values[9] = values[9].isoformat() + "Z"
            w.writerow(values)
            n += 1
    return n
