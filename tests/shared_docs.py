"""Where the project's shared documents (specs/, references/) are, for tests that read them, and the
requirement IDs a spec reading's tables list.

Beside the repository by default (`../shared`); a clone elsewhere finds them beside the
repository it was cloned from, or where `HIL_SHARED` points.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _origin_sibling() -> Path | None:
    try:
        url = subprocess.run(
            ["git", "-C", str(ROOT), "remote", "get-url", "origin"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        ).stdout.strip()
    except OSError:
        return None
    if not url or "://" in url or url.startswith("git@"):
        return None
    return Path(url).resolve().parent / "shared"


def shared_root() -> Path:
    """The first of HIL_SHARED, ../shared and the origin's ../shared that exists (else ../shared)."""
    candidates = [Path(p) for p in [os.environ.get("HIL_SHARED")] if p]
    candidates.append(ROOT.parent / "shared")
    origin = _origin_sibling()
    if origin is not None:
        candidates.append(origin)
    return next((c for c in candidates if c.is_dir()), ROOT.parent / "shared")


SHARED = shared_root()


def require_shared(path: Path, what: str) -> Path:
    """`path` under SHARED; a clone without the shared documents skips the test, saying why."""
    if not path.is_file():
        pytest.skip(
            f"{what} ({path}) is not here: a clone without the project's shared documents "
            "(put them in ../shared or point HIL_SHARED at them to run this comparison)"
        )
    return path


def ids_in_reading(text: str) -> list[str]:
    """The first column of every table row of the markdown reading, headers and rules left out."""
    ids: list[str] = []
    for line in text.splitlines():
        match = re.match(r"^\|\s*([^|]*?)\s*\|", line)
        if match is None:
            continue
        cell = match.group(1)
        if cell == "ID" or set(cell) <= set("-: "):
            continue
        ids.append(cell)
    return ids
