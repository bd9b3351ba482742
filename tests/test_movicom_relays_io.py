"""The Movicom relay and discrete-I/O rows catch non-conforming units: `hil run` with a mutated twin
configuration (`--firmware`) against the declared one (`--hil-dut-config`) fails each row with its
own ID and the measurement that shows it; the default configuration (its battery cover inverted) passes
MM-DI with the inversion covered. Three plan runs, each of only the tests involved (`-k`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from mutation import failing_ids

from hil.duts.movicom_main_2.config import config_class
from hil.report.model import load_run

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {"movicom-main-2.1": "main-2.1", "movicom-main-2r": "main-2r"}


def _config(dut: str, changes: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = config_class(VARIANTS[dut])().model_dump(mode="json")
    for path, value in changes.items():
        *sections, key = path.split(".")
        node = data
        for section in sections:
            node = node[section]
        node[key] = value
    return data


def _run(tmp_path: Path, dut: str, declared: dict[str, Any], applied: dict[str, Any], select: str) -> Path:
    """`hil run` of the selected plan tests: the twin applies `applied`, the plan reads `declared`."""
    files = {}
    for name, data in (("declared", declared), ("applied", applied)):
        files[name] = tmp_path / f"{name}.yaml"
        files[name].write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "hil", "run", "--dut", dut, "--firmware", str(files["applied"])]
    cmd += ["--reports", "none", "--out", str(out), "--", "--hil-dut-config", str(files["declared"])]
    subprocess.run([*cmd, "-k", select], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    return out


def _failing(out: Path) -> dict[str, set[str]]:
    """Failing measurement names by requirement ID."""
    found: dict[str, set[str]] = {}
    for _, m in load_run(out).measurements:
        if m.verdict not in ("pass", "info"):
            found.setdefault(m.requirement, set()).add(m.name)
    return found


@pytest.mark.slow
def test_one_mutation_per_row_fails_that_row_by_its_own_measurement(tmp_path: Path) -> None:
    dut = "movicom-main-2.1"
    mutations = {
        "protections.undervoltage.set": 2.30,  # declared 2.50: relay 1 stays closed just below it
        "behaviour.ev_opens_allow_charging": False,  # relay 2 stays closed above EV
        "charge_control.ton_s": 2.2,  # declared 2.0: relay 3 closes 0.2 s late
        "behaviour.heater_control": False,  # relay 4 never closes
        "behaviour.critical_opens_all": False,  # a battery cover error leaves the relays closed
        "fixed.output_resistance_ohm": 40.0,  # 4.2 V at 20 mA
    }
    select = (
        "(discharge_relay and under) or (allow_charging_relay and EV) or charge_relay_closes "
        "or heater_relay or (critical_error_opens_all and cover) or output_level"
    )
    out = _run(tmp_path, dut, _config(dut, {}), _config(dut, mutations), select)
    failing = _failing(out)
    assert set(failing) == {"MM-RLY-DSG", "MM-RLY-ALLOW", "MM-RLY-CHG", "MM-RLY-HEAT", "MM-CRIT", "MM-DO"}
    assert failing_ids(out) == frozenset(failing)
    assert "relay 1 open on under-voltage: RLY1 contact < 10 Ω (DAQ)" in failing["MM-RLY-DSG"]
    assert "relay 2 open on EV level: RLY2 contact < 10 Ω (DAQ)" in failing["MM-RLY-ALLOW"]
    assert failing["MM-RLY-CHG"] == {"relay 3 closing delay after the charger signal"}
    assert "relay 4 from warm (heater off), beyond heater-on: closed" in failing["MM-RLY-HEAT"]
    assert (
        "relay 1 open (discharge) on the battery cover error: RLY1 contact < 10 Ω (DAQ)" in failing["MM-CRIT"]
    )
    assert "output 1 high under 20 mA (discharge_allowed active)" in failing["MM-DO"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("dut", "honoured"), [("movicom-main-2r", True), ("movicom-main-2.1", False)], ids=["2r", "2.1-mutant"]
)
def test_an_inverted_input_is_covered_and_a_unit_ignoring_inversion_fails_mm_di(
    tmp_path: Path, dut: str, honoured: bool
) -> None:
    declared = _config(dut, {})  # the example configuration: IN_4 / DI_4 battery cover, inverted
    assert declared["inputs"][3] == {"function": "battery_cover", "inverted": True}
    applied = _config(dut, {"behaviour.honour_inversion": honoured})
    out = _run(tmp_path, dut, declared, applied, "input_function_and_inversion")
    row = next(r for r in load_run(out).requirement_rows() if r.spec.get("id") == "MM-DI")
    if honoured:
        assert row.verdict == "pass", row.not_covered
        assert "inverted" in row.covered
        assert not _failing(out)
    else:
        assert row.verdict == "fail"
        assert "input 4 contact closed: battery_cover inactive" in _failing(out)["MM-DI"]
