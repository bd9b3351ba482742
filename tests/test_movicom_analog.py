"""Movicom Main 2.1 / 2R analog inputs, supply and termination: the lab's relay loads and contact
drop, the termination behind each jumper (fixture relay, routed DMM, missing/stuck terminators), the
external temperature input's offset fault, the per-variant station needs (a 2R station without its
second analog source is refused, naming T_SENS1/T_SENS2), and a non-conforming unit failing each of
MM-SUP-I, MM-RLY-RATE, MM-TS, MM-TERM-CAN, MM-TERM-485 and MM-CS (2R sensor 2) with that ID."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from hilcli import hil

from hil import registry
from hil.duts.movicom_main_2.config import MovicomConfig
from hil.duts.movicom_main_2.sim.plant import CONTACT_SOURCE_V, MovicomPlant
from hil.duts.movicom_main_2.sim.twin import MovicomTwin
from hil.errors import ConfigError
from hil.family import DutFamily
from hil.report.model import load_run
from hil.sim.lab import Lab
from hil.station.needs import family_needs
from hil.station.station import load_station

ROOT = Path(__file__).resolve().parents[1]


def _lab(station: str = "sim-movicom-main-2.1.yaml", settings: dict[str, Any] | None = None) -> Lab:
    model = load_station(ROOT / "stations" / station)
    lab = Lab(getattr(model, "model", model), settings=settings)
    for line in ("VOLT 12", "CURR 0.5", "OUTP ON"):
        lab.instruments["supply"].execute(line)
    for c in "abcd":
        lab.instruments[f"cells_{c}"].execute("VOLT 3.3,(@1:4)")
        lab.instruments[f"cells_{c}"].execute("OUTP ON,(@1:4)")
    lab.instruments["analog"].execute("SOUR:VOLT 2.5,(@104,105)")
    lab.instruments["fiu"].execute("ROUT:CLOS (@1004)")  # IN_4 / DI_4: the inverted battery cover on
    lab.advance(3.0)  # past the Logic link's initialisation
    return lab


def _plant(lab: Lab) -> MovicomPlant:
    assert isinstance(lab.plant, MovicomPlant)
    return lab.plant


def test_relay_load_current_gives_the_contact_drop_and_an_open_contact_the_source() -> None:
    lab = _lab(settings={"hardware": {"contact_resistance_extra_ohm": 0.1}})
    plant = _plant(lab)
    closed = plant.twin.relays.index(True) + 1  # thermistors unset (cold): the heater relay closed
    opened = plant.twin.relays.index(False) + 1
    assert plant.probe(f"RLY{closed}", "VOLT") == 0.0  # closed, no current yet
    for n in (closed, opened):
        lab.instruments[f"load{n}"].execute("CURR 2")
        lab.instruments[f"load{n}"].execute("INP ON")
    lab.advance(0.1)
    assert plant.probe(f"RLY{closed}", "VOLT") == pytest.approx(2.0 * (0.02 + 0.1))
    assert plant.probe(f"RLY{opened}", "VOLT") == CONTACT_SOURCE_V  # open: V+ against the load's side
    assert float(lab.instruments[f"load{closed}"].execute("MEAS:CURR?") or "nan") == pytest.approx(
        2.0, abs=0.5
    )
    assert float(lab.instruments[f"load{opened}"].execute("MEAS:CURR?") or "nan") == pytest.approx(
        0.0, abs=0.5
    )


@pytest.mark.parametrize(
    ("fault", "fitted", "removed"),
    [
        ({}, 120.0, math.inf),
        ({"termination_missing": True}, math.inf, math.inf),
        ({"termination_always": True}, 120.0, 120.0),
    ],
    ids=["good", "missing", "stuck"],
)
def test_termination_behind_the_jumper_reads_only_while_routed(
    fault: dict[str, bool], fitted: float, removed: float
) -> None:
    lab = _lab(settings={"hardware": fault})
    plant, fiu = _plant(lab), lab.instruments["fiu"]
    fiu.execute("ROUT:CLOS (@1007)")  # JMP_P21: the jumper fitted
    assert plant.probe("TERM_P21", "RES") == math.inf  # the DMM not routed to the pair
    fiu.execute("ROUT:CLOS (@1005)")  # TERM_P21 routed
    assert plant.probe("TERM_P21", "RES") == fitted
    fiu.execute("ROUT:OPEN (@1007)")
    assert plant.probe("TERM_P21", "RES") == removed


def test_a_station_without_the_fixture_relay_declares_the_jumper() -> None:
    model = load_station(ROOT / "stations" / "sim-movicom-main-2.1.yaml")
    model = getattr(model, "model", model)
    fiu = model.instruments["fiu"]
    channels = {t: c for t, c in fiu.channels.items() if not t.startswith("JMP_")}
    data = model.model_dump()
    data["instruments"]["fiu"]["channels"] = channels
    data["expectations"]["termination_P22_fitted"] = 0.0
    lab = Lab(type(model).model_validate(data))
    lab.instruments["fiu"].execute("ROUT:CLOS (@1005,1006)")
    assert _plant(lab).probe("TERM_P21", "RES") == 120.0  # not declared: fitted
    assert _plant(lab).probe("TERM_P22", "RES") == math.inf  # declared removed


def test_external_temperature_offset_fault_shifts_every_input() -> None:
    good = MovicomTwin(MovicomConfig(variant="main-2r"), ideal=True)
    bad = MovicomTwin(
        MovicomConfig.model_validate({"variant": "main-2r", "hardware": {"temperature_offset_c": 3.0}}),
        ideal=True,
    )
    for twin in (good, bad):
        twin.inputs.temperature_v = [0.75, 1.0]  # 25 °C and 50 °C at 0.5 V + 10 mV/°C
        twin.inputs_changed()
    assert good.readings.external_temperature_c == pytest.approx((25.0, 50.0))
    assert bad.readings.external_temperature_c == pytest.approx((28.0, 53.0))


def test_station_needs_are_per_variant() -> None:
    r21, r2r = family_needs("movicom-main-2.1").roles, family_needs("movicom-main-2r").roles
    assert r21["analog_source"] == ["VCS", "VREF", "VTS", "VHS"]
    assert r2r["analog_source"] == ["CS1_OUT", "CS1_REF", "CS2_OUT", "CS2_REF", "T_SENS1", "T_SENS2"]
    assert r21["electronic_load"] == r2r["electronic_load"] == ["RLY1", "RLY2", "RLY3", "RLY4"]
    assert "TERM_J3" in r2r["switch"] and "TERM_J3" not in r21["switch"]
    assert "termination_J1_fitted" in family_needs("movicom-main-2r").expectations
    assert "termination_J1_fitted" not in family_needs("movicom-main-2.1").expectations


def test_a_2r_station_without_the_second_analog_source_is_a_station_error(tmp_path: Path) -> None:
    text = (ROOT / "stations" / "sim-movicom-main-2r.yaml").read_text(encoding="utf-8")
    station = tmp_path / "no-second-dac.yaml"
    station.write_text(re.sub(r"  analog_2:\n(    .*\n)+", "", text), encoding="utf-8")
    result = hil("station", "check", str(station))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "T_SENS1, T_SENS2 wired to a analog_source channel" in result.stderr
    assert "Traceback" not in result.stderr


def _failures(tmp_path: Path, dut: str, hardware: dict[str, Any], rows: list[str]) -> dict[str, list[str]]:
    """Run `rows` of the plan on the sim with a faulty unit; the failed measurement names per ID."""
    config = tmp_path / "unit.yaml"
    example = (
        ROOT / "hil" / "duts" / "movicom_main_2" / "configs" / f"example-{dut.removeprefix('movicom-')}.yaml"
    )
    text = example.read_text(encoding="utf-8")  # the variant's example: its sensors as the sim's unit
    config.write_text(f"{text}\nhardware: {json.dumps(hardware)}\n", encoding="utf-8")
    out = tmp_path / "out"
    args = ["run", "--dut", dut, "--dut-config", str(config), "--reports", "none"]
    for row in rows:
        args += ["--requirement", row]
    result = hil(*args, "--out", str(out), "-q", timeout=300)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    failed: dict[str, list[str]] = {}
    for line in (out / "record.jsonl").read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry["type"] == "measurement":
            failed.setdefault(entry["requirement"], [])
            if entry["verdict"] not in ("pass", "info"):
                failed[entry["requirement"]].append(entry["name"])
    return failed


@pytest.mark.slow
def test_a_faulty_main_2_1_fails_each_row_with_its_id(tmp_path: Path) -> None:
    hardware = {
        "supply_current_extra_ma": 50.0,
        "contact_resistance_extra_ohm": 0.2,
        "temperature_offset_c": 3.0,
        "termination_missing": True,
    }
    rows = ["MM-SUP-I", "MM-RLY-RATE", "MM-TS", "MM-TERM-CAN", "MM-TERM-485"]
    failed = _failures(tmp_path, "movicom-main-2.1", hardware, rows)
    assert failed["MM-SUP-I"] == ["supply current at 12 V"]
    assert len(failed["MM-RLY-RATE"]) == 4  # every contact drop (0.22 Ω x 2 A / 8 A)
    assert sorted(failed["MM-TS"]) == [
        "Vts temperature at 0 °C",
        "Vts temperature at 25 °C",
        "Vts temperature at 50 °C",
    ]
    assert failed["MM-TERM-CAN"] == ["P21 (CAN) termination with the jumper fitted"]
    assert failed["MM-TERM-485"] == ["P22 (RS-485) termination with the jumper fitted"]


@pytest.mark.slow
def test_a_faulty_main_2r_fails_each_row_with_its_id(tmp_path: Path) -> None:
    hardware = {
        "supply_current_extra_ma": 50.0,  # the 2R has no figure: characterised, never failed
        "temperature_offset_c": -3.0,
        "termination_always": True,
        "current_offset_a": 1.5,
    }
    rows = ["MM-SUP-I", "MM-TS", "MM-TERM-CAN", "MM-TERM-485", "MM-CS"]
    failed = _failures(tmp_path, "movicom-main-2r", hardware, rows)
    assert failed["MM-SUP-I"] == []
    assert len(failed["MM-TS"]) == 6 and all(n.startswith("T_SENS") for n in failed["MM-TS"])
    assert sorted(failed["MM-TERM-CAN"]) == [
        "J1 (CAN2) open with the jumper not fitted",
        "J3 (CAN1) open with the jumper not fitted",
    ]
    assert failed["MM-TERM-485"] == ["J2 (RS-485) open with the jumper not fitted"]
    assert {n for n in failed["MM-CS"] if "sensor 1 beyond its range" in n} == {
        "sensor 2 current at +80 A (sensor 1 beyond its range)",
        "sensor 2 current at -80 A (sensor 1 beyond its range)",
        "final current at +80 A (sensor 1 beyond its range)",
        "final current at -80 A (sensor 1 beyond its range)",
    }


@pytest.mark.slow
def test_a_bench_that_cannot_move_the_jumpers_tests_the_declared_position_and_says_partial(
    tmp_path: Path,
) -> None:
    text = (ROOT / "stations" / "sim-movicom-main-2.1.yaml").read_text(encoding="utf-8")
    text = text.replace(', JMP_P21: "1007", JMP_P22: "1008"', "")
    text = text.replace(
        "  settle_s: 0.3\n", "  settle_s: 0.3\n  termination_P21_fitted: 1\n  termination_P22_fitted: 0\n"
    )
    station = tmp_path / "jumpers.yaml"
    station.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    args = ["--requirement", "MM-TERM-CAN", "--requirement", "MM-TERM-485", "--reports", "none", "-q"]
    result = hil("run", "--station", str(station), *args, "--out", str(out), timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = {r.id: r for r in load_run(out).requirement_rows()}
    assert rows["MM-TERM-CAN"].label == rows["MM-TERM-485"].label == "PARTIAL"
    assert rows["MM-TERM-CAN"].covered == ["Main 2.1: P21", "fitted"]
    assert any("P21 (CAN) not fitted: " in gap for gap in rows["MM-TERM-CAN"].not_covered)
    assert rows["MM-TERM-485"].covered == ["Main 2.1: P22", "not fitted"]
    assert any("P22 (RS-485) fitted: " in gap for gap in rows["MM-TERM-485"].not_covered)


def test_a_needs_file_naming_a_family_outside_its_package_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "twofold_family"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "station_needs.yaml").write_text(
        "roles: {dmm: [A]}\nfamilies:\n  twofold-a: {roles: {dmm: [B], switch: [S]}}\n"
        "  nope: {roles: {dmm: [C]}}\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    family = DutFamily(
        name="twofold-a",
        title="a family of a two-family package",
        package="twofold_family",
        config=".config:C",
        client=".client:C",
        bench=".bench:B",
        plant=".plant:P",
        buses=(),
        default_station=Path("station.yaml"),
    )
    monkeypatch.setitem(registry.DUTS._loaded, "twofold-a", family)
    family_needs.cache_clear()
    try:
        with pytest.raises(ConfigError) as refused:
            family_needs("twofold-a")
        assert refused.value.field == "families.nope" and refused.value.expected == "one of twofold-a"
        (package / "station_needs.yaml").write_text(
            "roles: {dmm: [A]}\nfamilies:\n  twofold-a: {roles: {dmm: [B, A], switch: [S]}}\n",
            encoding="utf-8",
        )
        family_needs.cache_clear()
        assert family_needs("twofold-a").roles == {"dmm": ["A", "B"], "switch": ["S"]}
    finally:
        family_needs.cache_clear()
