"""Loading user files (YAML) into pydantic models, with errors that name the file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from hil.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; a missing file or a syntax error becomes a ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "-", "an existing file") from None
    except OSError as exc:
        raise ConfigError(str(path), "-", f"a readable file ({exc.strerror})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "-"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(str(path), where, f"valid YAML ({problem})") from None


def validation_to_config_error(path: Path | str, exc: ValidationError) -> ConfigError:
    """The first pydantic error as a ConfigError: file, dotted field location, what was expected."""
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "(top level)"
    given = first.get("input")
    expected = first["msg"]
    if first["type"] not in ("missing", "extra_forbidden") and not isinstance(given, dict | list):
        expected = f"{expected} (got {given!r})"
    if first["type"] == "extra_forbidden":
        expected = "no such field (unknown key)"
    more = len(exc.errors()) - 1
    if more:
        expected += f" [and {more} more problem{'s' if more > 1 else ''}]"
    return ConfigError(str(path), field, expected)


def load_model(path: Path, model: type[M]) -> M:
    """Read a YAML file into `model`; raise ConfigError on any problem."""
    data = read_yaml(path)
    if data is None:
        data = {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_to_config_error(path, exc) from None
