"""The `hil` command as a user runs it (a subprocess): exit codes and one-line error messages."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hilcli import hil

from hil.duts.bms12100.config import Settings
from hil.measure import equals, within
from hil.record import Recorder

ROOT = Path(__file__).resolve().parents[1]
BAD_STATIONS = Path(__file__).resolve().parent / "data" / "bad_stations"
#: one short test of the plan, for runs that must get as far as starting the plan
CHEAP_TEST = "test_threshold[CV-OVP]"

#: bad station file -> the field its error message names (tests/test_station.py checks the same table)
STATION_FIELDS = {
    "unknown_top_level_key.yaml": "descripton",
    "missing_resource.yaml": "instruments.charger.resource",
    "bitrate_not_int.yaml": "buses.can.bitrate",
    "unknown_driver.yaml": "instruments.charger.driver",
    "role_not_driver.yaml": "instruments.charger.role",
    "calibration_not_date.yaml": "instruments.charger.calibration_due",
    "yaml_syntax_error.yaml": "line 20, column 5",
    "sim_on_real_bench.yaml": "(top level)",
    "socketcand_without_host.yaml": "buses.can",
    "empty_channels.yaml": "instruments.charger.channels",
}


def assert_one_error_line(result: subprocess.CompletedProcess[str], file: Path, field: str) -> str:
    """Exit 2, nothing on stdout, exactly one `error: FILE: field 'F': expected ...` line, no traceback."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    prefix = f"error: {file}: field '{field}': expected " if field != "-" else f"error: {file}: expected "
    assert lines[0].startswith(prefix), lines[0]
    assert len(lines[0]) > len(prefix)
    return lines[0]


def test_station_table_matches_the_corpus() -> None:
    assert {p.name for p in BAD_STATIONS.glob("*.yaml")} == set(STATION_FIELDS)


@pytest.mark.parametrize("name", sorted(STATION_FIELDS))
def test_run_with_bad_station_exits_2(name: str, tmp_path: Path) -> None:
    path = BAD_STATIONS / name
    result = hil("run", "--station", str(path), "--out", str(tmp_path / "out"))
    assert_one_error_line(result, path, STATION_FIELDS[name])
    assert result.stdout == ""
    assert not (tmp_path / "out").exists()  # refused before anything was started or written


def test_run_with_missing_station_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "no-such-station.yaml"
    result = hil("run", "--station", str(path), "--out", str(tmp_path / "out"))
    line = assert_one_error_line(result, path, "-")
    assert line.endswith("expected an existing file")


