"""A run as the reports see it, rebuilt from `record.jsonl` alone (and the spec data it embeds).

Nothing here trusts a record that does not verify: an altered record raises RecordAlteredError.
A record without its `end` entry (Ctrl-C, a crash, a killed process) is loaded as INCOMPLETE and
every report says so; it is never passed off as a complete run.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Any

import yaml

from hil.measure import SEVERITY, DecisionRule, Measurement, Verdict
from hil.record import VerifyResult, read_entries
from hil.spec import coverage_scopes, in_scope

ROOT = Path(__file__).resolve().parents[2]

#: what each requirement-level verdict is called in the reports
VERDICT_LABELS: dict[str, str] = {
    "pass": "PASS",
    "partial": "PARTIAL",
    "fail": "FAIL",
    "conditional-pass": "CONDITIONAL PASS",
    "conditional-fail": "CONDITIONAL FAIL",
    "error": "ERROR",
    "info": "CHARACTERISED",
    "incomplete": "INCOMPLETE",
    "not-tested": "NOT TESTED",
    "not-testable": "NOT TESTABLE",
}


class RecordAlteredError(Exception):
    """The record does not verify: no report is made from it."""


@dataclass
class TestResult:
    """One test as recorded: its outcome and the measurements it made."""

    nodeid: str
    outcome: str = "interrupted"  # passed, failed, skipped, or interrupted (no outcome recorded)
    phase: str = ""
    duration_s: float | None = None
    requirements: list[str] = field(default_factory=list)
    message: str = ""
    start: float | None = None
    stop: float | None = None
    t_start: float | None = None
    t_end: float | None = None
    measurements: list[Measurement] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)  # parametrised arguments, as text

    @property
    def name(self) -> str:
        return self.nodeid.rsplit("::", 1)[-1]

    @property
    def module(self) -> str:
        path = self.nodeid.split("::", 1)[0]
        return path.removesuffix(".py").replace("/", ".")

    @property
    def failed_measurements(self) -> list[Measurement]:
        return [m for m in self.measurements if not m.passed]

    @property
    def time_window(self) -> tuple[float, float] | None:
        """Virtual-time window of the test: the recorded one, else the span of its measurements."""
        if self.t_start is not None and self.t_end is not None:
            return self.t_start, self.t_end
        times = [m.time for m in self.measurements if isinstance(m.time, int | float)]
        for m in self.measurements:
            for probe in m.data.get("probes", []) or []:
                if len(probe) >= 3 and isinstance(probe[2], int | float):
                    times.append(float(probe[2]))
        return (min(times), max(times)) if times else None


@dataclass
class RequirementRow:
    """One row of the traceability matrix."""

    id: str
    spec: dict[str, Any]
    verdict: str
    tests: list[TestResult]
    measurements: list[Measurement]
    covered: list[str] = field(default_factory=list)
    not_covered: list[str] = field(default_factory=list)
    #: coverage items of other variants sharing the spec: not applicable to this unit, not a gap
    not_applicable: list[str] = field(default_factory=list)
    reason: str = ""  # why a row is NOT TESTED or NOT TESTABLE

    @property
    def label(self) -> str:
        return VERDICT_LABELS.get(self.verdict, self.verdict.upper())

    @property
    def title(self) -> str:
        return str(self.spec.get("title", ""))

    @property
    def tested(self) -> bool:
        return self.verdict not in ("not-tested", "not-testable")


def row_coverage(
    spec: dict[str, Any], measurements: list[Measurement], variant: str = ""
) -> tuple[list[str], list[str]]:
    """(covered, not covered) of a row: the spec's `coverage` items in the scope of the run's
    `variant` that its results name in `data["covers"]`, and every result not judged with its
    reason (`data["not_covered"]`)."""
    items = [name for name, scope in coverage_scopes(spec.get("coverage")) if in_scope(scope, variant)]
    covered: dict[str, None] = {}
    gaps: dict[str, None] = {}
    for m in measurements:
        if not m.data:  # most results say nothing about coverage: skip them at once
            continue
        reason = m.data.get("not_covered")
        if reason:
            gaps[f"{m.name}: {reason}"] = None
            continue
        for item in m.data.get("covers") or []:
            covered[str(item)] = None
    missing = [i for i in items if i not in covered]
    return [i for i in items if i in covered] or list(covered), missing + list(gaps)


def not_applicable(spec: dict[str, Any], variant: str) -> list[str]:
    """A row's coverage items scoped to other variants than the run's: not applicable to this unit."""
    return [name for name, scope in coverage_scopes(spec.get("coverage")) if not in_scope(scope, variant)]


def _worst(verdicts: list[str]) -> str:
    return max(verdicts, key=lambda v: SEVERITY.get(v, 0))


_VERDICT_OF = attrgetter("verdict")
_REQUIREMENT_OF = attrgetter("requirement")


def _verdict_values(measurements: list[Measurement]) -> list[str]:
    """The distinct verdicts of `measurements` as text, in the order first met. It runs over every
    result of a run: members are compared by identity in a short list and read by their plain
    `_value_` (hashing a member or reading `.value` runs Python code per call)."""
    seen: list[Verdict] = []
    for verdict in map(_VERDICT_OF, measurements):
        if verdict not in seen:
            seen.append(verdict)
    return [verdict._value_ for verdict in seen]


def format_value(value: Any, digits: int = 6) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.{digits}g}"
    return str(value)


def gum_round(value: float, uncertainty: float) -> tuple[str, str]:
    """(value, U) as GUM 7.2.6 rounds them: U to two significant digits, the value to the same
    decimal place (the record keeps the full values)."""
    u = abs(uncertainty)
    if not math.isfinite(value) or not math.isfinite(u) or u == 0.0:
        return format_value(value), format_value(u, 2)
    exponent = math.floor(math.log10(u)) - 1  # the place of U's second significant digit
    if round(u, -exponent) >= 10.0 ** (exponent + 2):  # 9.96 -> 10: one place coarser
        exponent += 1
    places = max(0, -exponent)
    if exponent > 0:  # U of 120 or more: round both to tens, hundreds, ...
        return f"{round(value, -exponent):.0f}", f"{round(u, -exponent):.0f}"
    return f"{value:.{places}f}", f"{u:.{places}f}"


def gum_pair(m: Measurement) -> tuple[str, str]:
    """A result's (value, U) as the report prints them: GUM-rounded when it has U."""
    if m.uncertainty is not None and m.numeric and isinstance(m.value, int | float):
        return gum_round(float(m.value), m.uncertainty)
    return format_value(m.value), "" if m.uncertainty is None else format_value(m.uncertainty, 2)


