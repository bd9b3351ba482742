"""Evidence reports: `hil run` writes record, HTML, PDF/A-3, Allure results and JUnit; `hil report DIR`
regenerates them from the record alone; interrupted and altered records are never passed off as complete."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from pypdf.generic import StreamObject

from fixtures.plugin import write_reports
from hil.report import load_run
from hil.report.figures import all_plots, job_digest, requirement_plots
from hil.report.model import gum_round
from hil.report.prefetch import PlotPrefetch

BIN = Path(sys.executable).parent
HIL = str(BIN / "hil")

#: a plan of recorded results (no stimulus: no lab is started), for the plugin and the reports
PLAN = """
import os
import signal
import time

import pytest

from hil.measure import equals, info, within
from hil.station.station import load_station
from hil.uncertainty import resolution, station_uncertainty


@pytest.mark.requirement("CV-OVP")
def test_trip(check, run_options):
    station = load_station(run_options.station_file)
    budget = station_uncertainty(station, "cells", "voltage", 3.65, scale=1000, unit="mV")
    budget = budget.plus(resolution("bisection step", 1.0))
    probes = [(3600.0, False, 1.0), (3700.0, True, 2.0), (3650.0, True, 3.0), (3625.0, False, 4.0),
              (3637.5, False, 5.0), (3643.75, True, 6.0)]
    check(within("CV-OVP", "trip point", 3643.0, "mV", 6.0, low=3628.0, high=3672.0, uncertainty=budget,
                 data={"probes": probes}))
    check(equals("CV-OVP", "trip beyond the limit", True, True, 2.0))


@pytest.mark.requirement("CV-UVP")
def test_near_limit(check):
    check(within("CV-UVP", "trip point", 2779.0, "mV", 8.0, low=2778.0, high=2822.0, uncertainty=2.0))


@pytest.mark.requirement("PV-OVP")
def test_partial(check):
    check(info("PV-OVP", "first value", 14.5, "V", 9.0))
    if os.environ.get("PLAN_INTERRUPT"):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the middle of the test
        time.sleep(5)
    check(info("PV-OVP", "second value", 14.6, "V", 9.5))


def test_last():
    pass
"""


def text_of(pdf: Path, pages: slice = slice(None)) -> str:
    return " ".join(" ".join(p.extract_text() for p in PdfReader(pdf).pages[pages]).split())


def records(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "record.jsonl").read_text().splitlines()]


def run_plan(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    plan = folder / "plan" / "test_plan.py"
    plan.parent.mkdir(parents=True, exist_ok=True)
    plan.write_text(PLAN)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(plan),
            f"--rootdir={plan.parent}",
            f"--hil-out={folder / 'run'}",
            "-p",
            "no:cacheprovider",
            "-q",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=plan.parent,
        env={**os.environ, **(env or {})},
    )


# ------------------------------------------------------------------------- a real `hil run`
@pytest.fixture(scope="module")
def hil_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The 12100 plan's CV-OVP tests on the simulated station, with every report."""
    out = tmp_path_factory.mktemp("hil-run") / "run"
    result = subprocess.run(
        [HIL, "run", "--out", str(out), "--", "-k", "CV-OVP"], capture_output=True, text=True, timeout=600
    )
    return out, result


