"""Spec data: a DUT's requirements with stable IDs, values, tolerances and the seed's ambiguities.

One YAML file per DUT (in the DUT's folder) validated by these models; plans are parametrised
from it and reports list every ID in it, tested or not.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hil.config import first_error, read_yaml, validation_to_config_error
from hil.errors import ConfigError

Kind = Literal[
    "protection",
    "alarm",
    "fixed",
    "mode",
    "timing",
    "accuracy",
    "function",
    "record",
    "interface",
    "electrical",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReleaseAlternative(_Strict):
    """One way a protection is allowed to release; each is tested alone."""

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    description: str
    behaviour_flag: str | None = None  # the twin flag that breaks it (for mutants)


class EolClass(_Strict):
    """Why a row is or is not tested on every unit at end of line (docs/eol.md).

    `unit`: the result depends on this unit's hardware, so EOL tests it; `design`: firmware logic the
    same on every unit with the released firmware and parameters, proven at EOL by read-back.
    """

    class_: Literal["unit", "design"] = Field(alias="class")
    reason: str = Field(min_length=1)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True)


class CoverageItem(_Strict):
    """A coverage item that belongs to some variants only: out of their scope it is not applicable.

    Several DUT families may share one spec (variants of one product); each family declares its
    variant (hil.family.DutFamily.variant) and a run judges only the items in its variant's scope.
    """

    item: str = Field(min_length=1)
    variants: tuple[str, ...] = Field(min_length=1)


class Requirement(_Strict):
    """One row of the DUT's spec."""

    id: str = Field(pattern=r"^[A-Z0-9]+(-[A-Z0-9]+)*$")
    section: str
    title: str
    kind: Kind
    quantity: str | None = None
    unit: str | None = None
    direction: Literal["above", "below"] | None = None
    trip: float | None = None
    release: float | None = None
    value: float | str | None = None
    tolerance: float | None = Field(default=None, ge=0)
    tolerance_source: str | None = None
    blocks: Literal["charge", "discharge", "both", "none"] | None = None
    default_enabled: bool | None = None
    setting: str | None = None
    release_alternatives: tuple[ReleaseAlternative, ...] = ()
    delay_s: float | None = None
    notes: tuple[str, ...] = ()
    uncertain: bool = False
    testable: bool = True
    untestable_reason: str | None = None
    eol: EolClass
    #: what the row states that a test must each cover (variants, ranges, temperatures, wake sources,
    #: node counts, options): a row whose tests covered only some is PARTIAL, not PASS; an item
    #: given as {item, variants} is in the scope of those variants only
    coverage: tuple[str | CoverageItem, ...] = ()

    def coverage_names(self, variant: str = "") -> tuple[str, ...]:
        """The coverage items in the scope of `variant` ("" : every item), by name."""
        return tuple(name for name, scope in coverage_scopes(self.coverage) if in_scope(scope, variant))

    @model_validator(mode="after")
    def _consistent(self) -> Requirement:
        # "field: what it needs" - load_spec moves the field into the error's location
        if not self.testable and not self.untestable_reason:
            raise ValueError("untestable_reason: a reason, as the requirement is marked testable: false")
        if self.kind in ("protection", "alarm") and self.trip is not None and self.direction is None:
            raise ValueError("direction: above or below, as a threshold with a trip value needs one")
        return self


class SpecFile(_Strict):
    """A DUT's complete spec data."""

    dut: str
    title: str
    version: str
    source: str
    notes: tuple[str, ...] = ()
    #: the variants (DutFamily.variant) sharing this spec; a coverage item's `variants` names only these
    variants: tuple[str, ...] = ()
    requirements: tuple[Requirement, ...]

    @model_validator(mode="after")
    def _known_variants(self) -> SpecFile:
        for req in self.requirements:
            for name, scope in coverage_scopes(req.coverage):
                unknown = [v for v in scope if v not in self.variants]
                if unknown:
                    known = ", ".join(self.variants) or "none: the spec lists no `variants`"
                    raise ValueError(
                        f"requirements: coverage variants among the spec's variants ({known}); "
                        f"{req.id} item {name!r} names {unknown[0]!r}"
                    )
        return self

    @field_validator("requirements")
    @classmethod
    def _unique_ids(cls, requirements: tuple[Requirement, ...]) -> tuple[Requirement, ...]:
        seen: set[str] = set()
        for req in requirements:
            if req.id in seen:
                raise ValueError(f"unique requirement ids ({req.id} appears more than once)")
            seen.add(req.id)
        return requirements

    def get(self, requirement_id: str) -> Requirement:
        for req in self.requirements:
            if req.id == requirement_id:
                return req
        raise KeyError(requirement_id)

    def ids(self) -> list[str]:
        return [r.id for r in self.requirements]


def coverage_scopes(items: Any) -> list[tuple[str, tuple[str, ...]]]:
    """(name, variants) of each coverage item, as a model or as the record's JSON; () = every variant."""
    scopes: list[tuple[str, tuple[str, ...]]] = []
    for item in items or ():
        if isinstance(item, CoverageItem):
            scopes.append((item.item, item.variants))
        elif isinstance(item, dict):
            scopes.append((str(item.get("item", "")), tuple(str(v) for v in item.get("variants") or ())))
        else:
            scopes.append((str(item), ()))
    return scopes


def in_scope(variants: tuple[str, ...], variant: str) -> bool:
    """Whether an item scoped to `variants` applies to a run of `variant` ("": unknown, every item)."""
    return not variants or not variant or variant in variants


_RULE = re.compile(r"^(?P<field>[a-z_]+): (?P<expected>.*)$", re.DOTALL)


def _spec_error(path: Path, data: Any, exc: ValidationError) -> ConfigError:
    """The first problem as a ConfigError; a row's own rule names its field, and the row its ID."""
    err = validation_to_config_error(path, exc)
    first = first_error(exc)
    loc = first["loc"]
    field, expected = err.field, err.expected
    rule = _RULE.match(expected) if first["type"] == "value_error" else None
    if rule:
        field = f"{field}.{rule['field']}" if loc else rule["field"]
        expected = rule["expected"]
    if len(loc) >= 2 and loc[0] == "requirements" and isinstance(loc[1], int):
        rows = data.get("requirements") if isinstance(data, dict) else None
        row = rows[loc[1]] if isinstance(rows, list) and loc[1] < len(rows) else None
        if isinstance(row, dict) and isinstance(row.get("id"), str):
            expected += f" (requirement {row['id']})"
    return ConfigError(err.file, field, expected)


def load_spec(path: Path) -> SpecFile:
    """Read and validate a spec data file; a problem raises ConfigError naming file, field, expectation."""
    data = read_yaml(path)
    try:
        spec = SpecFile.model_validate({} if data is None else data)
    except ValidationError as exc:
        raise _spec_error(path, data, exc) from None
    if not spec.requirements:
        raise ConfigError(str(path), "requirements", "at least one requirement")
    return spec
