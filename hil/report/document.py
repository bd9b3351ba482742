"""The test report as HTML and as PDF/A-3b (the record embedded, its SHA-256 printed), from one template.

The template (`reports/templates/report.html.j2`, made of the parts `report_front`, `report_section`
and `report_tail`) lays out: a first page with what ISO/IEC 17025
§7.8.2 asks of a test report, a summary, the traceability matrix (every requirement of the spec),
a section per tested requirement with its plots, the instruments, the notes (the seed's
ambiguities), and the record's identity.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import getpass
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from hil.measure import Measurement
from hil.report import layout, pdfparts
from hil.report.bars import tolerance_bar
from hil.report.figures import all_plots, requirement_plots
from hil.report.model import (
    VERDICT_LABELS,
    RequirementRow,
    RunReport,
    format_measurement,
    format_value,
    gum_pair,
)
from hil.report.pdfparts import Written

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "reports" / "templates"
#: first-page results per requirement (the rest are in the requirement's section)
FIRST_PAGE_RESULTS = 3
#: requirement/verdict pairs per row of the first page's grid, and not-accepted results listed there
GRID_COLUMNS = 5
FIRST_PAGE_FAILURES = 8


@dataclass
class Section:
    """One tested requirement's section: its rows, plots and budgets."""

    row: RequirementRow
    plots: list[str]  # data: URIs
    budgets: list[Measurement]


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _key_results(row: RequirementRow) -> list[str]:
    numeric = [m for m in row.measurements if m.numeric]
    picked = numeric[:FIRST_PAGE_RESULTS]
    lines = [f"{m.name}: {format_measurement(m)} {VERDICT_LABELS.get(m.verdict.value, '')}" for m in picked]
    rest = len(row.measurements) - len(picked)
    if rest > 0:
        bad = [m for m in row.measurements if m not in picked and not m.passed]
        lines.append(f"+ {rest} more result(s), {len(bad)} not accepted (section {row.id})")
    return lines


def section_of(row: RequirementRow, images: list[bytes]) -> Section:
    """A tested requirement's section: its rows, its figures as data: URIs and its budgets."""
    return Section(row, [data_uri(p) for p in images], [m for m in row.measurements if m.budget])


def helpers() -> dict[str, Any]:
    """What the templates call to format a result; a section needs only these (and its own data)."""
    return {
        "labels": VERDICT_LABELS,
        "fmt": format_measurement,
        "gum": gum_pair,
        "fmtv": format_value,
        "bar": tolerance_bar,
        "spec_line": layout.spec_line,
    }


def build_context(
    run: RunReport, authorised_by: str | None, plot_cache: dict[str, list[bytes]]
) -> dict[str, Any]:
    rows = run.requirement_rows()
    all_plots(run, plot_cache)
    sections = []
    for row in rows:
        if not row.measurements and not row.tests:
            continue
        images = plot_cache.get(row.id)
        if images is None:
            images = plot_cache[row.id] = requirement_plots(row)
        sections.append(section_of(row, images))
    word, sentence = run.overall()
    spec_rows = run.spec_rows()
    ambiguous = [r for r in spec_rows if r.get("notes") or r.get("uncertain") or r.get("testable") is False]
    header = run.header
    linked = {section.row.id for section in sections}
    selection = _selection(header)
    station = header.get("station", {}) or {}
    return helpers() | {
        "run": run,
        "header": header,
        "software": header.get("software", {}) or {},
        "spec": header.get("spec", {}) or {},
        "spec_data": run.spec,
        "station": header.get("station", {}) or {},
        "dut_family": header.get("dut", {}) or {},
        "dut": run.dut or {},
        "dut_serial": (run.dut or {}).get("serial") or "serial not read",
        "overall": word,
        "overall_sentence": sentence,
        "rows": rows,
        "tested_rows": [r for r in rows if r.tested],
        "sections": sections,
        "key_results": {r.id: _key_results(r) for r in rows if r.tested},
        "instruments": run.instruments(),
        "ambiguous": ambiguous,
        "rule": run.decision_rule,
        "authorised_by": authorised_by,
        "issued": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "issued_by": getpass.getuser(),
        "counts": run.verdict_counts(),
        "grid_columns": GRID_COLUMNS,
        "not_accepted": [m for r in rows for m in r.measurements if not m.passed],
        "first_page_failures": FIRST_PAGE_FAILURES,
        "selection": selection,
        "req_link": lambda rid: _req_link(str(rid), linked),
        "lab": layout.lab(station),
        "environment": layout.environment(run),
        "seed": layout.effective_seed(run),
        "findings": layout.page_one_findings(run),
        "deviations": layout.deviations(run, selection),
        "no_sampling": layout.NO_SAMPLING,
        "short_test": lambda nodeid: _short_test(nodeid, header),
        "test_counts": run.test_counts(),
    }


