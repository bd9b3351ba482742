"""Measurement uncertainty budgets (GUM, JCGM 100:2008) and the calibration status of a station.

A budget lists contributions, each reduced to a standard uncertainty u_i in the result's unit:

- an instrument's accuracy specification ± (gain·|x| + offset): limits of a rectangular
  distribution, u = a/√3;
- its resolution (one digit of step q): u = q/√12;
- the DUT's own stated accuracy where it is part of the check (e.g. a reading compared with the
  bench): ± tolerance as rectangular limits, u = a/√3;
- anything a plan already has as a standard or expanded uncertainty.

The combined standard uncertainty is the root sum of squares u_c = √(Σ u_i²) (uncorrelated
inputs); the expanded uncertainty U = k·u_c with k = 2 (about 95 % coverage).

Plans call `station_uncertainty(station, "cells", "voltage", 3.65, scale=1000, unit="mV")` for the
instrument part, add their own contributions (`budget.plus(resolution(...))`) and pass the budget to
`within(..., uncertainty=budget)`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from hil.station.model import AccuracyModel, InstrumentModel, StationModel

COVERAGE_K = 2.0
SQRT3 = math.sqrt(3.0)
SQRT12 = math.sqrt(12.0)

ContributionKind = Literal["rectangular", "resolution", "normal", "standard"]


@dataclass(frozen=True)
class Contribution:
    """One line of a budget: where it comes from, the figure as specified, and its u_i."""

    source: str
    kind: ContributionKind
    figure: float  # half-width a, resolution step q, expanded U, or u itself (by kind)
    standard: float  # standard uncertainty u_i, in the result's unit

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "kind": self.kind, "figure": self.figure, "standard": self.standard}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Contribution:
        return cls(str(data["source"]), data["kind"], float(data["figure"]), float(data["standard"]))


def rectangular(source: str, half_width: float) -> Contribution:
    """Limits ± a with every value between equally likely (accuracy specifications): u = a/√3."""
    a = abs(half_width)
    return Contribution(source, "rectangular", a, a / SQRT3)


def resolution(source: str, step: float) -> Contribution:
    """A reading or setting quantised in steps q: u = q/√12 (rectangular over ± q/2)."""
    q = abs(step)
    return Contribution(source, "resolution", q, q / SQRT12)


def normal(source: str, expanded: float, k: float = COVERAGE_K) -> Contribution:
    """An expanded uncertainty from a calibration certificate or a prior budget: u = U/k."""
    return Contribution(source, "normal", abs(expanded), abs(expanded) / k)


def standard(source: str, u: float) -> Contribution:
    """A standard uncertainty already evaluated (e.g. Type A: the standard deviation of the mean)."""
    return Contribution(source, "standard", abs(u), abs(u))


def dut_accuracy(source: str, tolerance: float) -> Contribution:
    """The DUT's stated accuracy ± tolerance, where its own reading is part of the check."""
    return rectangular(source, tolerance)


@dataclass(frozen=True)
class Budget:
    """Contributions, combined by root sum of squares and expanded with k."""

    contributions: tuple[Contribution, ...]
    k: float = COVERAGE_K
    unit: str = ""

    @property
    def combined(self) -> float:
        """Combined standard uncertainty u_c."""
        return math.sqrt(sum(c.standard**2 for c in self.contributions))

    @property
    def expanded(self) -> float:
        """Expanded uncertainty U = k·u_c."""
        return self.k * self.combined

    def plus(self, *more: Contribution | Budget) -> Budget:
        """This budget with more contributions (or every contribution of other budgets)."""
        items = list(self.contributions)
        for item in more:
            items.extend(item.contributions if isinstance(item, Budget) else (item,))
        return Budget(tuple(items), self.k, self.unit)

    def to_json(self) -> list[dict[str, Any]]:
        return [c.to_json() for c in self.contributions]


def budget(*contributions: Contribution, k: float = COVERAGE_K, unit: str = "") -> Budget:
    return Budget(tuple(contributions), k, unit)


def reading(source: str, step: float, unit: str = "") -> Budget:
    """A value the DUT reports digitally: its reading step q is its uncertainty (u = q/√12)."""
    return budget(resolution(f"{source}: reading resolution {step:g} {unit}".rstrip(), step), unit=unit)


