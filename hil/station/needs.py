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
from hil.errors import ConfigError
from hil.family import Bus
from hil.station.model import RoleKind

NEEDS_FILE = "station_needs.yaml"


class ExpectationSpec(BaseModel):
    """One expectation key a plan reads: a number in `unit`; `default` when the station omits it."""

    model_config = ConfigDict(extra="forbid")

    unit: str
    description: str
    default: float | None = None


class FamilyPart(BaseModel):
    """What one family declared from a shared package needs on top of the shared part (the Movicom
    Main 2.1 and 2R: one package, two families with their own pins)."""

    model_config = ConfigDict(extra="forbid")

    roles: dict[RoleKind, list[str]] = {}
    expectations: dict[str, ExpectationSpec] = Field(default={})


class NeedsFile(FamilyPart):
    """station_needs.yaml: role -> terminals it must wire, the expectation keys the plan reads, and
    under `families` (by family name) what one family of the package adds to them."""

    families: dict[str, FamilyPart] = Field(default={})


class FamilyNeeds(FamilyPart):
    """A DUT family's needs: its declared buses, and what its station_needs.yaml says for it."""

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
        data = load_model(path, NeedsFile)
        siblings = [n for n in registry.DUTS if registry.dut_family(n).package == family.package]
        for name in data.families:
            if name not in siblings:
                raise ConfigError(str(path), f"families.{name}", f"one of {', '.join(siblings)}")
    own = data.families.get(dut, FamilyPart())
    roles = {role: list(terminals) for role, terminals in data.roles.items()}
    for role, terminals in own.roles.items():
        roles[role] = list(dict.fromkeys(roles.get(role, []) + terminals))
    return FamilyNeeds(buses=buses, roles=roles, expectations={**data.expectations, **own.expectations})
