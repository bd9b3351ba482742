"""`hil sim serve --station FILE` as a user starts it: on the station file's ports, outputs off."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from hilcli import ROOT

SIM = ROOT / "stations" / "sim-bms12100.yaml"


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for sock in socks:
        sock.bind(("127.0.0.1", 0))
    ports = [int(sock.getsockname()[1]) for sock in socks]
    for sock in socks:
        sock.close()
    return ports


def _serve(station: Path, *extra: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "hil", "sim", "serve", "--station", str(station), *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, proc.stderr.read() if proc.stderr else ""
    return proc, json.loads(line)


def _ask(resource: str, command: str) -> str:
    port = int(resource.split("::")[2])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(command.encode() + b"\n")
        return sock.makefile().readline().strip()


def test_sim_serve_uses_the_station_files_ports_and_starts_with_outputs_off(tmp_path: Path) -> None:
    data = yaml.safe_load(SIM.read_text(encoding="utf-8"))
    ports = _free_ports(len(data["instruments"]) + 2)
    for port, inst in zip(ports, data["instruments"].values(), strict=False):
        inst["resource"] = f"TCPIP0::127.0.0.1::{port}::SOCKET"
    data["buses"]["can"]["port"] = ports[-2]
    data["buses"]["rs485"]["url"] = f"socket://127.0.0.1:{ports[-1]}"
    station = tmp_path / "station.yaml"
    station.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    proc, endpoints = _serve(station)
    try:
        for (name, inst), resource in zip(
            data["instruments"].items(), endpoints["instruments"].values(), strict=True
        ):
            assert endpoints["instruments"][name] == inst["resource"] == resource
        assert endpoints["can"]["port"] == ports[-2]
        assert endpoints["rs485"] == f"socket://127.0.0.1:{ports[-1]}"
        assert endpoints["outputs"].startswith("off")
        cells = endpoints["instruments"]["cells"]
        assert "N6705C" in _ask(cells, "*IDN?")
        assert _ask(cells, "OUTP? (@1:4)").replace("+", "") == "0,0,0,0"  # nothing powered yet
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def test_ephemeral_ports_ignore_the_station_files(tmp_path: Path) -> None:
    proc, endpoints = _serve(SIM, "--ephemeral-ports")
    try:
        assert "TCPIP0::127.0.0.1::5025::SOCKET" not in endpoints["instruments"].values()
        assert endpoints["rs485"] != "socket://127.0.0.1:7001"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def _pylontech(cid2: int, info: bytes, adr: int = 1) -> bytes:
    """A Pylontech request frame as a third-party host builds it (ASCII hex, LCHKSUM, CHKSUM)."""
    body = f"{0x20:02X}{adr:02X}46{cid2:02X}".encode()
    length = len(info) * 2
    lchk = (~(sum(int(c, 16) for c in f"{length:03X}")) + 1) & 0xF
    body += f"{lchk:X}{length:03X}".encode() + info.hex().upper().encode()
    chk = (~sum(body) + 1) & 0xFFFF
    return b"~" + body + f"{chk:04X}".encode() + b"\r"


def test_power_on_lets_a_third_party_pylontech_client_read_the_pack() -> None:
    proc, endpoints = _serve(SIM, "--ephemeral-ports", "--power-on", "--no-pace")
    try:
        assert endpoints["outputs"].startswith("on: cells at nominal")
        host, port = endpoints["rs485"].removeprefix("socket://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            for cid2 in (0x42, 0x44):
                for info in (bytes([1]), bytes([1, 1])):  # one byte, and pack address + pack number
                    sock.sendall(_pylontech(cid2, info))
                    answer = b""
                    while not answer.endswith(b"\r"):
                        answer += sock.recv(1)
                    assert answer.startswith(b"~20014600"), (hex(cid2), info, answer)  # RTN 00
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
