"""Bad input refused in one sentence: settings (firmware) files, spec data, DBC files, unknown
names and unreachable instruments.

Every case exits 2 (or, where no command takes the file, raises the loader's declared
ConfigError) with one line naming the file, the field - the pydantic location, a YAML or DBC line
and column, or a DBC message and signal - and what was expected; never a traceback. The corpus
files live in tests/data/bad_settings/, bad_specs/ and bad_dbc/, one defect each; the tables
below say which field each one must name. (Station files: tests/data/bad_stations/, tested in
test_station.py and test_cli.py.)
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hilcli import hil

from hil.config import load_model
from hil.duts.bms12100.config import Settings
from hil.duts.bms12100.protocol.can_codec import DBC_PATH, load_dbc
from hil.duts.prohelion_d1000_gen2.config import load_config
from hil.errors import ConfigError
from hil.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
BAD_SETTINGS = DATA / "bad_settings"
BAD_SPECS = DATA / "bad_specs"
BAD_DBC = DATA / "bad_dbc"

#: bad firmware settings file -> the field its message names
SETTINGS_FIELDS = {
    "yaml_syntax_error.yaml": "line 4, column 10",
    "unknown_key.yaml": "cell_overvoltage_protection.trigger_mv",
    "unknown_section.yaml": "cell_overvoltage",
    "wrong_type.yaml": "cell_overvoltage_protection.trigger",
    "missing_field.yaml": "cell_overvoltage_protection.enabled",
    "not_a_mapping.yaml": "(top level)",
    "section_not_mapping.yaml": "capacity",
    "flag_not_bool.yaml": "behaviour.wake_on_button",
    "int_given_fraction.yaml": "precharge.time_ms",
    # these parse; the twin's firmware rules (validate_settings) refuse them
    "capacity_out_of_range.yaml": "capacity.rated_ah",
    "release_above_trigger.yaml": "cell_overvoltage_protection.release",
    "negative_delay.yaml": "precharge.time_ms",
    "percent_out_of_range.yaml": "capacity.cycle_threshold_pct",
    "balancing_end_above_open.yaml": "balancing.end_diff_mv",
    "lock_count_zero.yaml": "short_circuit_protection.lock_count",
    "effective_current_inverted.yaml": "effective_charge_current.enter_ma",
}
#: bad Prohelion D1000 Gen2 configuration file -> (the vendor key its message names, a phrase)
D1000_SETTINGS_FIELDS = {
    "d1000_crit_below_warning.yaml": ("critCellOverVoltage", "at or above warningCellOverVoltage (4.15)"),
    "d1000_cells_per_node_count.yaml": ("nodeNumCells", "one per node (1 for numCMUNodes), got 2"),
}
#: settings files the twin refuses, and a phrase its message must carry
TWIN_RULES = {
    "capacity_out_of_range.yaml": "5..300 Ah (got 1000.0)",
    "release_above_trigger.yaml": "CV-OVP: release 3700 is above trigger 3650",
    "negative_delay.yaml": "must not be negative",
    "percent_out_of_range.yaml": "0..100 %",
    "balancing_end_above_open.yaml": "end_diff_mv <= open_diff_mv",
    "lock_count_zero.yaml": "at least 1",
    "effective_current_inverted.yaml": "enter_ma >= exit_ma",
}

#: bad spec data file -> the field its message names
SPEC_FIELDS = {
    "yaml_syntax_error.yaml": "line 17, column 1",
    "missing_requirements.yaml": "requirements",
    "empty_requirements.yaml": "requirements",
    "unknown_key.yaml": "requirements.0.tolerence",
    "bad_id.yaml": "requirements.0.id",
    "unknown_kind.yaml": "requirements.0.kind",
    "negative_tolerance.yaml": "requirements.0.tolerance",
    "trip_not_number.yaml": "requirements.0.trip",
    "bad_direction.yaml": "requirements.0.direction",
    "duplicate_id.yaml": "requirements",
    "threshold_without_direction.yaml": "requirements.1.direction",
    "untestable_without_reason.yaml": "requirements.0.untestable_reason",
    "bad_release_alternative.yaml": "requirements.0.release_alternatives.0.id",
    "not_a_mapping.yaml": "(top level)",
    "dut_not_string.yaml": "dut",
    "missing_eol.yaml": "requirements.0.eol",
    "bad_eol_class.yaml": "requirements.0.eol.class",
}
#: spec rows whose message also names the requirement ID of the row
SPEC_ROW_IDS = {
    "unknown_key.yaml": "CV-OVP",
    "threshold_without_direction.yaml": "PV-OVP",
    "untestable_without_reason.yaml": "CV-OVP",
    "missing_eol.yaml": "CV-OVP",
}

#: bad DBC file -> (the field its error names, a phrase of what was expected)
DBC_FIELDS = {
    "syntax_error.dbc": ("line 30, column 29", "valid DBC syntax"),
    "empty.dbc": ("line 1, column 1", "valid DBC syntax"),
    "not_a_dbc.dbc": ("line 1, column 1", "valid DBC syntax"),
    "signal_beyond_frame.dbc": ("BO_ 854 BatteryMeasurements: SG_ PackTemperature", "data length"),
    "overlapping_signals.dbc": ("BO_ 854 BatteryMeasurements: SG_ PackCurrent", "overlap PackVoltage"),
    "missing_message.dbc": ("BO_ 854", "0x356"),
    "missing_signal.dbc": ("BO_ 860 BatteryRequest: SG_ ChargeEnable", "the codec reads/writes"),
    "extended_id.dbc": ("BO_ 860", "standard-ID message"),
    "truncated.dbc": ("BO_ 857 BatteryProtectionAlarm: SG_ MarkerP", "the codec reads/writes"),
}


def assert_refused(code: int, stderr: str, file: Path | str, field: str) -> str:
    """Exit 2, no traceback, exactly one `error: FILE: field 'F': expected ...` line; returns it."""
    assert code == 2, stderr
    assert "Traceback" not in stderr
    # a probed bench also says where the details went (the run folder's station-check.log)
    lines = [line for line in stderr.strip().splitlines() if not line.startswith("details: ")]
    assert len(lines) == 1, stderr
    prefix = f"error: {file}: field '{field}': expected " if field != "-" else f"error: {file}: expected "
    assert lines[0].startswith(prefix), lines[0]
    assert len(lines[0]) > len(prefix) + 3  # says what was expected
    return lines[0]


def assert_config_error(exc: ConfigError, file: Path, field: str) -> None:
    """The loader's declared error names the file and field, in one line."""
    assert (exc.file, exc.field) == (str(file), field)
    assert exc.expected.strip()
    assert "\n" not in f"{exc.field}{exc.expected}"


