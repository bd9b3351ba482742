"""Benches shared through labgrid, against labgrid's own coordinator and exporter on loopback.

The module starts a simulated lab (`hil sim serve`, virtual time), a station file attached to
it, the real `labgrid-coordinator` (127.0.0.1, an ephemeral port, in a temporary folder) and the
real `labgrid-exporter` serving the configuration `hil labgrid exporter` wrote for that station.
Places are created with `labgrid-client`, as a lab administrator would. The local locks (no
coordinator) are checked with two `hil run` at once.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import serial
import yaml
from hilcli import hil

from hil.labgrid.exporter import instrument_resource
from hil.labgrid.place import acquired_place
from hil.locks import BusyError, hold_run_locks
from hil.sim.client import ControlClient, SimProcess
from hil.station.model import StationModel
from hil.station.station import load_station

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SIM_STATION = ROOT / "stations" / "sim-bms12100.yaml"
GROUP = "sim-bms12100"
#: one quick test of the 12100 plan (the RS-485 read-out), enough to show the bench is reached
SELECT = ("--", "-k", "test_rs485 and not disconnected")
RUN_TIMEOUT_S = 240


# ------------------------------------------------------------------------ one serial package


def test_exactly_one_serial_package_and_it_works() -> None:
    """labgrid's fork of pyserial is the `serial` package; plain pyserial is not installed over it."""
    assert importlib.metadata.version("pyserial-labgrid")
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("pyserial")
    assert int(importlib.metadata.version("labgrid").split(".")[0]) >= 25  # gRPC coordinator

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def echo() -> None:
        for _ in range(2):  # pyserial, then labgrid's SerialDriver
            conn, _ = server.accept()
            with conn:
                conn.sendall(conn.recv(64).upper())

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()
    port_url = serial.serial_for_url(f"socket://127.0.0.1:{port}", timeout=5)
    port_url.write(b"ping\n")
    assert port_url.read(5) == b"PING\n"
    port_url.close()

    from labgrid import Target
    from labgrid.driver import SerialDriver
    from labgrid.resource import NetworkSerialPort

    target = Target("serial-check")
    NetworkSerialPort(target, "rs485", host="127.0.0.1", port=port, speed=9600, protocol="raw")
    driver = SerialDriver(target, "serial")
    target.activate(driver)
    driver.write(b"labgrid\n")
    assert driver.read(size=8, timeout=5) == b"LABGRID\n"
    target.deactivate(driver)
    thread.join(5)
    server.close()


# ------------------------------------------------------------------------ lab, coordinator, exporter