def test_run_unknown_dut_exits_2(tmp_path: Path) -> None:
    result = hil("run", "--dut", "nosuchdut", "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert "'nosuchdut'" in lines[0]
    assert "bms12100" in lines[0]  # the known DUTs are listed
    assert not (tmp_path / "out").exists()


def test_run_bad_option_value_exits_2(tmp_path: Path) -> None:
    result = hil("run", "--profile", "quick", "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--profile" in result.stderr


def _defaults() -> dict[str, Any]:
    data: dict[str, Any] = Settings().model_dump(mode="json")
    return data


def _write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _firmware_bad_yaml(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "fw-syntax.yaml"
    path.write_text("cell_overvoltage_protection:\n  trigger: [3700\n  release: 3400\n", encoding="utf-8")
    return path, "line 3, column 10"


def _firmware_unknown_key(tmp_path: Path) -> tuple[Path, str]:
    data = _defaults()
    data["cell_overvoltage_protection"]["trigger_mv"] = 3700
    return _write_yaml(tmp_path / "fw-unknown.yaml", data), "cell_overvoltage_protection.trigger_mv"


def _firmware_unknown_section(tmp_path: Path) -> tuple[Path, str]:
    data = _defaults()
    data["cell_overvoltage"] = {"trigger": 3700}
    return _write_yaml(tmp_path / "fw-section.yaml", data), "cell_overvoltage"


def _firmware_wrong_type(tmp_path: Path) -> tuple[Path, str]:
    data = _defaults()
    data["cell_overvoltage_protection"]["trigger"] = "high"
    return _write_yaml(tmp_path / "fw-type.yaml", data), "cell_overvoltage_protection.trigger"


@pytest.mark.parametrize(
    "make",
    [_firmware_bad_yaml, _firmware_unknown_key, _firmware_unknown_section, _firmware_wrong_type],
    ids=["bad-yaml", "unknown-key", "unknown-section", "wrong-type"],
)
def test_run_with_bad_firmware_exits_2(make: Callable[[Path], tuple[Path, str]], tmp_path: Path) -> None:
    path, field = make(tmp_path)
    result = hil("run", "--firmware", str(path), "--profile", "eol", "--out", str(tmp_path / "out"))
    line = assert_one_error_line(result, path, field)
    if field.endswith(".trigger"):
        assert "(got 'high')" in line
    assert result.stdout == ""
    assert not (tmp_path / "out").exists()


def test_run_with_missing_firmware_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "fw-missing.yaml"
    result = hil("run", "--firmware", str(path), "--out", str(tmp_path / "out"))
    line = assert_one_error_line(result, path, "-")
    assert line.endswith("expected an existing file")


def test_run_with_firmware_the_twin_refuses_exits_2(tmp_path: Path) -> None:
    """A file that parses but that the twin's validate_settings refuses stops before the plan starts."""
    data = _defaults()
    data["capacity"]["rated_ah"] = 1000.0
    path = _write_yaml(tmp_path / "fw-capacity.yaml", data)
    out = tmp_path / "out"
    result = hil(
        "run", "--firmware", str(path), "--profile", "eol", "--out", str(out), "--", "-k", CHEAP_TEST
    )
    line = assert_one_error_line(result, path, "capacity.rated_ah")
    assert "5..300 Ah" in line and "(got 1000.0)" in line
    assert result.stdout == ""
    assert not out.exists()  # refused before the plan (and its lab) started


def test_run_with_the_wrong_serial_exits_2(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = hil(
        "run", "--serial", "NOT-THIS-ONE", "--profile", "eol", "--out", str(out), "--", "-k", CHEAP_TEST
    )
    assert result.returncode == 2
    assert "NOT-THIS-ONE" in result.stdout + result.stderr


def test_firmware_on_a_real_bench_exits_2(tmp_path: Path) -> None:
    """--firmware only configures the simulated twin; a real bench refuses it before any I/O."""
    text = (ROOT / "stations" / "bench-bms12100-example.yaml").read_text(encoding="utf-8")
    bench = tmp_path / "bench.yaml"
    bench.write_text(text.replace("serial: 802206011227710042", 'serial: "802206011227710042"'), "utf-8")
    firmware = _write_yaml(tmp_path / "fw.yaml", _defaults())
    result = hil("run", "--station", str(bench), "--firmware", str(firmware), "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --firmware")


def test_sim_serve_refuses_a_real_bench(tmp_path: Path) -> None:
    path = BAD_STATIONS / "sim_on_real_bench.yaml"
    fixed = tmp_path / "real.yaml"
    fixed.write_text(path.read_text(encoding="utf-8").split("\nsim:\n")[0] + "\n", encoding="utf-8")
    result = hil("sim", "serve", "--station", str(fixed), "--no-pace", "--ephemeral-ports", timeout=30)
    assert_one_error_line(result, fixed, "simulated")
    assert result.stdout == ""  # no endpoints line: nothing was served


def test_dut_settings_prints_the_defaults() -> None:
    result = hil("dut", "settings", "bms12100")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# Default firmware settings of 12100-1203-1CA")
    data = yaml.safe_load(result.stdout)
    assert Settings.model_validate(data) == Settings()
    assert data["cell_overvoltage_protection"]["trigger"] == 3650


def test_dut_settings_unknown_dut_exits_2() -> None:
    result = hil("dut", "settings", "nosuchdut")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "error: unknown DUT 'nosuchdut'; known DUTs: bms12100, movicom-main-2.1, movicom-main-2r, "
        "prohelion-d1000-gen2"
    ]


@pytest.fixture
def record_dir(tmp_path: Path) -> Path:
    """A run folder with a five-entry record written by the Recorder."""
    folder = tmp_path / "run"
    rec = Recorder(folder / "record.jsonl", run_id="r1")
    rec.write("header", profile="eol", station={"name": "sim-bms12100"})
    rec.measurement(within("CV-OVP", "trip point", 3655.04, "mV", 41.2, low=3620.0, high=3680.0), "t1")
    rec.measurement(equals("CV-OVP", "trip beyond the limit", True, True, 9.6), "t1")
    rec.write("safe_state", instruments={"load": "safe"})
    rec.write("end", ended="2026-01-01T00:00:00+00:00")
    rec.close()
    return folder


def test_report_verify_intact_record(record_dir: Path) -> None:
    result = hil("report", str(record_dir), "--verify")
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert line.startswith(f"{record_dir / 'record.jsonl'}: OK")
    assert "5 entries" in line and "hash chain intact" in line


def test_report_verify_altered_digit(record_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(record_dir, copy)
    record = copy / "record.jsonl"
    lines = record.read_bytes().splitlines(keepends=True)
    assert b'"value": 3655.04' in lines[1]
    lines[1] = lines[1].replace(b'"value": 3655.04', b'"value": 3651.04')  # one digit of the trip point
    record.write_bytes(b"".join(lines))
    result = hil("report", str(copy), "--verify")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    messages = result.stderr.strip().splitlines()
    assert len(messages) == 1
    assert messages[0].startswith(f"{record}: ALTERED")
    assert "line 2 " in messages[0]  # the line that was changed
    # the original is still intact
    assert hil("report", str(record_dir), "--verify").returncode == 0


def test_report_verify_changed_sequence_number(record_dir: Path) -> None:
    record = record_dir / "record.jsonl"
    lines = record.read_bytes().splitlines(keepends=True)
    lines[3] = lines[3].replace(b'"seq": 3', b'"seq": 4', 1)
    record.write_bytes(b"".join(lines))
    result = hil("report", str(record_dir), "--verify")
    assert result.returncode == 1
    assert "ALTERED" in result.stderr and "line 4 " in result.stderr


def test_report_verify_line_removed(record_dir: Path) -> None:
    record = record_dir / "record.jsonl"
    lines = record.read_bytes().splitlines(keepends=True)
    del lines[2]
    record.write_bytes(b"".join(lines))
    result = hil("report", str(record_dir), "--verify")
    assert result.returncode == 1
    assert "ALTERED" in result.stderr and "line 3 " in result.stderr


def test_report_verify_cut_short(record_dir: Path) -> None:
    record = record_dir / "record.jsonl"
    record.write_bytes(record.read_bytes()[:-20])
    result = hil("report", str(record_dir), "--verify")
    assert result.returncode == 3  # INCOMPLETE (a full disk, a crash mid-write), not altered
    assert "INCOMPLETE: line 5: incomplete last line" in result.stderr
    assert "Traceback" not in result.stderr


def test_report_without_record_exits_2(tmp_path: Path) -> None:
    result = hil("report", str(tmp_path), "--verify")
    line = assert_one_error_line(result, tmp_path / "record.jsonl", "-")
    assert "record.jsonl" in line


LONG_TESTS = ("test_standby_balancing_time_limit", "test_sleep_after_maximum_standby")


def test_long_tests_run_on_the_unpaced_sim(tmp_path: Path) -> None:
    result = hil("run", "--out", str(tmp_path / "out"), "--", "--collect-only")
    assert result.returncode == 0, result.stderr
    for name in LONG_TESTS:
        assert name in result.stdout


@pytest.mark.parametrize("extra", [[], ["--hil-long"]])
def test_long_tests_need_selecting_on_a_paced_lab(tmp_path: Path, extra: list[str]) -> None:
    result = hil("run", "--out", str(tmp_path / "out"), "--", "--hil-pace", "--collect-only", *extra)
    assert result.returncode == 0, result.stderr
    selected = [name for name in LONG_TESTS if f"::{name}" in result.stdout]
    if extra:
        assert selected == list(LONG_TESTS)
    else:
        assert selected == []
        assert "long tests deselected on a real bench or a paced lab" in result.stdout
