"""A git ref checked out beside this tree for a side-by-side benchmark (a detached worktree)."""

from __future__ import annotations

import argparse
import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def trees(against: str | None, tmp: Path) -> Iterator[list[tuple[str, Path]]]:
    """[(name, checkout)]: `against` first (a worktree under `tmp`, removed after) if given, then this
    tree; the benchmark measures each in turn."""
    if not against:
        yield [("this tree", ROOT)]
        return
    ref = tmp / "ref"
    subprocess.run(["git", "worktree", "add", "--detach", str(ref), against], cwd=ROOT, check=True)
    try:
        yield [(against, ref), ("this tree", ROOT)]
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(ref)], cwd=ROOT, check=False)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--against REF` and `--repeat N`, as every side-by-side benchmark takes them."""
    parser.add_argument("--against", metavar="REF", help="also measure this git ref, alternating")
    parser.add_argument("--repeat", type=int, default=1)