def format_measurement(m: Measurement, with_limits: bool = True) -> str:
    """`3648.32 ± 2.5 mV [3628.49, 3671.51]` - the value, its expanded uncertainty and limits."""
    if m.value is None:
        text = "no value"
        if with_limits and (m.low is not None or m.high is not None):
            lo = "-∞" if m.low is None else format_value(m.low)
            hi = "+∞" if m.high is None else format_value(m.high)
            text += f" [{lo}, {hi}] {m.unit}".rstrip()
        return text
    text = format_value(m.value)
    if m.uncertainty is not None and m.numeric and isinstance(m.value, int | float):
        shown, u = gum_round(float(m.value), m.uncertainty)
        text = f"{shown} ± {u}"
    if m.unit:
        text += f" {m.unit}"
    if with_limits:
        if m.low is not None or m.high is not None:
            lo = "-∞" if m.low is None else format_value(m.low)
            hi = "+∞" if m.high is None else format_value(m.high)
            text += f" [{lo}, {hi}]"
        elif m.expected is not None:
            text += f" (expected {format_value(m.expected)})"
    return text


@dataclass
class RunReport:
    """Everything the reports show, from one record."""

    folder: Path
    record_path: Path
    integrity: VerifyResult
    entries: list[dict[str, Any]]
    header: dict[str, Any]
    spec: dict[str, Any]
    spec_origin: str
    station: dict[str, Any]
    dut: dict[str, Any] | None
    tests: OrderedDict[str, TestResult]
    measurements: list[tuple[str, Measurement]]
    safe_state: dict[str, Any] | None
    end: dict[str, Any] | None
    stopped: dict[str, Any] | None
    notes: list[str]

    # ----------------------------------------------------------------- identity and status
    @property
    def run_id(self) -> str:
        return str(self.header.get("run_id", ""))

    @property
    def record_sha256(self) -> str:
        return self.integrity.sha256

    @property
    def complete(self) -> bool:
        return self.integrity.complete

    @property
    def status(self) -> str:
        """complete, stopped, or incomplete."""
        if self.complete:
            return "complete"
        if self.stopped is not None or (self.end or {}).get("status") == "stopped":
            return "stopped"
        return "incomplete"

    @property
    def incomplete_reason(self) -> str:
        if self.complete:
            return ""
        if self.end is not None:
            return self.integrity.problem or f"the run ended {self.end.get('status', '')}"
        if self.integrity.torn_tail:
            return "the record ends with a line cut short (the process died while writing it)"
        return "the record has no end entry (the run was interrupted or the process died)"

    @property
    def variant(self) -> str:
        """The variant of a spec shared by several families that the run's unit is ("": the whole spec)."""
        return str((self.header.get("dut") or {}).get("variant") or "")

    @property
    def simulated(self) -> bool:
        return bool(self.header.get("station", {}).get("simulated", False))

    @property
    def decision_rule(self) -> DecisionRule:
        rule = self.header.get("decision_rule") or {}
        try:
            return DecisionRule(rule.get("kind", "simple"), float(rule.get("guard_factor", 1.0)))
        except (ValueError, TypeError):
            return DecisionRule()

    @property
    def calibration(self) -> dict[str, Any]:
        return dict(self.header.get("calibration") or {})

    @property
    def expired_calibrations(self) -> list[dict[str, Any]]:
        return list(self.calibration.get("expired") or [])

    @property
    def started(self) -> str:
        return str(self.header.get("started", ""))

    @property
    def ended(self) -> str:
        return str((self.end or {}).get("ended", ""))

    # ----------------------------------------------------------------- station
    def instruments(self) -> list[dict[str, Any]]:
        """Each instrument: the station file's figures and what it answered to *IDN?."""
        declared = self.header.get("station", {}).get("instruments", {}) or {}
        answered = self.station.get("instruments", {}) or {}
        checked_on = self.calibration.get("checked_on", "")
        rows = []
        for name in list(declared) + [n for n in answered if n not in declared]:
            info = {**declared.get(name, {}), **answered.get(name, {})}
            due = str(info.get("calibration_due", ""))
            info["name"] = name
            info["calibration_expired"] = bool(checked_on and due and checked_on > due)
            idn_serial = str(info.get("idn_serial", ""))
            info["serial_mismatch"] = bool(info.get("serial") and idn_serial and idn_serial != info["serial"])
            rows.append(info)
        return rows

    # ----------------------------------------------------------------- requirements
    def spec_rows(self) -> list[dict[str, Any]]:
        return list(self.spec.get("requirements", []) or [])

    def requirement_rows(self) -> list[RequirementRow]:
        """Every requirement of the spec (tested or not), then any measured ID the spec lacks."""
        by_req: defaultdict[str, list[Measurement]] = defaultdict(list)
        for _, m in self.measurements:
            by_req[m.requirement].append(m)
        tests_by_req: dict[str, list[TestResult]] = {}
        for test in self.tests.values():
            named = dict.fromkeys(test.requirements)
            named.update(dict.fromkeys(map(_REQUIREMENT_OF, test.measurements)))
            for rid in named:
                tests_by_req.setdefault(rid, []).append(test)
        specs = {str(r.get("id")): r for r in self.spec_rows()}
        ids = list(specs) + [rid for rid in list(by_req) + list(tests_by_req) if rid not in specs]
        rows = []
        left_out = self.deselected()  # once: it reads every entry
        for rid in dict.fromkeys(ids):
            spec = specs.get(rid, {"id": rid, "title": "(not in the spec data)"})
            measurements = by_req.get(rid, [])
            tests = tests_by_req.get(rid, [])
            verdict = self._verdict(spec, measurements, tests)
            covered, not_covered = row_coverage(spec, measurements, self.variant)
            if verdict == "pass" and not_covered:
                verdict = "partial"
            other = not_applicable(spec, self.variant)
            row = RequirementRow(rid, spec, verdict, tests, measurements, covered, not_covered, other)
            row.reason = self._untested_reason(row, left_out.get(rid))
            rows.append(row)
        return rows

    def deselected(self) -> dict[str, list[str]]:
        """Per requirement ID: why its tests were left out of this run (the record's `deselected`),
        one line per reason naming the tests (parametrised cases under one name)."""
        grouped: dict[str, dict[str, dict[str, None]]] = {}
        for entry in self.entries:
            if entry.get("type") != "deselected":
                continue
            for test in entry.get("tests") or []:
                name = str(test.get("test", "")).rsplit("::", 1)[-1].split("[", 1)[0]
                for rid in test.get("requirements") or []:
                    by_reason = grouped.setdefault(str(rid), {})
                    by_reason.setdefault(str(test.get("reason", "")), {})[name] = None
        return {
            rid: [f"{', '.join(names)}: {reason}" for reason, names in by_reason.items()]
            for rid, by_reason in grouped.items()
        }

    def _untested_reason(self, row: RequirementRow, left_out: list[str] | None) -> str:
        """Why a row has no verdict; `left_out`: the row's lines of `deselected()`."""
        if row.verdict == "not-testable":
            return str(row.spec.get("untestable_reason") or "marked not testable in the spec data")
        if row.verdict != "not-tested":
            return ""
        if left_out:
            return "; ".join(dict.fromkeys(left_out))
        eol = row.spec.get("eol") or {}
        if isinstance(eol, dict) and eol.get("reason"):
            return str(eol["reason"])
        return "no test of the plan evidences this row (a gap in the plan)"

    def _verdict(self, spec: dict[str, Any], measurements: list[Measurement], tests: list[TestResult]) -> str:
        verdicts = _verdict_values(measurements)
        rid = spec.get("id")
        for test in tests:
            if test.outcome == "failed" and not test.failed_measurements:
                verdicts.append(Verdict.ERROR.value)  # the test broke: the requirement was not judged
            elif test.outcome == "interrupted" and any(m.requirement == rid for m in test.measurements):
                verdicts.append("incomplete")
        if not verdicts:
            if spec.get("testable") is False:
                return "not-testable"
            return "not-tested"
        if "incomplete" in verdicts:
            worst = _worst([v for v in verdicts if v != "incomplete"] or ["pass"])
            return worst if SEVERITY.get(worst, 0) >= SEVERITY[Verdict.CONDITIONAL_FAIL] else "incomplete"
        return _worst(verdicts)

    def overall(self, rows: list[RequirementRow] | None = None) -> tuple[str, str]:
        """(verdict word, one sentence) for the first page; `rows`: `requirement_rows()` when the
        caller has them already (they are built from every result of the run)."""
        every = self.requirement_rows() if rows is None else rows
        rows = [r for r in every if r.tested]
        worst = _worst([r.verdict for r in rows]) if rows else "not-tested"
        # a failed test is explained by its results not accepted; one without any broke (error)
        unexplained = [t for t in self.tests.values() if t.outcome == "failed" and not t.failed_measurements]
        tested = len(rows)
        total = len(self.spec_rows())
        if self.status == "stopped":
            reason = (self.stopped or {}).get("message") or (self.end or {}).get("reason", "")
            return "NOT PERFORMED", f"The run stopped before any stimulus: {reason}"
        counts = self.verdict_counts(every)
        summary = ", ".join(f"{n} {VERDICT_LABELS[v].lower()}" for v, n in counts.items() if n)
        coverage = f"{tested} of {total} requirements tested" if total else f"{tested} requirements tested"
        if self.status == "incomplete":
            return (
                "INCOMPLETE",
                f"The run did not finish ({self.incomplete_reason}); {coverage} so far: {summary}.",
            )
        if worst in ("fail", "conditional-fail", "error") or unexplained:
            return "FAIL", f"{coverage}: {summary}."
        if worst == "conditional-pass":
            return "CONDITIONAL PASS", f"{coverage}: {summary} (inside the guard band: not accepted)."
        partial = sum(1 for r in rows if r.verdict == "partial")
        if partial:
            return (
                "PARTIAL",
                f"{coverage}: {summary}. No result failed, but {partial} requirement(s) were covered only "
                "in part (the matrix names what was and was not covered): accepted as far as tested, "
                "not a statement of conformity to those requirements as a whole.",
            )
        return "PASS", f"{coverage}: {summary}."

    def verdict_counts(self, rows: list[RequirementRow] | None = None) -> dict[str, int]:
        """Requirement rows per verdict; `rows`: `requirement_rows()` when the caller has them already."""
        counts = dict.fromkeys(VERDICT_LABELS, 0)
        for row in self.requirement_rows() if rows is None else rows:
            counts[row.verdict] = counts.get(row.verdict, 0) + 1
        return counts

    def test_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for test in self.tests.values():
            counts[test.outcome] = counts.get(test.outcome, 0) + 1
        return counts


