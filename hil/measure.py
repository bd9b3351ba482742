"""Declarative measurements: value, unit, limits, uncertainty, verdict, and the requirement ID they evidence.

A numeric result is judged by a decision rule (ILAC-G8:09/2019):

- **simple acceptance** (`simple`): pass when the measured value lies inside the limits, whatever its
  uncertainty (the uncertainty is still reported);
- **guarded acceptance** (`guarded`, guard band w = r·U): pass only inside the acceptance zone
  [low + w, high - w]. A value inside the limits but in the guard band is a `conditional-pass`, a
  value outside the limits by less than w a `conditional-fail`; neither is accepted (the test fails)
  and the report says which it was.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from hil.uncertainty import Budget


#: the numeric types of a value (a tuple: `isinstance` with `int | float` builds the union per call)
_NUMBERS = (int, float)


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    CONDITIONAL_PASS = "conditional-pass"  # inside the limits, but inside the guard band
    CONDITIONAL_FAIL = "conditional-fail"  # outside the limits by less than the guard band
    ERROR = "error"  # the bench failed, the DUT was not judged
    INFO = "info"  # characterised value with no acceptance limit


#: verdicts from best to worst, for "the worst verdict of a requirement"
SEVERITY: dict[str, int] = {
    Verdict.INFO: 0,
    Verdict.PASS: 1,
    Verdict.CONDITIONAL_PASS: 2,
    Verdict.CONDITIONAL_FAIL: 3,
    Verdict.FAIL: 4,
    Verdict.ERROR: 5,
}

RuleKind = Literal["simple", "guarded"]


@dataclass(frozen=True)
class DecisionRule:
    """How a numeric result with its uncertainty becomes a verdict (ILAC-G8:09/2019)."""

    kind: RuleKind = "simple"
    guard_factor: float = 1.0  # guarded: w = guard_factor × U (expanded, k=2)

    def __post_init__(self) -> None:
        if self.kind not in ("simple", "guarded"):
            raise ValueError(f"decision rule must be 'simple' or 'guarded', not {self.kind!r}")
        if not self.guard_factor >= 0:
            raise ValueError("the guard band factor must be >= 0")

    @classmethod
    def parse(cls, text: str) -> DecisionRule:
        """`simple`, `guarded` (w = U) or `guarded:R` (w = R·U)."""
        kind, _, factor = text.strip().partition(":")
        if kind not in ("simple", "guarded"):
            raise ValueError(f"decision rule must be simple, guarded or guarded:R, not {text!r}")
        if kind == "simple":
            if factor:
                raise ValueError("the simple decision rule takes no guard band factor")
            return cls("simple")
        try:
            return cls("guarded", float(factor) if factor else 1.0)
        except ValueError:
            raise ValueError(f"guard band factor in {text!r} is not a number") from None

    @property
    def name(self) -> str:
        """The rule as written on the command line and in the record."""
        return "simple" if self.kind == "simple" else f"guarded:{self.guard_factor:g}"

    def guard_band(self, uncertainty: float | None) -> float:
        """The guard band w for an expanded uncertainty U (0 under simple acceptance)."""
        if self.kind == "simple" or uncertainty is None or math.isnan(uncertainty):
            return 0.0
        return self.guard_factor * abs(uncertainty)

    def describe(self) -> str:
        """One sentence for the report."""
        if self.kind == "simple":
            return (
                "Simple acceptance (ILAC-G8:09/2019 §4.2.1, binary): a result passes when the measured "
                "value lies inside the limits; the expanded uncertainty (k=2) is reported with each "
                "result but not taken into account, so a result close to a limit carries up to 50 % "
                "risk of a false decision. The limits are the specification's (value ± its tolerance), "
                "never widened by instrument accuracy; go/no-go stimuli sit at the limits. A result "
                "whose U exceeds its tolerance is characterised, not judged."
            )
        return (
            f"Guarded acceptance (ILAC-G8:09/2019 §4.2.2) with guard band w = {self.guard_factor:g}·U "
            "(U the expanded uncertainty, k=2): a result passes only inside the acceptance zone "
            "[lower limit + w, upper limit - w]. Inside the limits but within w of one it is reported as "
            "CONDITIONAL PASS, outside by less than w as CONDITIONAL FAIL; neither is accepted. "
            "The limits are the specification's; go/no-go stimuli sit inside them by w (the "
            "stimulus's own U), so a unit that passes is inside the specification's limits."
        )

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "guard_factor": self.guard_factor, "name": self.name}


SIMPLE = DecisionRule("simple")


def judge(
    value: float | None,
    low: float | None,
    high: float | None,
    uncertainty: float | None = None,
    rule: DecisionRule = SIMPLE,
) -> tuple[Verdict, float]:
    """The verdict of a numeric value against [low, high] under a rule, and the guard band used.

    None or NaN fails (nothing was measured).
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Verdict.FAIL, 0.0
    w = rule.guard_band(uncertainty)
    inside = (low is None or value >= low) and (high is None or value <= high)
    if w == 0.0:
        return (Verdict.PASS if inside else Verdict.FAIL), w
    accepted = (low is None or value >= low + w) and (high is None or value <= high - w)
    if accepted:
        return Verdict.PASS, w
    if inside:
        return Verdict.CONDITIONAL_PASS, w
    near = (low is None or value >= low - w) and (high is None or value <= high + w)
    return (Verdict.CONDITIONAL_FAIL if near else Verdict.FAIL), w


