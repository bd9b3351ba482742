"""A DUT family is a plug-in: a third family, written in a temporary folder and registered only
through the `hil.duts` entry point, runs its plan on the simulated lab with no file of this
checkout edited (docs/families.md).

The family is a voltage reference that tells its serial number over Modbus TCP: a configuration
model, a client (pymodbus), a bench, a sim plant that wires the DMM to the reference's outputs and
answers Modbus requests, a spec of two requirements, a simulated station and one plan file. Its
distribution is a `*.dist-info` folder (METADATA and entry_points.txt) beside the package, put on
the PYTHONPATH of the `hil` subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NAME = "toy-ref"
PACKAGE = "toyref_family"

FILES: dict[str, str] = {
    "__init__.py": '''
"""A voltage reference with two outputs and a Modbus TCP port: a small DUT family."""

from pathlib import Path

from hil.family import DutFamily

FAMILY = DutFamily(
    name="toy-ref",
    title="Toy voltage reference (two outputs, Modbus TCP)",
    package=__name__,
    config=".config:ToyConfig",
    client=".client:ToyClient",
    bench=".bench:ToyBench",
    plant=".sim.plant:ToyPlant",
    buses=("modbus_tcp",),
    default_station=Path("stations/sim-toy.yaml"),
    plan_dir=Path("plans"),
    serial_pattern=r"TOY\\d{4}",
)
''',
    "config.py": '''
"""The reference's configuration: its two output voltages."""

from pydantic import BaseModel, ConfigDict, Field


class ToyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference_v: float = Field(default=3.3, gt=0)
    bias_v: float = Field(default=1.2, gt=0)
    serial_number: int = Field(default=1, ge=0, le=9999)
''',
    "client.py": '''
"""The client: the serial number from holding register 0, over the station's Modbus TCP bus."""

from typing import Any

from pymodbus.client import ModbusTcpClient

from hil.dut import DutClient


class ToyClient(DutClient):
    def __init__(self, station: Any, can_monitor: Any) -> None:
        assert can_monitor is None, "the family declares no CAN bus"
        bus = station.model.buses.modbus_tcp
        self.unit = bus.unit
        self.modbus = ModbusTcpClient(bus.host, port=bus.port, timeout=bus.timeout_s)
        assert self.modbus.connect(), f"no Modbus TCP connection to {bus.host}:{bus.port}"

    def identity(self) -> dict[str, Any]:
        answer = self.modbus.read_holding_registers(0, count=1, device_id=self.unit)
        assert not answer.isError(), answer
        serial = f"TOY{answer.registers[0]:04d}"
        return {"serial": serial, "model": "Toy reference", "manufacturer": "Example", "firmware": "1.0"}

    def close(self) -> None:
        self.modbus.close()
''',
    "bench.py": '''
"""The bench on the shared base (hil.bench): nothing to power (the reference is always on), no
protection to trip, no stimulated quantity."""

from typing import Any

from hil.bench import DutBench
from hil.models.ntc import BetaNtc


class ToyBench(DutBench):
    def __init__(self, station: Any, client: Any) -> None:
        super().__init__(station, BetaNtc(r_ref_ohm=10_000.0, beta_k=3435.0))
        self.client = client

    def power_up(self) -> None:
        pass

    def prepare(self) -> None:
        pass

    def tripped(self, req: Any) -> bool:
        return False

    def rearm(self, req: Any) -> None:
        pass

    def settle(self, req: Any) -> float:
        return self.settle_s

    def setting_error(self, req: Any, value: float) -> tuple[str, float]:
        raise NotImplementedError(f"{req.id}: the reference has no stimulated quantity")
''',
    "sim/__init__.py": "",
    "sim/plant.py": '''
"""The reference's outputs on the DMM's points REF and BIAS, from its configuration; its serial
number in holding register 0 (Modbus TCP, decoded and encoded by pymodbus)."""

from typing import Any

from pymodbus.framer import FramerSocket
from pymodbus.pdu import DecodePDU
from pymodbus.pdu.register_message import ReadHoldingRegistersResponse

from hil.sim.plant import Plant

from ..config import ToyConfig


class ToyPlant(Plant):
    def __init__(self, station, instruments, settings, seed, publish) -> None:
        super().__init__(station, instruments, settings, seed, publish)
        self.load_settings(settings or {})
        for sim in instruments.values():
            if hasattr(sim, "probe"):
                sim.probe = self.probe

    def probe(self, point: str, quantity: str) -> float:
        outputs = {"REF": self.config.reference_v, "BIAS": self.config.bias_v}
        return outputs.get(point, 0.0) if quantity == "VOLT" else 0.0

    def modbus_tcp(self, t: float, data: bytes) -> bytes:
        framer = FramerSocket(DecodePDU(is_server=True))
        _, request = framer.handleFrame(data, 0, 0)
        if request is None:
            return b""
        answer = ReadHoldingRegistersResponse(
            registers=[self.config.serial_number],
            dev_id=request.dev_id,
            transaction_id=request.transaction_id,
        )
        return framer.buildFrame(answer)

    def power_on(self, t: float) -> None:
        pass

    def step(self, t: float, dt: float) -> None:
        pass

    def max_step(self, t: float) -> float:
        return 1.0

    def settings(self) -> dict[str, Any]:
        return self.config.model_dump()

    def load_settings(self, settings: dict[str, Any]) -> None:
        self.config = ToyConfig.model_validate(settings)

    def state(self) -> dict[str, Any]:
        return {"reference_v": self.config.reference_v}
