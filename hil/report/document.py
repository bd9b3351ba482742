"""The test report as HTML and as PDF/A-3b (the record embedded, its SHA-256 printed), from one template.

The template (`reports/templates/report.html.j2`) lays out: a first page with what ISO/IEC 17025
§7.8.2 asks of a test report, a summary, the traceability matrix (every requirement of the spec),
a section per tested requirement with its plots, the instruments, the notes (the seed's
ambiguities), and the record's identity.
"""

from __future__ import annotations

import base64
import datetime as dt
import getpass
import os
import pickle
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from hil.measure import Measurement
from hil.report import layout
from hil.report.bars import tolerance_bar
from hil.report.model import (
    VERDICT_LABELS,
    RequirementRow,
    RunReport,
    format_measurement,
    format_value,
    gum_pair,
)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "reports" / "templates"
#: first-page results per requirement (the rest are in the requirement's section)
FIRST_PAGE_RESULTS = 3
#: requirement/verdict pairs per row of the first page's grid, and not-accepted results listed there
GRID_COLUMNS = 5
FIRST_PAGE_FAILURES = 8
#: plots drawn in worker processes when there are at least this many per worker
PLOTS_PER_WORKER = 8
MAX_WORKERS = 4
WORKER_TIMEOUT_S = 600


@dataclass
class Section:
    """One tested requirement's section: its rows, plots and budgets."""

    row: RequirementRow
    plots: list[str]  # data: URIs
    budgets: list[Measurement]


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _plots_of(requirement: str, measurements: list[Measurement], spec: dict[str, Any]) -> list[bytes]:
    from hil.report import plots  # matplotlib: only when there is something to draw

    images = []
    for figure in (
        plots.stimulus_response(requirement, measurements, spec),
        plots.go_no_go(requirement, measurements, spec),
    ):
        if figure is not None:
            images.append(figure)
    if not images:  # a stimulus that left no level series: the results it gave, against time
        results = plots.results_over_time(requirement, measurements)
        if results is not None:
            images.append(results)
    return images


def requirement_plots(row: RequirementRow) -> list[bytes]:
    """The PNG plots of one requirement: stimulus and response against time (from the probes)."""
    return _plots_of(row.id, row.measurements, row.spec)


PlotJob = tuple[str, list[Measurement], dict[str, Any]]


def plot_job(job: PlotJob) -> tuple[str, list[bytes]]:
    return job[0], _plots_of(*job)