def assert_unknown_dut(result: subprocess.CompletedProcess[str], name: str) -> None:
    """Exit 2 and one line naming the unknown DUT and listing the known ones."""
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: unknown DUT '{name}'; known DUTs: ")
    assert "bms12100" in lines[0]


# --- the corpus tables cover the corpus -------------------------------------------------------


@pytest.mark.parametrize(
    ("folder", "pattern", "table"),
    [
        (BAD_SETTINGS, "*.yaml", {**SETTINGS_FIELDS, **D1000_SETTINGS_FIELDS}),
        (BAD_SPECS, "*.yaml", SPEC_FIELDS),
        (BAD_DBC, "*.dbc", DBC_FIELDS),
    ],
    ids=["settings", "specs", "dbc"],
)
def test_every_corpus_file_has_an_expected_field(folder: Path, pattern: str, table: dict[str, Any]) -> None:
    assert {p.name for p in folder.glob(pattern)} == set(table)


# --- firmware settings files ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SETTINGS_FIELDS))
def test_run_with_bad_settings_file_exits_2(name: str, tmp_path: Path) -> None:
    path = BAD_SETTINGS / name
    out = tmp_path / "out"
    result = hil("run", "--firmware", str(path), "--profile", "eol", "--out", str(out))
    line = assert_refused(result.returncode, result.stderr, path, SETTINGS_FIELDS[name])
    if name in TWIN_RULES:
        assert TWIN_RULES[name] in line
    assert result.stdout == ""
    assert not out.exists()  # refused before the plan or its lab started


@pytest.mark.parametrize("name", sorted(SETTINGS_FIELDS))
def test_settings_loader_names_the_field(name: str) -> None:
    path = BAD_SETTINGS / name
    with pytest.raises(ConfigError) as info:
        load_model(path, Settings)
    assert_config_error(info.value, path, SETTINGS_FIELDS[name])


@pytest.mark.parametrize("name", ["yaml_syntax_error.yaml", "wrong_type.yaml", "capacity_out_of_range.yaml"])
def test_sim_serve_with_bad_settings_file_exits_2(name: str) -> None:
    path = BAD_SETTINGS / name
    result = hil("sim", "serve", "--firmware", str(path), "--no-pace", "--ephemeral-ports", timeout=30)
    assert_refused(result.returncode, result.stderr, path, SETTINGS_FIELDS[name])
    assert result.stdout == ""  # no endpoints line: nothing was served