''',
    "spec.yaml": """
dut: toy-ref
title: Toy voltage reference
version: "1"
source: tests/test_family_plugin.py
requirements:
  - id: TOY-REF
    section: "1"
    title: Reference output voltage
    kind: electrical
    quantity: voltage
    unit: V
    value: 3.3
    tolerance: 0.01
    eol: {class: unit, reason: trimmed on every unit}
  - id: TOY-BIAS
    section: "2"
    title: Bias output voltage
    kind: electrical
    quantity: voltage
    unit: V
    value: 1.2
    tolerance: 0.01
    eol: {class: unit, reason: trimmed on every unit}
""",
    "stations/sim-toy.yaml": """
name: sim-toy
description: Simulated toy reference bench
simulated: true
dut: {name: toy-ref}
buses:
  modbus_tcp: {host: 127.0.0.1, port: 5020}
instruments:
  daq:
    role: dmm
    driver: keysight-daq970a
    model: Keysight DAQ970A + DAQM901A
    resource: TCPIP0::127.0.0.1::5029::SOCKET
    channels: {REF: "101", BIAS: "102"}
    accuracy:
      voltage: {gain: 0.00004, offset: 0.00005, resolution: 0.000001}
    asset_id: SIM-DAQ-001
    serial: SIMDAQ0001
    calibration_due: 2099-12-31
""",
    "plans/test_outputs.py": '''
"""The reference's two outputs, each within its tolerance."""

import pytest
from hil.measure import within


@pytest.mark.parametrize(
    ("rid", "point"),
    [
        pytest.param("TOY-REF", "REF", marks=pytest.mark.requirement("TOY-REF")),
        pytest.param("TOY-BIAS", "BIAS", marks=pytest.mark.requirement("TOY-BIAS")),
    ],
)
def test_output_voltage(rid, point, spec, dut, dmm, clock, check):
    row = spec.get(rid)
    value = dmm.measure_dc_voltage(point)
    low, high = row.value - row.tolerance, row.value + row.tolerance
    check(within(rid, f"{point} voltage", value, "V", clock.now(), low=low, high=high, uncertainty=0.0005))
