"""Configuration of the Movicom Main 2.1 / 2R: the documented example loads and equals the model,
names its problems by key, and the variant rules hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from hil.duts.movicom_main_2.config import InputFunction, MovicomConfig, load_config
from hil.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[1] / "hil/duts/movicom_main_2/configs"


def test_example_file_is_the_model_default_and_says_defaults_are_not_public() -> None:
    path = CONFIGS / "example-main-2.1.yaml"
    assert load_config(path) == MovicomConfig()
    assert "NOT PUBLIC" in path.read_text(encoding="utf-8")


def test_example_2r_has_two_sensors_and_the_main_3_map() -> None:
    config = load_config(CONFIGS / "example-main-2r.yaml")
    assert config.variant == "main-2r"
    assert [s.rated_a for s in config.current_sensors] == [50.0, 300.0]
    assert config.hardware_variant.register_map == "main-3"
    assert config.protections == MovicomConfig().protections


def test_defaults_follow_the_vendor_relay_roles_and_bus_settings() -> None:
    config = MovicomConfig()
    assert [r.function for r in config.relays] == ["discharge", "allow_charging", "charge", "heater"]
    assert (config.can.bitrate_kbps, config.can.node_id) == (250, 32)
    m = config.modbus
    assert (m.unit, m.baudrate, m.bytesize, m.parity, m.stopbits, m.tcp_port) == (32, 9600, 8, "N", 1, 502)
    assert config.input_assigned(InputFunction.BATTERY_COVER) == (3,)
    assert config.relay_with("heater") == 3 and config.relay_with("none") is None


def test_input_functions_by_name_and_code_dump_by_name() -> None:
    config = MovicomConfig.model_validate(
        {"inputs": [{"function": "battery_cover", "inverted": True}, {"function": 2}, {}, {}]}
    )
    assert config.inputs[0].function is InputFunction.BATTERY_COVER and config.inputs[0].inverted
    assert config.inputs[1].function is InputFunction.CHARGER_CONNECTED
    assert config.model_dump(mode="json")["inputs"][0] == {"function": "battery_cover", "inverted": True}


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        (
            "protections: {overvoltage: {set: 3.6, tolerant: 3.7}}",
            "protections.overvoltage.tolerant",
            "at or below set (3.6)",
        ),
        (
            "protections: {undervoltage: {set: 2.5, tolerant: 2.4}}",
            "protections.undervoltage.tolerant",
            "at or above set (2.5)",
        ),
        ("heater: {on_below_c: 10, off_above_c: 5}", "heater.off_above_c", "above on_below_c (10)"),
        ("current_sensors: [{}, {}]", "current_sensors", "at most 1 on main-2.1"),
        ("modbus: {baudrate: 9601}", "modbus", "baudrate: one of"),
        ("can: {bitrate_kbps: 300}", "can.bitrate_kbps", "125"),
        ("inputs: [{function: teleport}, {}, {}, {}]", "inputs.0.function", "0, 1, 2"),
        ("variant: main-9", "variant", "main-2.1"),
    ],
)
def test_a_bad_file_names_the_key(tmp_path: Path, text: str, field: str, expected: str) -> None:
    path = tmp_path / "unit.yaml"
    path.write_text(text + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.field == field
    assert expected in err.value.expected
