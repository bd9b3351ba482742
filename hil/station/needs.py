"""What a DUT family's plan needs from a station, declared in data by the family (station_needs.yaml).

The core checks a station against it (hil.station.check) without naming any family: the buses,
each role with the DUT terminals it must wire, and the expectation keys the plan reads, each
with its unit (any other key is refused: a misspelt `setle_s` would silently fall back to the
default).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hil import registry
from hil.config import load_model
from hil.station.model import RoleKind

NEEDS_FILE = "station_needs.yaml"


class ExpectationSpec(BaseModel):
    """One expectation key a plan reads: a number in `unit`; `default` when the station omits it."""

    model_config = ConfigDict(extra="forbid")

    unit: str
    description: str
    default: float | None = None


class FamilyNeeds(BaseModel):
    """A DUT family's needs: buses, role -> terminals it must wire, the expectation keys it reads."""

    model_config = ConfigDict(extra="forbid")

    buses: list[Literal["can", "rs485"]] = []
    roles: dict[RoleKind, list[str]] = {}
    expectations: dict[str, ExpectationSpec] = Field(default={})


@cache
def family_needs(dut: str) -> FamilyNeeds:
    """The needs of a DUT family (none declared: an empty set, nothing checked)."""
    family = registry.dut_family(dut)
    ref = resources.files(family.package).joinpath(NEEDS_FILE)
    with resources.as_file(ref) as path:
        if not path.exists():
            return FamilyNeeds()
        return load_model(path, FamilyNeeds)
