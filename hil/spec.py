"""Spec data: a DUT's requirements with stable IDs, values, tolerances and the seed's ambiguities.

One YAML file per DUT (in the DUT's folder) validated by these models; plans are parametrised
from it and reports list every ID in it, tested or not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hil.config import load_model
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

    @model_validator(mode="after")
    def _consistent(self) -> Requirement:
        if not self.testable and not self.untestable_reason:
            raise ValueError("a requirement marked testable: false needs untestable_reason")
        if self.kind in ("protection", "alarm") and self.trip is not None and self.direction is None:
            raise ValueError("a threshold needs a direction (above|below)")
        return self


class SpecFile(_Strict):
    """A DUT's complete spec data."""

    dut: str
    title: str
    version: str
    source: str
    notes: tuple[str, ...] = ()
    requirements: tuple[Requirement, ...]

    @model_validator(mode="after")
    def _unique_ids(self) -> SpecFile:
        seen: set[str] = set()
        for req in self.requirements:
            if req.id in seen:
                raise ValueError(f"duplicate requirement id {req.id}")
            seen.add(req.id)
        return self

    def get(self, requirement_id: str) -> Requirement:
        for req in self.requirements:
            if req.id == requirement_id:
                return req
        raise KeyError(requirement_id)

    def ids(self) -> list[str]:
        return [r.id for r in self.requirements]


def load_spec(path: Path) -> SpecFile:
    """Read and validate a spec data file."""
    spec = load_model(path, SpecFile)
    if not spec.requirements:
        raise ConfigError(str(path), "requirements", "at least one requirement")
    return spec