def _req_link(rid: str, linked: set[str]) -> Markup:
    """A requirement ID as a link to its section (an internal link in the PDF too), if it has one."""
    if rid in linked:
        return Markup(f'<a class="req-link" href="#req-{escape(rid)}">{escape(rid)}</a>')
    return Markup(escape(rid))


#: arguments `hil run` always passes: not worth a line on the first page
_PLUMBING = (
    "--rootdir",
    "--hil-out",
    "--junitxml",
    "--hil-station",
    "--hil-reports",
    "--hil-serial",
    "--hil-customer",
    "--hil-item-received",
    "--hil-environment",
    "-q",
    "-o",
    "junit_family",
)


def _selection(header: dict[str, Any]) -> list[str]:
    """The run's arguments that select or change the plan (e.g. -k, -m, --hil-profile)."""
    plan = header.get("plan", {}) or {}
    plan_dir = str(plan.get("dir", ""))
    out = []
    for arg in plan.get("args", []) or []:
        text = str(arg)
        if text.startswith(_PLUMBING) or text.rstrip("/").endswith(plan_dir.rstrip("/")):
            continue
        out.append(text)
    return out


def _short_test(nodeid: str, header: dict[str, Any]) -> str:
    plan_dir = str((header.get("plan", {}) or {}).get("dir", "")).rstrip("/")
    return nodeid.removeprefix(plan_dir + "/") if plan_dir else nodeid


def breakable(label: str) -> Markup:
    """A verdict word that may break before its last four letters (CHARACTER-ISED) in a narrow column."""
    words = [w if len(w) <= 10 else f"{w[:-4]}\u00ad{w[-4:]}" for w in str(label).split(" ")]
    return Markup(" ".join(str(escape(w)) for w in words))


#: a line break in a `lines` cell (`white-space: pre-line`), where a <br> would cost an element
LINE_BREAK = Markup("\n")


def one_line(value: object) -> object:
    """A value printed into the report with its own line breaks as spaces (as HTML shows them
    anyway), so that in a `lines` cell only the template's `nl` breaks a line; markup as it is."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return value.replace("\r", " ").replace("\n", " ")
    return value


def lines(items: Iterable[object]) -> Markup:
    """Items one per line in a `lines` cell."""
    return LINE_BREAK.join(escape(one_line(str(item))) for item in items)


@functools.cache
def _environment() -> jinja2.Environment:
    """One environment per process, so each template is compiled once (65 sections, two each)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=one_line,
    )
    env.filters["verdict_class"] = lambda v: str(v).replace(" ", "-").lower()
    env.filters["breakable"] = breakable
    env.filters["lines"] = lines
    env.globals["nl"] = LINE_BREAK
    return env


@functools.cache
def _css() -> str:
    return (TEMPLATES / "report.css").read_text(encoding="utf-8")


def pdf_style() -> str:
    """The PDF parts' stylesheet: given to weasyprint apart from their HTML (hil.report.pdfparts)."""
    return _css()


def render_html(context: dict[str, Any], for_pdf: bool) -> str:
    template = _environment().get_template("report.html.j2")
    return template.render(**context, css=_css(), for_pdf=for_pdf)


