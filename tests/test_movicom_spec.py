"""Spec data of the Movicom BMS Main 2.1 / 2R: the 19 stable IDs, each once, and numbers that agree
with the example configuration (config.py defaults) and the variant data (variants.yaml)."""

from __future__ import annotations

import re
from pathlib import Path

from shared_docs import SHARED, require_shared

from hil.duts.movicom_main_2.config import PROTECTION_DIRECTIONS, MovicomConfig
from hil.duts.movicom_main_2.variants import load_variants, variant
from hil.spec import load_spec

SPEC_PATH = Path(__file__).resolve().parents[1] / "hil/duts/movicom_main_2/spec.yaml"
READING_PATH = SHARED / "specs/movicom-bms-main-2.md"

# The 19 IDs of specs/movicom-bms-main-2.md, in its order.
IDS = (
    "MM-SUP-V", "MM-SUP-I", "MM-RLY-DSG", "MM-RLY-ALLOW", "MM-RLY-CHG", "MM-RLY-HEAT", "MM-RLY-RATE",
    "MM-CRIT", "MM-PROT", "MM-DI", "MM-DO", "MM-CS", "MM-TS", "MM-CAN", "MM-TERM-CAN", "MM-TERM-485",
    "MM-MODBUS", "MM-LOGIC", "MM-LED",
)  # fmt: skip


def test_every_id_once_in_the_reading_order() -> None:
    spec = load_spec(SPEC_PATH)
    assert tuple(spec.ids()) == IDS


def test_ids_match_the_shared_reading() -> None:
    require_shared(READING_PATH, "the reading of the 19 IDs")
    text = READING_PATH.read_text(encoding="utf-8")
    assert tuple(re.findall(r"^\| (MM-[A-Z0-9-]+) \|", text, flags=re.MULTILINE)) == IDS


def test_every_row_has_an_eol_class_and_reason() -> None:
    spec = load_spec(SPEC_PATH)
    classes = {r.id: r.eol.class_ for r in spec.requirements}
    assert all(r.eol.reason for r in spec.requirements)
    # hardware rows are unit, pure firmware logic design
    assert classes["MM-SUP-V"] == classes["MM-RLY-RATE"] == classes["MM-TERM-CAN"] == "unit"
    assert classes["MM-PROT"] == classes["MM-CRIT"] == classes["MM-RLY-CHG"] == "design"


def test_variant_rows_cover_both_variants_with_the_variant_data() -> None:
    spec = load_spec(SPEC_PATH)
    v21, v2r = variant("main-2.1"), variant("main-2r")
    sup = spec.get("MM-SUP-V")
    assert (v21.supply.min_v, v21.supply.max_v) == (9.0, 30.0)
    assert (v2r.supply.min_v, v2r.supply.max_v) == (9.0, 32.0)
    assert f"{v21.supply.min_v:g}-{v21.supply.max_v:g}" in str(sup.value)
    assert f"{v2r.supply.min_v:g}-{v2r.supply.max_v:g}" in str(sup.value)
    assert spec.get("MM-SUP-I").value == v21.supply.max_current_ma == 100.0
    assert v2r.supply.max_current_ma is None
    assert [r.max_a for r in v21.relays] == [2.0, 2.0, 8.0, 8.0]
    assert [r.max_a for r in v2r.relays] == [3.0] * 4
    assert {r.max_v for r in (*v21.relays, *v2r.relays)} == {55.0}
    for rid, number in (("MM-RLY-DSG", 1), ("MM-RLY-ALLOW", 2), ("MM-RLY-CHG", 3), ("MM-RLY-HEAT", 4)):
        value = str(spec.get(rid).value)
        assert v21.relays[number - 1].header in value and v2r.relays[number - 1].header in value
    assert v21.relay_leds() == ("DS7", "DS8", "DS5", "DS6")
    assert v2r.relay_leds() == ("DS1.1", "DS1.2", "DS1.3", "DS1.4")
    assert (len(v21.current_sensors), len(v2r.current_sensors)) == (1, 2)
    assert [b.name for b in v2r.can_buses] == ["CAN1", "CAN2"] and len(v21.can_buses) == 1
    assert (v21.register_map, v2r.register_map) == ("main-2.x", "main-3")
    assert (v21.leds.power, v2r.leds.power) == ("DS1", None)
    assert set(load_variants()) == {"main-2.1", "main-2r"}


def test_numbers_equal_the_example_configuration() -> None:
    spec, config = load_spec(SPEC_PATH), MovicomConfig()
    heat = spec.get("MM-RLY-HEAT")
    assert (heat.trip, heat.release) == (config.heater.on_below_c, config.heater.off_above_c)
    assert spec.get("MM-RLY-CHG").delay_s == config.charge_control.ton_s
    assert spec.get("MM-CRIT").delay_s == config.protections.battery_cover.set_delay_s
    assert spec.get("MM-LOGIC").delay_s == config.protections.logic_offline.set_delay_s
    assert spec.get("MM-CAN").value == config.can.bitrate_kbps == 250
    assert spec.get("MM-DO").value == config.fixed.output_high_v
    assert set(spec.get("MM-PROT").coverage) == set(PROTECTION_DIRECTIONS) - {"high_humidity"}


def test_uncertain_facts_are_marked_our_reading() -> None:
    spec = load_spec(SPEC_PATH)
    for rid in ("MM-RLY-HEAT", "MM-TS", "MM-MODBUS", "MM-DO"):
        row = spec.get(rid)
        assert row.uncertain
        assert any("OUR READING" in n or "OUR EXAMPLE" in n for n in row.notes), rid
    assert any("NOT PUBLIC" in n for n in spec.notes)


def test_every_setting_is_a_path_into_the_configuration() -> None:
    spec, config = load_spec(SPEC_PATH), MovicomConfig()
    settings = [r.setting for r in spec.requirements if r.setting]
    assert len(settings) >= 12
    for path in settings:
        node: object = config
        for part in path.split("."):
            node = node[int(part)] if part.isdigit() else getattr(node, part)  # type: ignore[index]
        assert node is not None, path
