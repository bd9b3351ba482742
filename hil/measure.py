"""Declarative measurements: value, unit, limits, verdict, and the requirement ID they evidence."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"  # the bench failed, the DUT was not judged
    INFO = "info"  # characterised value with no acceptance limit


@dataclass
class Measurement:
    """One measured quantity and its judgement against a requirement."""

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

    @property
    def passed(self) -> bool:
        return self.verdict in (Verdict.PASS, Verdict.INFO)

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
        return f"{self.requirement} {self.name}: {value} {self.unit}{limits} -> {self.verdict.value.upper()}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = self.verdict.value
        return data


def within(
    requirement: str,
    name: str,
    value: float | None,
    unit: str,
    time: float,
    low: float | None = None,
    high: float | None = None,
    **extra: Any,
) -> Measurement:
    """A numeric measurement judged against [low, high]; None or NaN fails."""
    ok = value is not None and not math.isnan(value)
    if ok and value is not None:
        ok = (low is None or value >= low) and (high is None or value <= high)
    verdict = Verdict.PASS if ok else Verdict.FAIL
    return Measurement(requirement, name, value, unit, verdict, time, low=low, high=high, **extra)


def equals(
    requirement: str, name: str, value: bool | str, expected: bool | str, time: float, **extra: Any
) -> Measurement:
    """An observation judged against the expected state (e.g. "tripped" is True)."""
    verdict = Verdict.PASS if value == expected else Verdict.FAIL
    return Measurement(requirement, name, value, "", verdict, time, expected=expected, **extra)


def info(
    requirement: str, name: str, value: float | None, unit: str, time: float, **extra: Any
) -> Measurement:
    """A characterised value recorded without an acceptance limit."""
    return Measurement(requirement, name, value, unit, Verdict.INFO, time, **extra)
