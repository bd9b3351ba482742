"""Allure results (the `allure-results/` folder allure-pytest writes) from the record.

Written with allure-python-commons' own model (`allure_commons.model2`) and file writer
(`AllureFileLogger`), the ones allure-pytest uses. One result per test with the labels
allure-pytest gives (suite, package, framework, host...) plus `requirement` = each requirement ID
and a `tms` link per ID; each parametrised case is its own test with its parameters and its own
testCaseId and historyId (Allure would fold cases sharing an id into retries of one); a step per
procedure stage (each recorded measurement, the probes of a threshold search as its sub-steps);
the requirement's plot and the test's CAN log excerpt attached. The result uuids derive from the
run id and test id.

Render with the npm package allure-commandline (needs a Java runtime):
`npx allure-commandline generate --single-file DIR/allure-results -o DIR/allure-report`.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from allure_commons.logger import AllureFileLogger
from allure_commons.model2 import (
    Attachment,
    Label,
    Link,
    Parameter,
    Status,
    StatusDetails,
    TestStepResult,
)
from allure_commons.model2 import (
    TestResult as AllureResult,
)
from allure_commons.utils import md5

from hil.measure import Measurement, Verdict
from hil.report.canlog import CanLog
from hil.report.model import RunReport, TestResult, format_measurement

DEFAULT_REQUIREMENT_URL = "../report.html#req-{id}"


def _uuid(run_id: str, *parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(("hil", run_id, *parts))))


def _step(m: Measurement) -> TestStepResult:
    status = Status.PASSED if m.passed else (Status.BROKEN if m.verdict == Verdict.ERROR else Status.FAILED)
    params = [
        Parameter(name="value", value=f"{m.value} {m.unit}".strip()),
        Parameter(name="verdict", value=m.verdict.value),
    ]
    if m.uncertainty is not None:
        params.append(Parameter(name="U (k=2)", value=f"{m.uncertainty:.4g} {m.unit}".strip()))
    if m.low is not None or m.high is not None:
        params.append(Parameter(name="limits", value=f"[{m.low}, {m.high}] {m.unit}".strip()))
    if m.expected is not None:
        params.append(Parameter(name="expected", value=str(m.expected)))
    if m.guard_band:
        params.append(Parameter(name="guard band", value=f"{m.guard_band:.4g} {m.unit}".strip()))
    if m.decision_rule:
        params.append(Parameter(name="decision rule", value=m.decision_rule))
    if m.method:
        params.append(Parameter(name="method", value=m.method))
    step = TestStepResult(
        name=f"{m.requirement} {m.name}: {format_measurement(m)} -> {m.verdict.value}",
        status=status,
        stage="finished",
        parameters=params,
    )
    for probe in m.data.get("probes", []) or []:
        if isinstance(probe, list | tuple) and len(probe) >= 3:
            level, tripped, t = probe[0], probe[1], probe[2]
            step.steps.append(
                TestStepResult(
                    name=f"probe {level:.6g} {m.unit}: {'tripped' if tripped else 'not tripped'}"
                    f" (t = {t:.3f} s)",
                    status=Status.PASSED,
                    stage="finished",
                )
            )
    if not m.passed:
        step.statusDetails = StatusDetails(message=m.describe())
    return step


def _status(test: TestResult) -> tuple[str, StatusDetails | None]:
    if test.outcome == "passed":
        return Status.PASSED, None
    if test.outcome == "skipped":
        return Status.SKIPPED, StatusDetails(message=test.message[-1000:])
    if test.outcome == "failed":
        bad = test.failed_measurements
        message = (
            "\n".join(m.describe() for m in bad) if bad else (test.message.splitlines() or ["failed"])[-1]
        )
        return (Status.FAILED if bad else Status.BROKEN), StatusDetails(message=message, trace=test.message)
    return Status.BROKEN, StatusDetails(message="interrupted: the run ended before this test had an outcome")


def _parameters(test: TestResult) -> list[Parameter]:
    """The case's parametrised arguments; from the id in brackets for records that predate them."""
    if test.params:
        return [Parameter(name=k, value=v) for k, v in test.params.items()]
    name = test.name
    if "[" in name and name.endswith("]"):
        return [Parameter(name="case", value=name.split("[", 1)[1][:-1])]
    return []


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
    writer = AllureFileLogger(str(tmp), clean=True)
    can_path = run.folder / "can.asc"
    can_log = CanLog(can_path) if can_path.exists() else None
    host = str(run.header.get("host", ""))
    family = str(run.header.get("dut", {}).get("family", ""))
    spec_rows = {str(r.get("id")): r for r in run.spec_rows()}
    dut = run.dut or {}
    written_plots: set[str] = set()
    for test in run.tests.values():
        module, _, name = test.nodeid.rpartition("::")
        package = module.removesuffix(".py").replace("/", ".")
        reqs = list(dict.fromkeys(test.requirements + [m.requirement for m in test.measurements]))
        base = name.split("[", 1)[0]
        labels = [
            Label(name="framework", value="pytest"),
            Label(name="language", value="cpython3"),
            Label(name="host", value=host),
            Label(name="package", value=package),
            Label(name="parentSuite", value=family),
            Label(name="suite", value=package.rsplit(".", 1)[-1]),
            Label(name="subSuite", value=base),
            Label(name="epic", value=family),
        ]
        links = []
        for req in reqs:
            labels.append(Label(name="requirement", value=req))
            labels.append(
                Label(name="story", value=f"{req} {spec_rows.get(req, {}).get('title', '')}".strip())
            )
            section = spec_rows.get(req, {}).get("section")
            if section:
                labels.append(Label(name="feature", value=str(section)))
            links.append(Link(type="tms", name=req, url=requirement_url.format(id=req)))
        attachments = []
        for req in reqs:
            for i, png in enumerate(plots.get(req, [])):
                source = f"{_uuid(run.run_id, 'plot', req, str(i))}-attachment.png"  # one file per plot
                if source not in written_plots:
                    writer.report_attached_data(png, source)
                    written_plots.add(source)
                attachments.append(Attachment(name=f"{req} plot {i + 1}", source=source, type="image/png"))
        window = test.time_window
        if can_log is not None and window is not None:
            source = f"{_uuid(run.run_id, test.nodeid, 'can')}-attachment.txt"
            writer.report_attached_data(can_log.excerpt(window[0], window[1], margin=0.5), source)
            attachments.append(Attachment(name="CAN log excerpt (can.asc)", source=source, type="text/plain"))
        parameters = _parameters(test)
        full_name = f"{package}#{name}"  # the case's own name: its parameters are part of it
        status, details = _status(test)
        result = AllureResult(
            uuid=_uuid(run.run_id, test.nodeid),
            historyId=md5(full_name, *(f"{p.name}={p.value}" for p in parameters)),
            testCaseId=md5(full_name),
            fullName=full_name,
            name=name,
            titlePath=[*module.split("/"), base],
            status=status,
            statusDetails=details,
            stage="finished",
            description=f"Run {run.run_id}; DUT serial {dut.get('serial', '?')}, "
            f"firmware {dut.get('firmware', '?')}",
            steps=[_step(m) for m in test.measurements],
            attachments=attachments,
            parameters=parameters,
            labels=labels,
            links=links,
        )
        if test.start is not None and test.stop is not None:
            result.start = int(test.start * 1000)
            result.stop = int(test.stop * 1000)
        writer.report_result(result)
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
    writer.report_attached_data(  # environment.properties: a plain file Allure reads, not a result
        "".join(f"{k} = {str(v).replace(chr(10), ' ')}\n" for k, v in environment.items()),
        "environment.properties",
    )
    shutil.rmtree(folder, ignore_errors=True)
    tmp.replace(folder)
    return folder