@pytest.mark.parametrize("name", sorted(D1000_SETTINGS_FIELDS))
def test_run_with_bad_d1000_configuration_names_the_vendor_key(name: str, tmp_path: Path) -> None:
    path = BAD_SETTINGS / name
    field, phrase = D1000_SETTINGS_FIELDS[name]
    out = tmp_path / "out"
    result = hil("run", "--dut", "prohelion-d1000-gen2", "--firmware", str(path), "--out", str(out))
    line = assert_refused(result.returncode, result.stderr, path, field)
    assert phrase in line
    assert not out.exists()  # refused before the plan or its lab started


@pytest.mark.parametrize("name", sorted(D1000_SETTINGS_FIELDS))
def test_d1000_loader_names_the_vendor_key(name: str) -> None:
    path = BAD_SETTINGS / name
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert_config_error(info.value, path, D1000_SETTINGS_FIELDS[name][0])


def test_default_settings_pass_the_firmware_rules() -> None:
    assert Settings().config_problems() == []


# --- spec data --------------------------------------------------------------------------------

#: runs `hil run` (hil.cli.main) once per file with the DUT family's spec data pointed at it
_SPEC_RUNNER = """
import contextlib, dataclasses, io, json, sys
from hil import registry
from hil.cli import main
results = {}
family = registry.DUTS["bms12100"]
for path, out in zip(sys.argv[1::2], sys.argv[2::2]):
    registry.DUTS["bms12100"] = dataclasses.replace(family, spec=path)
    err, std = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
        code = main(["run", "--profile", "eol", "--out", out])
    results[path] = {"code": code, "stderr": err.getvalue(), "stdout": std.getvalue(), "out": out}
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def spec_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    """`hil run` on every bad spec file (one process, the family's spec path replaced)."""
    tmp = tmp_path_factory.mktemp("spec-runs")
    args = [arg for name in sorted(SPEC_FIELDS) for arg in (str(BAD_SPECS / name), str(tmp / name))]
    result = subprocess.run(
        [sys.executable, "-c", _SPEC_RUNNER, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    yield json.loads(result.stdout)


@pytest.mark.parametrize("name", sorted(SPEC_FIELDS))
def test_run_with_bad_spec_data_exits_2(name: str, spec_runs: dict[str, dict[str, Any]]) -> None:
    """`hil run` checks the DUT's spec data before the plan (which is parametrised from it)."""
    path = BAD_SPECS / name
    run = spec_runs[str(path)]
    line = assert_refused(run["code"], run["stderr"], path, SPEC_FIELDS[name])
    if name in SPEC_ROW_IDS:
        assert f"(requirement {SPEC_ROW_IDS[name]})" in line
    assert run["stdout"] == ""
    assert not Path(run["out"]).exists()  # refused before anything was started or written


@pytest.mark.parametrize("name", sorted(SPEC_FIELDS))
def test_spec_loader_names_the_field(name: str) -> None:
    path = BAD_SPECS / name
    with pytest.raises(ConfigError) as info:
        load_spec(path)
    assert_config_error(info.value, path, SPEC_FIELDS[name])


def test_missing_spec_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "no-such-spec.yaml"
    with pytest.raises(ConfigError) as info:
        load_spec(path)
    assert (info.value.file, info.value.field, info.value.expected) == (str(path), "-", "an existing file")


# --- DBC files (no command takes a DBC path: the codec's loader is the boundary) ----------------


@pytest.mark.parametrize("name", sorted(DBC_FIELDS))
def test_dbc_loader_names_the_field(name: str) -> None:
    path = BAD_DBC / name
    field, phrase = DBC_FIELDS[name]
    with pytest.raises(ConfigError) as info:
        load_dbc(path)
    assert_config_error(info.value, path, field)
    assert phrase in info.value.expected


def test_missing_dbc_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "no-such.dbc"
    with pytest.raises(ConfigError) as info:
        load_dbc(path)
    assert (info.value.field, info.value.expected) == ("-", "an existing file")


def test_the_packaged_dbc_passes_the_same_checks() -> None:
    assert {m.frame_id for m in load_dbc(DBC_PATH).messages} >= {0x305, 0x351, 0x355, 0x356, 0x359, 0x35C}


# --- unknown names ----------------------------------------------------------------------------


def test_run_with_a_station_name_instead_of_a_file_exits_2(tmp_path: Path) -> None:
    result = hil("run", "--station", "no-such-station", "--out", str(tmp_path / "out"))
    line = assert_refused(result.returncode, result.stderr, "no-such-station", "-")
    assert line.endswith("expected an existing file")
    assert not (tmp_path / "out").exists()


def test_sim_serve_with_an_unknown_station_exits_2() -> None:
    result = hil("sim", "serve", "--station", "no-such-station.yaml", "--no-pace", "--ephemeral-ports")
    assert_refused(result.returncode, result.stderr, "no-such-station.yaml", "-")
    assert result.stdout == ""


def test_station_naming_an_unknown_dut_exits_2(tmp_path: Path) -> None:
    data = yaml.safe_load((ROOT / "stations" / "sim-bms12100.yaml").read_text(encoding="utf-8"))
    data["dut"]["name"] = "bms99999"
    path = tmp_path / "station.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    result = hil("run", "--station", str(path), "--out", str(tmp_path / "out"))
    line = assert_refused(result.returncode, result.stderr, path, "dut.name")
    assert "bms12100" in line and "'bms99999'" in line  # what is known, and what was given
    assert not (tmp_path / "out").exists()


def test_unknown_dut_with_a_station_exits_2(tmp_path: Path) -> None:
    station = ROOT / "stations" / "sim-bms12100.yaml"
    result = hil("run", "--dut", "nosuchdut", "--station", str(station), "--out", str(tmp_path / "out"))
    assert_unknown_dut(result, "nosuchdut")


def test_dut_settings_of_an_unknown_dut_exits_2() -> None:
    result = hil("dut", "settings", "bms99999")
    assert_unknown_dut(result, "bms99999")
    assert result.stdout == ""


# --- unreachable instruments and buses (a real bench) -----------------------------------------


def _closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A local TCP port that accepts connections (the kernel completes them; nothing answers)."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as server:
        yield server.getsockname()[1]


def _bench(
    tmp_path: Path, instruments_port: int, can: dict[str, Any] | None, rs485_url: str
) -> tuple[Path, dict[str, Any]]:
    """The example real bench with every instrument at a local port and the given buses."""
    data = yaml.safe_load((ROOT / "stations" / "bench-bms12100-example.yaml").read_text(encoding="utf-8"))
    for inst in data["instruments"].values():
        inst["resource"] = f"TCPIP0::127.0.0.1::{instruments_port}::SOCKET"
        inst["serial"] = str(inst.get("serial", ""))
        inst["timeout_s"] = 2.0
    # python-can's in-process virtual bus opens anywhere: the bus under test is the one given
    data["buses"] = {"rs485": {"url": rs485_url, "baudrate": 9600}}
    data["buses"]["can"] = can or {"interface": "virtual", "channel": "bad-input", "bitrate": 500000}
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path, data


def test_unreachable_instrument_exits_3(tmp_path: Path) -> None:
    port = _closed_port()
    path, _ = _bench(tmp_path, port, None, f"socket://127.0.0.1:{_closed_port()}")
    result = hil("run", "--station", str(path), "--profile", "eol", "--out", str(tmp_path / "out"))
    line = _bus_line(result, path, "instruments.charger.resource")  # every instrument has its line
    assert f"TCPIP0::127.0.0.1::{port}::SOCKET" in line and "refused" in line
    assert result.stdout == ""
    assert not (tmp_path / "out" / "record.jsonl").exists()  # no record: nothing of the DUT was tested
    assert "ConnectionRefusedError" in (tmp_path / "out" / "station-check.log").read_text(encoding="utf-8")


def test_unreachable_can_bus_exits_3(tmp_path: Path, listening_port: int) -> None:
    can = {
        "interface": "socketcand",
        "host": "127.0.0.1",
        "port": _closed_port(),
        "channel": "can0",
        "bitrate": 500000,
    }
    path, _ = _bench(tmp_path, listening_port, can, f"socket://127.0.0.1:{_closed_port()}")
    result = hil("run", "--station", str(path), "--profile", "eol", "--out", str(tmp_path / "out"))
    line = _bus_line(result, path, "buses.can")
    assert "Connection refused" in line
    assert not (tmp_path / "out" / "record.jsonl").exists()


def _bus_line(result: subprocess.CompletedProcess[str], path: Path, field: str) -> str:
    """Exit 3 (the bench, not the file) and the field's one line among the others (every
    instrument of the bench is probed)."""
    assert result.returncode == 3 and "Traceback" not in result.stderr
    lines = [
        ln for ln in result.stderr.splitlines() if ln.startswith(f"error: {path}: field '{field}': expected ")
    ]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "url", ["socket://127.0.0.1:{closed}", "/dev/no-such-rs485-adapter"], ids=["socket", "device"]
)
def test_unreachable_rs485_port_exits_3(url: str, tmp_path: Path, listening_port: int) -> None:
    url = url.format(closed=_closed_port())
    path, _ = _bench(tmp_path, listening_port, None, url)
    result = hil("run", "--station", str(path), "--profile", "eol", "--out", str(tmp_path / "out"))
    _bus_line(result, path, "buses.rs485.url")
    assert not (tmp_path / "out" / "record.jsonl").exists()
