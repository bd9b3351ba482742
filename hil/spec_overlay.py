"""A user's own requirement rows, added to a DUT's spec without editing the library: a spec overlay.

`spec-overlay.yaml` beside the user's plan (the family's plan folder, or the folder of a test path
given to `hil run` after `--`), or `hil run --spec-overlay FILE`: a `requirements:` list of rows in
the spec's own format. Their IDs must be new (checked against the spec and each other); the run's
record carries the merged spec, so tests trace to the rows and the report lists them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from hil.config import read_yaml, validation_to_config_error
from hil.errors import ConfigError
from hil.spec import Requirement, SpecFile

OVERLAY_NAME = "spec-overlay.yaml"
#: the EOL class of an overlay row that names none: tested in every profile (docs/eol.md)
OVERLAY_EOL_REASON = "a user's row (spec overlay) without an EOL class: tested on every unit"


class SpecOverlay(BaseModel):
    """The overlay file: further requirement rows, and notes for the report."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requirements: tuple[Requirement, ...]
    notes: tuple[str, ...] = ()


def find_overlay(explicit: str | None, folders: list[Path]) -> Path | None:
    """The overlay given, else the first `spec-overlay.yaml` in `folders` (None: no overlay)."""
    if explicit:
        return Path(explicit)
    return next((f / OVERLAY_NAME for f in folders if (f / OVERLAY_NAME).is_file()), None)


def overlay_of(explicit: str | None, plan_dir: Path, args: list[str]) -> Path | None:
    """The run's overlay: the one given, else one beside the plan or beside a test path in `args`."""
    paths = [Path(a.split("::")[0]) for a in args if not a.startswith("-")]
    folders = [plan_dir] + [p if p.is_dir() else p.parent for p in paths if p.exists()]
    return find_overlay(explicit, folders)


def with_overlay(spec: SpecFile, path: Path | None) -> SpecFile:
    """The spec with the overlay's rows after its own; a clash or a bad row is a ConfigError."""
    if path is None:
        return spec
    data = read_yaml(path)
    if isinstance(data, dict) and isinstance(data.get("requirements"), list):
        for row in data["requirements"]:  # a user's row is tested on every unit unless it says otherwise
            if isinstance(row, dict):
                row.setdefault("eol", {"class": "unit", "reason": OVERLAY_EOL_REASON})
    try:
        overlay = SpecOverlay.model_validate({} if data is None else data)
    except ValidationError as exc:
        raise validation_to_config_error(path, exc) from None
    known = set(spec.ids())
    problems: list[tuple[str, str]] = []
    for i, row in enumerate(overlay.requirements):
        if row.id in known:
            problems.append((f"requirements.{i}.id", f"an ID not yet used ({row.id} is already in the spec)"))
        known.add(row.id)
    if problems:
        (field, expected), *more = problems
        raise ConfigError(str(path), field, expected, more)
    return spec.model_copy(
        update={
            "requirements": spec.requirements + overlay.requirements,
            "notes": spec.notes + tuple(f"{path.name}: {n}" for n in overlay.notes),
        }
    )