def test_run_writes_record_and_every_report(hil_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, result = hil_run
    entries = records(out)
    outcomes = [e["outcome"] for e in entries if e["type"] == "test"]
    assert outcomes and result.returncode == (0 if set(outcomes) == {"passed"} else 1), result.stdout
    assert [e["type"] for e in entries[:4]] == ["header", "spec", "station", "dut"]  # before any measurement
    assert entries[-1]["type"] == "end" and entries[-1]["status"] == "completed"
    for name in ("record.jsonl", "report.html", "report.pdf", "junit.xml", "can.asc"):
        assert (out / name).stat().st_size > 0, name
    assert list((out / "allure-results").glob("*-result.json"))
    assert not (out / "report-error.txt").exists()
    for label, name in (("html", "report.html"), ("pdf", "report.pdf"), ("allure", "allure-results")):
        assert f"{label + ':':8}{out / name}" in result.stdout
    header = entries[0]
    assert header["spec"]["version"] and header["spec"]["path"] == "hil/duts/bms12100/spec.yaml"
    assert set(header["station"]["instruments"]["cells"]) >= {"serial", "asset_id", "calibration_due"}
    assert all(i["idn"] for i in entries[2]["instruments"].values())  # each instrument's *IDN? answer
    assert entries[3]["serial"] and entries[3]["firmware"] and entries[3]["protocol"]  # read from the DUT


def test_pdf_is_pdfa3_with_the_record_attached_and_its_hash_printed(
    hil_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, _ = hil_run
    reader = PdfReader(out / "report.pdf")
    metadata = reader.root_object["/Metadata"].get_object()
    assert isinstance(metadata, StreamObject)
    xmp = metadata.get_data().decode()
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp
    attached = reader.attachments["record.jsonl"][0]
    record = (out / "record.jsonl").read_bytes()
    assert attached == record
    digest = hashlib.sha256(attached).hexdigest()
    first = " ".join(reader.pages[0].extract_text().split())
    assert re.search(r"SHA-256 ([0-9a-f]{64})", first).group(1) == digest  # type: ignore[union-attr]
    assert re.search(r"Page 1 of (\d+)", first)
    dut = records(out)[3]
    assert f"serial number {dut['serial']}" in first and f"firmware {dut['firmware']}" in first
    for item in (
        "Report id",
        "Laboratory",
        "Method",
        "Dates",
        "Decision rule",
        "Uncertainty",
        "Authorised by",
    ):
        assert item in first


def test_pdf_joined_from_parts_stores_each_alike_stream_once(
    hil_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    """Each part brings its own colour profile, alpha masks and font subsets: the join keeps one of
    each that is alike (same dictionary, same bytes), and the document still has them."""
    out, _ = hil_run
    reader = PdfReader(out / "report.pdf")
    streams = []
    for generation in reader.xref.values():
        for number in generation:
            obj = reader.get_object(number)
            if isinstance(obj, StreamObject):
                keys = sorted((str(k), str(v)) for k, v in obj.items() if k != "/Length")
                streams.append((repr(keys), obj.get_data()))
    assert len(streams) == len(set(streams))
    assert sum(1 for keys, _ in streams if "'/N'" in keys) == 1  # one ICC profile for every part
    assert any("'/Length1'" in keys for keys, _ in streams)  # the fonts are embedded


def test_pdf_text_has_every_requirement_id_with_its_verdict(
    hil_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, _ = hil_run
    text = text_of(out / "report.pdf")
    run = load_run(out)
    rows = run.requirement_rows()
    assert len(rows) == len(run.spec_rows()) >= 60
    for row in rows:
        pattern = rf"(?<![A-Z0-9-]){re.escape(row.id)} ?{re.escape(row.label)}"
        assert re.search(pattern, text), (row.id, row.label)
    tested = {r.id for r in rows if r.tested}
    assert "CV-OVP" in tested and "NOT TESTED" in text
    assert "End of report" in text


def test_verify_passes_and_fails_on_a_copy_with_one_changed_digit(
    hil_run: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    out, _ = hil_run
    assert subprocess.run([HIL, "report", "--verify", str(out)], capture_output=True).returncode == 0
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    lines = (copy / "record.jsonl").read_bytes().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if b'"name": "trip point"' in line)
    value = re.search(rb'"value": (\d)', lines[index])
    assert value is not None
    digit = value.group(1)
    changed = b"1" if digit != b"1" else b"2"
    lines[index] = lines[index][: value.start(1)] + changed + lines[index][value.end(1) :]
    (copy / "record.jsonl").write_bytes(b"".join(lines))
    result = subprocess.run([HIL, "report", "--verify", str(copy)], capture_output=True, text=True)
    assert result.returncode == 1
    assert f"ALTERED or damaged: line {index + 1} (seq {index}): altered" in result.stderr
    # and no report is made from it
    regen = subprocess.run([HIL, "report", str(copy), "--format", "junit"], capture_output=True, text=True)
    assert regen.returncode == 1 and "no report is made from an altered record" in regen.stderr


def test_junit_cases_carry_requirement_ids_and_measured_values(
    hil_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, _ = hil_run
    root = ET.parse(out / "junit.xml").getroot()
    suite = root.find("testsuite")
    assert suite is not None
    suite_props = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    assert suite_props["record_sha256"] == hashlib.sha256((out / "record.jsonl").read_bytes()).hexdigest()
    assert suite_props["complete"] == "true"
    case = next(c for c in suite.findall("testcase") if c.get("name") == "test_threshold[CV-OVP]")
    props = [(p.get("name"), p.get("value") or "") for p in case.findall("properties/property")]
    assert ("requirement", "CV-OVP") in props
    trip = dict(props)["CV-OVP trip point"]
    measured = next(e for e in records(out) if e["type"] == "measurement" and e["name"] == "trip point")
    value, u = gum_round(measured["value"], measured["uncertainty"])  # GUM: U to 2 digits, value alike
    assert trip.startswith(f"{value} ± {u} mV [") and u.replace(".", "").lstrip("0")[:2].isdigit()
    assert trip.endswith(measured["verdict"])
    assert int(suite.get("tests", "0")) == len([e for e in records(out) if e["type"] == "test"])


def test_allure_results_label_link_steps_plot_and_can_excerpt(
    hil_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, _ = hil_run
    folder = out / "allure-results"
    results = [json.loads(p.read_text()) for p in folder.glob("*-result.json")]
    result = next(r for r in results if r["name"] == "test_threshold[CV-OVP]")
    assert {"name": "requirement", "value": "CV-OVP"} in result["labels"]
    assert {"type": "tms", "name": "CV-OVP", "url": "../report.html#req-CV-OVP"} in result["links"]
    assert 'id="req-CV-OVP"' in (out / "report.html").read_text()
    measured = [
        e["name"]
        for e in records(out)
        if e["type"] == "measurement" and e["test"].endswith("::test_threshold[CV-OVP]")
    ]
    assert [s["name"].split(":", 1)[0] for s in result["steps"]] == [f"CV-OVP {n}" for n in measured]
    search = next(s for s in result["steps"] if s["name"].startswith("CV-OVP trip point"))
    assert search["steps"] and search["steps"][0]["name"].startswith("probe ")  # the probes as sub-steps
    kinds = {a["type"]: a for a in result["attachments"]}
    assert (folder / kinds["image/png"]["source"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    excerpt = (folder / kinds["text/plain"]["source"]).read_text()
    assert excerpt.startswith("date ") and re.search(r"\n\s*\d+\.\d+ \d+\s+35[0-9A-F]\s+Rx", excerpt)
    assert result["status"] in ("passed", "failed")


def test_reports_regenerate_from_the_record_alone(
    hil_run: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    out, _ = hil_run
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy2(out / "record.jsonl", alone / "record.jsonl")
    result = subprocess.run(
        [HIL, "report", str(alone), "--authorised-by", "A. Assessor, lab manager"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert (alone / "junit.xml").read_text() == (out / "junit.xml").read_text()
    assert sorted(  # AllureFileLogger names its files at random; the results' own uuids are stable
        json.loads(p.read_text())["uuid"] for p in (alone / "allure-results").glob("*-result.json")
    ) == sorted(json.loads(p.read_text())["uuid"] for p in (out / "allure-results").glob("*-result.json"))
    first = text_of(alone / "report.pdf", slice(0, 1))
    assert "Authorised by A. Assessor, lab manager" in first
    assert text_of(alone / "report.pdf").count("CV-OVP") == text_of(out / "report.pdf").count("CV-OVP")


def _plotted_rows(out: Path) -> list[Any]:
    return [r for r in load_run(out).requirement_rows() if r.measurements and requirement_plots(r)]


def test_prefetched_figures_are_used_only_while_their_inputs_are_unchanged(
    hil_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, _ = hil_run
    run = load_run(out)
    row = next(r for r in run.requirement_rows() if r.measurements)
    digest = job_digest((row.id, row.measurements, row.spec))
    cache: dict[str, list[bytes]] = {}
    all_plots(run, cache, {row.id: (digest, [b"drawn during the run"])})
    assert cache[row.id] == [b"drawn during the run"]
    # drawn before the requirement's last measurement came: another digest, drawn again at the end
    early = job_digest((row.id, row.measurements[:-1], row.spec))
    assert early != digest
    cache = {}
    all_plots(run, cache, {row.id: (early, [b"stale"])})
    assert cache[row.id] == requirement_plots(row)


def test_prefetch_worker_draws_only_the_named_requirements_from_the_record(
    hil_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, _ = hil_run
    rows = _plotted_rows(out)
    assert rows, "the CV-OVP run has a characterised threshold to plot"
    named = rows[0]
    prefetch = PlotPrefetch(out)
    prefetch.complete([named.id])
    drawn = prefetch.finish()
    assert set(drawn) == {named.id}
    digest, pngs = drawn[named.id]
    assert digest == job_digest((named.id, named.measurements, named.spec))
    assert pngs == requirement_plots(named) and pngs[0].startswith(b"\x89PNG")


def test_prefetch_worker_that_cannot_start_leaves_the_figures_to_the_end(tmp_path: Path) -> None:
    prefetch = PlotPrefetch(tmp_path / "no-such-run")  # the worker finds no record: draws nothing
    prefetch.complete(["CV-OVP"])
    assert prefetch.finish() == {}
    assert prefetch.finish() == {}  # finishing twice is harmless


# ------------------------------------------------------------------------- the plugin, no lab
@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    folder = tmp_path_factory.mktemp("guarded")
    result = run_plan(folder, "--hil-decision-rule=guarded", "--hil-reports=html,junit,allure")
    return folder / "run", result


def test_result_inside_the_guard_band_is_a_conditional_pass(
    guarded: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, result = guarded
    assert result.returncode == 1, result.stdout  # not accepted under guarded acceptance
    assert (
        "CV-UVP trip point: 2779 ± 2 mV limits [2778, 2822] mV (guard band 2 mV) -> CONDITIONAL-PASS"
        in result.stdout
    )
    run = load_run(out)
    verdicts = {r.id: r.label for r in run.requirement_rows() if r.tested}
    assert verdicts == {"CV-OVP": "PASS", "CV-UVP": "CONDITIONAL PASS", "PV-OVP": "CHARACTERISED"}
    assert run.overall()[0] == "CONDITIONAL PASS"
    html = (out / "report.html").read_text()
    assert "Guarded acceptance (ILAC-G8:09/2019" in html
    assert "Uncertainty budget: trip point" in html and "cells (Keysight N6705C" in html
    assert "bisection step" in html
    assert html.count('<svg class="bar"') == 2  # a tolerance bar per numeric result with limits
    trip = next(e for e in records(out) if e["type"] == "measurement" and e["name"] == "trip point")
    assert (
        trip["coverage_factor"] == 2.0 and len(trip["budget"]) == 3 and trip["decision_rule"] == "guarded:1"
    )


def test_killed_run_regenerates_as_incomplete(
    guarded: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    """kill -9 after some entries: no end entry; the report says INCOMPLETE, never complete."""
    out, _ = guarded
    cut = tmp_path / "cut"
    cut.mkdir()
    lines = (out / "record.jsonl").read_bytes().splitlines(keepends=True)
    keep = next(i for i, line in enumerate(lines) if b'"type": "test"' in line) + 1
    (cut / "record.jsonl").write_bytes(b"".join(lines[:keep]) + lines[keep][:25])  # and a torn line
    result = subprocess.run(
        [HIL, "report", str(cut), "--format", "html,junit"], capture_output=True, text=True
    )
    assert result.returncode == 3, result.stderr
    assert "result: INCOMPLETE" in result.stdout
    html = (cut / "report.html").read_text()
    assert "INCOMPLETE RUN" in html and "cut short" in html
    suite = ET.parse(cut / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert {p.get("name"): p.get("value") for p in suite.findall("properties/property")}[
        "complete"
    ] == "false"


def test_interrupted_run_is_reported_incomplete(tmp_path: Path) -> None:
    result = run_plan(tmp_path, "--hil-reports=none", env={"PLAN_INTERRUPT": "1"})
    out = tmp_path / "run"
    assert result.returncode == 2, result.stdout
    entries = records(out)
    assert entries[-1]["type"] == "end" and entries[-1]["status"] == "interrupted"
    # what was measured before Ctrl-C is in the record; the interrupted test has no outcome
    assert [e["name"] for e in entries if e["type"] == "measurement" and "partial" in e["test"]] == [
        "first value"
    ]
    assert "test_plan.py::test_partial" not in [e["test"] for e in entries if e["type"] == "test"]
    assert not (out / "report.pdf").exists()
    regen = subprocess.run(
        [HIL, "report", str(out), "--format", "pdf,allure"], capture_output=True, text=True, timeout=300
    )
    assert regen.returncode == 3, regen.stderr
    allure = [json.loads(p.read_text()) for p in (out / "allure-results").glob("*-result.json")]
    partial = next(r for r in allure if r["name"] == "test_partial")
    assert partial["status"] == "broken" and "interrupted" in partial["statusDetails"]["message"]
    first = text_of(out / "report.pdf", slice(0, 1))
    assert "INCOMPLETE RUN" in first and "Result: INCOMPLETE" in first and "Result: PASS" not in first
    assert "interrupted (Ctrl-C)" in first
    assert "PV-OVP INCOMPLETE" in text_of(out / "report.pdf")


def test_a_failing_report_never_touches_the_record(
    guarded: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = guarded
    folder = tmp_path / "run"
    folder.mkdir()
    altered = (out / "record.jsonl").read_bytes().replace(b'"value": 3643.0', b'"value": 3644.0')
    (folder / "record.jsonl").write_bytes(altered)  # altered: no report is made from it
    write_reports(folder, ("junit",))
    assert "report generation failed" in capsys.readouterr().err
    assert "RecordAlteredError" in (folder / "report-error.txt").read_text()
    assert (folder / "record.jsonl").read_bytes() == altered
    assert not (folder / "junit.xml").exists()


def _page_texts(pdf: Path) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(pdf).pages]


def test_pdf_written_by_the_worker_from_sections_laid_out_during_the_run_is_the_report_of_the_record(
    hil_run: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    out, _ = hil_run
    run_dir = tmp_path / "run"
    shutil.copytree(out, run_dir)
    tested = [r.id for r in load_run(run_dir).requirement_rows() if r.measurements or r.tests]
    prefetch = PlotPrefetch(run_dir, sections=tested)
    prefetch.complete(tested)
    drawn = prefetch.finish(pdf=True)
    assert prefetch.writes_pdf and set(drawn) <= set(tested)
    (run_dir / "report.pdf").unlink()
    assert prefetch.pdf_written()
    alone = tmp_path / "alone"
    shutil.copytree(out, alone)
    (alone / "report.pdf").unlink()
    assert subprocess.run([HIL, "report", str(alone), "--format", "pdf"], check=False).returncode == 0
    worker, regenerated = _page_texts(run_dir / "report.pdf"), _page_texts(alone / "report.pdf")
    strip = re.compile(r"report issued \S+")  # the issue time of each
    assert [strip.sub("", t) for t in worker] == [strip.sub("", t) for t in regenerated]
    n = len(worker)
    assert all(f"Page {i} of {n}" in text for i, text in enumerate(worker, 1))
    reader = PdfReader(run_dir / "report.pdf")
    metadata = reader.root_object["/Metadata"].get_object()
    assert isinstance(metadata, StreamObject)
    assert 'pdfaid:part="3"' in metadata.get_data().decode()
    assert list(reader.attachments) == ["record.jsonl"]
    assert reader.attachments["record.jsonl"][0] == (out / "record.jsonl").read_bytes()


def test_a_section_written_before_its_last_result_is_written_again(
    hil_run: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    from hil.report import document
    from hil.report.pdfparts import Written
    from hil.report.prefetch import draw

    out, _ = hil_run
    lines = (out / "record.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    last = max(i for i, line in enumerate(lines) if json.loads(line).get("type") == "measurement")
    early = tmp_path / "early"
    early.mkdir()
    (early / "record.jsonl").write_text("".join(lines[:last]), encoding="utf-8")  # its last result not yet in
    rid = json.loads(lines[last])["requirement"]
    tested = [r.id for r in load_run(out).requirement_rows() if r.measurements or r.tests]
    written: Written = {}
    assert draw(early, [rid], {}, tested, written) == [] and len(written) == 1
    stale = dict(written)
    document.write_pdf(load_run(out), tmp_path, None, {}, written)
    assert written == stale  # not taken: the sealed record gives this section another HTML
    assert text_of(tmp_path / "report.pdf").count(rid) == text_of(out / "report.pdf").count(rid)


def test_joined_pdf_links_the_matrix_to_each_section_and_outlines_every_section(tmp_path: Path) -> None:
    """The parts are written apart and joined by pypdf: the matrix's links into the sections, the
    named destinations and the outline are made again for the whole document, on the right pages."""
    result = run_plan(tmp_path, "--hil-reports=pdf")
    assert result.returncode == 0, result.stdout + result.stderr
    reader = PdfReader(tmp_path / "run" / "report.pdf")
    texts = [" ".join(page.extract_text().split()) for page in reader.pages]
    n = len(texts)
    assert [t.count(f"of {n}") for t in texts] == [1] * n and all(
        f"Page {i} of {n}" in t for i, t in enumerate(texts, 1)
    )
    tested = [r.id for r in load_run(tmp_path / "run").requirement_rows() if r.measurements or r.tests]
    assert len(tested) >= 3
    dests: dict[str, int] = {}
    for name, destination in reader.named_destinations.items():
        page = reader.get_destination_page_number(destination)
        assert page is not None
        dests[name] = page
    for number, rid in enumerate(tested, 1):
        assert f"3.{number} {rid} - " in texts[dests[f"req-{rid}"]]  # the section starts on that page
    links = [
        (page, str(a.get_object()["/Dest"]))
        for page, p in enumerate(reader.pages)
        for a in p.get("/Annots") or []
        if a.get_object().get("/Dest") is not None
    ]
    assert {dest for _, dest in links} == {f"req-{rid}" for rid in tested}
    assert all(page < dests[dest] for page, dest in links)  # from the front (the matrix) onwards
    assert all(a.get_object()["/F"] == 4 for p in reader.pages for a in p.get("/Annots") or [])  # printable
    sections = _outline_children(reader.outline, "3 Results by requirement")
    assert [(str(c.title).split(" - ")[0], reader.get_destination_page_number(c)) for c in sections] == [
        (f"3.{number} {rid}", dests[f"req-{rid}"]) for number, rid in enumerate(tested, 1)
    ]


def _outline_children(items: list[Any], title: str) -> list[Any]:
    """The outline items nested under the item titled `title` (pypdf lists them after it)."""
    for n, item in enumerate(items):
        if isinstance(item, list):
            if found := _outline_children(item, title):
                return found
        elif item.title == title and n + 1 < len(items) and isinstance(items[n + 1], list):
            return [c for c in items[n + 1] if not isinstance(c, list)]
    return []


def test_frame_laid_out_in_pieces_numbers_each_page_of_the_whole_document(
    hil_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    """After the seal the frame's page numbers are laid out in pieces side by side: each piece's
    pages carry their own numbers and the whole document's page count; the running header and the
    footer's text, alike on every page, are one page of their own."""
    import io

    from hil.report import document
    from hil.report.pdfparts import frame_head_pdf, frame_pdf, frame_pieces

    out, _ = hil_run
    run = load_run(out)
    _, frame = document.pdf_parts(document.build_context(run, None, {}))
    assert frame_pieces(7, 2) == [(1, 4), (5, 3)] and frame_pieces(1, 2) == [(1, 1)]
    style = document.pdf_style()
    pieces = [frame_pdf(frame, count, str(out), style, first, 7) for first, count in frame_pieces(7, 2)]
    pages = [page for piece in pieces for page in PdfReader(io.BytesIO(piece)).pages]
    texts = [" ".join(page.extract_text().split()) for page in pages]
    assert texts == [f"Page {i} of 7" for i in range(1, 8)]
    (head,) = PdfReader(io.BytesIO(frame_head_pdf(frame, str(out), style))).pages
    assert run.run_id in head.extract_text() and "Not to be reproduced except in full" in head.extract_text()
    assert "Page" not in head.extract_text()


def test_a_line_break_inside_a_value_does_not_break_its_line_in_the_report(
    hil_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    """Cells of several lines break them with newlines (white-space: pre-line), not <br>: a value's
    own newline (e.g. a folded spec title) still shows as a space, as HTML shows it elsewhere."""
    from hil.report import document

    out, _ = hil_run
    context = document.build_context(load_run(out), None, {})
    row = next(r for r in context["rows"] if r.tested)
    row.spec = {**row.spec, "title": "Cell over-voltage\nprotection\r\n"}
    parts, _ = document.pdf_parts(context)
    matrix = parts[2]  # the front's third part
    assert '<td class="lines">Cell over-voltage protection  ' in matrix
    assert "Cell over-voltage\n" not in matrix and "protection\r" not in matrix
    assert document.lines(["a\nb", "<c>"]) == "a b\n&lt;c&gt;"
