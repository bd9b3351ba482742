"""A plan run prints no pytest noise: no `PytestAssertRewriteWarning`, whatever hil imported first.

`hil run` calls pytest in its own process. pytest marks for assertion rewriting the packages of
every installed distribution that declares a pytest plugin, and warns for each one already
imported. Two such were: hil's own (`python -m hil` from the repository root puts the root on
sys.path, where `pip install -e .` leaves `hil.egg-info` listing every hil and fixtures file; `hil`
is running, so imported) and labgrid (imported to hold a `--place`). `hil run` now loads only its
own plugin (`--disable-plugin-autoload -p fixtures.plugin`), so nothing is marked. The runs below
turn that warning into an error: a regression fails here, not as a line before every plan run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hilcli import ROOT, hil

#: the run of `hil run ARGS` in one process, optionally after importing a pytest-plugin package
RUN = "import sys\n{pre}from hil.cli import main\nsys.exit(main(sys.argv[1:]))\n"


@pytest.mark.parametrize(
    "pre",
    ["", "import labgrid  # as `hil run --place` has, holding the place\n"],
    ids=["plain", "labgrid-imported"],
)
def test_a_plan_run_emits_no_assert_rewrite_warning(pre: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            RUN.format(pre=pre),
            "run",
            "-v",  # pytest's own output, warnings summary included
            "--requirement",
            "CV-OVP",
            "--reports",
            "none",
            "--out",
            str(tmp_path / "out"),
            "--",
            "-W",
            "error::pytest.PytestAssertRewriteWarning",
        ],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "PytestAssertRewriteWarning" not in output and "cannot be rewritten" not in output
    assert "8 passed" in result.stdout  # the plan did run: CV-OVP's tests, each accepted


def test_a_plan_run_loads_only_hils_plugin_and_others_on_request() -> None:
    """hypothesis is installed with a pytest plugin: a plan run knows none of its options until
    `-- -p NAME` loads it, as `hil run --help` says."""
    listing = ["run", "--list", "--requirement", "CV-OVP", "--"]
    alone = hil(*listing, "--hypothesis-seed=1", timeout=300)
    assert alone.returncode == 2
    assert "unrecognized arguments: --hypothesis-seed=1" in alone.stderr
    asked = hil(*listing, "-p", "_hypothesis_pytestplugin", "--hypothesis-seed=1", timeout=300)
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout.splitlines()[-1] == "1 requirements, 8 tests"