@dataclass
class Bench:
    lab: SimProcess
    station: Path
    coordinator: str
    exporter_config: Path
    env: dict[str, str]

    def client(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "labgrid-client"), "-x", self.coordinator, *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=self.env,
            check=False,
        )

    def resources(self) -> set[str]:
        """The available resources on the coordinator as EXPORTER/GROUP/CLS/NAME (`labgrid-client -v`)."""
        listed = self.client("-v", "resources").stdout
        return {f"{path}/{name}" for name, path in re.findall(r"Resource '([^']+)' \(([^\[)]+)", listed)}

    def holder(self, place: str) -> str | None:
        """Who holds the place, as the coordinator says (`labgrid-client show`)."""
        shown = self.client("-p", place, "show")
        assert shown.returncode == 0, shown.stderr
        found = re.search(r"^\s*acquired: (\S+)", shown.stdout, re.MULTILINE)
        return None if found is None or found[1] == "None" else found[1]

    def make_place(self, name: str, tag_station: bool = True) -> None:
        for args in (("create",), ("add-match", f"*/{GROUP}/*")):
            done = self.client("-p", name, *args)
            assert done.returncode == 0, done.stderr
        if tag_station:
            done = self.client("-p", name, "set-tags", f"station={self.station}")
            assert done.returncode == 0, done.stderr

    def run(self, *args: str) -> subprocess.Popen[str]:
        """`hil run ARGS` in the background, as a user starts it."""
        return subprocess.Popen(
            [sys.executable, "-m", "hil", "run", *args],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _line(stream: Any, pattern: str, timeout: float = 60) -> str:
    """Read lines from a process's output until one matches; the line."""
    found: list[str] = []

    def reader() -> None:
        for line in stream:
            if re.search(pattern, line):
                found.append(line)
                return

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    thread.join(timeout)
    assert found, f"no line matching {pattern!r} within {timeout} s"
    return found[0]


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    folder = tmp_path_factory.mktemp("labgrid")
    env = {**os.environ, "HIL_LOCK_DIR": str(folder / "locks")}
    lab = SimProcess(SIM_STATION, log_file=folder / "lab.log")
    procs: list[subprocess.Popen[Any]] = []
    try:
        data = yaml.safe_load(SIM_STATION.read_text(encoding="utf-8"))
        data["sim"]["attach"] = lab.endpoints["control"]
        station = folder / "attached.yaml"
        station.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")

        (folder / "coordinator").mkdir()
        coordinator = subprocess.Popen(
            [str(BIN / "labgrid-coordinator"), "--listen", "127.0.0.1:0"],
            cwd=folder / "coordinator",
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        procs.append(coordinator)
        port = re.search(r":(\d+)\s*$", _line(coordinator.stdout, r"^listening on "))
        assert port is not None
        address = f"127.0.0.1:{port[1]}"
        threading.Thread(target=coordinator.stdout.read, daemon=True).start()  # type: ignore[union-attr]

        config = folder / "exporter.yaml"
        written = hil("labgrid", "exporter", str(station), "-o", str(config))
        assert written.returncode == 0, written.stderr
        exporter = subprocess.Popen(
            [str(BIN / "labgrid-exporter"), "-c", address, "-n", "hil-exporter", str(config)],
            cwd=folder,
            stdout=(folder / "exporter.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        procs.append(exporter)
        state = Bench(lab, station, address, config, env)
        deadline = time.monotonic() + 60
        while f"hil-exporter/{GROUP}/NetworkSerialPort/rs485" not in state.resources():
            assert exporter.poll() is None, (folder / "exporter.log").read_text()
            assert time.monotonic() < deadline, "the exporter's resources never reached the coordinator"
            time.sleep(0.5)
        yield state
    finally:
        for proc in reversed(procs):
            _stop(proc)
        lab.stop()


# ------------------------------------------------------------------------ the exporter configuration


def test_exporter_configuration_names_every_instrument_and_bus(bench: Bench) -> None:
    config = yaml.safe_load(bench.exporter_config.read_text(encoding="utf-8"))
    group = config[GROUP]
    endpoints = bench.lab.endpoints
    for name, resource in endpoints["instruments"].items():
        host, port = resource.split("::")[1:3]
        assert group[name] == {"cls": "ScpiSocketInstrument", "host": host, "port": int(port)}
    assert group["can"] == {
        "cls": "SocketcandCanPort",
        "host": endpoints["can"]["host"],
        "port": endpoints["can"]["port"],
        "channel": endpoints["can"]["channel"],
        "bitrate": 500000,
    }
    rs485_host, rs485_port = endpoints["rs485"].removeprefix("socket://").split(":")
    assert group["rs485"] == {
        "cls": "NetworkSerialPort",
        "host": rs485_host,
        "port": int(rs485_port),
        "speed": 9600,
        "protocol": "raw",
    }
    # the real exporter took all of it: every resource is on the coordinator, available
    listed = bench.resources()
    for name, entry in group.items():
        if name != "location":
            assert f"hil-exporter/{GROUP}/{entry['cls']}/{name}" in listed


def test_exporter_refuses_what_it_cannot_share(tmp_path: Path) -> None:
    real = hil("labgrid", "exporter", str(ROOT / "stations" / "bench-bms12100-example.yaml"))
    assert real.returncode == 2
    assert (
        real.stderr.count("\n") == 1 and "buses.can.interface" in real.stderr and "socketcand" in real.stderr
    )
    own_lab = hil("labgrid", "exporter", str(SIM_STATION))
    assert own_lab.returncode == 2 and "sim.attach" in own_lab.stderr
    # a VISA INSTR resource becomes labgrid's PyVISADevice (its driver appends ::INSTR again)
    entry = instrument_resource("f", "TCPIP0::192.168.10.11::hislip0::INSTR", tmp_path)
    assert entry == {"cls": "PyVISADevice", "type": "TCPIP0", "url": "192.168.10.11::hislip0"}


# ------------------------------------------------------------------------ places


def test_acquire_api_gives_working_resources_and_releases(bench: Bench) -> None:
    """The context manager `hil eol` shares: hil's drivers reach the lab through the place's resources."""
    from labgrid.factory import target_factory

    from hil.labgrid.resources import (
        ScpiSocketDriver,
        ScpiSocketInstrument,
        SocketcandCanPort,
        SocketcandDriver,
    )

    bench.make_place("api")
    with acquired_place("api", bench.coordinator) as place:
        assert bench.holder("api") == place.holder
        assert place.tags["station"] == str(bench.station)
        assert sorted(place.resources) == sorted([*bench.lab.endpoints["instruments"], "can", "rs485"])
        # hil's resource classes, registered with labgrid's target factory, made the objects
        charger, can_port = place.resources["charger"], place.resources["can"]
        assert isinstance(charger, ScpiSocketInstrument) and isinstance(can_port, SocketcandCanPort)
        assert charger.visa_resource == bench.lab.endpoints["instruments"]["charger"]
        # a labgrid target configured as an environment file would, from the place's resources
        cells = place.resources["cells"]
        config = {
            "resources": [
                {"ScpiSocketInstrument": {"name": n, "host": r.host, "port": r.port}}
                for n, r in (("charger", charger), ("cells", cells))
            ]
            + [{"SocketcandCanPort": {"name": "can", "host": can_port.host, "port": can_port.port}}],
            "drivers": [
                {"ScpiSocketDriver": {"name": n, "bindings": {"instrument": n}}} for n in ("charger", "cells")
            ]
            + [{"SocketcandDriver": {"name": "can"}}],
        }
        target = target_factory.make_target("api-drivers", config)
        scpi = target.get_driver(ScpiSocketDriver, name="charger")
        idn = scpi.get_session().query("*IDN?").split(",")
        assert idn[:2] == ["Keysight Technologies", "N8920A"]
        # the BMS talks on CAN once its cells are powered: through the cell emulator's driver
        cell_driver = target.get_driver(ScpiSocketDriver, name="cells")
        for channel in range(1, 5):
            cell_driver.get_session().write(f"VOLT 3.3,(@{channel})")
        cell_driver.get_session().write("OUTP ON,(@1:4)")
        can_driver = target.get_driver(SocketcandDriver, name="can")
        control = ControlClient(bench.lab.endpoints["control"])
        try:
            frames = int(control.request("advance", dt=2.0).get("can_frames", 0))
        finally:
            control.close()
        assert frames > 0
        message = can_driver.get_bus().recv(timeout=5.0)
        assert message is not None
        cell_driver.get_session().write("OUTP OFF,(@1:4)")
        target.deactivate_all_drivers()
        # another place over the same bench: refused while this one holds the resources
        bench.make_place("api-overlap")
        overlap = hil("run", "--place", "api-overlap", "--coordinator", bench.coordinator, env=bench.env)
        assert overlap.returncode == 2 and overlap.stderr.count("\n") == 1
        assert re.match(
            rf"error: place api-overlap: its resource hil-exporter/{GROUP}/\w+/\w+ is in place api, "
            rf"held by {place.holder} \(since .*\); --wait to wait for it$",
            overlap.stderr,
        ), overlap.stderr
    assert bench.holder("api") is None


def test_plan_runs_through_a_place_and_a_second_client_is_refused(bench: Bench, tmp_path: Path) -> None:
    bench.make_place("bench-a")
    out = tmp_path / "run"
    first = bench.run(
        "--place",
        "bench-a",
        "--coordinator",
        bench.coordinator,
        "--reports",
        "junit",
        "--out",
        str(out),
        *SELECT,
    )
    try:
        acquired = _line(first.stdout, r"^place bench-a: acquired as ")
        first.send_signal(signal.SIGSTOP)  # held, and still held however slowly the second one starts
        holder = bench.holder("bench-a")
        assert holder is not None and f"acquired as {holder} " in acquired
        second = hil(
            "run",
            "--place",
            "bench-a",
            "--coordinator",
            bench.coordinator,
            "--out",
            str(tmp_path / "second"),
            *SELECT,
            env=bench.env,
        )
        assert second.returncode == 2, second.stderr
        assert second.stderr.count("\n") == 1
        assert f"place bench-a is held by {holder}" in second.stderr and "--wait" in second.stderr
        assert not (tmp_path / "second").exists()
        first.send_signal(signal.SIGCONT)
        code = first.wait(RUN_TIMEOUT_S)
        rest = first.stdout.read() if first.stdout else ""
        assert code == 0, rest + (first.stderr.read() if first.stderr else "")
    finally:
        first.send_signal(signal.SIGCONT)
        _stop(first)
    # the run used the place's resources, the station file's limits and calibration
    derived = load_station(out / "station-place-bench-a.yaml")
    config = yaml.safe_load(bench.exporter_config.read_text(encoding="utf-8"))[GROUP]
    original = load_station(bench.station)
    for name, inst in derived.instruments.items():
        assert inst.resource == f"TCPIP0::{config[name]['host']}::{config[name]['port']}::SOCKET"
        assert inst.limits == original.instruments[name].limits
        assert inst.calibration_due == original.instruments[name].calibration_due
    assert derived.buses.rs485 is not None and derived.buses.can is not None
    assert derived.buses.rs485.url == f"socket://127.0.0.1:{config['rs485']['port']}"
    assert derived.buses.can.port == config["can"]["port"]
    header = json.loads((out / "record.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert header["station"]["file"] == str(out / "station-place-bench-a.yaml")
    junit = ET.parse(out / "junit.xml").getroot()
    assert int(junit.get("tests") or junit[0].get("tests") or 0) == 1
    assert bench.holder("bench-a") is None  # released after the run


def test_wait_then_a_failing_run_still_releases(bench: Bench, tmp_path: Path) -> None:
    """--wait waits while the place is held; a run that fails (wrong DUT serial) releases it too."""
    bench.make_place("bench-b", tag_station=False)
    with acquired_place("bench-b", bench.coordinator) as held:
        waiting = bench.run(
            "--place", "bench-b", "--station", str(bench.station), "--coordinator", bench.coordinator,
            "--wait", "--serial", "NOT-THIS-UNIT", "--reports", "junit", "--out", str(tmp_path / "run"),
            *SELECT,
        )  # fmt: skip
        try:
            line = _line(waiting.stderr, r"^waiting, place bench-b is held by ")
            assert f"held by {held.holder} (since " in line
            assert waiting.poll() is None
        except BaseException:
            _stop(waiting)
            raise
    try:
        code = waiting.wait(RUN_TIMEOUT_S)
        output = (waiting.stdout.read() if waiting.stdout else "") + (
            waiting.stderr.read() if waiting.stderr else ""
        )
    finally:
        _stop(waiting)
    assert code not in (0, 128 + signal.SIGTERM), output
    assert "NOT-THIS-UNIT" in output
    assert bench.holder("bench-b") is None


def test_sigterm_releases_the_place(bench: Bench, tmp_path: Path) -> None:
    bench.make_place("bench-c")
    run = bench.run(
        "--place", "bench-c", "--coordinator", bench.coordinator, "--reports", "none",
        "--out", str(tmp_path / "run"), *SELECT,
    )  # fmt: skip
    try:
        _line(run.stdout, r"^place bench-c: acquired as ")
        run.send_signal(signal.SIGSTOP)  # the run may not end before the SIGTERM on a loaded machine
        assert bench.holder("bench-c") is not None
        run.send_signal(signal.SIGTERM)
        run.send_signal(signal.SIGCONT)
        assert run.wait(RUN_TIMEOUT_S) == 128 + signal.SIGTERM
    finally:
        run.send_signal(signal.SIGCONT)
        _stop(run)
    assert bench.holder("bench-c") is None


def test_place_without_station_is_one_line_and_exit_2(bench: Bench) -> None:
    bench.make_place("untagged", tag_station=False)
    result = hil("run", "--place", "untagged", "--coordinator", bench.coordinator, env=bench.env)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "set-tags station=" in result.stderr
    assert bench.holder("untagged") is None
    unknown = hil("run", "--place", "nowhere", "--coordinator", bench.coordinator, env=bench.env)
    assert unknown.returncode == 2 and "no place 'nowhere'" in unknown.stderr
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        nobody = f"127.0.0.1:{probe.getsockname()[1]}"
    down = hil("run", "--place", "untagged", "--coordinator", nobody, env=bench.env)
    assert down.returncode == 2
    assert down.stderr.startswith(f"error: no labgrid coordinator answers at {nobody} (")
    assert down.stderr.count("\n") == 1


# ------------------------------------------------------------------------ local locks


def test_local_locks_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIL_LOCK_DIR", str(tmp_path / "locks"))
    station = load_station(ROOT / "stations" / "bench-bms12100-example.yaml")
    held = hold_run_locks(station, tmp_path / "a")
    with pytest.raises(BusyError, match=rf"out folder .*/a is in use by another run \(pid {os.getpid()} on "):
        hold_run_locks(station, tmp_path / "a")
    # another bench that shares one instrument (the DMM) with this one, nothing else
    data = station.model_dump()
    shared = data["instruments"]["daq"]["resource"]
    for name, inst in data["instruments"].items():
        if name != "daq":
            inst["resource"] = inst["resource"].replace("192.168.10.", "192.168.99.")
    data["buses"]["can"]["channel"] = "PCAN_USBBUS2"
    data["buses"]["rs485"]["url"] = "/dev/ttyUSB7"
    other = StationModel.model_validate({**data, "name": "other-bench"})
    with pytest.raises(BusyError) as busy:
        hold_run_locks(other, tmp_path / "b")
    assert str(busy.value).startswith(
        f"station other-bench ({shared.lower()}) is in use by another run (pid "
    )
    held.release()
    hold_run_locks(station, tmp_path / "b").release()  # free again once released


def test_two_runs_one_folder_or_one_bench(bench: Bench, tmp_path: Path) -> None:
    """Without a coordinator: a second run into the same folder, or on the same bench, exits 2."""
    out = tmp_path / "run"
    first = bench.run("--station", str(bench.station), "--reports", "junit", "--out", str(out), *SELECT)
    try:
        deadline = time.monotonic() + 120
        while not (out / "record.jsonl").exists():
            assert first.poll() is None, first.stderr.read() if first.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.2)
        # the first run holds its locks; stopped meanwhile (virtual time waits), so that it is still
        # running however slowly the refused runs start on a loaded machine
        first.send_signal(signal.SIGSTOP)
        same_bench = hil(
            "run", "--station", str(bench.station), "--out", str(tmp_path / "other"), *SELECT, env=bench.env
        )
        same_folder = hil("run", "--reports", "junit", "--out", str(out), *SELECT, env=bench.env)
        bench.make_place("bench-d")
        place_same_folder = hil(
            "run",
            "--place",
            "bench-d",
            "--coordinator",
            bench.coordinator,
            "--out",
            str(out),
            *SELECT,
            env=bench.env,
        )
        first.send_signal(signal.SIGCONT)
        code = first.wait(RUN_TIMEOUT_S)
        assert code == 0, first.stderr.read() if first.stderr else ""
    finally:
        first.send_signal(signal.SIGCONT)
        _stop(first)
    assert place_same_folder.returncode == 2 and "out folder" in place_same_folder.stderr
    assert not (out / "station-place-bench-d.yaml").exists()
    assert bench.holder("bench-d") is None
    assert same_bench.returncode == 2
    assert same_bench.stderr.count("\n") == 1
    assert re.search(r"station sim-bms12100 \(sim lab tcp://127\.0\.0\.1:\d+\) is in use by another run "
                     rf"\(pid {first.pid} on \S+, since \d{{4}}-\d\d-\d\dT", same_bench.stderr)  # fmt: skip
    assert same_folder.returncode == 2
    assert same_folder.stderr.count("\n") == 1
    assert f"out folder {out.resolve()} is in use by another run (pid {first.pid} on " in same_folder.stderr
    # the first run's files are its own, whole: one test in the JUnit, a sealed record, its CAN log
    junit = ET.parse(out / "junit.xml").getroot()
    assert int(junit.get("tests") or junit[0].get("tests") or 0) == 1
    verified = hil("report", "--verify", str(out))
    assert verified.returncode == 0, verified.stderr
    assert (out / "can.asc").stat().st_size > 0