def _load_spec(
    header: dict[str, Any], entries: list[dict[str, Any]], notes: list[str]
) -> tuple[dict[str, Any], str]:
    for entry in entries:
        if entry.get("type") == "spec" and isinstance(entry.get("data"), dict):
            return entry["data"], "record"
    info = header.get("spec") or {}
    path_text = info.get("path")
    if not path_text:
        notes.append("The record names no spec data: the traceability matrix lists the measured IDs only.")
        return {}, "missing"
    path = Path(path_text)
    if not path.is_absolute():
        path = ROOT / path
    try:
        raw = path.read_bytes()
    except OSError:
        notes.append(f"The spec data file named by the record ({path_text}) is missing.")
        return {}, "missing"
    digest = hashlib.sha256(raw).hexdigest()
    if info.get("sha256") and digest != info["sha256"]:
        notes.append(
            f"The spec data file {path_text} has changed since the run (SHA-256 {digest[:16]}... "
            f"instead of {str(info['sha256'])[:16]}...): requirement texts are today's."
        )
    data = yaml.safe_load(raw)
    return (data if isinstance(data, dict) else {}), "file"


def link_note(entry: dict[str, Any]) -> str:
    """One line for a `link` entry: what went wrong on which bus during a test (a finding, not a verdict)."""
    parts = []
    for link, found in (entry.get("links") or {}).items():
        found = found if isinstance(found, dict) else {}
        counts = found.get("counts") or {}
        said = ", ".join(f"{n} {str(kind).replace('_', ' ')}" for kind, n in counts.items())
        first = (found.get("events") or [{}])[0]
        when = f" (first at t={first['t']:.3f} s)" if isinstance(first.get("t"), int | float) else ""
        parts.append(f"{link}: {said}{when}")
    test = str(entry.get("test", "")) or "outside a test"
    return f"Communication finding (not a verdict) during {test}: {'; '.join(parts) or 'no details'}."