def _in_workers(jobs: list[PlotJob], workers: int) -> list[tuple[str, list[bytes]]] | None:
    """Run the jobs in `workers` fresh interpreters (python -m hil.report.plotworker); None if that failed."""
    shares = [jobs[i::workers] for i in range(workers)]
    procs = []
    try:
        for share in shares:
            proc = subprocess.Popen(
                [sys.executable, "-m", "hil.report.plotworker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={**os.environ, "MPLBACKEND": "Agg"},
            )
            procs.append((proc, pickle.dumps(share, protocol=pickle.HIGHEST_PROTOCOL)))
        results: list[tuple[str, list[bytes]]] = []
        for proc, payload in procs:
            out, _ = proc.communicate(payload, timeout=WORKER_TIMEOUT_S)
            if proc.returncode != 0:
                return None
            results.extend(pickle.loads(out))
        return results
    except (OSError, subprocess.SubprocessError, pickle.PickleError, EOFError):
        return None
    finally:
        for proc, _ in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def all_plots(
    run: RunReport,
    cache: dict[str, list[bytes]],
    prefetched: dict[str, tuple[str, list[bytes]]] | None = None,
) -> dict[str, list[bytes]]:
    """The plots of every requirement with measurements, into `cache`; in worker processes when many.

    Matplotlib takes 0.1-0.3 s per figure: a full plan's 60-odd figures are spread over the CPUs,
    and drawn here if the workers cannot run. A figure in `prefetched` (hil.report.prefetch: drawn
    during the run) is used when the digest of its inputs matches.
    """
    from hil.report.prefetch import job_digest

    jobs = []
    for r in run.requirement_rows():
        if not r.measurements or r.id in cache:
            continue
        job: PlotJob = (r.id, r.measurements, r.spec)
        early = (prefetched or {}).get(r.id)
        if early is not None and early[0] == job_digest(job):
            cache[r.id] = early[1]
        else:
            jobs.append(job)
    workers = min(len(jobs) // PLOTS_PER_WORKER, os.cpu_count() or 1, MAX_WORKERS)
    done = _in_workers(jobs, workers) if workers >= 2 else None
    if done is None:
        done = [plot_job(job) for job in jobs]
    cache.update(done)
    return cache


def _key_results(row: RequirementRow) -> list[str]:
    numeric = [m for m in row.measurements if m.numeric]
    picked = numeric[:FIRST_PAGE_RESULTS]
    lines = [f"{m.name}: {format_measurement(m)} {VERDICT_LABELS.get(m.verdict.value, '')}" for m in picked]
    rest = len(row.measurements) - len(picked)
    if rest > 0:
        bad = [m for m in row.measurements if m not in picked and not m.passed]
        lines.append(f"+ {rest} more result(s), {len(bad)} not accepted (section {row.id})")
    return lines


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
        sections.append(
            Section(row, [data_uri(p) for p in images], [m for m in row.measurements if m.budget])
        )
    word, sentence = run.overall()
    spec_rows = run.spec_rows()
    ambiguous = [r for r in spec_rows if r.get("notes") or r.get("uncertain") or r.get("testable") is False]
    header = run.header
    linked = {section.row.id for section in sections}
    selection = _selection(header)
    station = header.get("station", {}) or {}
    return {
        "run": run,
        "header": header,
        "software": header.get("software", {}) or {},
        "spec": header.get("spec", {}) or {},
        "spec_data": run.spec,
        "station": header.get("station", {}) or {},
        "dut_family": header.get("dut", {}) or {},
        "dut": run.dut or {},
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
        "labels": VERDICT_LABELS,
        "fmt": format_measurement,
        "gum": gum_pair,
        "fmtv": format_value,
        "bar": tolerance_bar,
        "counts": run.verdict_counts(),
        "grid_columns": GRID_COLUMNS,
        "not_accepted": [m for r in rows for m in r.measurements if not m.passed],
        "first_page_failures": FIRST_PAGE_FAILURES,
        "selection": selection,
        "req_link": lambda rid: _req_link(str(rid), linked),
        "spec_line": layout.spec_line,
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


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["verdict_class"] = lambda v: str(v).replace(" ", "-").lower()
    env.filters["breakable"] = breakable
    return env


def render_html(context: dict[str, Any], for_pdf: bool) -> str:
    css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    template = _environment().get_template("report.html.j2")
    return template.render(**context, css=css, for_pdf=for_pdf)


def write_html(
    run: RunReport, out: Path, authorised_by: str | None = None, cache: dict[str, list[bytes]] | None = None
) -> Path:
    context = build_context(run, authorised_by, {} if cache is None else cache)
    path = out / "report.html"
    path.write_text(render_html(context, for_pdf=False), encoding="utf-8")
    return path


def write_pdf(
    run: RunReport, out: Path, authorised_by: str | None = None, cache: dict[str, list[bytes]] | None = None
) -> Path:
    """report.pdf as PDF/A-3b with record.jsonl embedded (AFRelationship Source)."""
    import logging
    import warnings

    with warnings.catch_warnings():  # "HarfBuzz-Subset will be required by future versions"
        warnings.simplefilter("ignore", DeprecationWarning)
        from weasyprint import HTML, Attachment

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    context = build_context(run, authorised_by, {} if cache is None else cache)
    html = render_html(context, for_pdf=True)
    attachment = Attachment(
        filename=str(run.record_path),
        name="record.jsonl",
        description=f"Run record {run.run_id}, SHA-256 {run.record_sha256}",
        relationship="Source",
    )
    path = out / "report.pdf"
    tmp = out / "report.pdf.part"
    HTML(string=html, base_url=str(out)).write_pdf(
        str(tmp), pdf_variant="pdf/a-3b", attachments=[attachment], uncompressed_pdf=False
    )
    tmp.replace(path)
    return path
