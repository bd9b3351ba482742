"""The bad-input corpus over the Movicom's own files: each defect kind of tests/data/bad_settings and
bad_stations applied to both variants' example configuration and sim station, refused in one line
naming the file and the field, never a traceback (the loader in-process for every case; `hil run`
for one configuration and one station per variant, exit 2, nothing started)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hilcli import ROOT, hil

from hil.duts.movicom_main_2.config import load_config
from hil.errors import ConfigError
from hil.station.station import load_station

VARIANTS = {"movicom-main-2.1": "main-2.1", "movicom-main-2r": "main-2r"}
Edit = Callable[[dict[str, Any]], object]


def _set(path: str, value: Any) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        *parents, key = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        node[int(key) if isinstance(node, list) else key] = value

    return edit


#: configuration defect -> (the edit, or raw text; the field the message must name)
CONFIG_DEFECTS: dict[str, tuple[Edit | str, str]] = {
    "yaml_syntax_error": ("variant: main-2.1\nprotections: {overvoltage: [\n", "line 3, column 1"),
    "not_a_mapping": ("- overvoltage\n- undervoltage\n", "(top level)"),
    "unknown_key": (_set("protections.overvoltage.sett", 3.7), "protections.overvoltage.sett"),
    "unknown_section": (_set("protection", {}), "protection"),
    "wrong_type": (_set("protections.overvoltage.set", "high"), "protections.overvoltage.set"),
    "section_not_mapping": (_set("heater", 5), "heater"),
    "flag_not_bool": (_set("behaviour.honour_inversion", "maybe"), "behaviour.honour_inversion"),
    "int_given_fraction": (_set("can.node_id", 32.5), "can.node_id"),
    "out_of_range": (_set("modbus.unit", 300), "modbus.unit"),
    "bitrate_not_allowed": (_set("can.bitrate_kbps", 300), "can.bitrate_kbps"),
    "release_beyond_trip": (
        _set("protections.overvoltage", {"set": 3.65, "tolerant": 3.75}),
        "protections.overvoltage.tolerant",
    ),
    "heater_off_below_on": (_set("heater.off_above_c", 1.0), "heater.off_above_c"),
    "unknown_input_function": (_set("inputs", [{"function": "teleport"}] * 4), "inputs.0.function"),
    "unknown_variant": (_set("variant", "main-3"), "variant"),
    "fault_out_of_range": (_set("hardware.relay_stuck_closed", 5), "hardware.relay_stuck_closed"),
}
#: station defect -> (the edit, or raw text; the field the message must name)
STATION_DEFECTS: dict[str, tuple[Edit | str, str]] = {
    "yaml_syntax_error": ("name: bad\ninstruments: {supply: [\n", "line 3, column 1"),
    "unknown_top_level_key": (_set("descripton", "typo"), "descripton"),
    "bitrate_not_int": (_set("buses.can.bitrate", "fast"), "buses.can.bitrate"),
    "rs485_baudrate_not_int": (_set("buses.rs485.baudrate", "fast"), "buses.rs485.baudrate"),
    "unknown_driver": (_set("instruments.leds.driver", "feasa-9999"), "instruments.leds.driver"),
    "role_not_driver": (_set("instruments.leds.role", "dmm"), "instruments.leds.role"),
    "calibration_not_date": (
        _set("instruments.daq.calibration_due", "soon"),
        "instruments.daq.calibration_due",
    ),
    "empty_channels": (_set("instruments.fiu.channels", {}), "instruments.fiu.channels"),
    "missing_resource": (lambda d: d["instruments"]["supply"].pop("resource"), "instruments.supply.resource"),
}


def _config_file(folder: Path, family: str, name: str) -> Path:
    edit, _ = CONFIG_DEFECTS[name]
    example = ROOT / "hil/duts/movicom_main_2/configs" / f"example-{VARIANTS[family]}.yaml"
    return _write(folder / f"{name}.yaml", example, edit)


def _station_file(folder: Path, family: str, name: str) -> Path:
    edit, _ = STATION_DEFECTS[name]
    return _write(folder / f"{name}.yaml", ROOT / "stations" / f"sim-{family}.yaml", edit)


def _write(file: Path, source: Path, edit: Edit | str) -> Path:
    if isinstance(edit, str):
        file.write_text(edit, encoding="utf-8")
        return file
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    edit(data)
    file.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return file


def _refused_in_one_line(result: Any, file: Path, field: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {file}: field '{field}': expected "), lines[0]


@pytest.mark.parametrize("family", sorted(VARIANTS))
@pytest.mark.parametrize("name", sorted(CONFIG_DEFECTS))
def test_configuration_loader_names_the_field(family: str, name: str, tmp_path: Path) -> None:
    file = _config_file(tmp_path, family, name)
    with pytest.raises(ConfigError) as refused:
        load_config(file)
    assert refused.value.file == str(file)
    assert refused.value.field == CONFIG_DEFECTS[name][1]
    assert refused.value.expected.strip()


@pytest.mark.parametrize("family", sorted(VARIANTS))
@pytest.mark.parametrize("name", sorted(STATION_DEFECTS))
def test_station_loader_names_the_field(family: str, name: str, tmp_path: Path) -> None:
    file = _station_file(tmp_path, family, name)
    with pytest.raises(ConfigError) as refused:
        load_station(file)
    assert refused.value.field == STATION_DEFECTS[name][1]


@pytest.mark.parametrize(("family", "config", "station"), [
    ("movicom-main-2.1", "release_beyond_trip", "unknown_driver"),
    ("movicom-main-2r", "yaml_syntax_error", "missing_resource"),
])  # fmt: skip
def test_hil_run_refuses_them_in_one_line_before_starting(
    family: str, config: str, station: str, tmp_path: Path
) -> None:
    file = _config_file(tmp_path, family, config)
    result = hil("run", "--dut", family, "--dut-config", str(file), "--out", str(tmp_path / "a"))
    _refused_in_one_line(result, file, CONFIG_DEFECTS[config][1])
    file = _station_file(tmp_path, family, station)
    result = hil("run", "--station", str(file), "--out", str(tmp_path / "b"))
    _refused_in_one_line(result, file, STATION_DEFECTS[station][1])
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
