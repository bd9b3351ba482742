"""What the database keeps of one sealed record: read with the report's own reader, nothing else.

`summarise(folder)` is the only place that interprets a record for the database; the same
`RunSummary` (a pydantic model) is what the MES receives.
"""

from __future__ import annotations

import datetime as dt
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel, SkipValidation

from hil.measure import Verdict
from hil.record import VerifyResult
from hil.report.model import RunReport, load_run

#: a record's entries and their verification, as `Recorder.written()` gives them
Written = tuple[list[dict[str, Any]], VerifyResult]
#: verdicts that make a run fail (a conditional pass is not accepted either)
NOT_ACCEPTED = {Verdict.FAIL, Verdict.CONDITIONAL_FAIL, Verdict.CONDITIONAL_PASS, Verdict.ERROR}
STATUSES = ("pass", "fail", "incomplete", "error")
#: NOT_ACCEPTED as a tuple, for tests on every result (a member is found by identity; a set would
#: hash it, which runs Python code)
_NOT_ACCEPTED = tuple(NOT_ACCEPTED)


class InstrumentInfo(BaseModel):
    name: str
    role: str | None = None
    model: str | None = None
    driver: str | None = None
    serial: str | None = None
    asset_id: str | None = None
    calibration_due: dt.date | None = None


def _lab_name(lab: object) -> str | None:
    """The laboratory's name from the header: a `lab` block (name, address, ...) or the older plain text."""
    if isinstance(lab, dict):
        name = lab.get("name")
        return str(name) if name else None
    return str(lab) if lab else None


class StationInfo(BaseModel):
    name: str
    sha256: str
    file: str = ""
    lab: str | None = None
    simulated: bool = False
    instruments: list[InstrumentInfo] = []


class MeasurementInfo(NamedTuple):
    """One measurement row, in the table's column order (a tuple: a run may have tens of thousands,
    built from verified `Measurement`s, so they are not validated again one by one)."""

    seq: int
    test: str
    requirement: str
    name: str
    value: float | None
    value_text: str | None
    unit: str
    low: float | None
    high: float | None
    expected: str | None
    uncertainty: float | None
    verdict: str


class RunSummary(BaseModel):
    """One run as the database and the MES see it."""

    run_id: str
    serial: str | None
    part: str
    revision: str | None = None
    profile: str
    station: StationInfo
    socket: str | None = None
    lot: str | None = None
    sampling: str | None = None
    operator: str | None = None
    host: str | None = None
    plan_sha256: str | None = None
    spec_sha256: str | None = None
    spec_version: str | None = None
    firmware: str | None = None
    firmware_sha256: str | None = None
    started: dt.datetime  # UTC
    duration_s: float | None
    status: str
    first_failed: str | None
    failed_requirements: list[str]
    record_sha256: str
    record_path: str
    measurements: SkipValidation[list[MeasurementInfo]] = []


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _utc(text: str) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC)


def _status(run: RunReport) -> str:
    """pass, fail (the DUT was judged and not accepted), incomplete (did not finish) or error."""
    rows = run.requirement_rows()  # once: they are built from every result of the run
    word, _ = run.overall(rows)
    if word in ("PASS", "PARTIAL"):  # PARTIAL: every result accepted, some rows covered in part (exit 0)
        return "pass"
    if word == "INCOMPLETE":
        return "incomplete"
    if word == "NOT PERFORMED":
        return "error"
    verdicts = {r.verdict for r in rows if r.tested}
    if verdicts & {"fail", "conditional-fail", "conditional-pass"}:
        return "fail"
    return "error"  # only bench errors: the DUT was not judged


def _failed_requirements(run: RunReport) -> list[str]:
    """Requirement IDs not accepted, in the order the run met them (first = the first failed)."""
    failed: list[str] = []
    for test in run.tests.values():
        ids = [m.requirement for m in test.measurements if m.verdict in _NOT_ACCEPTED]
        if test.outcome == "failed" and not test.failed_measurements:
            ids += test.requirements[:1]  # the test broke: its requirement was not judged
        failed += [rid for rid in ids if rid and rid not in failed]
    return failed


_NUMBERS = (int, float)
#: a row from its fields in order, `tuple.__new__` itself: what a NamedTuple's generated `__new__`
#: does in Python code (about 2 µs of a row), and held here, as looking it up is most of the rest
_new_row = tuple.__new__
#: a measurement entry's row fields, in `MeasurementInfo` order but `value` and `value_text` (one)
_ROW_FIELDS = itemgetter(
    "seq", "test", "requirement", "name", "value", "unit", "low", "high", "expected", "uncertainty", "verdict"
)


