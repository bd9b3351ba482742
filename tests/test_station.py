"""Station files: the shipped ones load, bad ones are refused naming the file and the field."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from hil.errors import ConfigError
from hil.instruments.info import Limits
from hil.station.model import RoleKind, StationModel
from hil.station.station import bind_endpoints, effective_limits, load_station, require_limits

ROOT = Path(__file__).resolve().parents[1]
SIM = ROOT / "stations" / "sim-bms12100.yaml"
BENCH = ROOT / "stations" / "bench-bms12100-example.yaml"
BAD = Path(__file__).resolve().parent / "data" / "bad_stations"

#: role, driver and DUT terminal -> channel of every instrument; both shipped stations wire the same
WIRING: dict[str, tuple[RoleKind, str, dict[str, str]]] = {
    "charger": ("power_supply", "keysight-n8900", {"P": "1"}),
    "load": ("electronic_load", "itech-it8900", {"P": "1"}),
    "cells": ("cell_emulator", "keysight-n6705c", {f"CELL{i}": str(i) for i in range(1, 5)}),
    "ntc": (
        "temperature_emulator",
        "iet-prs202",
        {"T_CELL1": "5", "T_CELL2": "6", "T_AMB": "7", "T_MOS": "8"},
    ),
    "daq": (
        "dmm",
        "keysight-daq970a",
        {"PACK": "101", "P": "102", "CELL1": "103", "CELL2": "104", "CELL3": "105", "CELL4": "106"}
        | {"SUPPLY": "121"},
    ),
    "fiu": (
        "switch",
        "keysight-34980a",
        {"BUTTON": "1029", "CELL1_SENSE_OPEN": "1001", "CELL2_SENSE_OPEN": "1002", "T_CELL1_OPEN": "1003"}
        | {"T_CELL1_SHORT": "1004", "T_AMB_OPEN": "1005", "CAN_OPEN": "1006", "RS485_OPEN": "1007"},
    ),
}

#: bad station file -> (the field the error names, a phrase of what was expected)
BAD_FIELDS = {
    "unknown_top_level_key.yaml": ("descripton", "unknown key"),
    "missing_resource.yaml": ("instruments.charger.resource", "a value (required field)"),
    "bitrate_not_int.yaml": ("buses.can.bitrate", "valid integer"),
    "unknown_driver.yaml": ("instruments.charger.driver", "'keysight-n9999'"),
    "role_not_driver.yaml": ("instruments.charger.role", "'power_supply' for driver keysight-n8900"),
    "calibration_not_date.yaml": ("instruments.charger.calibration_due", "valid date"),
    "yaml_syntax_error.yaml": ("line 20, column 5", "valid YAML"),
    # a model-level rule: pydantic locates it at the top level; the message names the section
    "sim_on_real_bench.yaml": ("(top level)", "'sim' section is only allowed when simulated is true"),
    "socketcand_without_host.yaml": ("buses.can", "socketcand needs host and port"),
    "empty_channels.yaml": ("instruments.charger.channels", "at least one DUT terminal"),
}

ENDPOINTS: dict[str, Any] = {
    "instruments": {
        "charger": "TCPIP0::127.0.0.1::41001::SOCKET",
        "load": "TCPIP0::127.0.0.1::41002::SOCKET",
        "cells": "TCPIP0::127.0.0.1::41003::SOCKET",
        "ntc": "TCPIP0::127.0.0.1::41004::SOCKET",
        "daq": "TCPIP0::127.0.0.1::41005::SOCKET",
    },
    "can": {"interface": "socketcand", "host": "127.0.0.2", "port": 41010, "channel": "vcan7"},
    "rs485": "socket://127.0.0.1:41011",
    "control": "tcp://127.0.0.1:41012",
    "dut": "bms12100",
    "virtual_time": True,
}


def _bench_copy(tmp_path: Path) -> Path:
    """The real-bench example with the load's all-digit serial quoted (see the xfail test below)."""
    text = BENCH.read_text(encoding="utf-8")
    path = tmp_path / BENCH.name
    path.write_text(text.replace("serial: 802206011227710042", 'serial: "802206011227710042"'), "utf-8")
    return path


