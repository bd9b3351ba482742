"""Where a go/no-go stimulus sits around a spec limit, by the run's decision rule (ILAC-G8:09/2019).

A row states a nominal value and a tolerance: a conforming unit acts anywhere in
[nominal - tolerance, nominal + tolerance]. The limits stay the spec's; the probes that show the
unit acts inside them sit

- **simple**: at the limits, nominal ∓ tolerance (the stimulus's U is reported, not used);
- **guarded** (w = R·U): inside the limits by w, nominal ∓ (tolerance - w), so a unit that
  passes is inside the spec's limits even when the stimulus is off by U.

The stimulus's instrument accuracy and resolution go into U, never into the distance beyond the
limit. Each probe's result carries its level, U and the rule that placed it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hil.measure import DecisionRule
from hil.uncertainty import Budget


@dataclass(frozen=True)
class Placement:
    """The probe distance from the nominal value of one limit, and why."""

    rule: DecisionRule
    tolerance: float
    stimulus: Budget  # the uncertainty of setting the stimulus near the limit

    @property
    def uncertainty(self) -> float:
        """U (k=2) of the stimulus level."""
        return self.stimulus.expanded

    @property
    def guard_band(self) -> float:
        return self.rule.guard_band(self.uncertainty)

    @property
    def distance(self) -> float:
        """How far from the nominal value each probe sits (never past the nominal value itself)."""
        return max(0.0, self.tolerance - self.guard_band)

    def describe(self, unit: str = "") -> str:
        """How the probes were placed, for a result's method text."""
        u = f"U = {format_u(self.uncertainty)} {unit}".rstrip()
        if self.guard_band == 0.0:
            return (
                f"probes at the spec's limits (nominal ∓ {self.tolerance:g} {unit}; {u}; "
                f"rule {self.rule.name})"
            )
        return (
            f"probes inside the spec's limits by w = {format_u(self.guard_band)} {unit} "
            f"(nominal ∓ {self.distance:.6g}; tolerance {self.tolerance:g}; {u}; rule {self.rule.name})"
        )

    def data(self, level: float) -> dict[str, Any]:
        """What a probe's result records about its stimulus: level, U, budget, rule and guard band."""
        return {
            "level": level,
            "level_uncertainty": self.uncertainty,
            "level_budget": self.stimulus.to_json(),
            "placement_rule": self.rule.name,
            "placement_guard_band": self.guard_band,
            "tolerance": self.tolerance,
        }


def place(rule: DecisionRule, tolerance: float, stimulus: Budget) -> Placement:
    """The placement of go/no-go probes for a limit with this tolerance under `rule`."""
    return Placement(rule, abs(tolerance), stimulus)


def format_u(value: float) -> str:
    """An uncertainty to two significant digits (GUM 7.2.6)."""
    return f"{value:.2g}" if value else "0"