def _rows(entries: list[dict[str, Any]]) -> list[MeasurementInfo]:
    """The measurement rows, straight from the record's entries: no `Measurement` is built for them
    (`load_run` has built and checked one per entry already). One pass, positional and inline, as
    it runs for every measurement of the run."""
    rows: list[MeasurementInfo] = []
    append = rows.append
    for entry in entries:
        if entry.get("type") != "measurement":
            continue
        try:
            seq, test, requirement, name, value, unit, low, high, expected, u, verdict = _ROW_FIELDS(entry)
        except KeyError:  # a record older than `Measurement.to_json`'s fields: the missing ones are None
            get = entry.get
            seq, requirement, name, value, unit, verdict = (
                entry["seq"], get("requirement"), get("name"), get("value"), get("unit"), get("verdict")
            )  # fmt: skip
            test, low, high, expected, u = (
                get("test", ""),
                get("low"),
                get("high"),
                get("expected"),
                get("uncertainty"),
            )
        kind = type(value)
        if kind is float:
            text = None
        elif value is None or kind is bool or not isinstance(value, _NUMBERS):
            value, text = None, None if value is None else str(value)
        else:
            value, text = float(value), None
        append(
            _new_row(
                MeasurementInfo,
                (
                    seq,
                    str(test),
                    str(requirement),
                    str(name),
                    value,
                    text,
                    str(unit),
                    None if low is None else float(low),
                    None if high is None else float(high),
                    None if expected is None else str(expected),
                    None if u is None else float(u),
                    str(verdict),
                ),
            )
        )
    return rows


def _station(header: dict[str, Any]) -> StationInfo:
    info = header.get("station") or {}
    instruments = [
        InstrumentInfo(
            name=name,
            role=inst.get("role"),
            model=inst.get("model"),
            driver=inst.get("driver"),
            serial=inst.get("serial"),
            asset_id=inst.get("asset_id"),
            calibration_due=inst.get("calibration_due"),
        )
        for name, inst in (info.get("instruments") or {}).items()
    ]
    return StationInfo(
        name=str(info.get("name") or "(unnamed station)"),
        sha256=str(info.get("sha256") or ""),
        file=str(info.get("file") or ""),
        lab=_lab_name(info.get("lab")),
        simulated=bool(info.get("simulated", False)),
        instruments=instruments,
    )


def summarise(folder: Path, written: Written | None = None) -> RunSummary:
    """The summary of `folder/record.jsonl`; raises RecordAlteredError if the record does not verify.
    `written`: the entries as the recorder wrote them and their verification (`Recorder.written()`),
    so the record is not read back."""
    run = load_run(folder, written)
    header = run.header
    started = _utc(run.started) or dt.datetime.fromtimestamp(run.record_path.stat().st_mtime, dt.UTC)
    ended = _utc(run.ended)
    dut = run.dut or {}
    failed = _failed_requirements(run)
    measurements = _rows(run.entries)
    serial = dut.get("serial") or (header.get("dut") or {}).get("expected_serial")
    return RunSummary(
        run_id=run.run_id,
        serial=str(serial) if serial else None,
        part=str((header.get("dut") or {}).get("family") or (header.get("spec") or {}).get("dut") or ""),
        revision=_text(dut.get("revision") or dut.get("model")),
        profile=str(header.get("profile") or (header.get("plan") or {}).get("profile") or ""),
        station=_station(header),
        socket=_text(header.get("socket")),
        lot=_text(header.get("lot")),
        sampling=_text(header.get("sampling")),
        operator=_text(header.get("operator")),
        host=_text(header.get("host")),
        plan_sha256=(header.get("software") or {}).get("sources_sha256"),
        spec_sha256=(header.get("spec") or {}).get("sha256"),
        spec_version=_text((header.get("spec") or {}).get("version")),
        firmware=_text(dut.get("firmware")),
        firmware_sha256=header.get("firmware_sha256"),
        started=started,
        duration_s=(ended - started).total_seconds() if ended else None,
        status=_status(run),
        first_failed=failed[0] if failed else None,
        failed_requirements=failed,
        record_sha256=run.record_sha256,
        record_path=str(run.record_path.resolve()),
        measurements=measurements,
    )
