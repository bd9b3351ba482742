"""A measurement's trend across units, from the results database: figures and a PNG plot."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure
from sqlalchemy import select

from hil.db.models import MeasurementRow, Run, Station, Unit
from hil.db.stats import Filters
from hil.db.store import ResultsDB
from hil.errors import UsageError
from hil.report.plots import COLOURS, DPI


@dataclass(frozen=True)
class Point:
    serial: str
    value: float
    uncertainty: float | None
    verdict: str


@dataclass(frozen=True)
class Trend:
    requirement: str
    name: str
    unit: str
    low: float | None
    high: float | None
    points: list[Point]

    @property
    def values(self) -> list[float]:
        return [p.value for p in self.points]

    @property
    def cpk(self) -> float | None:
        """Process capability against the latest limits: min(high - mean, mean - low) / 3 s."""
        if len(self.points) < 2 or (self.low is None and self.high is None):
            return None
        mean, sd = statistics.fmean(self.values), statistics.stdev(self.values)
        if sd == 0:
            return None
        sides = []
        if self.high is not None:
            sides.append(self.high - mean)
        if self.low is not None:
            sides.append(mean - self.low)
        return min(sides) / (3 * sd)

    def describe(self) -> str:
        if not self.points:
            return f"{self.requirement}/{self.name}: no numeric values\n"
        vs = self.values
        sd = statistics.stdev(vs) if len(vs) > 1 else 0.0
        cpk = f", Cpk {self.cpk:.2f}" if self.cpk is not None else ""
        return (
            f"{self.requirement}/{self.name}: {len(vs)} units, mean {statistics.fmean(vs):.6g} {self.unit}, "
            f"s {sd:.3g}, min {min(vs):.6g}, max {max(vs):.6g}{cpk}\n"
        )


def parse_key(text: str) -> tuple[str, str]:
    """`REQ/NAME` (the first slash splits; a name may hold more)."""
    requirement, sep, name = text.partition("/")
    if not sep or not requirement or not name:
        raise UsageError(f"--trend: expected REQUIREMENT/NAME (e.g. ACC-CV/cell 1 at 2.95 V), not {text!r}")
    return requirement, name


def trend(db: ResultsDB, requirement: str, name: str, filters: Filters) -> Trend:
    """The numeric values of one measurement, one point per run, in start order."""
    query = filters.apply(
        select(
            Unit.serial,
            MeasurementRow.value,
            MeasurementRow.uncertainty,
            MeasurementRow.verdict,
            MeasurementRow.unit,
            MeasurementRow.low,
            MeasurementRow.high,
        )
        .join(Run, Run.id == MeasurementRow.run_id)
        .outerjoin(Unit, Run.unit_id == Unit.id)
        .outerjoin(Station, Run.station_id == Station.id)
        .where(MeasurementRow.requirement == requirement, MeasurementRow.name == name)
        .where(MeasurementRow.value.is_not(None))
        .order_by(Run.started, Run.id)
    )
    with db.session() as session:
        rows = session.execute(query).all()
    points = [
        Point(str(r[0] or "?"), r[1], r[2], str(r[3]))
        for r in rows
        if r[1] is not None and math.isfinite(r[1])
    ]
    last = rows[-1] if rows else None
    return Trend(
        requirement,
        name,
        str(last[4]) if last else "",
        last[5] if last else None,
        last[6] if last else None,
        points,
    )


def plot(t: Trend, path: Path) -> None:
    """Values against the unit's position in test order, coloured by verdict, with the limits."""
    fig = Figure(figsize=(8, 3.2))
    fig.subplots_adjust(left=0.1, right=0.98, top=0.88, bottom=0.16)
    ax = fig.add_subplot()
    by_verdict: dict[str, tuple[list[int], list[float]]] = {}
    for i, p in enumerate(t.points):
        xs, ys = by_verdict.setdefault(p.verdict, ([], []))
        xs.append(i + 1)
        ys.append(p.value)
    for verdict, (xs, ys) in sorted(by_verdict.items()):
        ax.plot(
            xs, ys, "o", markersize=3, color=COLOURS.get(verdict, "#455a64"), label=f"{verdict} ({len(xs)})"
        )
    for limit in (t.low, t.high):
        if limit is not None:
            ax.axhline(limit, color="#2e7d32", linestyle="--", linewidth=0.8)
    ax.set_xlabel("unit, in test order", fontsize=8)
    ax.set_ylabel(t.unit, fontsize=8)
    ax.set_title(f"{t.requirement} {t.name}: {len(t.points)} units", fontsize=9)
    ax.tick_params(labelsize=7)
    ax.grid(True, linewidth=0.3)
    if by_verdict:
        ax.legend(fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
