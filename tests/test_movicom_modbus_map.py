"""Movicom Modbus register map (data) and codec: rows as the reference recovered them, provisional
where unsure, and values through pymodbus's converters in all four register orders."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hil.duts.movicom_main_2.protocol.modbus_codec import Codec, EncodeError, RegisterOrder
from hil.duts.movicom_main_2.protocol.registers import MAPS_DIR, RegisterMap, load_map
from hil.errors import ConfigError

ORDERS: tuple[RegisterOrder, ...] = ("ABCD", "CDAB", "BADC", "DCBA")


def test_seen_rows_are_where_the_reference_puts_them() -> None:
    m = load_map("main-2.x")
    expected = {
        "discrete_inputs_1": ("input", 0x2000, "U16"),
        "battery_current": ("input", 0x2001, "REAL32"),
        "external_temperature": ("input", 0x2003, "REAL32"),
        "errors_1": ("input", 0x2007, "U32"),
        "errors_2": ("input", 0x200E, "U32"),
        "logic_address": ("input", 0x2010, "U16"),
        "discrete_inputs_2": ("input", 0x20F4, "U16"),
        "soc": ("input", 0x2100, "REAL32"),
        "logic_count": ("input", 0x2102, "U16"),
        "max_discharge_current": ("input", 0x2428, "REAL32"),
        "logic_select": ("holding", 0x4000, "U16"),
        "input_control_battery_cover": ("holding", 0x5100, "U16"),
        "input_control_balancing_request": ("holding", 0x5113, "U16"),
    }
    for name, (table, address, kind) in expected.items():
        reg = m.get(name)
        assert (reg.table, reg.address, reg.type) == (table, address, kind), name
        assert not reg.provisional, name
    assert m.get("errors_1").bit("battery_cover_error") == 5
    assert m.get("errors_1").bit("logic_offline") == 9
    assert m.get("errors_1").bit("adc_error") == 19
    assert m.at("input", 0x200D) is None  # not defined in the public map
    assert m.at("input", 0x2002) is m.get("battery_current")


def test_unsure_rows_are_provisional_with_a_source() -> None:
    m = load_map("main-2.x")
    for name in ("internal_signals", "relays", "battery_voltage", "logic_cell_voltages", "acknowledge_errors",
                 "input_control_charger_connected", "current_sensor_1"):  # fmt: skip
        reg = m.get(name)
        assert reg.provisional and reg.confidence in ("M3", "I", "P") and reg.source, name
    bits = {b.name: b.provisional for b in m.get("errors_1").bits}
    assert bits["overcurrent"] and not bits["logic_offline"]
    assert {r.name for r in m.provisional()} >= {"errors_1", "discrete_inputs_1"}  # rows with unsure bits


def test_main_3_map_for_the_2r_inherits_and_differs() -> None:
    m2, m3 = load_map("main-2.x"), load_map("main-3")
    assert "clock" in m2 and "clock" not in m3 and "humidity" not in m3
    assert m3.get("soc_percent").address == 0x1000 and m3.get("soc_percent").provisional
    assert m3.get("current_sensor_2").provisional
    assert "close_external_1" in {b.name for b in m2.get("discrete_inputs_2").bits}
    assert "close_external_1" not in {b.name for b in m3.get("discrete_inputs_2").bits}
    assert m3.get("errors_1") == m2.get("errors_1")


def test_overlapping_or_unmarked_rows_are_refused(tmp_path: Path) -> None:
    row = {"table": "input", "type": "REAL32", "confidence": "C", "source": "x"}
    with pytest.raises(ValueError, match="overlap at 0x0001"):
        RegisterMap.model_validate(
            {
                "map": "t",
                "title": "t",
                "registers": [{**row, "name": "a", "address": 0}, {**row, "name": "b", "address": 1}],
            }
        )
    with pytest.raises(ValueError, match="provisional: true"):
        RegisterMap.model_validate(
            {"map": "t", "title": "t", "registers": [{**row, "name": "a", "address": 0, "confidence": "I"}]}
        )
    assert {p.stem for p in MAPS_DIR.glob("*.yaml")} == {"main-2.x", "main-3"}
    with pytest.raises(ConfigError, match=r"main-2\.x, main-3"):
        load_map("main-9")


@pytest.mark.parametrize("order", ORDERS)
def test_real32_in_each_order(order: RegisterOrder) -> None:
    m = load_map("main-2.x")
    codec = Codec(m, order)
    regs = codec.encode(m.get("soc"), 1.5)  # 1.5f = 0x3FC00000: A=3F B=C0 C=00 D=00
    assert regs == {"ABCD": [0x3FC0, 0], "CDAB": [0, 0x3FC0], "BADC": [0xC03F, 0], "DCBA": [0, 0xC03F]}[order]
    assert codec.decode(m.get("soc"), regs) == 1.5
    current = codec.decode(m.get("battery_current"), codec.encode(m.get("battery_current"), -12.25))
    assert current == -12.25


def test_bitfields_bytes_bcd_and_arrays() -> None:
    m = load_map("main-2.x")
    codec = Codec(m, "CDAB")
    errors = m.get("errors_1")
    regs = codec.encode(errors, frozenset({"adc_error", "overcurrent"}))
    assert regs == [0x0001, 0x0008]  # low word first: bit 0 and bit 19
    assert codec.decode(errors, regs) == frozenset({"adc_error", "overcurrent"})
    assert codec.raw_bits(errors, regs) == (1 << 19) | 1
    assert codec.encode(m.get("hardware_version"), (1, 2)) == [0x0201]  # byte 0 (minor) in the low half
    clock = codec.encode(m.get("clock"), (7, 12, 26, 4, 30, 59))
    assert clock == [0x1207, 0x0426, 0x5930]
    assert codec.decode(m.get("clock"), clock) == (7, 12, 26, 4, 30, 59)
    cells = tuple(3.0 + i / 100 for i in range(18))
    decoded = codec.decode(m.get("logic_cell_voltages"), codec.encode(m.get("logic_cell_voltages"), cells))
    assert isinstance(decoded, tuple) and all(
        math.isclose(a, b, rel_tol=1e-6) for a, b in zip(decoded, cells, strict=True)
    )
    with pytest.raises(EncodeError, match="no bit named teleport"):
        codec.encode(errors, frozenset({"teleport"}))
    with pytest.raises(EncodeError, match=r"0\.\.65535"):
        codec.encode(m.get("logic_count"), 70000)


def test_image_and_span_round_trip() -> None:
    m = load_map("main-2.x")
    codec = Codec(m, "ABCD")
    image = codec.image("input", {"soc": 80.0, "logic_count": 2, "errors_1": frozenset({"logic_offline"})})
    assert image[0x2102] == 2
    assert (image[0x2007], image[0x2008]) == (0, 0x0200)  # ABCD: high word first, bit 9
    span = [image[a] for a in range(0x2100, 0x2103)]
    assert codec.decode_span("input", 0x2100, span) == {"soc": 80.0, "logic_count": 2}
    assert image[0x2001] == image[0x2002] == 0  # no value given: zeros


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_registers_decode_and_in_range_values_round_trip(data: st.DataObject) -> None:
    """Whatever a unit sends decodes (no crash); what we encode decodes back to the same value."""
    for name in ("main-2.x", "main-3"):
        m = load_map(name)
        codec = Codec(m, data.draw(st.sampled_from(ORDERS)))
        reg = data.draw(st.sampled_from(m.registers))
        raw = data.draw(st.lists(st.integers(0, 0xFFFF), min_size=reg.words, max_size=reg.words))
        value = codec.decode(reg, raw)
        if reg.type == "BCD":
            continue  # a non-BCD byte has no BCD encoding
        floats = value if isinstance(value, tuple) else (value,)
        if reg.type == "REAL32" and any(isinstance(v, float) and math.isnan(v) for v in floats):
            continue  # NaN is never equal to itself
        assert codec.decode(reg, codec.encode(reg, value)) == value
