"""Loading user files (YAML) into pydantic models, with errors that name the file and field."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from hil.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

#: the same safe loader with libyaml's C parser when PyYAML was built with it
_FAST_LOADER = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


@runtime_checkable
class SelfChecking(Protocol):
    """A model with rules beyond its types (e.g. what a DUT's firmware refuses), checked on loading."""

    def config_problems(self) -> list[tuple[str, str]]:
        """(field, expected) for every problem, the field as a dotted location; empty if usable."""
        ...


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; a missing file or a syntax error becomes a ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "-", "an existing file") from None
    except OSError as exc:
        raise ConfigError(str(path), "-", f"a readable file ({exc.strerror})") from None
    # libyaml's parser, 6x faster on a spec (each unit's run reads it several times); on bad YAML
    # the pure-Python parser below says what is wrong exactly as it always has
    with contextlib.suppress(yaml.YAMLError):
        return yaml.load(text, Loader=_FAST_LOADER)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "-"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(str(path), where, f"valid YAML ({problem})") from None


def first_error(exc: ValidationError) -> ErrorDetails:
    """The error to report: an unknown key first (a misspelt key also makes the real one
    "missing", and the misspelling is what the user has to fix), else pydantic's first."""
    errors = exc.errors()
    return next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])


def _phrase(message: str) -> str:
    """pydantic's sentence as what was expected ("Input should be a valid integer" -> "a valid integer")."""
    for prefix in ("Value error, ", "Input should be ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if message == "Field required":
        return "a value (required field)"
    return message


def error_problem(error: ErrorDetails) -> tuple[str, str]:
    """One pydantic error as (dotted field, what was expected)."""
    field = ".".join(str(part) for part in error["loc"]) or "(top level)"
    given = error.get("input")
    expected = _phrase(error["msg"])
    if error["type"] not in ("missing", "extra_forbidden") and not isinstance(given, dict | list):
        expected = f"{expected} (got {given!r})"
    if error["type"] == "extra_forbidden":
        expected = "no such field (unknown key)"
    return field, expected


def validation_problems(exc: ValidationError) -> list[tuple[str, str]]:
    """Every pydantic error as (field, expected), the one `first_error` picks first."""
    errors = exc.errors()
    # a misspelt key also makes the real one "missing": that echo is left out, the misspelling shown
    misspelt = {e["loc"][:-1] for e in errors if e["type"] == "extra_forbidden"}
    errors = [e for e in errors if not (e["type"] == "missing" and e["loc"][:-1] in misspelt)]
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])  # as first_error
    return [error_problem(first)] + [error_problem(e) for e in errors if e is not first]


def validation_to_config_error(path: Path | str, exc: ValidationError) -> ConfigError:
    """Every pydantic error as one ConfigError (see `first_error`): file, dotted field, expectation;
    the further problems ride along in `more`, one line each when printed."""
    problems = validation_problems(exc)
    field, expected = problems[0]
    return ConfigError(str(path), field, expected, more=problems[1:])


def load_model(path: Path, model: type[M]) -> M:
    """Read a YAML file into `model`; raise ConfigError on any problem.

    A model that is `SelfChecking` also has its own rules checked, so a file that parses but that
    its consumer would refuse (a twin's firmware, say) is refused here, naming the field.
    """
    data = read_yaml(path)
    if data is None:
        data = {}
    try:
        loaded = model.model_validate(data)
    except ValidationError as exc:
        raise validation_to_config_error(path, exc) from None
    if isinstance(loaded, SelfChecking):
        problems = loaded.config_problems()
        if problems:
            field, expected = problems[0]
            raise ConfigError(str(path), field, expected, more=problems[1:])
    return loaded
