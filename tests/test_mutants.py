"""The plan catches non-conforming units: a representative subset of the generated mutants.

One mutant of each kind (a threshold moved, a release value moved, a delay scaled, an on/off
default flipped, a release alternative broken, the lock counter broken) runs through `hil run
--firmware` with the plan's tests for its requirement IDs; the run must fail and name one of
them. `bench/mutants.py` runs every mutant and the conforming twin over 20 seeds.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mutation import Mutant, mutants, run_mutant

from hil.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]

SUBSET = (
    "CV-OVP-trip",
    "CV-OVP-release",
    "IC-OCP-delay",
    "cell_high_voltage_alarm.enabled-flipped",
    "flag-ic_ocp_auto_release",
    "flag-count_consecutive_trips",
)


def _generated() -> dict[str, Mutant]:
    found, _ = mutants(load_spec(ROOT / "hil/duts/bms12100/spec.yaml"))
    return {m.name: m for m in found}


def test_the_subset_names_generated_mutants() -> None:
    generated = _generated()
    assert set(SUBSET) <= set(generated), set(SUBSET) - set(generated)
    assert len(generated) >= 100


@pytest.mark.slow
@pytest.mark.parametrize("name", SUBSET)
def test_the_plan_catches_the_mutant(name: str, tmp_path: Path) -> None:
    mutant = _generated()[name]
    run = run_mutant(mutant, tmp_path, ROOT)
    assert run.exit_code == 1, f"{name}: the plan passed a non-conforming unit"
    assert run.failing & mutant.requirements, (
        f"{name}: failed on {sorted(run.failing)}, expected one of {sorted(mutant.requirements)}"
    )
