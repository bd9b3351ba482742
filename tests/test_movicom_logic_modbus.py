"""The Movicom MM-LOGIC link-loss test and the MM-MODBUS value tests catch non-conforming units: `hil
run` of those tests (`-k`) with a twin that ignores a lost Logic board and reports the current with the
wrong sign (`--firmware`) against the declared configuration (`--hil-dut-config`) fails each row by
the measurement that shows it, and the conforming twin passes both rows fully covered."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hilcli import hil

from hil.duts.movicom_main_2.config import config_class
from hil.report.model import load_run

SELECT = "logic_link or modbus_values"


def _run(tmp_path: Path, behaviour: dict[str, bool]) -> Path:
    declared = config_class("main-2.1")().model_dump(mode="json")
    applied = {**declared, "behaviour": {**declared["behaviour"], **behaviour}}
    files = {}
    for name, data in (("declared", declared), ("applied", applied)):
        files[name] = tmp_path / f"{name}.yaml"
        files[name].write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "out"
    args = ["run", "--dut", "movicom-main-2.1", "--firmware", str(files["applied"])]
    args += ["--reports", "none", "--out", str(out), "--", "--hil-dut-config", str(files["declared"])]
    hil(*args, "-k", SELECT, timeout=300)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("conforming", [True, False], ids=["conforming", "mutant"])
def test_logic_link_loss_and_modbus_values_pass_a_conforming_unit_and_fail_a_mutant(
    tmp_path: Path, conforming: bool
) -> None:
    behaviour = {} if conforming else {"logic_offline_check": False, "current_sign": False}
    run = load_run(_run(tmp_path, behaviour))
    rows = {r.spec.get("id"): r for r in run.requirement_rows()}
    failing = {(m.requirement, m.name) for _, m in run.measurements if m.verdict not in ("pass", "info")}
    if conforming:
        assert not failing
        assert rows["MM-LOGIC"].covered == ["Logic offline error", "DS4 red blink"]
        assert rows["MM-MODBUS"].covered == ["current", "temperature", "cell data via 0x4000", "inputs"]
    else:
        assert ("MM-LOGIC", "logic_offline reported with a board lost") in failing
        assert ("MM-LOGIC", "DS4 blink with a board lost") in failing
        assert ("MM-MODBUS", "battery_current over Modbus RTU at +20 A") in failing
        assert ("MM-MODBUS", "battery_current over Modbus TCP at -20 A") in failing
        assert {r for r, _ in failing} == {"MM-LOGIC", "MM-MODBUS"}
