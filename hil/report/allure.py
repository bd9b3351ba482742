"""Allure results (the `allure-results/` folder allure-pytest writes) from the record.

One `<uuid>-result.json` per test with the labels allure-pytest gives (suite, package, framework,
host...) plus `requirement` = each requirement ID and a `tms` link per ID; a step per procedure
stage (each recorded measurement, the probes of a threshold search as its sub-steps); the
requirement's plot and the test's CAN log excerpt attached. The uuids derive from the run id and
test id, so regenerating gives the same files.

Render with the npm package allure-commandline (needs a Java runtime):
`npx allure-commandline generate --single-file DIR/allure-results -o DIR/allure-report`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

from hil.measure import Measurement, Verdict
from hil.report.canlog import CanLog
from hil.report.model import RunReport, TestResult, format_measurement

DEFAULT_REQUIREMENT_URL = "../report.html#req-{id}"
STATUS = {"passed": "passed", "skipped": "skipped"}


def _uuid(run_id: str, *parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(("hil", run_id, *parts))))


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _step(m: Measurement) -> dict[str, Any]:
    status = "passed" if m.passed else ("broken" if m.verdict == Verdict.ERROR else "failed")
    params = [
        {"name": "value", "value": f"{m.value} {m.unit}".strip()},
        {"name": "verdict", "value": m.verdict.value},
    ]
    if m.uncertainty is not None:
        params.append({"name": "U (k=2)", "value": f"{m.uncertainty:.4g} {m.unit}".strip()})
    if m.low is not None or m.high is not None:
        params.append({"name": "limits", "value": f"[{m.low}, {m.high}] {m.unit}".strip()})
    if m.expected is not None:
        params.append({"name": "expected", "value": str(m.expected)})
    if m.guard_band:
        params.append({"name": "guard band", "value": f"{m.guard_band:.4g} {m.unit}".strip()})
    if m.method:
        params.append({"name": "method", "value": m.method})
    step: dict[str, Any] = {
        "name": f"{m.requirement} {m.name}: {format_measurement(m)} -> {m.verdict.value}",
        "status": status,
        "stage": "finished",
        "parameters": params,
        "steps": [],
    }
    for probe in m.data.get("probes", []) or []:
        if isinstance(probe, list | tuple) and len(probe) >= 3:
            level, tripped, t = probe[0], probe[1], probe[2]
            step["steps"].append(
                {
                    "name": f"probe {level:.6g} {m.unit}: {'tripped' if tripped else 'not tripped'}"
                    f" (t = {t:.3f} s)",
                    "status": "passed",
                    "stage": "finished",
                }
            )
    if not m.passed:
        step["statusDetails"] = {"message": m.describe()}
    return step


def _status(test: TestResult) -> tuple[str, dict[str, str]]:
    if test.outcome in STATUS:
        details = {"message": test.message[-1000:]} if test.outcome == "skipped" else {}
        return STATUS[test.outcome], details
    if test.outcome == "failed":
        bad = test.failed_measurements
        message = (
            "\n".join(m.describe() for m in bad) if bad else (test.message.splitlines() or ["failed"])[-1]
        )
        return ("failed" if bad else "broken"), {"message": message, "trace": test.message}
    return "broken", {"message": "interrupted: the run ended before this test had an outcome"}


def write_allure(
    run: RunReport,
    out: Path,
    plots: dict[str, list[bytes]],
    requirement_url: str = DEFAULT_REQUIREMENT_URL,
) -> Path:
    """Write `out/allure-results/` (replacing an earlier one) and return it."""
    folder = out / "allure-results"
    tmp = out / "allure-results.part"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    can_path = run.folder / "can.asc"
    can_log = CanLog(can_path) if can_path.exists() else None
    host = str(run.header.get("host", ""))
    family = str(run.header.get("dut", {}).get("family", ""))
    spec_rows = {str(r.get("id")): r for r in run.spec_rows()}
    dut = run.dut or {}
    for test in run.tests.values():
        test_uuid = _uuid(run.run_id, test.nodeid)
        module, _, name = test.nodeid.rpartition("::")
        package = module.removesuffix(".py").replace("/", ".")
        reqs = list(dict.fromkeys(test.requirements + [m.requirement for m in test.measurements]))
        labels = [
            {"name": "framework", "value": "pytest"},
            {"name": "language", "value": "cpython3"},
            {"name": "host", "value": host},
            {"name": "package", "value": package},
            {"name": "parentSuite", "value": family},
            {"name": "suite", "value": package.rsplit(".", 1)[-1]},
            {"name": "subSuite", "value": name.split("[", 1)[0]},
            {"name": "epic", "value": family},
        ]
        links = []
        for req in reqs:
            labels.append({"name": "requirement", "value": req})
            labels.append(
                {"name": "story", "value": f"{req} {spec_rows.get(req, {}).get('title', '')}".strip()}
            )
            section = spec_rows.get(req, {}).get("section")
            if section:
                labels.append({"name": "feature", "value": str(section)})
            links.append({"type": "tms", "name": req, "url": requirement_url.format(id=req)})
        attachments = []
        for req in reqs:
            for i, png in enumerate(plots.get(req, [])):
                source = f"{_uuid(run.run_id, 'plot', req, str(i))}-attachment.png"  # one file per plot
                if not (tmp / source).exists():
                    (tmp / source).write_bytes(png)
                attachments.append({"name": f"{req} plot {i + 1}", "source": source, "type": "image/png"})
        window = test.time_window
        if can_log is not None and window is not None:
            source = f"{_uuid(run.run_id, test.nodeid, 'can')}-attachment.txt"
            (tmp / source).write_text(can_log.excerpt(window[0], window[1], margin=0.5), encoding="utf-8")
            attachments.append({"name": "CAN log excerpt (can.asc)", "source": source, "type": "text/plain"})
        status, details = _status(test)
        result: dict[str, Any] = {
            "uuid": test_uuid,
            "historyId": _md5(test.nodeid),
            "testCaseId": _md5(test.nodeid.split("[", 1)[0]),
            "fullName": f"{package}#{name}",
            "name": name,
            "status": status,
            "stage": "finished",
            "description": f"Run {run.run_id}; DUT serial {dut.get('serial', '?')}, "
            f"firmware {dut.get('firmware', '?')}",
            "steps": [_step(m) for m in test.measurements],
            "attachments": attachments,
            "parameters": [],
            "labels": labels,
            "links": links,
        }
        if details:
            result["statusDetails"] = details
        if test.start is not None and test.stop is not None:
            result["start"] = int(test.start * 1000)
            result["stop"] = int(test.stop * 1000)
        (tmp / f"{test_uuid}-result.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    environment = {
        "run_id": run.run_id,
        "status": run.status,
        "station": run.header.get("station", {}).get("name", ""),
        "dut_serial": dut.get("serial", ""),
        "dut_firmware": dut.get("firmware", ""),
        "spec_version": run.header.get("spec", {}).get("version", ""),
        "decision_rule": run.decision_rule.name,
        "record_sha256": run.record_sha256,
    }
    (tmp / "environment.properties").write_text(
        "".join(f"{k} = {str(v).replace(chr(10), ' ')}\n" for k, v in environment.items()), encoding="utf-8"
    )
    shutil.rmtree(folder, ignore_errors=True)
    tmp.replace(folder)
    return folder