@dataclass
class Measurement:
    """One measured quantity and its judgement against a requirement.

    `uncertainty` is the expanded uncertainty U (same unit as the value, coverage factor
    `coverage_factor`, normally k=2); `budget` lists its contributions when it was computed from
    one (hil.uncertainty). `decision_rule` names the rule that gave the verdict ("" = not yet
    judged under the run's rule: the `check` fixture applies it).
    """

    requirement: str
    name: str
    value: float | bool | str | None
    unit: str
    verdict: Verdict
    time: float
    low: float | None = None
    high: float | None = None
    expected: float | bool | str | None = None
    uncertainty: float | None = None
    method: str = ""
    notes: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    coverage_factor: float | None = None
    budget: list[dict[str, Any]] = field(default_factory=list)
    decision_rule: str = ""
    guard_band: float | None = None

    @property
    def passed(self) -> bool:
        """Accepted: a plain pass or a characterised value (a conditional pass is not accepted)."""
        return self.verdict in (Verdict.PASS, Verdict.INFO)

    @property
    def numeric(self) -> bool:
        return isinstance(self.value, _NUMBERS) and not isinstance(self.value, bool)

    def describe(self) -> str:
        """One line for failure messages and logs."""
        limits = ""
        if self.low is not None or self.high is not None:
            lo = "-inf" if self.low is None else f"{self.low:g}"
            hi = "+inf" if self.high is None else f"{self.high:g}"
            limits = f" limits [{lo}, {hi}] {self.unit}"
        elif self.expected is not None:
            limits = f" expected {self.expected}"
        value = f"{self.value:g}" if isinstance(self.value, float) else str(self.value)
        u = f" ± {self.uncertainty:.3g}" if self.uncertainty is not None else ""
        guard = f" (guard band {self.guard_band:.3g} {self.unit})" if self.guard_band else ""
        return (
            f"{self.requirement} {self.name}: {value}{u} {self.unit}{limits}{guard} -> "
            f"{self.verdict.value.upper()}"
        )

    def judged(self, rule: DecisionRule) -> Measurement:
        """This measurement judged under `rule` (numeric results with limits only; others unchanged)."""
        fields = self.__dict__
        value, low, high = fields["value"], fields["low"], fields["high"]
        if (
            rule.kind == "simple"
            and type(value) is float
            and (low is not None or high is not None)
            and fields["verdict"] not in _UNJUDGED
        ):
            # the common case (every `check(within(...))` of a run under simple acceptance), inline:
            # what `judge` gives for it (NaN compares False, so it fails), at two thirds of the cost
            inside = (low is None or value >= low) and (high is None or value <= high)
            new = object.__new__(type(self))
            copied = fields.copy()  # a copy, then three keys set: half the cost of `{**fields, ...}`
            copied["verdict"] = Verdict.PASS if inside else Verdict.FAIL
            copied["decision_rule"] = "simple"
            copied["guard_band"] = 0.0
            new.__dict__ = copied
            return new
        if self.verdict in (Verdict.ERROR, Verdict.INFO) or (self.low is None and self.high is None):
            return self if self.decision_rule else self._with(decision_rule=rule.name)
        if not self.numeric and self.value is not None:
            return self
        value = None if self.value is None else float(self.value)
        verdict, w = judge(value, self.low, self.high, self.uncertainty, rule)
        return self._with(verdict=verdict, decision_rule=rule.name, guard_band=w)

    def _with(self, **changes: Any) -> Measurement:
        """A copy with `changes` (what `dataclasses.replace` does, at a ninth of its cost: it runs
        for every measurement a test checks, and the class has no __post_init__ to re-run)."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__, **changes)
        return new

    def to_json(self, into: dict[str, Any] | None = None) -> dict[str, Any]:
        """The record entry's fields in declaration order (shallow: serialised at once, so nothing
        is copied deeply; read from `__dict__` in one pass, as it runs for every measurement);
        `into`: added to this dict (the record's entry) instead of a new one, which is returned."""
        data = {} if into is None else into
        fields = self.__dict__
        if tuple(fields) == _FIELDS:  # as every constructor here leaves it: copied whole, in C
            data.update(fields)
        else:  # an attribute added or deleted and set again: the fields alone, in their order
            data.update(zip(_FIELDS, _FIELD_VALUES(fields), strict=True))
        data["verdict"] = self.verdict._value_  # the plain attribute: `.value` is a Python property
        return data

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> Measurement:
        """A measurement from its record entry (extra record fields are ignored). It runs for every
        measurement a report or the results database reads: the fields in one `itemgetter` call
        and a new `__dict__` (no `__init__`, which only assigns them)."""
        try:
            values = _FIELD_VALUES(entry)  # every field written (any record since to_json's first)
        except KeyError:
            values = None
        if values is not None:
            new = object.__new__(cls)
            fields = None
            if len(entry) == _ENTRY_SIZE:  # a record entry as the recorder writes it: the fields and
                fields = entry.copy()  # its own keys, so a copy without them is the fields alone
                try:
                    for key in _RECORD_KEYS:
                        del fields[key]
                except KeyError:  # a field under another name: the fields one by one
                    fields = None
            new.__dict__ = dict(zip(_FIELDS, values, strict=True)) if fields is None else fields
            verdict = entry["verdict"]
            new.verdict = _VERDICTS[verdict] if verdict in _VERDICTS else Verdict(verdict)
            return new
        names = cls.__dataclass_fields__
        kwargs = {k: v for k, v in entry.items() if k in names}
        kwargs["verdict"] = Verdict(kwargs["verdict"])
        return cls(**kwargs)


#: verdicts a decision rule does not change (the bench failed; a characterised value)
_UNJUDGED = (Verdict.ERROR, Verdict.INFO)
_FIELDS = tuple(f.name for f in fields(Measurement))
#: the values of every field, in `_FIELDS` order, from a mapping (raises KeyError when one is missing)
_FIELD_VALUES = itemgetter(*_FIELDS)
#: the keys a record's measurement entry has beside the fields, and how many it has in all
_RECORD_KEYS = ("seq", "type", "run_id", "test", "prev", "hash")
_ENTRY_SIZE = len(_FIELDS) + len(_RECORD_KEYS)
#: a measurement entry's fields in their order, and their values from a mapping (as `_FIELDS`,
#: `_FIELD_VALUES`): the record writes its measurement entries from them
MEASUREMENT_FIELDS = _FIELDS
field_values = _FIELD_VALUES
#: each verdict by its value (a dict lookup: calling the enum costs several times more)
_VERDICTS: dict[str, Verdict] = {v.value: v for v in Verdict}


def _uncertainty_fields(uncertainty: float | Budget | None) -> dict[str, Any]:
    if uncertainty is None:
        return {}
    if isinstance(uncertainty, int | float):
        return {"uncertainty": float(uncertainty)}
    return {
        "uncertainty": uncertainty.expanded,
        "coverage_factor": uncertainty.k,
        "budget": uncertainty.to_json(),
    }


def within(
    requirement: str,
    name: str,
    value: float | None,
    unit: str,
    time: float,
    low: float | None = None,
    high: float | None = None,
    uncertainty: float | Budget | None = None,
    rule: DecisionRule | None = None,
    **extra: Any,
) -> Measurement:
    """A numeric measurement judged against [low, high]; None or NaN fails.

    `uncertainty` is the expanded uncertainty U (k=2) as a number, or a `hil.uncertainty.Budget`
    (its contributions go into the record). `rule` fixes the decision rule; without it the
    measurement is judged by simple acceptance here and by the run's rule when it is checked.
    """
    if uncertainty is None and rule is None and not extra:
        # the common case (no U, the run's rule applied later), by simple acceptance inline: what
        # `judge` gives (None or NaN fails: NaN compares False), the fields by position
        if type(value) is float:
            inside = value == value and (low is None or value >= low) and (high is None or value <= high)
            verdict = Verdict.PASS if inside else Verdict.FAIL
        else:
            verdict = judge(value, low, high)[0]
        return Measurement(requirement, name, value, unit, verdict, time, low, high)
    fields = _uncertainty_fields(uncertainty)
    fields.update(extra)
    verdict, w = judge(value, low, high, fields.get("uncertainty"), rule or SIMPLE)
    return Measurement(
        requirement,
        name,
        value,
        unit,
        verdict,
        time,
        low=low,
        high=high,
        decision_rule=rule.name if rule else "",
        guard_band=w if rule else None,
        **fields,
    )


def capable(m: Measurement) -> Measurement:
    """The result as judged, or characterised (INFO) when its U is wider than half its tolerance
    interval: no statement of conformity can then be made under any rule (ILAC-G8 §3), so it is not
    passed off as one; the notes say why and the row counts it as not covered."""
    if m.uncertainty is None or m.low is None or m.high is None or not m.numeric:
        return m
    half = (m.high - m.low) / 2
    if m.uncertainty <= half:
        return m
    why = (
        f"not judged: U = {m.uncertainty:.2g} {m.unit} exceeds the tolerance ±{half:.2g} {m.unit} "
        "(measurement capability insufficient for a statement of conformity)"
    )
    notes = f"{m.notes}; {why}" if m.notes else why
    return replace(
        m, verdict=Verdict.INFO, notes=notes, decision_rule="none", data={**m.data, "not_covered": why}
    )


def equals(
    requirement: str, name: str, value: bool | str, expected: bool | str, time: float, **extra: Any
) -> Measurement:
    """An observation judged against the expected state (e.g. "tripped" is True)."""
    verdict = Verdict.PASS if value == expected else Verdict.FAIL
    return Measurement(requirement, name, value, "", verdict, time, expected=expected, **extra)


def info(
    requirement: str,
    name: str,
    value: float | None,
    unit: str,
    time: float,
    uncertainty: float | Budget | None = None,
    **extra: Any,
) -> Measurement:
    """A characterised value recorded without an acceptance limit."""
    fields = _uncertainty_fields(uncertainty)
    fields.update(extra)
    return Measurement(requirement, name, value, unit, Verdict.INFO, time, **fields)
