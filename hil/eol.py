"""End of line: which spec rows each unit must show on the bench, and the released set that proves the rest.

A spec row of EOL class `design` is firmware logic that is the same on every unit running the released
firmware and parameter set; the full profile type-tests it on that set. At end of line it is proven
for one unit by reading back the firmware version and every parameter over the DUT's own protocol
and comparing them with the released set shipped as data (docs/eol.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from hil.config import load_model
from hil.spec import Requirement, SpecFile

ParameterValue = bool | int | float
#: the method stated under every design row's read-back result
READBACK_METHOD = "released parameter set read back; behaviour type-tested on that set"
#: the row that carries parameters no other row names (the parameter interface itself)
INTERFACE_ROW = "PARAM"


class ReleasedSet(BaseModel):
    """The released firmware and parameter set of a DUT family (a YAML file beside its spec)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    firmware: str = Field(min_length=1)
    checksum: str | None = None
    source: str
    #: settings path -> value; null = a value the firmware does not use (the unit sends 0)
    parameters: dict[str, bool | int | float | None]
    #: the row that carries read-back parameters no row's `setting` names (the interface they are
    #: read over)
    interface_row: str = INTERFACE_ROW
    #: design row ID -> why the DUT cannot read its parameters back: its tests stay in the EOL
    #: profile (the released firmware version still is compared for it)
    not_read_back: dict[str, str] = Field(default_factory=dict)


def proven_ids(spec: SpecFile, released: ReleasedSet | None) -> frozenset[str]:
    """The design rows the read-back proves, so the EOL profile leaves their tests out."""
    if released is None:
        return frozenset()
    return design_ids(spec) - frozenset(released.not_read_back)


def load_released(path: Path) -> ReleasedSet:
    """Read and validate a released set; a problem raises ConfigError naming file and field."""
    return load_model(path, ReleasedSet)


def eol_class(row: Requirement) -> str:
    return row.eol.class_


def design_ids(spec: SpecFile) -> frozenset[str]:
    """The rows proven at EOL by read-back where the DUT allows it."""
    return frozenset(r.id for r in spec.requirements if r.eol.class_ == "design")


def governs(row: Requirement, parameter: str) -> bool:
    """Whether `parameter` (a dotted settings path) is one the row's `setting` names."""
    if not row.setting:
        return False
    return parameter == row.setting or parameter.startswith(row.setting + ".")


def governed_rows(spec: SpecFile, parameter: str, interface_row: str = INTERFACE_ROW) -> list[str]:
    """The requirement IDs a parameter governs; the interface row when no row names it."""
    rows = [r.id for r in spec.requirements if governs(r, parameter)]
    if rows:
        return rows
    return [interface_row] if interface_row in spec.ids() else []


def _same(read: ParameterValue | None, released: ParameterValue | None) -> bool:
    if read is None:
        return False
    if released is None:
        return float(read) == 0.0
    if isinstance(released, bool) or isinstance(read, bool):
        return bool(read) is bool(released) and isinstance(read, bool) == isinstance(released, bool)
    return math.isclose(float(read), float(released), rel_tol=1e-9, abs_tol=1e-9)


@dataclass(frozen=True)
class RowReadback:
    """What the read-back shows for one spec row."""

    requirement: str
    parameters: tuple[str, ...]
    differences: tuple[str, ...]
    firmware_ok: bool

    @property
    def as_released(self) -> bool:
        return self.firmware_ok and not self.differences


def compare(
    spec: SpecFile,
    released: ReleasedSet,
    firmware: str,
    readback: Mapping[str, ParameterValue | None],
) -> list[RowReadback]:
    """Each design row, and each unit row a parameter governs, with the differences that concern it.

    A parameter that differs from the released set fails every row it governs; a firmware version
    other than the released one fails every design row (its logic is not the type-tested one).
    """
    firmware_ok = firmware == released.firmware
    per_row: dict[str, list[str]] = {}
    diffs: dict[str, list[str]] = {}
    for path, value in released.parameters.items():
        read = readback.get(path)
        for rid in governed_rows(spec, path, released.interface_row):
            per_row.setdefault(rid, []).append(path)
            if not _same(read, value):
                got = "no answer" if read is None else repr(read)
                diffs.setdefault(rid, []).append(f"{path}: read {got}, released {value!r}")
    for path in sorted(set(readback) - set(released.parameters)):
        diffs.setdefault(released.interface_row, []).append(
            f"{path}: read {readback[path]!r}, not in the released set"
        )
    out = []
    for row in spec.requirements:
        design = row.eol.class_ == "design"
        if not design and row.id not in per_row:
            continue
        out.append(
            RowReadback(
                row.id,
                tuple(per_row.get(row.id, ())),
                tuple(diffs.get(row.id, ())),
                firmware_ok or not design,
            )
        )
    return out
