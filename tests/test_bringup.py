"""Bench bring-up as a user meets it: `hil station check`, the silent instrument, exit codes,
requirement selection, `--list`, the run's own JUnit, `--operator`, an interrupted run's JUnit."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hilcli import ROOT, hil

SIM = ROOT / "stations" / "sim-bms12100.yaml"
BENCH = ROOT / "stations" / "bench-bms12100-example.yaml"


def _station(tmp_path: Path, base: Path, change: Any, name: str = "station.yaml") -> Path:
    data = yaml.safe_load(base.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _error_lines(result: subprocess.CompletedProcess[str], path: Path, code: int = 2) -> list[str]:
    """Exit `code` (2 the file, 3 the bench not ready), no traceback, every stderr line an
    `error: FILE: ...` line (or the details line)."""
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert lines
    for line in lines:
        assert line.startswith(f"error: {path}: field '") or line.startswith("details: "), line
    return [line for line in lines if line.startswith("error: ")]


class FakeInstrument:
    """A TCP port that accepts connections and answers each line with `answer` (None: never answers)."""

    def __init__(self, answer: str | None) -> None:
        self.answer = answer
        self.server = socket.create_server(("127.0.0.1", 0), backlog=32)
        self.port: int = self.server.getsockname()[1]
        self.conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        with conn:
            while True:
                try:
                    data = conn.recv(4096)
                except OSError:
                    return
                if not data:
                    return
                if self.answer is not None:
                    conn.sendall(self.answer.encode() + b"\n")

    def close(self) -> None:
        self.server.close()
        for conn in self.conns:
            conn.close()


@pytest.fixture
def silent() -> Iterator[FakeInstrument]:
    inst = FakeInstrument(None)
    yield inst
    inst.close()


def _real_bench(tmp_path: Path, port: int) -> Path:
    """The example real bench, every instrument at one local port, the buses on local ports."""

    def change(data: dict[str, Any]) -> None:
        for inst in data["instruments"].values():
            inst["resource"] = f"TCPIP0::127.0.0.1::{port}::SOCKET"
            inst["timeout_s"] = 0.5
            inst["serial"] = str(inst.get("serial", ""))
        data["buses"] = {
            "can": {"interface": "virtual", "channel": "bringup", "bitrate": 500000},
            "rs485": {"url": "loop://", "baudrate": 9600},
        }

    return _station(tmp_path, BENCH, change, "bench.yaml")


# --- hil station check ------------------------------------------------------------------------


def test_station_check_accepts_the_shipped_sim_station() -> None:
    result = hil("station", "check", str(SIM))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{SIM}: ok (sim-bms12100, bms12100")


def test_a_station_without_the_cell_emulator_is_one_line(tmp_path: Path) -> None:
    path = _station(tmp_path, SIM, lambda d: d["instruments"].pop("cells"))
    for args in (
        ("station", "check", str(path)),
        ("run", "--station", str(path), "--out", str(tmp_path / "o")),
    ):
        lines = _error_lines(hil(*args), path)
        assert lines == [
            f"error: {path}: field 'instruments': expected an instrument in role cell_emulator for the "
            "bms12100 plan (wiring CELL1, CELL2, CELL3, CELL4)"
        ]
    assert not (tmp_path / "o").exists()


def test_every_missing_need_and_unknown_expectation_is_listed(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        del data["instruments"]["cells"]["channels"]["CELL4"]
        del data["buses"]["rs485"]
        data["expectations"]["setle_s"] = 0.5

    path = _station(tmp_path, SIM, change)
    lines = _error_lines(hil("station", "check", str(path)), path)
    assert len(lines) == 3
    assert "field 'buses.rs485'" in lines[0]
    assert "field 'instruments.cells.channels': expected DUT terminal(s) CELL4" in lines[1]
    assert "field 'expectations.setle_s'" in lines[2] and "did you mean settle_s?" in lines[2]


def test_every_schema_problem_is_listed_without_pydantic_phrasing(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["buses"]["can"]["bitrate"] = "fast"
        data["instruments"]["load"]["timeout_s"] = -1

    path = _station(tmp_path, SIM, change)
    lines = _error_lines(hil("station", "check", str(path)), path)
    assert len(lines) == 2 and "more problem" not in "".join(lines)
    assert "field 'buses.can.bitrate': expected a valid integer" in lines[0]
    assert "field 'instruments.load.timeout_s': expected greater than 0 (got -1)" in lines[1]
    assert "Input should" not in "".join(lines)


def test_a_missing_station_file_names_no_field(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    result = hil("station", "check", str(path))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {path}: expected an existing file"


def test_station_schema_is_json_schema_with_every_field() -> None:
    result = hil("station", "schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert {"instruments", "buses", "dut", "expectations", "visa_library", "simulated"} <= set(
        schema["properties"]
    )
    assert schema["properties"]["visa_library"]["default"] == "@py"


# --- the instruments of a real bench ------------------------------------------------------------


def test_a_silent_instrument_stops_the_run_before_the_first_test(
    tmp_path: Path, silent: FakeInstrument
) -> None:
    path = _real_bench(tmp_path, silent.port)
    out = tmp_path / "out"
    result = hil("run", "--station", str(path), "--profile", "eol", "--out", str(out), timeout=120)
    lines = _error_lines(result, path, code=3)  # the bench, not the file: CI may retry
    assert len(lines) == 6  # one per instrument of the bench
    assert "field 'instruments.charger.resource'" in lines[0]
    assert "answers its identity query within 0.5 s" in lines[0] and "said nothing" in lines[0]
    assert result.stderr.strip().splitlines()[-1] == f"details: {out / 'station-check.log'}"
    assert not (out / "record.jsonl").exists()  # nothing of the DUT was tested, nothing recorded
    assert "Traceback" in (out / "station-check.log").read_text(encoding="utf-8")
    assert "record:" not in result.stdout


def test_station_check_tells_a_bench_not_ready_from_a_wrong_file(
    tmp_path: Path, silent: FakeInstrument
) -> None:
    """3 when only the bench is not ready (silent, refused); 2 as soon as the file is wrong too."""
    path = _real_bench(tmp_path, silent.port)
    log = tmp_path / "check.log"
    result = hil("station", "check", "--log", str(log), str(path))
    assert len(_error_lines(result, path, code=3)) == 6
    assert result.stderr.strip().splitlines()[-1] == f"details: {log}"
    closed = socket.create_server(("127.0.0.1", 0))
    refused_port = closed.getsockname()[1]
    closed.close()
    (tmp_path / "refused").mkdir()
    refused = _real_bench(tmp_path / "refused", refused_port)  # nothing listens there: refused at once
    lines = _error_lines(hil("station", "check", str(refused)), refused, code=3)
    assert "refused" in lines[0]
    other = FakeInstrument("ACME Corp,WIDGET-9,0001,1.0")  # answers, as another model: the file's fault
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data["instruments"]["charger"]["resource"] = f"TCPIP0::127.0.0.1::{other.port}::SOCKET"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        lines = _error_lines(hil("station", "check", str(path)), path, code=2)
    finally:
        other.close()
    assert "field 'instruments.charger.driver'" in lines[0] and len(lines) == 6  # and 5 silent ones


def test_station_check_help_gives_its_exit_codes() -> None:
    text = hil("station", "check", "--help").stdout
    assert "2    the file must change" in text and "3    the bench is not ready" in text
    assert "never answers" in text and "CI may retry" in text


def test_the_wrong_instrument_is_named_by_its_identity(tmp_path: Path) -> None:
    other = FakeInstrument("ACME Corp,WIDGET-9,0001,1.0")
    try:
        path = _real_bench(tmp_path, other.port)
        lines = _error_lines(hil("station", "check", str(path)), path)
    finally:
        other.close()
    charger = lines[0]
    assert charger.startswith(f"error: {path}: field 'instruments.charger.driver': expected an instrument ")
    assert "'ACME Corp,WIDGET-9,0001,1.0'" in charger


def test_an_unknown_visa_library_is_named(tmp_path: Path, silent: FakeInstrument) -> None:
    path = _real_bench(tmp_path, silent.port)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["visa_library"] = str(tmp_path / "no-such-visa.so")
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    lines = _error_lines(hil("station", "check", str(path)), path)
    assert "no-such-visa.so" in lines[0]


# --- exit codes, selection, listing, JUnit -------------------------------------------------------


def test_run_help_lists_exit_codes_and_the_hil_options() -> None:
    text = hil("run", "--help").stdout
    for phrase in ("--operator", "--junit", "--list", "--requirement", "--dut-config", "-q, --quiet"):
        assert phrase in text
    assert "3    bench error" in text and "128+n" in text
    assert "never answers (a wrong model or file is 2)" in text  # the bench probed before the first test
    assert "add another with `-- -p NAME`" in text  # a run loads only hil's pytest plugin


def test_pytest_help_lists_the_plugin_options() -> None:
    """`hil run -- --help` and plain `pytest --help` format every option of the plugin (a bare % crashed)."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--help"], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert "--hil-environment" in result.stdout and "45 %RH" in result.stdout.replace("\n", " ")