def load_run(folder: Path, read: tuple[list[dict[str, Any]], VerifyResult] | None = None) -> RunReport:
    """Read and verify `folder/record.jsonl`; raises RecordAlteredError when it does not verify.
    `read`: its entries and verification as already known (`Recorder.written()`), not read again."""
    record = folder / "record.jsonl"
    entries, integrity = read if read is not None else read_entries(record)
    if not integrity.ok and not integrity.torn_tail:
        raise RecordAlteredError(f"{record}: ALTERED or damaged: {integrity.problem}")
    if not entries or entries[0].get("type") != "header":
        raise RecordAlteredError(f"{record}: no header entry")
    notes: list[str] = []
    header = entries[0]
    spec, origin = _load_spec(header, entries, notes)
    station: dict[str, Any] = {}
    dut = safe = end = stopped = None
    tests: OrderedDict[str, TestResult] = OrderedDict()
    measurements: list[tuple[str, Measurement]] = []
    from_json = Measurement.from_json
    for entry in entries[1:]:
        kind = entry.get("type")
        if kind == "measurement":  # most entries: tested first
            m = from_json(entry)
            test_id = str(entry.get("test", ""))
            measurements.append((test_id, m))
            result = tests.get(test_id) or tests.setdefault(test_id, TestResult(test_id))
            result.measurements.append(m)
        elif kind == "station":
            station = entry
        elif kind == "dut":
            dut = {k: v for k, v in entry.items() if k not in ("seq", "type", "run_id", "prev", "hash")}
        elif kind == "test":
            test_id = str(entry.get("test", ""))
            result = tests.setdefault(test_id, TestResult(test_id))
            if not (result.outcome == "failed" and entry.get("phase") == "teardown"):
                result.outcome = str(entry.get("outcome", ""))
            result.phase = str(entry.get("phase", ""))
            result.duration_s = entry.get("duration_s")
            result.requirements = list(entry.get("requirements") or [])
            result.message = str(entry.get("message", ""))
            result.start = entry.get("start")
            result.stop = entry.get("stop")
            result.t_start = entry.get("t_start")
            result.t_end = entry.get("t_end")
            result.params = {str(k): str(v) for k, v in dict(entry.get("params") or {}).items()}
        elif kind == "safe_state":
            safe = entry
        elif kind == "link":
            notes.append(link_note(entry))
        elif kind == "stopped":
            stopped = entry
        elif kind == "end":
            end = entry
    if "" in tests and not tests[""].measurements:
        del tests[""]
    return RunReport(
        folder=folder,
        record_path=record,
        integrity=integrity,
        entries=entries,
        header=header,
        spec=spec,
        spec_origin=origin,
        station=station,
        dut=dut,
        tests=tests,
        measurements=measurements,
        safe_state=safe,
        end=end,
        stopped=stopped,
        notes=notes,
    )
