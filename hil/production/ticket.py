"""Per unit, in its run folder: a one-page EOL ticket (PDF) and a label (ZPL) for the label printer.

Both say only what the record shows: the serial, the verdict the panel showed, the failed
requirement IDs, who tested it where and when, and the record it comes from (its SHA-256).
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from pathlib import Path

from hil.production.history import RecordSummary
from hil.record import file_sha256

#: how many measurements the one-page ticket lists (failures first)
TICKET_ROWS = 15


@dataclass(frozen=True)
class UnitResult:
    """What the panel showed for one unit."""

    serial: str
    verdict: str  # PASS, FAIL, STOPPED, ERROR
    failed: list[str]
    operator: str
    socket: str
    lot: str
    line: str
    profile: str
    duration_s: float
    note: str = ""


def _rows(summary: RecordSummary) -> str:
    ordered = sorted(summary.measurements, key=lambda m: m.get("verdict") == "pass")[:TICKET_ROWS]
    out = []
    for m in ordered:
        value = m.get("value")
        shown = f"{value:.4g}" if isinstance(value, float) else html.escape(str(value))
        lo, hi = m.get("low"), m.get("high")
        if lo is None and hi is None:
            limits = "" if m.get("expected") is None else f"= {m['expected']}"
        else:
            limits = f"{'' if lo is None else f'{lo:g}'} … {'' if hi is None else f'{hi:g}'}"
        out.append(
            f"<tr><td>{html.escape(str(m.get('requirement', '')))}</td><td>{html.escape(str(m.get('name')))}"
            f"</td><td>{shown} {html.escape(str(m.get('unit', '')))}</td><td>{html.escape(limits)}</td>"
            f"<td>{html.escape(str(m.get('verdict', '')).upper())}</td></tr>"
        )
    return "\n".join(out)


def ticket_html(result: UnitResult, summary: RecordSummary, record: Path) -> str:
    """The ticket as HTML (rendered to PDF by weasyprint)."""
    header = summary.header
    colour = {"PASS": "#0a7d28", "FAIL": "#b00020"}.get(result.verdict, "#8a6d00")
    failed = ", ".join(result.failed) or "-"
    sha = file_sha256(record) if record.exists() else "-"
    more = len(summary.measurements) - min(len(summary.measurements), TICKET_ROWS)
    facts = [
        ("Serial", result.serial),
        ("DUT", str(header.get("dut_title", ""))),
        ("Line / socket", f"{result.line} / {result.socket}"),
        ("Lot", result.lot),
        ("Profile", result.profile + (f" ({header['sampling']})" if header.get("sampling") else "")),
        ("Operator", result.operator),
        ("Station", str(header.get("station", {}).get("name", ""))),
        ("Started", str(header.get("started", ""))),
        ("Duration", f"{result.duration_s:.1f} s"),
        ("Failed requirements", failed),
        ("Run id", str(header.get("run_id", ""))),
        ("Record SHA-256", sha),
    ]
    rows = "".join(f"<tr><th>{k}</th><td>{html.escape(v)}</td></tr>" for k, v in facts)
    note = f"<p>{html.escape(result.note)}</p>" if result.note else ""
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>
@page {{ size: A4; margin: 14mm; }}
body {{ font-family: sans-serif; font-size: 9.5pt; }}
.verdict {{ font-size: 48pt; font-weight: bold; color: white; background: {colour};
  text-align: center; padding: 4mm; margin: 4mm 0; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 0.3pt solid #999; padding: 1mm 2mm; text-align: left; }}
th {{ background: #eee; }}
table.facts th {{ width: 30%; }}
table.facts td {{ word-break: break-all; }}
</style></head><body>
<h1>EOL ticket - {html.escape(result.serial)}</h1>
<div class="verdict">{result.verdict}</div>
<table class="facts">{rows}</table>{note}
<h2>Measurements ({len(summary.measurements)}{f", {more} not listed" if more else ""})</h2>
<table><tr><th>Req.</th><th>Name</th><th>Value</th><th>Limits</th><th>Verdict</th></tr>
{_rows(summary)}</table>
<p>The record ({html.escape(record.name)}) is the evidence; this ticket is a summary of it.</p>
</body></html>"""


def write_ticket(folder: Path, result: UnitResult, summary: RecordSummary) -> Path:
    """eol-ticket.pdf in the run folder."""
    from weasyprint import HTML

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    path = folder / "eol-ticket.pdf"
    HTML(string=ticket_html(result, summary, folder / "record.jsonl")).write_pdf(path)
    return path


def _zpl_text(value: str) -> str:
    """ZPL field data: ^ and ~ are commands, so they are replaced."""
    return value.replace("^", "_").replace("~", "_")


def label_zpl(result: UnitResult, date: str) -> str:
    """A 4 x 2 inch (203 dpi) label: serial as text and Code 128, verdict, lot, date."""
    serial = _zpl_text(result.serial)
    return (
        "^XA\n^CI28\n^PW812\n^LL406\n"
        f"^FO30,25^A0N,50,50^FD{serial}^FS\n"
        f"^FO30,90^BY2^BCN,100,N,N,N^FD{serial}^FS\n"
        f"^FO30,215^A0N,80,80^FD{_zpl_text(result.verdict)}^FS\n"
        f"^FO30,310^A0N,30,30^FDLot {_zpl_text(result.lot)}  Socket {_zpl_text(result.socket)}^FS\n"
        f"^FO30,350^A0N,30,30^FD{date}  {_zpl_text(result.operator)}^FS\n"
        "^XZ\n"
    )


def write_label(folder: Path, result: UnitResult, date: str) -> Path:
    """label.zpl in the run folder."""
    path = folder / "label.zpl"
    path.write_text(label_zpl(result, date), encoding="utf-8")
    return path
