"""Trends across runs (`hil report --compare DIR DIR ...`): how trip points, delays and accuracies move.

Every numeric result is keyed by (requirement, result name). The first run is the baseline; a
result whose change from the baseline is larger than the combined expanded uncertainty of the two,
|x_i - x_0| > √(U_0² + U_i²), is flagged as a drift. A result without a stated uncertainty in
either run cannot be judged and is marked so.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

from hil.report import plots
from hil.report.model import RunReport, load_run


@dataclass
class Point:
    value: float | None
    uncertainty: float | None
    verdict: str
    low: float | None
    high: float | None


@dataclass
class Series:
    """One result across the runs."""

    requirement: str
    name: str
    unit: str
    points: list[Point | None] = field(default_factory=list)  # one per run, None = not measured

    def drift(self, i: int) -> bool | None:
        """True if run i moved from the baseline by more than the combined U; None if it cannot tell."""
        base, cur = self.points[0], self.points[i]
        if base is None or cur is None or base.value is None or cur.value is None:
            return None
        if base.uncertainty is None or cur.uncertainty is None:
            return None
        return abs(cur.value - base.value) > math.hypot(base.uncertainty, cur.uncertainty)

    def drifted(self) -> list[bool]:
        return [bool(self.drift(i)) for i in range(len(self.points))]


@dataclass
class Comparison:
    runs: list[RunReport]
    series: list[Series]

    def labels(self) -> list[str]:
        out = []
        for run in self.runs:
            dut = run.dut or {}
            fw = f"fw {dut.get('firmware')}" if dut.get("firmware") else "fw ?"
            flag = "" if run.complete else " (incomplete)"
            out.append(f"{run.run_id[:8]} {fw} {run.started[:10]}{flag}")
        return out

    def drifts(self) -> list[tuple[Series, int]]:
        return [(s, i) for s in self.series for i in range(1, len(self.runs)) if s.drift(i)]


def compare(folders: list[Path]) -> Comparison:
    runs = [load_run(f) for f in folders]
    keyed: dict[tuple[str, str], Series] = {}
    for index, run in enumerate(runs):
        seen: dict[tuple[str, str], int] = {}
        for test_id, m in run.measurements:
            if not m.numeric or m.value is None:
                continue
            key = (m.requirement, m.name)
            seen[key] = seen.get(key, 0) + 1
            if seen[key] > 1:
                key = (m.requirement, f"{m.name} [{test_id.rsplit('::', 1)[-1]}]")
            series = keyed.setdefault(key, Series(key[0], key[1], m.unit))
            while len(series.points) < index:
                series.points.append(None)
            value = float(m.value)
            series.points.append(
                Point(None if math.isnan(value) else value, m.uncertainty, m.verdict.value, m.low, m.high)
            )
    for series in keyed.values():
        while len(series.points) < len(runs):
            series.points.append(None)
    return Comparison(runs, list(keyed.values()))


def _cell(p: Point | None) -> str:
    if p is None or p.value is None:
        return "-"
    u = f" ± {p.uncertainty:.3g}" if p.uncertainty is not None else ""
    return f"{p.value:.6g}{u}"


def table(comp: Comparison) -> str:
    """A plain-text table: one line per result, one column per run; '!' marks a drift."""
    labels = comp.labels()
    head = ["requirement", "result", "unit", *labels]
    lines = [head]
    for s in comp.series:
        cells = [s.requirement, s.name, s.unit]
        for i, p in enumerate(s.points):
            mark = ""
            if i > 0:
                d = s.drift(i)
                mark = " !" if d else ("" if d is not None else " ?")
            cells.append(_cell(p) + mark)
        lines.append(cells)
    widths = [max(len(row[c]) for row in lines) for c in range(len(head))]
    text = "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)).rstrip() for row in lines
    )
    return text + "\n"


def write(comp: Comparison, out: Path) -> dict[str, Path]:
    """compare.csv and compare.html (table and one trend plot per result) in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    labels = comp.labels()
    csv_path = out / "compare.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["requirement", "result", "unit", "run", "run_id", "value", "uncertainty", "verdict", "drift"]
        )
        for s in comp.series:
            for i, p in enumerate(s.points):
                d = s.drift(i) if i else None
                writer.writerow(
                    [
                        s.requirement,
                        s.name,
                        s.unit,
                        labels[i],
                        comp.runs[i].run_id,
                        "" if p is None or p.value is None else repr(p.value),
                        "" if p is None or p.uncertainty is None else repr(p.uncertainty),
                        "" if p is None else p.verdict,
                        "" if d is None else ("yes" if d else "no"),
                    ]
                )
    rows = []
    for s in comp.series:
        cells = []
        for i, p in enumerate(s.points):
            d = s.drift(i) if i else None
            style = ' class="drift"' if d else ""
            cells.append(f"<td{style}>{html.escape(_cell(p))}{' DRIFT' if d else ''}</td>")
        rows.append(
            f"<tr><td>{html.escape(s.requirement)}</td><td>{html.escape(s.name)}</td><td>{html.escape(s.unit)}</td>"
            + "".join(cells)
            + "</tr>"
        )
    figures = []
    for s in comp.series:
        p0 = next((p for p in s.points if p is not None), None)
        png = plots.trend(
            f"{s.requirement} {s.name}",
            labels,
            [None if p is None else p.value for p in s.points],
            [None if p is None else p.uncertainty for p in s.points],
            s.unit,
            p0.low if p0 else None,
            p0.high if p0 else None,
            s.drifted(),
        )
        figures.append(
            f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}" alt="{html.escape(s.name)}">'
        )
    drifts = comp.drifts()
    summary = (
        f"{len(drifts)} drift(s) larger than the combined expanded uncertainty"
        if drifts
        else "No result moved by more than its combined expanded uncertainty."
    )
    doc = io.StringIO()
    doc.write("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Run comparison</title><style>")
    doc.write(
        "body{font-family:'DejaVu Sans',sans-serif;font-size:9pt;margin:12px}table{border-collapse:collapse}"
        "td,th{border:1px solid #bbb;padding:2px 5px}th{background:#eceff1}"
        ".drift{background:#ffcdd2;font-weight:bold}"
        "img{max-width:640px;display:block;margin:6px 0}"
    )
    doc.write("</style></head><body><h1>Run comparison</h1>")
    doc.write(
        f"<p>Baseline: {html.escape(labels[0])}. {html.escape(summary)} (drift: |x - x<sub>0</sub>| &gt; "
        "√(U<sub>0</sub>² + U²), U expanded, k=2).</p>"
    )
    doc.write("<table><tr><th>Requirement</th><th>Result</th><th>Unit</th>")
    doc.write("".join(f"<th>{html.escape(label)}</th>" for label in labels))
    doc.write("</tr>" + "".join(rows) + "</table>")
    doc.write("<h2>Trends</h2>" + "".join(figures) + "</body></html>")
    html_path = out / "compare.html"
    html_path.write_text(doc.getvalue(), encoding="utf-8")
    return {"csv": csv_path, "html": html_path}
