"""The simulated lab from the outside: `hil sim serve` reached with plain third-party clients only.

Nothing here talks to the lab through the framework: pyvisa for the instruments, python-can for
CAN, cantools with the DBC file for decoding, pyserial and a Pylontech frame codec written in
this file for RS-485, and a raw socket for the control port.
"""

from __future__ import annotations

import itertools
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import can
import cantools
import pytest
import pyvisa
import serial

ROOT = Path(__file__).resolve().parents[1]
STATION = ROOT / "stations" / "sim-bms12100.yaml"
DBC = ROOT / "hil" / "duts" / "bms12100" / "protocol" / "inverter.dbc"

#: what each instrument's *IDN? names: vendor, model
IDN = {
    "charger": ("Keysight Technologies", "N8920A"),
    "load": ("ITECH Ltd.", "IT8906A-1200-240"),
    "cells": ("Keysight Technologies", "N6705C"),
    "ntc": ("IET Labs", "PRS-202-A-7-100m-0-1"),
    "daq": ("Keysight Technologies", "DAQ970A"),
    "fiu": ("Agilent Technologies", "34980A"),
}
CELL_VOLTS = (3.301, 3.312, 3.287, 3.325)
NTC_ADDRESSES = (5, 6, 7, 8)
NTC_DATA = "0000100000"  # 100000 steps of 0.1 ohm: 10 kohm, 25 degC on the BMS's NTCs
ADVANCE_S = 3.0
INVERTER_IDS = (0x351, 0x355, 0x356, 0x359, 0x35C, 0x35E)
#: the BMS's cell voltage accuracy (spec: +-20 mV)
CELL_ACCURACY_V = 0.020


# --- a Pylontech / YD/T 1363.3 frame codec of our own (deliberately not hil.protocols) ----------


def chksum(body: str) -> str:
    """16-bit two's complement of the sum of the ASCII codes between SOI and CHKSUM."""
    return f"{(-sum(body.encode('ascii'))) & 0xFFFF:04X}"


def length_field(info_chars: int) -> str:
    """LCHKSUM nibble + 12-bit LENID; the four nibbles add up to 0 mod 16."""
    nibbles = (info_chars >> 8) & 0xF, (info_chars >> 4) & 0xF, info_chars & 0xF
    return f"{(-sum(nibbles)) & 0xF:X}{info_chars:03X}"


def request(address: int, cid2: int, info: bytes) -> bytes:
    body = f"20{address:02X}46{cid2:02X}{length_field(2 * len(info))}{info.hex().upper()}"
    return f"~{body}{chksum(body)}\r".encode("ascii")


@dataclass
class Answer:
    address: int
    rtn: int
    info: bytes


def parse(frame: bytes) -> Answer:
    text = frame.decode("ascii")
    assert text.startswith("~") and text.endswith("\r"), text
    body, check = text[1:-5], text[-5:-1]
    assert chksum(body) == check, f"bad CHKSUM in {text!r}"
    length = body[8:12]
    lenid = int(length[1:], 16)
    assert length == length_field(lenid), f"bad LENGTH in {text!r}"
    info = body[12:]
    assert len(info) == lenid
    assert body[:2] == "20" and body[4:6] == "46"
    return Answer(int(body[2:4], 16), int(body[6:8], 16), bytes.fromhex(info))


@dataclass
class Analog:
    cells_mv: list[int]
    temps_c: list[float]
    current_a: float
    pack_mv: int


def parse_analog(info: bytes) -> Analog:
    """The 0x42 answer: INFOFLAG, pack, M, M cells, N, N temps, current, pack voltage, ..."""
    pos = 2
    count = info[pos]
    pos += 1
    cells = [int.from_bytes(info[pos + 2 * i : pos + 2 * i + 2], "big") for i in range(count)]
    pos += 2 * count
    ntemps = info[pos]
    pos += 1
    temps = [(int.from_bytes(info[pos + 2 * i : pos + 2 * i + 2], "big") - 2731) / 10 for i in range(ntemps)]
    pos += 2 * ntemps
    current = int.from_bytes(info[pos : pos + 2], "big", signed=True) / 100
    pack = int.from_bytes(info[pos + 2 : pos + 4], "big")
    return Analog(cells, temps, current, pack)


def test_own_codec_builds_the_documented_request() -> None:
    """Our codec against the frames of docs/protocols/bms12100-rs485.md (and the public one)."""
    assert request(1, 0x42, b"\x01") == b"~20014642E00201FD35\r"
    assert request(2, 0x42, b"\x02") == b"~20024642E00202FD33\r"
    assert request(1, 0xD2, b"") == b"~200146D20000FD9D\r"
    assert length_field(0x088) == "0088" and length_field(0x002) == "E002"


# --- the lab -------------------------------------------------------------------------------


