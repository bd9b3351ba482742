"""EOL classes, the released set and its read-back, and the EOL/audit profiles as a user runs them."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hilcli import ROOT, Run, settings_file, start_runs

from hil import registry
from hil.duts.bms12100.config import PARAMETERS, Settings
from hil.eol import compare, design_ids, governed_rows, load_released
from hil.spec import load_spec

SPEC_12100 = load_spec(registry.dut_family("bms12100").spec)
_RELEASED_FILE = registry.dut_family("bms12100").released
assert _RELEASED_FILE is not None, "the 12100 declares its released set"
RELEASED = load_released(_RELEASED_FILE)
RUN_TIMEOUT_S = 300


@pytest.mark.parametrize("family", sorted(registry.DUTS))
def test_every_row_of_every_family_has_an_eol_class_and_reason(family: str) -> None:
    spec = load_spec(ROOT / registry.dut_family(family).spec)
    classes = {r.id: r.eol.class_ for r in spec.requirements}
    assert set(classes.values()) == {"unit", "design"}
    assert all(len(r.eol.reason.strip()) > 10 for r in spec.requirements)
    if family == "bms12100":
        assert len(classes) == 65
        # the hardware the issue names is tested on every unit
        for rid in ("ACC-CV", "ACC-I", "ACC-T", "SCP", "EL-RDS", "PM-SLEEP-I", "BAL-CHG", "COM-CAN"):
            assert classes[rid] == "unit", rid
        for rid in ("ID-TLOCK", "SCP-LOCK", "PM-UVSD", "TE-OTP"):
            assert classes[rid] == "design", rid


def test_released_set_is_the_default_settings_and_every_parameter() -> None:
    defaults = Settings()
    assert set(RELEASED.parameters) == {p.path for p in PARAMETERS}
    for path, value in RELEASED.parameters.items():
        assert value == defaults.get(path), path
    assert RELEASED.firmware == "1.3"


def _readback(**changes: Any) -> dict[str, Any]:
    values = {path: (0.0 if v is None else v) for path, v in RELEASED.parameters.items()}
    values.update(changes)
    return values


def test_one_changed_parameter_fails_exactly_the_rows_it_governs() -> None:
    rows = compare(SPEC_12100, RELEASED, "1.3", _readback(**{"balancing.end_diff_mv": 21}))
    failed = {r.requirement for r in rows if not r.as_released}
    assert failed == {"BAL-START", "BAL-END"}
    (end,) = [r for r in rows if r.requirement == "BAL-END"]
    assert end.differences == ("balancing.end_diff_mv: read 21, released 20",)
    assert governed_rows(SPEC_12100, "cell_low_voltage_alarm.trigger") == ["CV-LA"]


def test_other_firmware_fails_every_design_row_and_no_unit_row() -> None:
    rows = compare(SPEC_12100, RELEASED, "1.4", _readback())
    failed = {r.requirement for r in rows if not r.as_released}
    assert failed == design_ids(SPEC_12100)
    assert all(r.as_released for r in compare(SPEC_12100, RELEASED, "1.3", _readback()))


def test_a_parameter_no_row_names_or_not_answered_fails_the_interface_row() -> None:
    rows = compare(SPEC_12100, RELEASED, "1.3", {**_readback(**{"capacity.rated_ah": None}), "x.y": 1})
    failed = {r.requirement: r.differences for r in rows if not r.as_released}
    assert set(failed) == {"CAP-RATED", "PARAM"}
    assert failed["CAP-RATED"] == ("capacity.rated_ah: read no answer, released 100.0",)
    assert failed["PARAM"] == ("x.y: read 1, not in the released set",)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    base = tmp_path_factory.mktemp("eol")
    moved = settings_file(base, "cv-la.yaml", "bms12100", {"cell_low_voltage_alarm": {"trigger": 2850}})
    quick = ["--reports", "none", "--", "-k", "released or operating_voltage"]
    plans: dict[str, list[str]] = {
        "eol": ["--profile", "eol", "--firmware", str(moved), *quick],
        "audit": ["--profile", "audit", "--sampling", "audit: every 10th unit of lot L42 (unit 20)",
                  "--reports", "html", "--", "-k", "released or test_threshold[CV-LA]"],
        "d1000": ["--dut", "prohelion-d1000-gen2", "--profile", "eol", "--reports", "none",
                  "--", "--hil-requirement", "PH-SUP-I"],
    }  # fmt: skip
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield start_runs(pool, base, plans, RUN_TIMEOUT_S)


def _entry(run: Run, kind: str) -> dict[str, Any]:
    (entry,) = [e for e in run.entries() if e["type"] == kind]
    return entry


def test_eol_fails_a_unit_with_one_changed_parameter_naming_its_row(runs: dict[str, Run]) -> None:
    run = runs["eol"]
    assert run.code == 1, run.output
    assert run.failed_requirements() == {"CV-LA"}
    (m,) = [m for m in run.measurements() if m["requirement"] == "CV-LA"]
    assert m["method"] == "released parameter set read back; behaviour type-tested on that set"
    assert "cell_low_voltage_alarm.trigger: read 2850" in m["notes"]
    # every design row has a verdict from the read-back
    readback = {
        m["requirement"] for m in run.measurements() if m["name"].startswith("unit runs the released")
    }
    assert design_ids(SPEC_12100) <= readback
    eol = _entry(run, "eol")
    assert eol["readback"] is True and "test_threshold[CV-LA]" in eol["left_out"]
    assert "test_threshold[CV-OVP]" not in eol["left_out"]


def test_audit_runs_design_tests_and_records_the_sampling(runs: dict[str, Run]) -> None:
    run = runs["audit"]
    assert run.code == 0, run.output
    assert _entry(run, "header")["sampling"] == "audit: every 10th unit of lot L42 (unit 20)"
    assert _entry(run, "eol")["left_out"] == []
    tested = {e["test"].split("::")[1] for e in run.entries() if e["type"] == "test"}
    assert "test_threshold[CV-LA]" in tested
    html = (run.out / "report.html").read_text(encoding="utf-8")
    assert "Sampling: audit: every 10th unit of lot L42 (unit 20)" in html
    assert "EOL class design: firmware comparison of the cell reading" in html


def test_d1000_without_read_back_keeps_design_rows_and_says_why(runs: dict[str, Run]) -> None:
    run = runs["d1000"]
    assert run.code == 0, run.output
    eol = _entry(run, "eol")
    assert eol["readback"] is False and eol["left_out"] == []
    assert "offers no read-back" in eol["note"]