def scaled(items: Budget, factor: float, source: str = "", unit: str = "") -> Budget:
    """A budget carried through a sensitivity coefficient (GUM 5.1.3: u_i(y) = |c_i|·u(x_i))."""
    c = abs(factor)
    label = f" × {c:.4g}{f' ({source})' if source else ''}"
    return Budget(
        tuple(
            Contribution(x.source + label, x.kind, x.figure * c, x.standard * c) for x in items.contributions
        ),
        items.k,
        unit or items.unit,
    )


def instrument_contributions(
    label: str, accuracy: AccuracyModel, value: float, scale: float = 1.0
) -> list[Contribution]:
    """The accuracy (gain·|x| + offset) and resolution terms of one instrument function at `value`.

    `value` is in the instrument's unit (V, A, Ω as in the station file); `scale` converts the
    contributions to the result's unit (1000 for V → mV).
    """
    items = [
        rectangular(
            f"{label}: accuracy ±({accuracy.gain:g}·|x| + {accuracy.offset:g}) at x = {value:g}",
            (accuracy.gain * abs(value) + accuracy.offset) * scale,
        )
    ]
    if accuracy.resolution > 0:
        items.append(resolution(f"{label}: resolution {accuracy.resolution:g}", accuracy.resolution * scale))
    return items


def _instrument(station: Any, instrument: str) -> tuple[str, InstrumentModel, str]:
    model: StationModel = getattr(station, "model", station)
    if instrument in model.instruments:
        return instrument, model.instruments[instrument], model.name
    for name, inst in model.instruments.items():  # a role name such as "cell_emulator"
        if inst.role == instrument:
            return name, inst, model.name
    raise KeyError(f"station {model.name}: no instrument or role named {instrument!r}")


def station_uncertainty(
    station: Any,
    instrument: str,
    quantity: str,
    value: float,
    scale: float = 1.0,
    unit: str = "",
    k: float = COVERAGE_K,
) -> Budget:
    """The budget of one instrument reading or setting from the station file's accuracy figures.

    `station` is a Station or a StationModel; `instrument` the instrument's name in the station
    file (or its role); `quantity` the key of its `accuracy` table (voltage, current, resistance).
    """
    name, inst, station_name = _instrument(station, instrument)
    accuracy = inst.accuracy.get(quantity)
    if accuracy is None:
        known = ", ".join(sorted(inst.accuracy)) or "none"
        raise KeyError(
            f"station {station_name}: instruments.{name}.accuracy has no {quantity!r} (it has: {known})"
        )
    label = f"{name} ({inst.model}) {quantity}"
    return Budget(tuple(instrument_contributions(label, accuracy, value, scale)), k, unit)


def missing_accuracy(model: StationModel, needs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(instrument, quantity) pairs whose accuracy figure the plan needs and the station file lacks:
    every instrument of a needed role must state that quantity's accuracy."""
    missing = []
    for role, quantity in needs:
        for name, inst in model.instruments.items():
            if inst.role == role and quantity not in inst.accuracy:
                missing.append((name, quantity))
    return list(dict.fromkeys(missing))


def require_accuracy(model: StationModel, station_file: Any, needs: Iterable[tuple[str, str]]) -> None:
    """Raise ConfigError naming the first accuracy figure the plan needs and the station file lacks."""
    from hil.errors import ConfigError

    missing = missing_accuracy(model, needs)
    if missing:
        name, quantity = missing[0]
        raise ConfigError(
            str(station_file),
            f"instruments.{name}.accuracy.{quantity}",
            "{gain, offset, resolution} from the instrument's data sheet (the plan's uncertainty "
            "budgets need it: every judged result carries U)",
        )


@dataclass(frozen=True)
class CalibrationStatus:
    """One instrument's calibration on the day of the run."""

    instrument: str
    model: str
    asset_id: str
    serial: str
    due: dt.date
    expired: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "instrument": self.instrument,
            "model": self.model,
            "asset_id": self.asset_id,
            "serial": self.serial,
            "due": self.due.isoformat(),
            "expired": self.expired,
        }


def calibration_status(model: StationModel, on: dt.date) -> list[CalibrationStatus]:
    """Each instrument's calibration on day `on`: valid up to and including its due date."""
    return [
        CalibrationStatus(
            name, inst.model, inst.asset_id, inst.serial, inst.calibration_due, on > inst.calibration_due
        )
        for name, inst in model.instruments.items()
    ]


def expired_calibrations(model: StationModel, on: dt.date) -> list[CalibrationStatus]:
    return [s for s in calibration_status(model, on) if s.expired]


def combine(items: Iterable[Contribution], k: float = COVERAGE_K, unit: str = "") -> Budget:
    return Budget(tuple(items), k, unit)
