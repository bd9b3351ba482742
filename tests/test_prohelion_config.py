"""D1000 Gen2 configuration: defaults are the V1.2 documentation, files load or fail with ConfigError."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hil.duts.prohelion_d1000_gen2.config import (
    BMU_TEMPERATURE_NOTE,
    ChargingMethod,
    D1000Config,
    dump_config,
    dump_default,
    load_config,
)
from hil.duts.prohelion_d1000_gen2.ocv import DEFAULT_OCV_TABLE_MV, ocv_from_soc, soc_from_ocv
from hil.errors import ConfigError

# The defaults of Configuration_Parameters.md (V1.2) in engineering units, by vendor key.
DOCUMENTED = {
    "bitrate": 500,
    "nodeID": 0x600,
    "numCMUNodes": 1,
    "chargingMethod": 0,
    "prechargeResistance": 33.0,
    "packCapacity": 100.0,
    "critCellOverVoltage": 4.2,
    "warningCellOverVoltage": 4.15,
    "cellBalancingVoltage": 4.1,
    "warningCellUnderVoltage": 2.6,
    "critCellUnderVoltage": 2.5,
    "maxCellTemperature": 60.0,
    "minCellTemperature": -20.0,
    "maxChargeCurrent": 100.0,
    "maxDischargeCurrent": 100.0,
    "maxPrechargeCurrent": 3.0,
    "maxPrechargeVoltageDelta": 1.0,
    "thermistorBetaValue": 3380,
    "prechargeTimeout": 25.0,
    "bmuPressureMin": 0.0,
    "bmuPressureMax": 120.0,
    "bmuHumidityMin": 0.0,
    "bmuHumidityMax": 90.0,
    "cellInternalResistance": 0.031,
    "cellNominalCapacity": 5.0,
    "contactorConfigAuxEnable": 0x11111,
    "contactorConfigTypes": 0x00000,
    "nodeNumCells": 10,
    "nodeNumTemp": 4,
    "cellSocLookupTableLength": 101,
}


def write(tmp_path: Path, data: object, name: str = "cfg.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_defaults_are_the_documented_values() -> None:
    dumped = D1000Config().model_dump(mode="json")
    for key, value in DOCUMENTED.items():
        assert dumped[key] == pytest.approx(value), key


def test_raw_values_are_the_vendor_integers() -> None:
    raw = D1000Config().to_raw()
    assert raw["critCellOverVoltage"] == 4200
    assert raw["prechargeResistance"] == 330
    assert raw["packCapacity"] == 1000
    assert raw["maxPrechargeCurrent"] == 3000
    assert raw["prechargeTimeout"] == 25000
    assert raw["minCellTemperature"] == -200
    assert raw["bmuHumidityMax"] == 900
    assert raw["cellSocLookupTable"] == list(DEFAULT_OCV_TABLE_MV)


def test_bmu_temperature_range_is_unswapped_and_says_so() -> None:
    config = D1000Config()
    assert (config.bmu_temperature_min, config.bmu_temperature_max) == (-20.0, 60.0)
    assert config.bmu_temperature_range_note == BMU_TEMPERATURE_NOTE
    assert "swapped" in config.model_dump()["bmuTemperatureRangeNote"]


def test_ocv_table_is_the_vendor_table() -> None:
    config = D1000Config()
    assert len(config.cell_soc_lookup_table) == 101
    assert config.cell_soc_lookup_table[0] == 2.5
    assert config.cell_soc_lookup_table[50] == 3.688
    assert config.cell_soc_lookup_table[100] == 4.2
    assert soc_from_ocv(3.688) == pytest.approx(50.0)
    assert soc_from_ocv(3.6935) == pytest.approx(50.5)
    assert ocv_from_soc(37.0) == pytest.approx(3.582)
    assert soc_from_ocv(2.0) == 0.0 and soc_from_ocv(4.5) == 100.0


def test_derived_views_of_the_defaults() -> None:
    config = D1000Config()
    assert config.supply_variant_v == 12
    assert config.cells_per_node() == (10,)
    assert config.temps_per_node() == (4,)
    assert all(config.aux_enabled(n) for n in range(1, 6))
    assert not any(config.aux_normally_closed(n) for n in range(1, 6))
    assert config.charging_method is ChargingMethod.NONE


def test_dump_default_round_trips(tmp_path: Path) -> None:
    text = dump_default()
    assert "nodeID: 0x600" in text
    assert "contactorConfigAuxEnable: 0x11111" in text
    assert "critCellOverVoltage: 4.2" in text
    assert "swapped" in text
    path = tmp_path / "default.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_config(path) == D1000Config()


def test_a_32_by_14_pack_with_other_limits_loads(tmp_path: Path) -> None:
    data = {
        "deviceID": 4476,
        "bitrate": 1000,
        "nodeID": "0x500",
        "numCMUNodes": 32,
        "nodeNumCells": 14,
        "nodeNumTemp": [4] * 31 + [2],
        "chargingMethod": "External",
        "critCellOverVoltage": 3.65,
        "warningCellOverVoltage": 3.6,
        "cellBalancingVoltage": 3.5,
        "warningCellUnderVoltage": 2.8,
        "critCellUnderVoltage": 2.6,
        "maxChargeCurrent": 250.0,
        "contactorConfigAuxEnable": 0x01111,
        "contactorConfigTypes": "0x10000",
        "cellSocLookupTableLength": 3,
        "cellSocLookupTable": [2.6, 3.3, 3.6],
        "fixed": {"control_timeout_s": 2.0},
    }
    config = load_config(write(tmp_path, data))
    assert config.num_cmu_nodes == 32
    assert config.cells_per_node() == (14,) * 32
    assert sum(config.cells_per_node()) == 448
    assert config.temps_per_node()[-1] == 2
    assert config.node_id == 0x500
    assert config.supply_variant_v == 24
    assert config.charging_method is ChargingMethod.EXTERNAL
    assert not config.aux_enabled(5) and config.aux_enabled(4)
    assert config.aux_normally_closed(5) and not config.aux_normally_closed(1)
    assert config.fixed.control_timeout_s == 2.0
    assert soc_from_ocv(3.3, config.cell_soc_lookup_table) == pytest.approx(50.0)
    # and it survives a dump/load cycle
    again = tmp_path / "again.yaml"
    again.write_text(dump_config(config), encoding="utf-8")
    assert load_config(again) == config


def test_full_vendor_array_of_32_entries_is_accepted(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, {"numCMUNodes": 2, "nodeNumCells": [12, 8] + [10] * 30}))
    assert config.cells_per_node() == (12, 8)


@pytest.mark.parametrize(
    ("data", "field", "expected_part"),
    [
        ({"numCMUNodes": 33}, "numCMUNodes", "less than or equal to 32"),
        ({"numCMUNodes": 0}, "numCMUNodes", "greater than or equal to 1"),
        ({"nodeNumCells": 15}, "nodeNumCells.0", "less than or equal to 14"),
        ({"nodeNumCells": 0}, "nodeNumCells.0", "greater than or equal to 1"),
        ({"nodeNumTemp": 5}, "nodeNumTemp.0", "less than or equal to 4"),
        ({"nodeNumTemp": -1}, "nodeNumTemp.0", "greater than or equal to 0"),
        ({"nodeID": 0x701}, "nodeID", "less than or equal to 1792"),
        ({"nodeID": "0xZZ"}, "nodeID", "valid integer"),
        ({"bitrate": 300}, "bitrate", "125, 250, 500 or 1000"),
        ({"deviceID": 4473}, "deviceID", "4472 or 4476"),
        ({"chargingMethod": 3}, "chargingMethod", "0, 1 or 2"),
        ({"critCellOverVoltage": 0}, "critCellOverVoltage", "greater than or equal to 0.001"),
        ({"contactorConfigAuxEnable": 0x21111}, "contactorConfigAuxEnable", "one hex digit 0 or 1"),
        ({"contactorConfigTypes": 0x111111}, "contactorConfigTypes", "one hex digit 0 or 1"),
        ({"maxCellTemperatur": 50}, "maxCellTemperatur", "no such field"),
        ({"fixed": {"control_timeout_s": 0}}, "fixed.control_timeout_s", "greater than 0"),
        ({"behaviour": {"fly": True}}, "behaviour.fly", "no such field"),
        ({"warningCellOverVoltage": 4.3}, "critCellOverVoltage", "at or above warningCellOverVoltage"),
        ({"warningCellUnderVoltage": 2.4}, "warningCellUnderVoltage", "at or above critCellUnderVoltage"),
        ({"bmuTemperatureMin": 60.0, "bmuTemperatureMax": -20.0}, "bmuTemperatureMax", "above its minimum"),
        ({"minCellTemperature": 70.0}, "maxCellTemperature", "above its minimum"),
        ({"numCMUNodes": 3, "nodeNumCells": [10, 10]}, "nodeNumCells", "one per node (3"),
        ({"cellSocLookupTableLength": 100}, "cellSocLookupTable", "100 entries"),
        (
            {"cellSocLookupTableLength": 3, "cellSocLookupTable": [3.0, 3.0, 4.0]},
            "cellSocLookupTable",
            "rising",
        ),
    ],
)
def test_invalid_values_name_file_field_and_expectation(
    tmp_path: Path, data: dict[str, Any], field: str, expected_part: str
) -> None:
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.file == str(path)
    assert info.value.field == field
    assert expected_part in info.value.expected
    assert str(path) in str(info.value)


def test_missing_file_and_bad_yaml_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as missing:
        load_config(tmp_path / "nope.yaml")
    assert missing.value.expected == "an existing file"
    bad = tmp_path / "bad.yaml"
    bad.write_text("numCMUNodes: [1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as syntax:
        load_config(bad)
    assert "valid YAML" in syntax.value.expected
    with pytest.raises(ConfigError) as shape:
        load_config(write(tmp_path, [1, 2], "list.yaml"))
    assert shape.value.field == "(top level)"


def test_empty_file_is_the_default(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    assert load_config(empty) == D1000Config()


def test_fields_are_reachable_by_python_name_and_validated_on_assignment() -> None:
    config = D1000Config(num_cmu_nodes=4, crit_cell_over_voltage=4.25)
    assert config.model_dump()["numCMUNodes"] == 4
    with pytest.raises(ValueError):
        config.num_cmu_nodes = 40