def section_html(section: Section, number: int, heading: bool) -> str:
    """Section 3.`number` as a whole HTML document of its own (a PDF part); `heading`: under the
    "3 Results by requirement" title (the first section). Depends on the section's data only."""
    env = _environment()
    body = env.get_template("report_section.html.j2").render(**helpers(), section=section, number=number)
    return _part(env, (SECTION_HEADING if heading else "") + body)


def pdf_parts(context: dict[str, Any]) -> tuple[list[str], str]:
    """The PDF's parts, each a whole HTML document starting on a new page (their stylesheet is
    `pdf_style`, given apart): the front (first page, summary, matrix; it carries the document's
    metadata; cut at its page breaks: the first page, the summary, the matrix), one per tested
    requirement, the tail. Also the frame: a page's running header and
    footer, with `{pages}` for the page count."""
    env = _environment()
    head = env.get_template("report_head.html.j2").render(**context, css="", for_pdf=True)
    front = env.get_template("report_front.html.j2").render(**context, for_pdf=True)
    first, *rest = _split(front, FRONT_BREAKS)
    parts = [head + first + "</body>\n</html>\n", *(_part(env, piece) for piece in rest)]
    sections = context["sections"]
    for number, section in enumerate(sections, 1):
        parts.append(section_html(section, number, number == 1))
    if not sections:
        parts.append(_part(env, SECTION_HEADING + "<p>No requirement was tested in this run.</p>\n"))
    tail = env.get_template("report_tail.html.j2").render(**context, for_pdf=True)
    parts.append(_part(env, tail))
    frame = env.get_template("report_frame.html.j2")
    framed = frame.render(**context, css="", for_pdf=True, pages=1)
    return parts, framed.replace('<div class="frame"></div>\n', pdfparts.FRAME)


SECTION_HEADING = '<h2 class="section">3 Results by requirement</h2>\n'
#: where the front's forced page breaks are (after the first page, before the matrix): the front is
#: three parts, written side by side after the seal
FRONT_BREAKS = ("<h2>1 Summary</h2>", '<h2 class="section">2 Traceability matrix</h2>')


def _split(html: str, markers: tuple[str, ...]) -> list[str]:
    """`html` cut before each marker it has (each follows a forced page break, so each piece lays
    out as it did in one document)."""
    pieces = []
    for marker in markers:
        at = html.find(marker)
        if at > 0:
            pieces.append(html[:at])
            html = html[at:]
    return [*pieces, html]


def _part(env: jinja2.Environment, body: str) -> str:
    return env.get_template("report_part.html.j2").render(css="", body=Markup(body))


def write_html(
    run: RunReport, out: Path, authorised_by: str | None = None, cache: dict[str, list[bytes]] | None = None
) -> Path:
    context = build_context(run, authorised_by, {} if cache is None else cache)
    path = out / "report.html"
    path.write_text(render_html(context, for_pdf=False), encoding="utf-8")
    return path


def write_pdf(
    run: RunReport,
    out: Path,
    authorised_by: str | None = None,
    cache: dict[str, list[bytes]] | None = None,
    written: Written | None = None,
    processes: int = 1,
    log: Callable[[str], None] | None = None,
) -> Path:
    """report.pdf as PDF/A-3b with record.jsonl embedded (AFRelationship Source). `written`: parts
    written during the run (hil.report.prefetch), used where their HTML is the same; `processes`:
    forked processes that write the other parts, `log` told of each stage (hil.report.pdfparts.write)."""
    context = build_context(run, authorised_by, {} if cache is None else cache)
    parts, frame = pdf_parts(context)
    path = out / "report.pdf"
    tmp = out / "report.pdf.part"
    pdfparts.write(
        parts,
        frame,
        base_url=str(out),
        style=pdf_style(),
        target=tmp,
        record=run.record_path,
        description=f"Run record {run.run_id}, SHA-256 {run.record_sha256}",
        written=written,
        processes=processes,
        log=log,
    )
    tmp.replace(path)
    return path
