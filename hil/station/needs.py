"""What a DUT family's plan needs from a station: its buses (from its declaration, hil.family), and
in data (station_needs.yaml beside the family's __init__) each role with the DUT terminals it must
wire and the expectation keys the plan reads, each with its unit (any other key is refused: a
misspelt `setle_s` would silently fall back to the default).

The core checks a station against it (hil.station.check) without naming any family.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from pydantic import BaseModel, ConfigDict, Field

from hil import registry
from hil.config import load_model
from hil.family import Bus
from hil.station.model import RoleKind

NEEDS_FILE = "station_needs.yaml"


class ExpectationSpec(BaseModel):
    """One expectation key a plan reads: a number in `unit`; `default` when the station omits it."""

    model_config = ConfigDict(extra="forbid")

    unit: str
    description: str
    default: float | None = None


class NeedsFile(BaseModel):
    """station_needs.yaml: role -> terminals it must wire, the expectation keys the plan reads."""

    model_config = ConfigDict(extra="forbid")

    roles: dict[RoleKind, list[str]] = {}
    expectations: dict[str, ExpectationSpec] = Field(default={})


class FamilyNeeds(NeedsFile):
    """A DUT family's needs: its declared buses, and what its station_needs.yaml says."""

    buses: list[Bus] = []


@cache
def family_needs(dut: str) -> FamilyNeeds:
    """The needs of a DUT family (none declared: an empty set, nothing checked)."""
    family = registry.dut_family(dut)
    buses = list(family.buses)
    ref = resources.files(family.package).joinpath(NEEDS_FILE)
    with resources.as_file(ref) as path:
        if not path.exists():
            return FamilyNeeds(buses=buses)
        return FamilyNeeds(buses=buses, **dict(load_model(path, NeedsFile)))