@pytest.mark.parametrize("how", ["option", "pytest"])
def test_a_selection_matching_no_requirement_exits_2_naming_the_closest(how: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["--requirement", "CV-OVPP"] if how == "option" else ["--", "--hil-requirement", "CV-OVPP"]
    cut = args.index("--") if "--" in args else len(args)
    result = hil("run", "--out", str(out), *args[:cut], *args[cut:])
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: requirement 'CV-OVPP' matches no requirement of ")
    assert "CV-OVP" in line.split("; closest: ")[1].split(", ")
    assert "record" not in result.stdout and not out.exists()


def test_list_prints_requirement_to_tests_for_the_profile(tmp_path: Path) -> None:
    result = hil("run", "--profile", "eol", "--list", "--out", str(tmp_path / "o"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    at = lines.index("CV-OVP")
    under = [line for line in lines[at + 1 :] if line.startswith("  ")][:4]
    assert "  testplans/bms12100/test_thresholds.py::test_threshold[CV-OVP]" in under
    assert "  testplans/bms12100/test_release.py::test_released_set_read_back" in under  # design rows
    assert "test_short_circuit_lock" not in result.stdout  # a type test: not in the EOL profile
    assert lines[-1].endswith("tests") and not (tmp_path / "o").exists()


def test_reports_none_still_writes_the_runs_junit_and_the_operator(tmp_path: Path) -> None:
    out, junit = tmp_path / "out", tmp_path / "ci" / "hil.xml"
    result = hil(
        "run", "--profile", "eol", "--out", str(out), "--reports", "none", "--operator", "Jane Tester",
        "--junit", str(junit), "--requirement", "CV-OVP", "--", "-k", "test_threshold[CV-OVP]",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("hil: 1 test selected, "))
    assert lines[at + 1].startswith(
        "[1/1] testplans/bms12100/test_thresholds.py::test_threshold[CV-OVP]  PASS  "
    )
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["verdict"] == "PASS" and props["complete"] == "true"
    assert (out / "junit.xml").read_bytes() == junit.read_bytes()
    header = json.loads((out / "record.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert header["operator"] == "Jane Tester"


def test_a_bench_error_exits_3_and_leaves_the_requirement_inconclusive(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:  # a DMM channel the instrument never answers for
        data["instruments"]["daq"]["channels"]["PACK"] = "999"
        data["instruments"]["daq"]["timeout_s"] = 0.3
        data["instruments"]["daq"]["retries"] = 0

    path = _station(tmp_path, SIM, change)
    out = tmp_path / "out"
    result = hil(
        "run", "--station", str(path), "--profile", "eol", "--out", str(out), "--reports", "junit",
        "--", "-k", "test_pack_voltage_accuracy and 11.9",
    )  # fmt: skip
    assert result.returncode == 3, result.stdout + result.stderr
    assert "ERROR (bench)" in result.stdout and "Traceback" not in result.stdout + result.stderr
    end = json.loads((out / "record.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert end["inconclusive"] == ["ACC-PV"] and end["dut_failed"] == 0


@pytest.mark.parametrize(
    ("signum", "said"), [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "Ctrl-C")], ids=["sigterm", "ctrl-c"]
)
def test_sigterm_leaves_the_test_in_progress_as_an_error_and_the_rest_skipped(
    tmp_path: Path, signum: signal.Signals, said: str
) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hil", "run", "--profile", "full", "--out", str(out), "--reports", "junit"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    while not proc.stdout.readline().replace(" ", "").startswith("[1/"):  # readline: no read-ahead
        assert proc.poll() is None
    proc.send_signal(signum)
    proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    errors = [c for c in cases if c.find("error") is not None]
    skipped = [c for c in cases if c.find("skipped") is not None]
    end = json.loads((out / "record.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert end["status"] == "interrupted" and end["reason"] == f"interrupted ({said})"
    # the test in progress (if the signal came inside one, not between two) is the one error
    assert [c.get("name") for c in errors] == (
        [end["in_progress"].rpartition("::")[2]] if end["in_progress"] else []
    )
    for case in errors:
        assert "interrupted" in str(case.find("error").get("message"))  # type: ignore[union-attr]
    assert len(skipped) == len(end["not_run"]) > 50
    assert str(skipped[0].find("skipped").get("message")) == f"not run: interrupted ({said})"  # type: ignore[union-attr]
    assert int(suite.get("tests", "0")) == len(cases) == end["tests_collected"]


def test_a_pcan_adapter_that_is_absent_is_one_line_without_pythoncan_noise(
    tmp_path: Path, silent: FakeInstrument
) -> None:
    path = _real_bench(tmp_path, silent.port)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["buses"]["can"] = {"interface": "pcan", "channel": "PCAN_USBBUS1", "bitrate": 500000}
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    result = hil("station", "check", str(path))
    lines = _error_lines(result, path, code=3)  # an adapter not plugged in: the bench's state
    assert any(
        line.startswith(f"error: {path}: field 'buses.can': expected a CAN bus that opens") for line in lines
    )
    assert "uptime" not in result.stderr + result.stdout


def test_dut_config_runs_a_non_conforming_twin_and_the_dut_fails(tmp_path: Path) -> None:
    from hilcli import settings_file

    unit = settings_file(
        tmp_path, "unit.yaml", "bms12100", {"cell_overvoltage_protection": {"trigger": 3700}}
    )
    out = tmp_path / "out"
    result = hil(
        "run", "--dut-config", str(unit), "--profile", "eol", "--out", str(out), "--reports", "junit",
        "--requirement", "CV-OVP", "--", "-k", "test_threshold[CV-OVP]",
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr  # the DUT failed: not a bench error
    assert "test_threshold[CV-OVP]  FAIL" in result.stdout
    end = json.loads((out / "record.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert end["dut_failed"] == 1 and end["inconclusive"] is None


def test_the_analog_source_and_led_analyser_roles_run_on_the_sim(tmp_path: Path) -> None:
    """The roles the I/O-heavy families need: served by the lab in their dialects, asked who they
    are, and made safe after every test (the DAQM907A's DACs to 0 V)."""

    def add(d: dict[str, Any]) -> None:
        d["instruments"]["analog"] = {
            "role": "analog_source",
            "driver": "keysight-daqm907a",
            "model": "Keysight DAQ970A + DAQM907A",
            "resource": "TCPIP0::127.0.0.1::5040::SOCKET",
            "channels": {"VCS": "104", "VREF": "105"},
            "accuracy": {"voltage": {"gain": 0.0025, "offset": 0.020, "resolution": 0.001}},
            "asset_id": "SIM-AO-001",
            "serial": "SIMAO0001",
            "calibration_due": "2027-10-31",
        }
        d["instruments"]["leds"] = {
            "role": "led_analyser",
            "driver": "feasa-led-analyser",
            "model": "Feasa 20-F",
            "resource": "TCPIP0::127.0.0.1::5041::SOCKET",
            "channels": {"DS3": "01", "DS4": "02"},
            "asset_id": "SIM-LED-001",
            "serial": "SL01",
            "calibration_due": "2027-10-31",
        }

    path = _station(tmp_path, SIM, add)
    out = tmp_path / "run"
    result = hil(
        "run", "--station", str(path), "--requirement", "ACC-PV", "--out", str(out), "--reports", "none"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    idn = {
        name: i.get("idn", "")
        for line in (out / "record.jsonl").read_text(encoding="utf-8").splitlines()
        for name, i in (json.loads(line).get("instruments") or {}).items()
        if isinstance(i, dict) and "idn" in i
    }
    assert "DAQ970A,SIMAO0001" in idn["analog"]
    assert idn["leds"].startswith("Feasa,") and ",SL01," in idn["leds"]