''',
}


def _write_family(base: Path, entry_point: str, files: dict[str, str]) -> Path:
    """The package and its distribution's metadata under `base`; returns the PYTHONPATH entry."""
    site = base / "site"
    for name, text in files.items():
        path = site / PACKAGE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"), encoding="utf-8")
    info = site / "toyref_family-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toyref-family\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[hil.duts]\n{NAME} = {entry_point}\n")
    return site


def _hil(site: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "hil", *args],
        cwd=site.parent,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _tracked_state() -> str:
    """`git status` of this checkout: the run must leave it as it found it."""
    return subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=all"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _entries(out: Path) -> list[dict[str, Any]]:
    lines = (out / "record.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.mark.slow
def test_a_third_family_from_a_temporary_folder_runs_its_plan_on_the_sim(tmp_path: Path) -> None:
    site = _write_family(tmp_path, f"{PACKAGE}:FAMILY", FILES)
    before = _tracked_state()
    station = site / PACKAGE / "stations" / "sim-toy.yaml"
    out = tmp_path / "out"

    listed = _hil(site, "dut", "config", NAME)
    assert listed.returncode == 0, listed.stderr
    assert yaml.safe_load(listed.stdout) == {"reference_v": 3.3, "bias_v": 1.2, "serial_number": 1}

    args = ("run", "--dut", NAME, "--station", str(station))
    result = _hil(site, *args, "--out", str(out), "--reports", "html")
    assert result.returncode == 0, result.stdout + result.stderr
    entries = _entries(out)
    header = entries[0]
    assert header["type"] == "header"
    assert header["dut"]["family"] == NAME
    assert header["spec"]["sha256"]
    assert next(e for e in entries if e["type"] == "dut")["serial"] == "TOY0001"
    verdicts = {m["requirement"]: m["verdict"] for m in entries if m["type"] == "measurement"}
    assert verdicts == {"TOY-REF": "pass", "TOY-BIAS": "pass"}
    values = {m["requirement"]: m["value"] for m in entries if m["type"] == "measurement"}
    assert values["TOY-REF"] == pytest.approx(3.3, abs=0.001)
    assert values["TOY-BIAS"] == pytest.approx(1.2, abs=0.001)
    assert entries[-1]["type"] == "end" and entries[-1]["status"] == "completed"
    assert (out / "report.html").exists()

    # a non-conforming unit: its configuration moves the reference out of tolerance, the run fails
    # naming that requirement only
    moved = tmp_path / "moved.yaml"
    moved.write_text("reference_v: 3.35\nbias_v: 1.2\nserial_number: 42\n", encoding="utf-8")
    out2 = tmp_path / "out2"
    failed = _hil(site, *args, "--dut-config", str(moved), "--out", str(out2), "--reports", "none")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    verdicts = {m["requirement"]: m["verdict"] for m in _entries(out2) if m["type"] == "measurement"}
    assert verdicts == {"TOY-REF": "fail", "TOY-BIAS": "pass"}
    assert next(e for e in _entries(out2) if e["type"] == "dut")["serial"] == "TOY0042"  # over Modbus

    assert _tracked_state() == before  # nothing of this checkout was edited


@pytest.mark.parametrize(
    ("entry_point", "says"),
    [
        ("toyref_missing_module:FAMILY", "No module named 'toyref_missing_module'"),
        (f"{PACKAGE}:NOT_THERE", "NOT_THERE"),
    ],
)
def test_a_broken_family_entry_point_is_one_line_and_exit_2(
    tmp_path: Path, entry_point: str, says: str
) -> None:
    site = _write_family(tmp_path, entry_point, FILES)
    result = _hil(site, "run", "--dut", NAME, "--out", str(tmp_path / "out"), timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: DUT family {NAME!r}") and says in lines[0]
    assert not (tmp_path / "out").exists()
    # the other families still run: a broken plug-in stops only what names it
    listed = _hil(site, "dut", "config", "bms12100", timeout=60)
    assert listed.returncode == 0, listed.stderr


def test_an_unknown_family_names_the_installed_ones_including_a_plug_in(tmp_path: Path) -> None:
    site = _write_family(tmp_path, f"{PACKAGE}:FAMILY", FILES)
    result = _hil(site, "dut", "config", "nosuchdut", timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: unknown DUT 'nosuchdut'; known DUTs: bms12100, movicom-main-2.1, movicom-main-2r, "
        f"prohelion-d1000-gen2, {NAME}"
    ]


def test_the_old_spellings_of_config_work_with_one_deprecation_line(tmp_path: Path) -> None:
    from hil.duts.bms12100.config import Bms12100Config, Settings

    assert Settings is Bms12100Config
    new = _hil(tmp_path, "dut", "config", "bms12100", timeout=60)
    old = _hil(tmp_path, "dut", "settings", "bms12100", timeout=60)
    assert new.returncode == old.returncode == 0
    assert new.stderr == ""
    assert old.stdout == new.stdout
    assert old.stderr.splitlines() == ["note: `hil dut settings` is deprecated; use `hil dut config`"]
    unit = tmp_path / "unit.yaml"
    unit.write_text(new.stdout, encoding="utf-8")
    listed = _hil(tmp_path, "run", "--firmware", str(unit), "--list", "--profile", "eol", timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr.splitlines() == ["note: --firmware is deprecated; use --dut-config"]
    assert "CV-OVP" in listed.stdout


def test_a_plant_without_framing_spoils_serial_bytes_generically() -> None:
    import random

    from hil.sim.plant import corrupt_bytes

    answer = b"\x01\x03\x02\x00\x2a\x38\x5e"  # a Modbus RTU answer: no YD/T 1363 framing
    rng = random.Random(1)
    assert corrupt_bytes("silent", answer, rng) == b""
    assert corrupt_bytes("truncate", answer, rng) == answer[:3]
    assert corrupt_bytes("checksum", answer, rng) == answer[:-1] + bytes([0x5E ^ 0xFF])
    assert corrupt_bytes("address", answer, rng) == answer
    garbage = corrupt_bytes("garbage", answer, rng)
    assert len(garbage) == len(answer) and garbage != answer


def test_a_modbus_tcp_bus_is_a_station_bus_and_is_probed() -> None:
    import socket

    from hil.station.check import probe_buses
    from hil.station.model import StationModel

    data = yaml.safe_load((ROOT / "stations" / "sim-bms12100.yaml").read_text(encoding="utf-8"))
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    data["buses"] = {"modbus_tcp": {"host": "127.0.0.1", "port": port, "timeout_s": 0.5}}
    refused = probe_buses(StationModel.model_validate(data), None)
    assert [p.field for p in refused] == ["buses.modbus_tcp"]
    assert "accepts a connection" in refused[0].expected
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        data["buses"]["modbus_tcp"]["port"] = server.getsockname()[1]
        model = StationModel.model_validate(data)
        assert model.buses.modbus_tcp is not None and model.buses.modbus_tcp.unit == 1
        assert probe_buses(model, None) == []


def test_the_bus_vocabulary_is_the_station_files_bus_keys() -> None:
    from hil.family import BUSES
    from hil.station.model import BusesModel

    assert tuple(BusesModel.model_fields) == BUSES == ("can", "rs485", "modbus_tcp")
