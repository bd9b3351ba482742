"""Allure results rendered by Allure's own command line (npm allure-commandline, Java 17).

One run with a forced failure (a non-conforming CV-OVP trigger in the firmware file) and
parametrised passing cases (cell voltage accuracy at several voltages): Allure's summary must
count exactly what JUnit counts, each parametrised case separately, the failure as failed.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hilcli import ROOT, hil, settings_file

ALLURE = ROOT / ".tools" / "node_modules" / ".bin" / "allure"
SELECTION = "CV-OVP or cell_voltage_accuracy"


@dataclass
class Rendered:
    out: Path
    code: int
    summary: dict[str, Any]
    report: Path

    def results(self) -> list[dict[str, Any]]:
        files = sorted((self.out / "allure-results").glob("*-result.json"))
        return [json.loads(f.read_text(encoding="utf-8")) for f in files]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    assert ALLURE.is_file(), (
        f"{ALLURE} is missing: scripts/setup-test-system installs allure-commandline there"
    )
    base = tmp_path_factory.mktemp("allure")
    firmware = settings_file(
        base, "fw-ovp3700.yaml", "bms12100", {"cell_overvoltage_protection": {"trigger": 3700}}
    )
    out = base / "run"
    run = hil(
        "run",
        "--profile",
        "full",
        "--firmware",
        str(firmware),
        "--reports",
        "allure,junit",
        "--out",
        str(out),
        "--",
        "-k",
        SELECTION,
        timeout=300,
    )
    report = base / "allure-report"
    subprocess.run(
        [str(ALLURE), "generate", str(out / "allure-results"), "-o", str(report), "--clean"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    summary = json.loads((report / "widgets" / "summary.json").read_text(encoding="utf-8"))
    return Rendered(out, run.returncode, summary, report)


def junit_counts(out: Path) -> dict[str, int]:
    import xml.etree.ElementTree as ET

    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    counts = {k: int(suite.get(k, "0")) for k in ("tests", "failures", "errors", "skipped")}
    counts["passed"] = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    return counts


def test_allure_counts_equal_junit_counts(rendered: Rendered) -> None:
    assert rendered.code == 1  # the run failed: the forced failure
    junit = junit_counts(rendered.out)
    stats = rendered.summary["statistic"]
    assert junit["failures"] >= 1 and junit["passed"] >= 3
    assert stats["failed"] == junit["failures"]
    assert stats["broken"] == junit["errors"]
    assert stats["passed"] == junit["passed"]
    assert stats["total"] == junit["tests"]  # no case folded into another as a retry


def test_forced_failure_shows_as_failed(rendered: Rendered) -> None:
    cases = [json.loads(p.read_text()) for p in (rendered.report / "data" / "test-cases").glob("*.json")]
    failed = {c["name"] for c in cases if c["status"] == "failed"}
    assert failed, "the forced failure must show as failed in the rendered report"
    assert all("CV-OVP" in name for name in failed)
    message = next(c for c in cases if c["status"] == "failed")["statusMessage"]
    assert "CV-OVP" in message and "FAIL" in message


def test_parametrised_cases_are_their_own_tests(rendered: Rendered) -> None:
    accuracy = [r for r in rendered.results() if r["name"].startswith("test_cell_voltage_accuracy[")]
    assert len(accuracy) >= 3
    assert all(r["parameters"] and r["parameters"][0]["name"] == "volts" for r in accuracy)
    assert len({r["historyId"] for r in accuracy}) == len(accuracy)
    assert len({r["testCaseId"] for r in accuracy}) == len(accuracy)
    values = {r["parameters"][0]["value"] for r in accuracy}
    assert {f"[{v}]" for v in values} == {
        r["name"].split("test_cell_voltage_accuracy", 1)[1] for r in accuracy
    }


def test_requirement_labels_links_steps_and_attachments_kept(rendered: Rendered) -> None:
    ovp = next(r for r in rendered.results() if "CV-OVP" in r["name"])
    labels = {(label["name"], label["value"]) for label in ovp["labels"]}
    assert ("requirement", "CV-OVP") in labels
    assert {"type": "tms", "name": "CV-OVP", "url": "../report.html#req-CV-OVP"} in ovp["links"]
    assert any(s["status"] == "failed" and s["name"].startswith("CV-OVP") for s in ovp["steps"])
    can = next(a for a in ovp["attachments"] if a["name"] == "CAN log excerpt (can.asc)")
    assert (rendered.out / "allure-results" / can["source"]).stat().st_size > 0


def test_requirement_plot_attached(rendered: Rendered, tmp_path: Path) -> None:
    """The EOL selection draws no figure; a requirement's plot given to the writer is attached."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hil.report import load_run
    from hil.report.allure import write_allure

    fig = plt.figure()
    fig.gca().plot([0, 1], [3650, 3700])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    folder = write_allure(load_run(rendered.out), tmp_path, {"CV-OVP": [buffer.getvalue()]})
    results = [json.loads(p.read_text()) for p in folder.glob("*-result.json")]
    plots = [a for r in results if "CV-OVP" in r["name"] for a in r["attachments"] if "plot" in a["name"]]
    assert plots and all(a["type"] == "image/png" for a in plots)
    assert (folder / plots[0]["source"]).read_bytes() == buffer.getvalue()
