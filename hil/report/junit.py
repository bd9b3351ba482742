"""JUnit XML from the record, for lab CI servers (Jenkins, GitLab): one testcase per test.

Each testcase carries `<properties>`: its requirement IDs (`requirement`) and every measured value
(`<REQ-ID> <name>` = `value ± U unit [limits] verdict`). The testsuite carries the run's identity
(run id, DUT serial and firmware, record SHA-256, decision rule, completeness). A test that was
interrupted has no outcome: it is reported as an error, and an incomplete run says so.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from hil.report.model import RunReport, TestResult, format_measurement


def _case(test: TestResult) -> ET.Element:
    module, _, name = test.nodeid.rpartition("::")
    case = ET.Element(
        "testcase",
        classname=module.removesuffix(".py").replace("/", ".") if module else "",
        name=name or test.nodeid,
        time=f"{test.duration_s or 0.0:.3f}",
    )
    props = ET.SubElement(case, "properties")
    reqs = list(dict.fromkeys(test.requirements + [m.requirement for m in test.measurements]))
    for req in reqs:
        ET.SubElement(props, "property", name="requirement", value=req)
    for m in test.measurements:
        ET.SubElement(
            props,
            "property",
            name=f"{m.requirement} {m.name}",
            value=f"{format_measurement(m)} {m.verdict.value}",
        )
    if test.outcome == "failed":
        bad = [m for m in test.failed_measurements]
        message = (
            "; ".join(m.describe() for m in bad) if bad else (test.message.splitlines() or ["failed"])[-1]
        )
        failure = ET.SubElement(case, "failure" if bad else "error", message=message[:500])
        failure.text = test.message
    elif test.outcome == "skipped":
        ET.SubElement(case, "skipped", message=test.message[-300:])
    elif test.outcome == "interrupted":
        ET.SubElement(case, "error", message="interrupted: the run ended before this test had an outcome")
    return case


def _unfinished(run: RunReport) -> list[TestResult]:
    """The test in progress when the run ended (an error) and the tests never started (skipped)."""
    end = run.end or {}
    known = set(run.tests)
    reason = str(end.get("reason") or "the run ended early")
    added: list[TestResult] = []
    current = end.get("in_progress")
    if current and current not in known:
        added.append(TestResult(str(current)))  # outcome "interrupted": reported as an error
    for nodeid in end.get("not_run") or []:
        if nodeid not in known and nodeid != current:
            test = TestResult(str(nodeid))
            test.outcome, test.message = "skipped", f"not run: {reason}"
            added.append(test)
    return added


def write_junit(run: RunReport, out: Path) -> Path:
    tests = list(run.tests.values()) + _unfinished(run)
    failures = sum(1 for t in tests if t.outcome == "failed" and t.failed_measurements)
    errors = sum(
        1
        for t in tests
        if t.outcome == "interrupted" or (t.outcome == "failed" and not t.failed_measurements)
    )
    skipped = sum(1 for t in tests if t.outcome == "skipped")
    total_time = sum(t.duration_s or 0.0 for t in tests)
    family = run.header.get("dut", {}).get("family", "dut")
    suites = ET.Element("testsuites", name=f"hil {family}")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=f"{family} run {run.run_id}",
        tests=str(len(tests)),
        failures=str(failures),
        errors=str(errors),
        skipped=str(skipped),
        time=f"{total_time:.3f}",
        timestamp=run.started,
        hostname=str(run.header.get("host", "")),
    )
    props = ET.SubElement(suite, "properties")
    dut = run.dut or {}
    word, _ = run.overall()
    for name, value in (
        ("run_id", run.run_id),
        ("complete", "true" if run.complete else "false"),
        ("status", run.status),
        ("verdict", word),
        ("dut_serial", str(dut.get("serial", ""))),
        ("dut_firmware", str(dut.get("firmware", ""))),
        ("dut_protocol", str(dut.get("protocol", ""))),
        ("station", str(run.header.get("station", {}).get("name", ""))),
        ("spec_version", str(run.header.get("spec", {}).get("version", ""))),
        ("decision_rule", run.decision_rule.name),
        ("record_sha256", run.record_sha256),
    ):
        ET.SubElement(props, "property", name=name, value=value)
    for test in tests:
        suite.append(_case(test))
    ET.indent(suites)
    path = out / "junit.xml"
    tmp = out / "junit.xml.part"
    ET.ElementTree(suites).write(tmp, encoding="utf-8", xml_declaration=True)
    tmp.replace(path)
    return path
