"""The plan catches non-conforming units: a representative subset of the generated mutants.

A threshold moved just inside its tolerance, a function limit moved, a release value moved, a
delay scaled and the lock counter broken each run through `hil run --firmware` with the plan's
tests for their requirement IDs; the run must fail and name one of them. The other kinds (an
on/off default flipped, a release alternative broken) and every other mutant run in
`benchmarks/mutants.py` with the conforming twin over 20 seeds: each plan run here costs about
10-30 s, and the suite has a time budget.

The D1000 Gen2 (tests/mutation_d1000.py): one mutant of each kind (a limit moved, a documented
timeout scaled, a documented constant moved, one contactor's auxiliary check off, a behaviour flag
broken) runs with the twin applying it while the plan checks the declared configuration.
The Movicom (tests/mutation_movicom.py) likewise: a protection threshold moved on the 2.1, a
SIM-ONLY hardware fault through the 2R's EOL profile.

The focus (what a mutant run selects, `hil run --list`, nothing run): a threshold mutant's row
tests, and in the EOL profile the read-back test that catches a changed parameter.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mutation import Mutant, focus_tests, mutants, run_declared, run_mutant
from mutation_d1000 import D1000Mutant
from mutation_d1000 import mutants as d1000_mutants
from mutation_eol import EolMutant, eol_mutants
from mutation_movicom import MovicomMutant
from mutation_movicom import eol_mutants as movicom_eol_mutants
from mutation_movicom import mutants as movicom_mutants

from hil.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]

SUBSET = (
    "CV-OVP-trip-early",  # inside the limit: only the near probe (trip - tolerance) shows it
    "BAL-HT-lowered",  # a function limit moved inside its band: the just-inside probe shows it
    "CV-OVP-release",
    "IC-OCP-delay",
    "flag-count_consecutive_trips",
)
#: generated, run by benchmarks/mutants.py only (see the module docstring)
BENCH_ONLY = ("CV-OVP-trip", "cell_high_voltage_alarm.enabled-flipped", "flag-ic_ocp_auto_release")


def _generated() -> dict[str, Mutant]:
    found, _ = mutants(load_spec(ROOT / "hil/duts/bms12100/spec.yaml"))
    return {m.name: m for m in found}


def test_the_subset_names_generated_mutants() -> None:
    generated = _generated()
    assert set(SUBSET) | set(BENCH_ONLY) <= set(generated), set(SUBSET) - set(generated)
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


D1000_SUBSET = (
    "PH-COV-C-moved-early",  # "PH-COV-C-moved" (beyond the tolerance) runs in benchmarks/mutants.py
    "PH-SM-FAULT-disconnect_timeout_s",
    "PH-SM-CHARGE-charge_stopping_current_a",
    "PH-CONT-aux1-unchecked",
    "flag-hvil_check",
)


def _d1000_generated() -> dict[str, D1000Mutant]:
    found, _ = d1000_mutants(load_spec(ROOT / "hil/duts/prohelion_d1000_gen2/spec.yaml"))
    return {m.name: m for m in found}


def test_the_d1000_subset_names_generated_mutants() -> None:
    generated = _d1000_generated()
    assert set(D1000_SUBSET) <= set(generated), set(D1000_SUBSET) - set(generated)
    assert len(generated) >= 30


def test_a_d1000_mutant_declares_the_defaults_and_applies_one_change() -> None:
    mutant = _d1000_generated()["PH-COV-C-moved"]
    declared, applied = mutant.declared(), mutant.settings()
    assert {k for k in applied if applied[k] != declared[k]} == {"critCellOverVoltage"}
    assert applied["critCellOverVoltage"] > declared["critCellOverVoltage"] == 4.2


@pytest.mark.slow
@pytest.mark.parametrize("name", D1000_SUBSET)
def test_the_d1000_plan_catches_the_mutant(name: str, tmp_path: Path) -> None:
    mutant = _d1000_generated()[name]
    run = run_declared(mutant, tmp_path, ROOT)
    assert run.exit_code == 1, f"{name}: the plan passed a non-conforming unit"
    assert run.failing & mutant.requirements, (
        f"{name}: failed on {sorted(run.failing)}, expected one of {sorted(mutant.requirements)}"
    )


#: EOL mode (tests/mutation_eol.py): one per-unit hardware fault and one single-parameter change
EOL_SUBSET = ("hw-charge-fet-stuck-on", "param-cell_low_voltage_alarm.trigger")


def _eol_generated() -> dict[str, EolMutant]:
    found, _ = eol_mutants(load_spec(ROOT / "hil/duts/bms12100/spec.yaml"))
    return {m.name: m for m in found}


def test_the_eol_mutants_cover_every_hardware_fault_and_parameter() -> None:
    generated = _eol_generated()
    assert set(EOL_SUBSET) <= set(generated)
    assert {m.kind for m in generated.values()} == {"hardware", "parameter"}
    assert generated["param-cell_low_voltage_alarm.trigger"].requirements == {"CV-LA"}
    assert len([m for m in generated.values() if m.kind == "parameter"]) == 127
    # an open bleed resistor on any of the four cells (the EOL check bleeds each of them)
    bleeds = {name: m.requirements for name, m in generated.items() if name.startswith("hw-bleed-open-cell")}
    assert bleeds == {f"hw-bleed-open-cell{n}": {"BAL-CHG"} for n in range(1, 5)}


@pytest.mark.slow
@pytest.mark.parametrize("name", EOL_SUBSET)
def test_the_eol_profile_catches_the_mutant(name: str, tmp_path: Path) -> None:
    mutant = _eol_generated()[name]
    run = run_mutant(mutant, tmp_path, ROOT, "eol")
    assert run.exit_code == 1, f"{name}: the EOL profile passed a non-conforming unit"
    assert run.failing & mutant.requirements, (
        f"{name}: failed on {sorted(run.failing)}, expected one of {sorted(mutant.requirements)}"
    )


#: Movicom: (family, mutant, profile): a configuration value and a per-unit hardware fault
MOVICOM_SUBSET = (
    ("movicom-main-2.1", "MM-PROT-overvoltage-set-late", "full"),
    ("movicom-main-2r", "hw-dead-relay1-led", "eol"),
)


def _movicom_generated(family: str, profile: str) -> dict[str, MovicomMutant]:
    generate = movicom_eol_mutants if profile == "eol" else movicom_mutants
    found, _ = generate(load_spec(ROOT / "hil/duts/movicom_main_2/spec.yaml"), family)
    return {m.name: m for m in found}


def test_a_movicom_mutant_declares_the_example_and_applies_one_change() -> None:
    mutant = _movicom_generated("movicom-main-2r", "full")["MM-PROT-overvoltage-set-late"]
    declared, applied = mutant.declared(), mutant.settings()
    assert declared["variant"] == applied["variant"] == "main-2r"
    assert declared["protections"]["overvoltage"]["set"] == 3.65
    assert applied["protections"]["overvoltage"]["set"] == 3.75
    applied["protections"]["overvoltage"]["set"] = 3.65
    assert applied == declared


@pytest.mark.slow
@pytest.mark.parametrize(("family", "name", "profile"), MOVICOM_SUBSET)
def test_the_movicom_plan_catches_the_mutant(family: str, name: str, profile: str, tmp_path: Path) -> None:
    mutant = _movicom_generated(family, profile)[name]
    run = run_declared(mutant, tmp_path, ROOT, profile)
    assert run.exit_code == 1, f"{name}: the {profile} profile passed a non-conforming unit"
    assert run.failing & mutant.requirements, (
        f"{name}: failed on {sorted(run.failing)}, expected one of {sorted(mutant.requirements)}"
    )


#: benchmarks/mutants.py --focus (its default) runs per mutant only the tests these selections list
RELEASE_12100 = "testplans/bms12100/test_release.py::test_released_set_read_back"
RELEASE_MOVICOM = "testplans/movicom_main_2/test_release.py::test_released_set_read_back"


def test_the_focus_of_a_threshold_mutant_is_its_row_s_tests(tmp_path: Path) -> None:
    tests = focus_tests(_generated()["CV-OVP-trip-early"], tmp_path, ROOT)
    assert "testplans/bms12100/test_thresholds.py::test_threshold[CV-OVP]" in tests
    assert "testplans/bms12100/test_thresholds.py::test_release[CV-OVP-recovery]" in tests
    assert RELEASE_12100 in tests  # the full profile runs the read-back too: it names CV-OVP
    assert not [t for t in tests if "CV-UVP" in t or "test_accuracy" in t]


def test_the_eol_focus_of_a_parameter_mutant_is_the_read_back(tmp_path: Path) -> None:
    """The EOL profile leaves out the design row's own tests; the read-back, which names every row a
    parameter governs, is what catches a changed parameter there, and the focus keeps it."""
    mutant = _eol_generated()["param-cell_low_voltage_alarm.trigger"]
    assert focus_tests(mutant, tmp_path, ROOT, "eol") == [RELEASE_12100]
    hardware = focus_tests(_eol_generated()["hw-charge-fet-stuck-on"], tmp_path, ROOT, "eol")
    assert "testplans/bms12100/test_thresholds.py::test_threshold[CV-OVP]" in hardware


def test_the_movicom_eol_focus_of_a_read_back_mutant(tmp_path: Path) -> None:
    generated = _movicom_generated("movicom-main-2r", "eol")
    mutant = next(m for name, m in generated.items() if name.startswith("readback-"))
    tests = focus_tests(mutant, tmp_path, ROOT, "eol", mutant.dut, mutant.plan_args(tmp_path))
    assert RELEASE_MOVICOM in tests
    assert any("test_modbus_values.py" in t for t in tests)  # MM-MODBUS's value tests
    assert not [t for t in tests if "test_protection.py" in t]
