"""Evidence reports regenerated from a run record alone: HTML, PDF/A-3, Allure results, JUnit XML.

`generate(DIR)` reads and verifies `DIR/record.jsonl` (an altered record raises
RecordAlteredError; an interrupted one is reported as INCOMPLETE) and writes, in DIR:
`report.html`, `report.pdf` (PDF/A-3b, the record attached), `allure-results/`, `junit.xml`.
A record whose verdicts do not follow from its own numbers (re-judged by hil.report.integrity)
raises VerdictMismatchError, a RecordAlteredError.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from hil.report.integrity import check_verdicts
from hil.report.model import RecordAlteredError, RunReport, load_run

FORMATS = ("html", "pdf", "allure", "junit")

__all__ = ["FORMATS", "RecordAlteredError", "RunReport", "generate", "load_run"]


def generate(
    folder: Path,
    formats: Iterable[str] = FORMATS,
    authorised_by: str | None = None,
    requirement_url: str | None = None,
    timings: dict[str, float] | None = None,
    prefetched: dict[str, tuple[str, list[bytes]]] | None = None,
) -> dict[str, Path]:
    """Write the reports of the run in `folder`; returns format -> path. `prefetched`: figures
    drawn during the run (hil.report.prefetch), used where their inputs are unchanged."""
    from hil.report import allure, document, figures, junit

    wanted = list(dict.fromkeys(formats))
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown report format(s): {', '.join(unknown)}")
    t0 = time.perf_counter()
    run = load_run(folder)
    check_verdicts(run.entries, run.record_path)  # a verdict its numbers do not give: no report
    plots: dict[str, list[bytes]] = {}
    written: dict[str, Path] = {}
    clock = timings if timings is not None else {}
    clock["load"] = time.perf_counter() - t0
    if prefetched and any(f in wanted for f in ("html", "pdf", "allure")):
        t = time.perf_counter()
        figures.all_plots(run, plots, prefetched)
        clock["plots"] = time.perf_counter() - t
    for fmt in wanted:
        t = time.perf_counter()
        if fmt == "html":
            written[fmt] = document.write_html(run, folder, authorised_by, plots)
        elif fmt == "pdf":
            written[fmt] = document.write_pdf(run, folder, authorised_by, plots)
        elif fmt == "junit":
            written[fmt] = junit.write_junit(run, folder)
        elif fmt == "allure":
            figures.all_plots(run, plots)
            url = requirement_url or allure.DEFAULT_REQUIREMENT_URL
            written[fmt] = allure.write_allure(run, folder, plots, url)
        clock[fmt] = time.perf_counter() - t
    return written
