"""A station's labgrid exporter configuration: one resource per instrument, the CAN port, the RS-485 port.

The group is named after the station; each resource after the instrument (or `can`, `rs485`), so
a place that matches `*/STATION/*` gets resources named as the station file names them, and
`hil run --place` binds each one back to its instrument.

labgrid's own `labgrid-exporter` reads the file as it is: resource classes it has no export
handler for (hil's `ScpiSocketInstrument`, `SocketcandCanPort`) are handed to the coordinator
unchanged, as network resources; only the client (`hil run`) needs hil's classes. A serial device
path becomes labgrid's `RawSerialPort`, which the exporter shares through ser2net (RFC 2217).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from hil.errors import ConfigError
from hil.station.model import StationModel
from hil.station.station import AttachedLab, bind_endpoints, load_station

#: names of the bus resources (an instrument may not take them)
CAN, RS485 = "can", "rs485"

_SOCKET = re.compile(r"^TCPIP\d*::([^:]+)::(\d+)::SOCKET$", re.IGNORECASE)
_INSTR = re.compile(r"^([A-Za-z]+\d*)::(.+)::INSTR$", re.IGNORECASE)
_SERIAL_URL = re.compile(r"^(socket|rfc2217)://([^:/]+):(\d+)/?(?:\?.*)?$")


def instrument_resource(field: str, resource: str, file: Path) -> dict[str, Any]:
    """The exporter entry of one VISA resource string."""
    sock = _SOCKET.match(resource.strip())
    if sock:
        return {"cls": "ScpiSocketInstrument", "host": sock[1], "port": int(sock[2])}
    instr = _INSTR.match(resource.strip())
    if instr:  # labgrid's PyVISADevice: its driver opens TYPE::URL::INSTR
        return {"cls": "PyVISADevice", "type": instr[1], "url": instr[2]}
    raise ConfigError(
        str(file), field, f"a VISA resource ending in ::SOCKET or ::INSTR to export (got {resource!r})"
    )


def bench_model(file: Path) -> StationModel:
    """The station as the bench has it: a simulated station that attaches to a lab gets the lab's ports."""
    station = load_station(file)
    if not station.simulated:
        return station
    attach = station.sim.attach if station.sim else None
    if not attach:
        raise ConfigError(
            str(file),
            "sim.attach",
            "the control port of a running lab (tcp://HOST:PORT) to export a simulated station "
            "(without it every run starts a lab of its own: nothing to share)",
        )
    lab = AttachedLab(attach)
    try:
        return bind_endpoints(station, lab.endpoints)
    finally:
        lab.stop()


def exporter_config(file: Path, station: StationModel) -> dict[str, Any]:
    """The exporter configuration (labgrid's YAML) of a station as a plain dict."""
    lab_name = station.lab.name if station.lab is not None else ""
    group: dict[str, Any] = {"location": lab_name or station.description or station.name}
    for name, inst in station.instruments.items():
        if name in (CAN, RS485):
            raise ConfigError(
                str(file), f"instruments.{name}", f"an instrument name other than {CAN!r} and {RS485!r}"
            )
        group[name] = instrument_resource(f"instruments.{name}.resource", inst.resource, file)
    can = station.buses.can
    if can is not None:
        if can.interface != "socketcand" or can.host is None or can.port is None:
            raise ConfigError(
                str(file),
                "buses.can.interface",
                "socketcand with host and port to share the bus (serve a local SocketCAN "
                f"interface with socketcand; got {can.interface!r})",
            )
        group[CAN] = {
            "cls": "SocketcandCanPort",
            "host": can.host,
            "port": can.port,
            "channel": can.channel,
            "bitrate": can.bitrate,
        }
    rs485 = station.buses.rs485
    if rs485 is not None:
        url = _SERIAL_URL.match(rs485.url.strip())
        if url:
            protocol = "raw" if url[1] == "socket" else "rfc2217"
            group[RS485] = {
                "cls": "NetworkSerialPort",
                "host": url[2],
                "port": int(url[3]),
                "speed": rs485.baudrate,
                "protocol": protocol,
            }
        elif rs485.url.startswith("/dev/"):
            group[RS485] = {"cls": "RawSerialPort", "port": rs485.url, "speed": rs485.baudrate}
        else:
            raise ConfigError(
                str(file),
                "buses.rs485.url",
                f"socket://HOST:PORT, rfc2217://HOST:PORT or a /dev/ path to export (got {rs485.url!r})",
            )
    return {station.name: group}


def render(file: Path) -> str:
    """The exporter configuration file's text for the station file `file`."""
    station = bench_model(file)
    body = yaml.safe_dump(exporter_config(file, station), sort_keys=False)
    # labgrid renders the file with Jinja2 first: a line starting with "#" is a statement there,
    # so comments take "##"
    header = (
        f"## labgrid exporter configuration of station {station.name} ({file}),\n"
        "## written by `hil labgrid exporter`; serve it with `labgrid-exporter -c COORDINATOR FILE`\n"
    )
    return header + body
