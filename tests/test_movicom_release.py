"""The Movicom's EOL read-back: what its public map lets us read, its released sets, and a run that
catches a changed parameter while the design rows keep their tests (docs/eol.md)."""

from __future__ import annotations

import pytest
import yaml
from hilcli import ROOT, hil

from hil import registry
from hil.duts.movicom_main_2.config import config_class
from hil.duts.movicom_main_2.protocol.readback import PARAMETER_REGISTERS, as_read, firmware_text
from hil.duts.movicom_main_2.protocol.registers import load_map
from hil.duts.movicom_main_2.sim.twin.twin import FIRMWARE_VERSION
from hil.eol import compare, design_ids, load_released, proven_ids
from hil.spec import load_spec

FAMILIES = {"movicom-main-2.1": "main-2.1", "movicom-main-2r": "main-2r"}
SPEC = load_spec(registry.dut_family("movicom-main-2.1").spec)


def _released(family: str):  # type: ignore[no-untyped-def]
    path = registry.dut_family(family).released
    assert path is not None
    return load_released(path)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_released_set_is_the_example_configuration_and_the_twins_firmware(family: str) -> None:
    released = _released(family)
    example = config_class(FAMILIES[family])().model_dump()
    assert set(released.parameters) == set(PARAMETER_REGISTERS)
    for path, value in released.parameters.items():
        section, key = path.split(".")
        assert value == example[section][key], path
    assert released.firmware == firmware_text(FIRMWARE_VERSION) == "2.0.0"
    # every register read back is in the variant's map
    register_map = load_map(config_class(FAMILIES[family])().hardware_variant.register_map)
    for name in ("firmware_version", *PARAMETER_REGISTERS.values()):
        assert register_map.get(name).table == "input"


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_no_design_row_is_proven_by_read_back_each_says_why(family: str) -> None:
    released = _released(family)
    assert (
        set(released.not_read_back) == design_ids(SPEC) == {"MM-PROT", "MM-CRIT", "MM-RLY-CHG", "MM-RLY-HEAT"}
    )
    assert all("public map" in why for why in released.not_read_back.values())
    assert proven_ids(SPEC, released) == frozenset()


def test_a_changed_battery_parameter_fails_the_interface_row_and_firmware_the_design_rows() -> None:
    released = _released("movicom-main-2.1")
    readback = {**released.parameters, "battery.nominal_capacity_ah": 120.0}
    rows = {r.requirement: r for r in compare(SPEC, released, "2.0.0", readback)}
    assert not rows["MM-MODBUS"].as_released
    assert rows["MM-MODBUS"].differences == ("battery.nominal_capacity_ah: read 120.0, released 100.0",)
    assert all(rows[rid].as_released for rid in design_ids(SPEC))
    other = {r.requirement: r for r in compare(SPEC, released, "2.1.0", dict(released.parameters))}
    assert {rid for rid, r in other.items() if not r.as_released} == design_ids(SPEC)


def test_a_real32_value_is_compared_at_its_own_precision() -> None:
    assert as_read(57.599998474121094) == 57.6
    assert as_read(100) == 100.0
    with pytest.raises(ValueError, match="a number expected"):
        as_read((1, 2))
    with pytest.raises(ValueError, match="4 bytes expected"):
        firmware_text(7)


def test_eol_run_fails_a_2r_whose_battery_parameter_differs_and_keeps_the_design_tests(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = config_class("main-2r")().model_dump(mode="json")
    data["battery"]["max_charge_voltage_v"] = 58.4
    unit = tmp_path / "unit.yaml"
    unit.write_text(yaml.safe_dump(data), encoding="utf-8")
    out = tmp_path / "out"
    result = hil(
        "run", "--dut", "movicom-main-2r", "--dut-config", str(unit), "--profile", "eol",
        "--reports", "none", "--out", str(out), "--", "-k", "released or go_no_go",
        timeout=240,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    entries = [
        yaml.safe_load(line) for line in (out / "record.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    failed = {e["requirement"] for e in entries if e["type"] == "measurement" and e["verdict"] == "fail"}
    assert failed == {"MM-MODBUS"}
    (m,) = [e for e in entries if e["type"] == "measurement" and e["requirement"] == "MM-MODBUS"]
    assert "battery.max_charge_voltage_v: read 58.4, released 57.6" in m["notes"]
    (eol,) = [e for e in entries if e["type"] == "eol"]
    assert eol["left_out"] == [] and set(eol["not_read_back"]) == design_ids(SPEC)
    assert "stay in the EOL profile as tests" in eol["note"]
    # the design row's own test ran in the EOL profile (no read-back can prove it)
    tests = {e["test"].split("::")[1] for e in entries if e["type"] == "test"}
    assert "test_trip_go_no_go[overvoltage]" in tests
    assert str(ROOT / "hil/duts/movicom_main_2/released-main-2r.yaml").endswith(m["data"]["released_file"])