@dataclass
class Lab:
    proc: subprocess.Popen[bytes]
    endpoints: dict[str, Any]
    rm: pyvisa.ResourceManager
    visa: dict[str, Any] = field(default_factory=dict)
    control: Any = None
    frames: list[can.Message] = field(default_factory=list)
    advance_reply: dict[str, Any] = field(default_factory=dict)

    def request(self, **message: Any) -> dict[str, Any]:
        self.control.write(json.dumps(message).encode() + b"\n")
        self.control.flush()
        reply: dict[str, Any] = json.loads(self.control.readline())
        return reply


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.stdin:
        proc.stdin.close()
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    if proc.stdout:
        proc.stdout.close()


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    """The lab started as a user would, instruments set with pyvisa, 3 s of virtual time run."""
    cmd = [sys.executable, "-m", "hil", "sim", "serve", "--station", str(STATION)]
    cmd += ["--no-pace", "--ephemeral-ports", "--exit-with-stdin"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    rm = pyvisa.ResourceManager("@py")
    visa: dict[str, Any] = {}
    sock = None
    bus = None
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.endswith(b"\n"), "the lab printed no endpoints line"
        state = Lab(proc, json.loads(line), rm, visa)
        for name, resource in state.endpoints["instruments"].items():
            visa[name] = rm.open_resource(
                resource, read_termination="\n", write_termination="\n", timeout=5000
            )
        cells = state.visa["cells"]
        for channel, volts in enumerate(CELL_VOLTS, start=1):
            cells.write(f"VOLT {volts},(@{channel})")
        cells.write("OUTP ON,(@1:4)")
        ntc = state.visa["ntc"]
        for address in NTC_ADDRESSES:
            ntc.write(f"++addr {address}")
            ntc.write(f"SOUR:DATA {NTC_DATA}")
        can_ep = state.endpoints["can"]
        bus = can.Bus(
            interface="socketcand", host=can_ep["host"], port=can_ep["port"], channel=can_ep["channel"]
        )
        host, _, port = state.endpoints["control"].removeprefix("tcp://").rpartition(":")
        sock = socket.create_connection((host, int(port)), timeout=30)
        state.control = sock.makefile("rwb")
        state.advance_reply = state.request(cmd="advance", dt=ADVANCE_S)
        expected = int(state.advance_reply.get("can_frames", 0))
        while len(state.frames) < expected:
            message = bus.recv(timeout=5.0)
            if message is None:
                break
            state.frames.append(message)
        yield state
    finally:
        if bus is not None:
            bus.shutdown()
        if sock is not None:
            sock.close()
        for resource in visa.values():
            resource.close()
        rm.close()
        _stop(proc)


def test_endpoints_line(lab: Lab) -> None:
    ep = lab.endpoints
    assert set(ep["instruments"]) == set(IDN)
    for resource in ep["instruments"].values():
        assert resource.startswith("TCPIP0::127.0.0.1::") and resource.endswith("::SOCKET")
    ports = [int(r.split("::")[2]) for r in ep["instruments"].values()]
    assert len(set(ports)) == len(ports)
    assert ep["can"]["interface"] == "socketcand"
    assert ep["can"]["host"] == "127.0.0.1" and ep["can"]["channel"] == "can0"
    assert isinstance(ep["can"]["port"], int) and ep["can"]["port"] > 0
    assert ep["rs485"].startswith("socket://127.0.0.1:")
    assert ep["control"].startswith("tcp://127.0.0.1:")
    assert ep["dut"] == "bms12100"
    assert ep["virtual_time"] is True
    # the control port hands out the same line
    assert lab.request(cmd="endpoints")["endpoints"] == ep


@pytest.mark.parametrize("name", sorted(IDN))
def test_every_instrument_answers_idn(lab: Lab, name: str) -> None:
    fields = lab.visa[name].query("*IDN?").split(",")
    assert len(fields) == 4
    assert (fields[0], fields[1]) == IDN[name]
    assert fields[2] and fields[3]


def test_instruments_read_back_what_was_set(lab: Lab) -> None:
    cells = lab.visa["cells"]
    readback = [float(v) for v in cells.query("VOLT? (@1:4)").split(",")]
    assert readback == pytest.approx(CELL_VOLTS, abs=1e-9)
    assert cells.query("OUTP? (@1:4)") == "1,1,1,1"
    assert cells.query("SYST:ERR?") == '0,"No error"'
    ntc = lab.visa["ntc"]
    for address in NTC_ADDRESSES:
        ntc.write(f"++addr {address}")
        assert ntc.query("SOUR:DATA?") == NTC_DATA
        assert ntc.query("*ESR?") == "0"


def test_advance_moves_virtual_time(lab: Lab) -> None:
    assert lab.advance_reply["ok"] is True
    assert lab.advance_reply["t"] == pytest.approx(ADVANCE_S)
    assert lab.advance_reply["can_last_t"] <= ADVANCE_S + 1e-9
    # without pacing, time stands still between requests
    assert lab.request(cmd="time")["t"] == pytest.approx(ADVANCE_S)


def test_control_port_refuses_bad_requests(lab: Lab) -> None:
    refused = lab.request(cmd="advance", dt=-1)
    assert refused["ok"] is False and "dt" in refused["error"]
    unknown = lab.request(cmd="teleport")
    assert unknown["ok"] is False and "teleport" in unknown["error"]
    assert lab.request(cmd="time")["t"] == pytest.approx(ADVANCE_S)


def decode(db: Any, message: can.Message) -> dict[str, Any]:
    """The DBC's reading of one frame (signal name -> physical value)."""
    decoded: dict[str, Any] = dict(db.decode_message(message.arbitration_id, bytes(message.data)))
    return decoded


def test_can_inverter_frames(lab: Lab) -> None:
    db: Any = cantools.database.load_file(str(DBC))
    assert lab.frames, "no CAN frames received"
    assert len(lab.frames) == lab.advance_reply["can_frames"]
    by_id: dict[int, list[can.Message]] = {}
    for message in lab.frames:
        by_id.setdefault(message.arbitration_id, []).append(message)
    assert set(by_id) == set(INVERTER_IDS)
    for can_id, messages in by_id.items():
        times = [m.timestamp for m in messages]
        # virtual timestamps: within the advanced interval, one frame per 1 s cycle
        assert all(0.0 <= t <= ADVANCE_S + 1e-6 for t in times), (hex(can_id), times)
        assert len(messages) == 3
        for a, b in itertools.pairwise(times):
            assert b - a == pytest.approx(1.0, abs=1e-6)
        assert not messages[0].is_extended_id
    last = {can_id: decode(db, messages[-1]) for can_id, messages in by_id.items()}
    assert last[0x356]["PackVoltage"] == pytest.approx(sum(CELL_VOLTS), abs=0.1)
    assert last[0x356]["PackCurrent"] == pytest.approx(0.0, abs=0.5)
    assert 20.0 <= last[0x356]["PackTemperature"] <= 30.0
    assert 0 <= last[0x355]["StateOfCharge"] <= 100
    assert 0 <= last[0x355]["StateOfHealth"] <= 100
    assert chr(last[0x359]["MarkerP"]) == "P" and chr(last[0x359]["MarkerN"]) == "N"
    protections = [k for k, v in last[0x359].items() if k.startswith(("Prot", "Alarm")) and v]
    assert protections == []  # nominal cells, 25 degC: nothing active
    assert last[0x35C]["ChargeEnable"] == 1 and last[0x35C]["DischargeEnable"] == 1
    assert last[0x351]["ChargeVoltageLimit"] > last[0x351]["DischargeVoltageLimit"] > 0
    name = bytes(last[0x35E][f"ManufacturerChar{i}"] for i in range(8)).decode("ascii")
    assert name.strip() and name.isprintable()


def test_rs485_analog_values(lab: Lab) -> None:
    port = serial.serial_for_url(lab.endpoints["rs485"], baudrate=9600, timeout=1)
    try:
        port.write(request(1, 0x42, b"\x01"))
        raw = port.read_until(b"\r")
    finally:
        port.close()
    answer = parse(raw)
    assert (answer.address, answer.rtn) == (1, 0)
    analog = parse_analog(answer.info)
    assert answer.info[1] == 1  # the pack address echoed
    assert len(analog.cells_mv) == 4
    for measured, volts in zip(analog.cells_mv, CELL_VOLTS):
        assert abs(measured / 1000 - volts) <= CELL_ACCURACY_V, (analog.cells_mv, CELL_VOLTS)
    assert len(analog.temps_c) == 4
    assert all(23.0 <= t <= 27.0 for t in analog.temps_c), analog.temps_c
    assert analog.current_a == pytest.approx(0.0, abs=0.5)
    assert abs(analog.pack_mv / 1000 - sum(CELL_VOLTS)) <= 0.1


def test_rs485_wrong_address_gets_no_answer(lab: Lab) -> None:
    port = serial.serial_for_url(lab.endpoints["rs485"], baudrate=9600, timeout=0.3)
    try:
        port.write(request(2, 0x42, b"\x02"))
        assert port.read_until(b"\r") == b""
    finally:
        port.close()


def test_control_outputs_show_the_states_set(lab: Lab) -> None:
    reply = lab.request(cmd="outputs")
    assert reply["ok"] is True
    outputs = reply["outputs"]
    assert set(outputs) == set(IDN)
    for channel, volts in enumerate(CELL_VOLTS, start=1):
        state = outputs["cells"][str(channel)]
        assert state["on"] is True
        assert state["voltage"] == pytest.approx(volts, abs=1e-9)
    for address in NTC_ADDRESSES:
        # PRS-202 tolerance class A: +-0.05 % of the setting
        assert outputs["ntc"][str(address)] == pytest.approx(10_000.0, rel=5e-4)
    assert outputs["charger"]["output"] is False
    assert outputs["load"]["input"] is False
    state = lab.request(cmd="state")["state"]
    assert state["powered"] is True
    assert state["v_pack"] == pytest.approx(sum(CELL_VOLTS), abs=1e-6)
