"""The import boundaries of ARCHITECTURE.md ("A DUT family is a plug-in") hold and are enforced.

`lint-imports` checks the contracts of pyproject.toml ([tool.importlinter]) on the repository; a
tree with a forbidden import added must fail naming that import, so the check can catch one; and
the contracts' module lists must cover every module they are meant to (a new core module or
family module is not silently outside them).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PLANS_CONTRACT = "plans-never-import-the-lab"


def _lint(cwd: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    args = [str(LINT_IMPORTS), "--no-cache"] + [f"--contract={c}" for c in contracts]
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def _contracts() -> dict[str, dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def _children(package: Path) -> set[str]:
    """The modules and packages directly inside `package` (no dunder modules but __main__)."""
    names = {p.stem for p in package.glob("*.py")} | {
        p.name for p in package.iterdir() if (p / "__init__.py").is_file()
    }
    return {n for n in names if n == "__main__" or not n.startswith("__")}


def test_the_repository_keeps_every_contract() -> None:
    """Fails until the instruments stop importing hil.station (issue 16, engineer `roles`)."""
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_a_plan_importing_the_lab_is_caught(tmp_path: Path) -> None:
    """A minimal tree under the repository's contracts: clean it passes, with a plan importing
    hil.sim.lab it fails and names the import."""
    for package in (
        "hil",
        "hil/sim",
        "hil/procedures",
        "hil/instruments",
        "fixtures",
        "testplans",
        "testplans/x",
    ):
        (tmp_path / package).mkdir(parents=True, exist_ok=True)
        (tmp_path / package / "__init__.py").write_text('"""Part of the minimal tree."""\n')
    (tmp_path / "hil/sim/lab.py").write_text('"""The lab."""\n')
    (tmp_path / "hil/procedures/threshold.py").write_text('"""A procedure."""\n')
    plan = tmp_path / "testplans/x/test_peek.py"
    plan.write_text('"""A plan."""\n')
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")

    clean = _lint(tmp_path, PLANS_CONTRACT)
    assert clean.returncode == 0, clean.stdout + clean.stderr

    plan.write_text('"""A plan that peeks at the simulator."""\n\nfrom hil.sim import lab\n\nLAB = lab\n')
    caught = _lint(tmp_path, PLANS_CONTRACT)
    assert caught.returncode == 1, caught.stdout + caught.stderr
    assert "BROKEN" in caught.stdout
    assert "testplans.x.test_peek -> hil.sim.lab (l.3)" in caught.stdout


def test_the_core_list_names_every_module_of_hil_but_the_families() -> None:
    listed = set(_contracts()["core-names-no-family"]["source_modules"])
    expected = {f"hil.{name}" for name in _children(ROOT / "hil") - {"duts"}} | {"fixtures"}
    assert listed == expected


def test_the_family_list_names_every_module_of_each_family_but_sim() -> None:
    contracts = _contracts()
    patterns = set(contracts["family-outside-sim-never-reaches-sim"]["source_modules"])
    assert patterns == set(contracts["family-outside-sim-never-imports-the-lab"]["source_modules"])
    families = [p for p in (ROOT / "hil/duts").iterdir() if (p / "__init__.py").is_file()]
    assert len(families) >= 2
    for family in families:
        names = _children(family) - {"sim"}
        assert {f"hil.duts.*.{name}" for name in names} <= patterns, family.name