@pytest.fixture(params=["sim", "bench"])
def shipped(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return SIM if request.param == "sim" else _bench_copy(tmp_path)


def test_bench_example_loads_as_shipped() -> None:
    station = load_station(BENCH)
    assert station.instruments["load"].serial == "802206011227710042"


def test_shipped_station_wiring(shipped: Path) -> None:
    station = load_station(shipped)
    assert station.dut.name == "bms12100"
    assert station.dut.address == 1
    assert set(station.instruments) == set(WIRING)
    for name, (role, driver, channels) in WIRING.items():
        inst = station.instruments[name]
        assert (inst.role, inst.driver, inst.channels) == (role, driver, channels), name
        assert isinstance(inst.calibration_due, dt.date)
        assert inst.asset_id
        assert station.by_role(role) == (name, inst)
    assert station.buses.can is not None and station.buses.can.bitrate == 500_000
    assert station.buses.rs485 is not None and station.buses.rs485.baudrate == 9600
    assert station.expectations["voltage_protection_delay_max_s"] == 3.0
    # the plan's safe limits: the cell emulator may not go above 4 V per cell
    assert station.instruments["cells"].limits.voltage_max == 4.0
    assert station.instruments["ntc"].limits.resistance_min == 100.0


def test_sim_station_is_simulated_on_localhost() -> None:
    station = load_station(SIM)
    assert station.simulated is True
    assert station.sim is not None and station.sim.seed == 1 and station.sim.battery_ohm == 0.01
    can = station.buses.can
    assert can is not None
    assert (can.interface, can.host, can.port, can.channel) == ("socketcand", "127.0.0.1", 29536, "can0")
    assert station.buses.rs485 is not None and station.buses.rs485.url == "socket://127.0.0.1:7001"
    for inst in station.instruments.values():
        assert inst.resource.startswith("TCPIP0::127.0.0.1::")


def test_bench_example_is_real_hardware(tmp_path: Path) -> None:
    station = load_station(_bench_copy(tmp_path))
    assert station.simulated is False
    assert station.sim is None
    can = station.buses.can
    assert can is not None
    assert can.interface == "pcan"
    assert can.channel.startswith("PCAN_USBBUS")
    assert can.host is None and can.port is None
    rs485 = station.buses.rs485
    assert rs485 is not None
    assert rs485.rs485 is True  # the adapter's RS-485 mode is switched on
    assert rs485.url.startswith("/dev/serial/")
    assert "RS485" in rs485.url
    for inst in station.instruments.values():
        assert "127.0.0.1" not in inst.resource


def test_simulated_station_without_sim_section_gets_defaults(tmp_path: Path) -> None:
    text = SIM.read_text(encoding="utf-8").split("\nsim:\n")[0] + "\n"
    path = tmp_path / "no-sim.yaml"
    path.write_text(text, encoding="utf-8")
    station = load_station(path)
    assert station.sim is not None
    assert (station.sim.seed, station.sim.battery_ohm) == (1, 0.01)


def test_bind_endpoints_rewrites_resources_and_buses() -> None:
    station = load_station(SIM)
    bound = bind_endpoints(station, ENDPOINTS)
    assert isinstance(bound, StationModel)
    for name, resource in ENDPOINTS["instruments"].items():
        assert bound.instruments[name].resource == resource
    can = bound.buses.can
    assert can is not None
    assert (can.interface, can.host, can.port, can.channel) == ("socketcand", "127.0.0.2", 41010, "vcan7")
    assert can.bitrate == 500_000  # kept from the station file
    assert bound.buses.rs485 is not None
    assert bound.buses.rs485.url == "socket://127.0.0.1:41011"
    assert bound.buses.rs485.baudrate == 9600
    # everything else is the station file's
    assert bound.name == station.name and bound.sim == station.sim
    assert bound.instruments["cells"].channels == station.instruments["cells"].channels
    assert bound.instruments["cells"].limits == station.instruments["cells"].limits
    # the loaded model itself is not changed
    assert station.instruments["charger"].resource == "TCPIP0::127.0.0.1::5025::SOCKET"
    assert station.buses.can is not None and station.buses.can.port == 29536


def test_bind_endpoints_without_buses_in_the_endpoints_keeps_them() -> None:
    station = load_station(SIM)
    bound = bind_endpoints(station, {"instruments": {"load": "TCPIP0::127.0.0.1::42000::SOCKET"}})
    assert bound.instruments["load"].resource == "TCPIP0::127.0.0.1::42000::SOCKET"
    assert bound.instruments["charger"].resource == station.instruments["charger"].resource
    assert bound.buses == station.buses


def test_bad_station_corpus_is_complete() -> None:
    assert {p.name for p in BAD.glob("*.yaml")} == set(BAD_FIELDS)


@pytest.mark.parametrize("name", sorted(BAD_FIELDS))
def test_bad_station_names_file_and_field(name: str) -> None:
    path = BAD / name
    field, expected = BAD_FIELDS[name]
    with pytest.raises(ConfigError) as info:
        load_station(path)
    assert info.value.file == str(path)
    assert info.value.field == field
    assert expected in info.value.expected


def test_missing_station_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(ConfigError) as info:
        load_station(path)
    assert (info.value.file, info.value.field, info.value.expected) == (str(path), "-", "an existing file")


def test_shipped_stations_declare_the_duts_limits(shipped: Path) -> None:
    station = load_station(shipped)
    require_limits(station, shipped)  # a real bench needs them; both shipped stations have them
    limits = station.dut.limits
    assert limits is not None
    assert (limits.cell_voltage_min, limits.cell_voltage_max, limits.pack_voltage_max) == (2.0, 4.0, 20.0)
    assert (limits.charge_current_max, limits.discharge_current_max, limits.short_circuit) == (
        110.0,
        240.0,
        True,
    )
    assert (limits.temperature_min, limits.temperature_max) == (-40.0, 125.0)


def test_effective_limits_take_the_tighter_of_instrument_and_dut() -> None:
    station = load_station(SIM)
    charger = effective_limits(station, "charger")
    # the charger may source 120 A, the DUT may take 110 A: the DUT's limit applies
    assert (charger.current_max, charger.sources["current_max"]) == (110.0, "dut.limits.charge_current_max")
    assert (charger.voltage_max, charger.sources["voltage_max"]) == (
        20.0,
        "instruments.charger.limits.voltage_max",
    )
    cells = effective_limits(station, "cells")
    assert (cells.voltage_min, cells.sources["voltage_min"]) == (2.0, "dut.limits.cell_voltage_min")
    assert (cells.voltage_max, cells.sum_voltage_max) == (4.0, 20.0)
    load = effective_limits(station, "load")
    assert (load.current_max, load.short_circuit) == (240.0, True)
    ntc = effective_limits(station, "ntc")
    assert (ntc.resistance_min, ntc.temperature_min, ntc.temperature_max) == (100.0, -40.0, 125.0)
    assert effective_limits(station, "daq") == Limits()


def test_a_station_without_dut_limits_keeps_the_instruments_own() -> None:
    station = load_station(SIM).model_copy(deep=True)
    station.dut.limits = None
    charger = effective_limits(station, "charger")
    assert (charger.current_max, charger.short_circuit) == (120.0, None)
    require_limits(station, SIM)  # a simulated station may leave them out


def test_a_real_bench_needs_every_limit(tmp_path: Path) -> None:
    station = load_station(_bench_copy(tmp_path)).model_copy(deep=True)
    station.instruments["load"].limits.current_max = None
    with pytest.raises(ConfigError) as info:
        require_limits(station, BENCH)
    assert info.value.field == "instruments.load.limits.current_max"
    assert "required on a real bench" in info.value.expected


def test_environment_roles_are_made_safe_after_the_electrical_ones() -> None:
    from hil.station.station import SAFE_ORDER

    order = list(SAFE_ORDER)
    assert order.index("switch") < order.index("pressure_controller") < order.index("climatic_chamber")


def test_d1000_stations_carry_the_environment_roles_with_their_floors() -> None:
    for name in ("sim-prohelion-d1000-gen2", "bench-prohelion-d1000-gen2-example"):
        station = load_station(ROOT / "stations" / f"{name}.yaml")
        chamber = station.instruments["chamber"]
        pace = station.instruments["pressure"]
        assert (chamber.role, chamber.driver, chamber.channels) == (
            "climatic_chamber",
            "espec-p300",
            {"AIR": "1"},
        )
        assert (pace.role, pace.driver, pace.channels) == (
            "pressure_controller",
            "druck-pace5000",
            {"ENCLOSURE": "1"},
        )
        assert chamber.limits.humidity_min == 20.0 and pace.limits.pressure_min == 5.0
        limits = effective_limits(station, "chamber")
        assert (
            limits.temperature_max is not None and limits.temperature_max <= 90.0
        )  # dut.limits bound it too


def test_a_real_bench_needs_the_chambers_and_controllers_limits(tmp_path: Path) -> None:
    bench = ROOT / "stations" / "bench-prohelion-d1000-gen2-example.yaml"
    text = bench.read_text(encoding="utf-8").replace("      pressure_min: 5.0\n", "")
    path = tmp_path / bench.name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"instruments\.pressure\.limits\.pressure_min"):
        require_limits(load_station(path), path)
