"""The Main 2.1 and 2R share one spec and one plan: each run judges only its own variant.

Coverage items scoped to a variant (spec.yaml `{item, variants}`), the variant deciding a
configuration's defaults, the error acknowledgement's bit layout, the jumpers kept between tests and
the tests of one variant left out of the other's run (not skipped).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hilcli import hil

from hil import registry
from hil.cli import load_config as cli_load_config
from hil.duts.movicom_main_2.bench import SOFTWARE_CONTROL_PHYSICAL, MovicomBench
from hil.duts.movicom_main_2.config import InputFunction, Main2RConfig, MovicomConfig, load_config
from hil.duts.movicom_main_2.protocol.modbus_codec import Codec, EncodeError
from hil.duts.movicom_main_2.protocol.registers import RegisterMap, load_map
from hil.duts.movicom_main_2.sim.plant import _config as plant_config
from hil.duts.movicom_main_2.variants import family_variant
from hil.errors import ConfigError, UsageError
from hil.measure import Measurement, Verdict
from hil.report.model import load_run, not_applicable, row_coverage
from hil.spec import load_spec
from hil.station.station import Station, load_station

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "hil" / "duts" / "movicom_main_2" / "spec.yaml"


def _covers(requirement: str, *items: str) -> Measurement:
    return Measurement(requirement, "m", 1.0, "", Verdict.PASS, 0.0, data={"covers": list(items)})


# --------------------------------------------------------------------------- spec and report
def test_each_family_declares_a_variant_of_the_shared_spec() -> None:
    spec = load_spec(SPEC)
    assert spec.variants == ("main-2.1", "main-2r")
    assert registry.dut_family("movicom-main-2.1").variant == "main-2.1"
    assert registry.dut_family("movicom-main-2r").variant == "main-2r"
    ts = spec.get("MM-TS")
    assert ts.coverage_names("main-2r") == ("Main 2R: T_SENS1", "Main 2R: T_SENS2")
    assert ts.coverage_names("main-2.1") == ("Main 2.1: Vts", "Main 2.1: Vhs humidity")
    assert len(ts.coverage_names()) == 4  # no variant given: every item
    assert spec.get("MM-SUP-V").coverage_names("main-2r") == (
        "Main 2R: 9-32 V",
        "minimum",
        "nominal",
        "maximum",
        "below minimum",
    )


def test_the_other_specs_load_unchanged() -> None:
    for name in ("bms12100", "prohelion-d1000-gen2"):
        family = registry.dut_family(name)
        spec = load_spec(family.spec)
        assert family.variant == "" and spec.variants == ()
        for req in spec.requirements:
            assert req.coverage_names() == req.coverage == req.coverage_names(family.variant)


def test_a_coverage_item_naming_an_unknown_variant_is_refused(tmp_path: Path) -> None:
    text = SPEC.read_text(encoding="utf-8").replace(
        '{item: "Main 2R: T_SENS1", variants: [main-2r]}', '{item: "Main 2R: T_SENS1", variants: [main-3]}'
    )
    bad = tmp_path / "spec.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_spec(bad)
    assert err.value.file == str(bad) and err.value.field == "requirements"
    assert "MM-TS item 'Main 2R: T_SENS1' names 'main-3'" in err.value.expected


def test_items_of_the_other_variant_are_not_applicable_not_uncovered() -> None:
    spec = load_spec(SPEC).get("MM-TS").model_dump(mode="json")
    run = [_covers("MM-TS", "Main 2R: T_SENS1"), _covers("MM-TS", "Main 2R: T_SENS2")]
    assert row_coverage(spec, run, "main-2r") == (["Main 2R: T_SENS1", "Main 2R: T_SENS2"], [])
    assert not_applicable(spec, "main-2r") == ["Main 2.1: Vts", "Main 2.1: Vhs humidity"]
    # a record without a variant (older runs, a family of its own): every item counts
    assert row_coverage(spec, run, "")[1] == ["Main 2.1: Vts", "Main 2.1: Vhs humidity"]
    assert not_applicable(spec, "") == []
    # an item of the run's own variant not covered is still a gap
    assert row_coverage(spec, run[:1], "main-2r")[1] == ["Main 2R: T_SENS2"]


# --------------------------------------------------------------------------- configuration
def test_a_file_naming_only_its_variant_gets_that_variants_defaults(tmp_path: Path) -> None:
    path = tmp_path / "unit.yaml"
    path.write_text("variant: main-2r\n", encoding="utf-8")
    config = load_config(path)
    assert config.variant == "main-2r"
    assert [s.rated_a for s in config.current_sensors] == [50.0, 300.0]
    dumped = cli_load_config("movicom-main-2r", path)  # what the sim's twin is configured with
    assert [s["rated_a"] for s in dumped["current_sensors"]] == [50.0, 300.0]
    for model in (MovicomConfig, Main2RConfig):  # whichever model reads it
        assert len(model.model_validate({"variant": "main-2r"}).current_sensors) == 2
        assert len(model.model_validate({"variant": "main-2.1"}).current_sensors) == 1
    path.write_text("variant: main-2.1\n", encoding="utf-8")
    assert [s.rated_a for s in load_config(path, "main-2r").current_sensors] == [200.0]
    assert len(Main2RConfig().current_sensors) == 2 and len(MovicomConfig().current_sensors) == 1
    path.write_text("variant: main-2.1\ncurrent_sensors: [{rated_a: 50}, {rated_a: 300}]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.field == "current_sensors" and "at most 1 on main-2.1" in err.value.expected


def test_a_file_naming_no_variant_is_the_familys_and_another_variant_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "unit.yaml"
    path.write_text("can: {node_id: 5}\n", encoding="utf-8")
    config = load_config(path, "main-2r")
    assert config.variant == "main-2r" and len(config.current_sensors) == 2 and config.can.node_id == 5
    assert cli_load_config("movicom-main-2r", path)["variant"] == "main-2r"
    path.write_text("variant: main-2.1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        cli_load_config("movicom-main-2r", path)
    assert (err.value.file, err.value.field) == (str(path), "variant")
    assert err.value.expected.startswith("main-2r (the DUT family movicom-main-2r)")
    result, _ = _run(tmp_path, "--dut", "movicom-main-2r", "--dut-config", str(path))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: {path}: field 'variant': expected main-2r (the DUT family movicom-main-2r), or no variant"
    )


def _run(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path / "out"
    result = hil("run", *args, "--reports", "none", "--out", str(out), "-q", timeout=300)
    return result, out


@pytest.mark.slow
def test_a_2r_run_with_a_file_naming_only_its_variant_passes(tmp_path: Path) -> None:
    config = tmp_path / "unit.yaml"
    config.write_text("variant: main-2r\n", encoding="utf-8")
    result, out = _run(
        tmp_path, "--dut", "movicom-main-2r", "--dut-config", str(config), "--requirement", "MM-CS"
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = {r.id: r for r in load_run(out).requirement_rows()}
    assert rows["MM-CS"].label == "PASS"
    covered = ["Main 2R: X8 sensor 1", "Main 2R: X9 sensor 2", "charging", "discharging"]
    assert rows["MM-CS"].covered == covered
    assert rows["MM-CS"].not_applicable == ["Main 2.1: P12"]


# --------------------------------------------------------------------------- acknowledgement
def test_acknowledging_errors_encodes_them_in_the_errors_1_layout() -> None:
    for name in ("main-2.x", "main-3"):
        m = load_map(name)
        codec = Codec(m, "CDAB")
        ack = m.get("acknowledge_errors")
        words = codec.encode(ack, frozenset({"battery_cover_error", "adc_error"}))
        assert codec.raw_bits(ack, words) == 1 << 5 | 1 << 19
        assert codec.decode(ack, words) == frozenset({"battery_cover_error", "adc_error"})
        with pytest.raises(EncodeError, match="no bit named nonsense"):
            codec.encode(ack, frozenset({"nonsense"}))
        with pytest.raises(EncodeError, match="no named bits"):
            codec.encode(m.get("logic_select"), frozenset({"adc_error"}))


def test_a_bits_of_naming_a_row_without_bits_is_refused() -> None:
    m = load_map("main-2.x")
    rows = [r.model_dump() for r in m.registers]
    for row in rows:
        if row["name"] == "acknowledge_errors":
            row["bits_of"] = "battery_voltage"
    with pytest.raises(ValueError, match=r"bits_of names a row with bits \(not 'battery_voltage'\)"):
        RegisterMap.model_validate({"map": m.map, "title": m.title, "registers": rows})


def test_prepare_acknowledges_a_locked_error_over_modbus() -> None:
    station = Station.open(ROOT / "stations" / "sim-movicom-main-2r.yaml")
    try:
        bench = MovicomBench(station, registry.dut_family("movicom-main-2r").load("client")(station, None))
        bench.power_up()
        bench.software_control(InputFunction.BATTERY_COVER, 1)  # the battery cover error locks (default)
        bench.clock.sleep(bench.config.protections.battery_cover.set_delay_s + 0.5)
        bench.software_control(InputFunction.BATTERY_COVER, SOFTWARE_CONTROL_PHYSICAL)
        bench.clock.sleep(bench.config.protections.battery_cover.clear_delay_s + 0.5)
        assert bench.errors() == frozenset({"battery_cover_error"})
        bench.prepare()  # writes the locked error's bit to acknowledge_errors (0x4001)
        assert bench.errors() == frozenset()
    finally:
        station.close()


# --------------------------------------------------------------------------- jumpers
def test_nominal_inputs_make_every_input_inactive_and_keep_the_jumpers(tmp_path: Path) -> None:
    station = Station.open(ROOT / "stations" / "sim-movicom-main-2r.yaml")
    try:
        client = registry.dut_family("movicom-main-2r").load("client")(station, None)
        bench = MovicomBench(station, client)
        for index in range(1, 5):
            bench.set_contact(index, True)
        for jumper in ("J1", "J2", "J3"):
            bench.set_jumper(jumper, False)
        bench.nominal_inputs()
        closed = {t: bench.switches[t].is_closed(t) for t in ("DI_1", "DI_4", "JMP_J1", "JMP_J2", "JMP_J3")}
        # DI_1 opened; DI_4, the inverted battery cover (example configuration), closed: the cover on
        assert closed == {"DI_1": False, "DI_4": True, "JMP_J1": True, "JMP_J2": True, "JMP_J3": True}
    finally:
        station.close()


# --------------------------------------------------------------------------- selection
def _entries(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "record.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("dut", "left_out"),
    [
        ("movicom-main-2r", "test_humidity_input"),
        ("movicom-main-2.1", "test_second_current_sensor_above_the_first_ones_range"),
    ],
)
def test_a_test_of_the_other_variant_is_not_applicable_not_skipped(
    tmp_path: Path, dut: str, left_out: str
) -> None:
    result, out = _run(tmp_path, "--dut", dut, "--requirement", "MM-TS", "--requirement", "MM-CS")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    entries = _entries(out)
    assert entries[0]["dut"]["variant"] == dut.removeprefix("movicom-")
    outcomes = {e["outcome"] for e in entries if e["type"] == "test"}
    assert outcomes == {"passed"}
    deselected = next(e for e in entries if e["type"] == "deselected")["tests"]
    reasons = {t["test"].rsplit("::", 1)[-1].split("[")[0]: t["reason"] for t in deselected}
    assert reasons[left_out].startswith(f"not applicable to this variant ({dut.removeprefix('movicom-')})")
    rows = {r.id: r for r in load_run(out).requirement_rows()}
    assert rows["MM-TS"].label == rows["MM-CS"].label == "PASS"
    assert rows["MM-TS"].not_covered == [] and rows["MM-TS"].not_applicable


# --------------------------------------------------------------------------- the variant from the registry
def test_client_and_plant_take_the_variant_the_family_declares() -> None:
    """No table of family names in the family: the plant's twin and the client's configuration are the
    variant `DutFamily.variant` names (family.py), and a family that is no Movicom variant is refused."""
    for name, variant, model in (("2.1", "main-2.1", MovicomConfig), ("2r", "main-2r", Main2RConfig)):
        station = load_station(ROOT / "stations" / f"sim-movicom-main-{name}.yaml")
        assert family_variant(station.dut.name) == variant
        config = plant_config(station, None)  # the lab side's configuration of the station
        assert type(config) is model and config.variant == variant
    with pytest.raises(UsageError, match="DUT family 'bms12100' declares variant ''"):
        family_variant("bms12100")


@pytest.mark.slow
def test_the_2r_can_row_is_partial_naming_why_can2_is_not_tested(tmp_path: Path) -> None:
    """CAN2 (X12) has no documented behaviour to judge: MM-CAN on a 2R is PARTIAL and its not-covered
    list says why, as OUR READING, beside the CAN1 results that passed."""
    result, out = _run(tmp_path, "--dut", "movicom-main-2r", "--requirement", "MM-CAN")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    row = {r.id: r for r in load_run(out).requirement_rows()}["MM-CAN"]
    assert row.label == "PARTIAL"
    assert row.covered == ["Main 2R: X13 CAN1"]
    (reason,) = [n for n in row.not_covered if n.startswith("CAN2 (X12): ")]
    assert "OUR READING" in reason and "no bit rate, protocol, node ID or frame for CAN2" in reason
    assert "Main 2R: X12 CAN2 (internal)" in row.not_covered
