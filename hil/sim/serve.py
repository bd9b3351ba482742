"""`hil sim serve`: run the lab behind its transports and print the endpoints line.

Endpoints: one SCPI socket per instrument, a socketcand hub for the CAN bus, a raw TCP serial
port for RS-485, a Modbus TCP port when the DUT family declares that bus (its plant answers the
bytes), and a JSON-lines control port for what only a simulator has (virtual clock,
firmware settings, reset, instrument output states, communication faults of an instrument, the
fault-insertion relays without SCPI).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import re
import signal
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from hil.sim.lab import Lab
from hil.sim.tcp import serve_scpi
from hil.station.model import StationModel

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
# Fixed ports when a person starts the lab (so their tools can be pointed at it); ephemeral for tests.
SCPI_BASE_PORT = 5025
CAN_PORT = 29536
RS485_PORT = 7001
MODBUS_TCP_PORT = 5020  # not 502: a privileged port
CONTROL_PORT = 7100
PACE_TICK_S = 0.01


@dataclass
class ServeOptions:
    pace: bool = True
    rate: float = 1.0
    ephemeral_ports: bool = False
    exit_with_stdin: bool = False  # stop when standard input closes (the parent process is gone)
    #: run in a thread once the lab serves, before the endpoints line (`--power-on`); returns what
    #: the endpoints line says about the outputs
    after_start: Callable[[dict[str, Any]], str] | None = None


class LabServer:
    """Hosts a Lab on TCP sockets inside one asyncio loop."""

    def __init__(self, lab: Lab, options: ServeOptions) -> None:
        self.lab = lab
        self.options = options
        self.pace = options.pace
        self.rate = options.rate
        self._servers: list[asyncio.Server] = []
        self._stop = asyncio.Event()
        self._links: set[asyncio.Transport] = set()  # open RS-485 and Modbus TCP connections
        self.endpoints: dict[str, Any] = {}

    def _port(self, fixed: int) -> int:
        return 0 if self.options.ephemeral_ports else fixed

    async def start(self) -> dict[str, Any]:
        instruments: dict[str, str] = {}
        ports = station_ports(self.lab.station)
        for i, (name, sim) in enumerate(self.lab.instruments.items()):
            server = await serve_scpi(sim, HOST, self._port(ports.get(name, SCPI_BASE_PORT + i)))
            self._servers.append(server)
            instruments[name] = f"TCPIP0::{HOST}::{_port_of(server)}::SOCKET"
        can = await asyncio.start_server(self.lab.hub.handle, HOST, self._port(ports.get("can", CAN_PORT)))
        loop = asyncio.get_running_loop()
        rs485 = await loop.create_server(
            lambda: _Answering(self.lab.serial, self._links), HOST, self._port(ports.get("rs485", RS485_PORT))
        )
        control = await asyncio.start_server(
            self._control, HOST, self._port(ports.get("control", CONTROL_PORT))
        )
        self._servers += [can, rs485, control]
        modbus = None
        if "modbus_tcp" in self.lab.family.buses:
            port = self._port(ports.get("modbus_tcp", MODBUS_TCP_PORT))
            modbus = await loop.create_server(
                lambda: _Answering(lambda data: self.lab.plant.modbus_tcp(self.lab.t, data), self._links),
                HOST,
                port,
            )
            self._servers.append(modbus)
        self.endpoints = {
            "instruments": instruments,
            "can": {
                "interface": "socketcand",
                "host": HOST,
                "port": _port_of(can),
                "channel": self.lab.hub.channel,
            },
            "rs485": f"socket://{HOST}:{_port_of(rs485)}",
            **({"modbus_tcp": {"host": HOST, "port": _port_of(modbus)}} if modbus is not None else {}),
            "control": f"tcp://{HOST}:{_port_of(control)}",
            "dut": self.lab.station.dut.name,
            "seed": self.lab.seed,  # the noise seed in use (recorded by the run)
            "virtual_time": not self.pace,
            # as on a real bench: nothing is powered until a client (or --power-on) turns it on
            "outputs": "off: every instrument output is off and the DUT unpowered until the cells are on",
        }
        return self.endpoints

    async def run(self) -> None:
        pacer = asyncio.create_task(self._pace()) if self.pace else None
        await self._stop.wait()
        if pacer:
            pacer.cancel()
        for server in self._servers:
            server.close()
        for link in list(self._links):
            link.close()

    def stop(self) -> None:
        self._stop.set()

    async def _pace(self) -> None:
        """Keep virtual time in step with the wall clock (times `rate`)."""
        wall0, virt0 = time.monotonic(), self.lab.t
        while True:
            await asyncio.sleep(PACE_TICK_S)
            if not self.pace:
                wall0, virt0 = time.monotonic(), self.lab.t
                continue
            target = virt0 + (time.monotonic() - wall0) * self.rate
            if target > self.lab.t:
                self.lab.advance(target - self.lab.t)

    async def _control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                raw = await reader.readline()
                if not raw:
                    break
                # the frames the request puts on the bus go out before its answer: the capture has
                # them by the time the client reads the answer and asks for them
                with self.lab.hub.batched():
                    try:
                        request = json.loads(raw)
                        reply = {"ok": True, **self._handle(request)}
                    except Exception as exc:  # every failure goes back to the client as an answer
                        reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass  # client gone, or the lab is stopping
        finally:
            writer.close()

    def _handle(self, request: dict[str, Any]) -> dict[str, Any]:
        cmd = request.get("cmd")
        lab = self.lab
        if cmd == "time":
            pass  # the common reply below carries the time and the CAN counters
        elif cmd == "advance":
            dt = float(request["dt"])
            if dt < 0:
                raise ValueError("dt must be >= 0")
            lab.advance(dt)
        elif cmd == "pace":
            self.pace = bool(request["on"])
            self.rate = float(request.get("rate", self.rate))
        elif cmd == "settings":
            return {"t": lab.t, "settings": lab.plant.settings()}
        elif cmd == "load_settings":
            lab.plant.load_settings(request["settings"])
        elif cmd == "reset":
            lab.reset(request.get("settings"))
        elif cmd == "outputs":
            return {"t": lab.t, "outputs": lab.outputs()}
        elif cmd == "fault":
            # {"instrument": NAME, "mode": "timeout"|"disconnect"|"none", "count": N (optional)}
            name = str(request["instrument"])
            if name not in lab.instruments:
                raise ValueError(f"no instrument {name!r}; known: {', '.join(lab.instruments)}")
            count = request.get("count")
            lab.instruments[name].inject_fault(str(request["mode"]), None if count is None else int(count))
            return {"t": lab.t, "fault": lab.instruments[name].fault()}
        elif cmd == "state":
            return {"t": lab.t, "state": lab.plant.state()}
        elif cmd == "fault_insert":
            # {"point": a terminal of the station's switch role, e.g. "T_CELL1_OPEN", "on": true|false}
            on = request.get("on")
            if not isinstance(on, bool):
                raise ValueError("fault_insert needs 'on': true (insert) or false (remove)")
            return {"t": lab.t, "fault_insert": insert_fault(lab, str(request.get("point")), on)}
        elif cmd == "rs485_fault":
            # {"mode": "checksum"|"length"|"truncate"|"garbage"|"address"|"silent"|"none", "count": N}
            count = request.get("count")
            fault = lab.set_rs485_fault(str(request["mode"]), None if count is None else int(count))
            return {"t": lab.t, "rs485_fault": fault}
        elif cmd == "can_fault":
            # {"mode": "error_frame"|"bus_off"|"silent"|"none", "count": N (error frames, default 1)}
            fault = lab.set_can_fault(str(request["mode"]), int(request.get("count", 1)))
            reply = {"t": lab.t, "can_fault": fault}
            return reply | {"can_frames": lab.hub.frames_published, "can_last_t": lab.hub.last_timestamp}
        elif cmd == "endpoints":
            return {"t": lab.t, "endpoints": self.endpoints}
        elif cmd == "can_load":
            rate, duration = float(request["rate"]), float(request["duration"])
            can_id = int(request.get("can_id", 0x7F0))
            if not (0 < rate < math.inf and 0 < duration < math.inf and 0 <= can_id <= 0x1FFFFFFF):
                raise ValueError("can_load needs rate > 0, duration > 0 and 0 <= can_id <= 0x1FFFFFFF")
            running = getattr(self, "_can_load_task", None)  # set by an earlier can_load
            if running is not None and not running.done():
                raise ValueError("a CAN load is already running; wait until can_load_status says it ended")
            state = {"rate": rate, "duration": duration, "can_id": can_id, "sent": 0, "running": True}
            self._can_load_state: dict[str, Any] = state
            self._can_load_task = asyncio.get_running_loop().create_task(self._can_load(state))
            return {"t": lab.t, "started": True}
        elif cmd == "can_load_status":
            return {"t": lab.t, **getattr(self, "_can_load_state", {"sent": 0, "running": False})}
        else:
            raise ValueError(f"unknown command {cmd!r}")
        return {"t": lab.t, "can_frames": lab.hub.frames_published, "can_last_t": lab.hub.last_timestamp}

    async def _can_load(self, state: dict[str, Any]) -> None:
        """The bench's CAN stress tool: `rate` frames/s on `can_id` for `duration` s of wall time.

        Frame n is due at start + n/rate on the monotonic clock; each wake-up publishes every frame
        due by then, so batches grow when a wake-up is late and rates above the tick rate hold. Data
        (little-endian): uint32 sequence number from 0, uint32 microseconds of wall time since the
        load started (`wall_t0` in the status, POSIX seconds) when the frame was published, modulo
        2**32. The bus timestamp is the lab's time, like every other frame's.
        """
        hub, rate, can_id = self.lab.hub, float(state["rate"]), int(state["can_id"])
        total = max(1, round(rate * float(state["duration"])))
        extended = can_id > 0x7FF
        pack = struct.Struct("<II").pack
        start = time.monotonic()
        state["wall_t0"] = time.time()
        try:
            sent = 0
            while sent < total:
                elapsed = time.monotonic() - start
                due = min(total, int(elapsed * rate) + 1)
                stamp = int(elapsed * 1e6) & 0xFFFFFFFF
                for seq in range(sent, due):
                    hub.publish(self.lab.t, can_id, pack(seq & 0xFFFFFFFF, stamp), extended)
                sent = state["sent"] = due
                if sent < total:
                    # until the next frame is due, but at least 1 ms: one batch per loop tick at high rates
                    await asyncio.sleep(max(sent / rate - (time.monotonic() - start), 0.001))
        finally:
            state["running"] = False


class _Answering(asyncio.Protocol):
    """A byte link to the DUT (RS-485, Modbus TCP): the bytes that arrive, the DUT's answer out.

    No stream reader, future, task or drain between a request and its answer. The answer is made
    one event-loop hop after the bytes arrive, as a stream handler's would be: bytes that reached
    the lab earlier on another socket (a CAN frame, a closed CAN connection) are taken first.
    """

    def __init__(self, answer: Callable[[bytes], bytes], links: set[asyncio.Transport]) -> None:
        self._answer = answer
        self._links = links  # the server's open links, closed when the lab stops
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._links.add(transport)

    def data_received(self, data: bytes) -> None:
        asyncio.get_running_loop().call_soon(self._reply, data)

    def _reply(self, data: bytes) -> None:
        """The DUT takes the bytes even when the client has gone meanwhile (they reached it)."""
        try:
            reply = self._answer(data)
        except Exception:
            log.exception("DUT link: no answer, connection closed")
            if self._transport is not None:
                self._transport.close()
            return
        if reply and self._transport is not None and not self._transport.is_closing():
            self._transport.write(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._links.discard(self._transport)
        self._transport = None


def insert_fault(lab: Lab, point: str, on: bool) -> dict[str, Any]:
    """Close (`on`) or open the relay wired to the fault point `point`, with the switch's own SCPI
    ROUTe:CLOSe/OPEN; straight to its engine, so a communication fault on its port does not stop it."""
    switches = {
        name: inst.channels for name, inst in lab.station.instruments.items() if inst.role == "switch"
    }
    wired = {p: (name, ch) for name, channels in switches.items() for p, ch in channels.items()}
    if point not in wired:
        raise ValueError(f"no fault point {point!r}; known: {', '.join(sorted(wired)) or 'none'}")

    def ask(p: str, header: str) -> str | None:
        name, channel = wired[p]
        return lab.instruments[name].engine.execute(f"{header} (@{channel})")

    engine = lab.instruments[wired[point][0]].engine
    errors = engine.execute("SYSTem:ERRor:COUNt?")
    ask(point, "ROUTe:CLOSe" if on else "ROUTe:OPEN")
    if engine.execute("SYSTem:ERRor:COUNt?") != errors:
        raise ValueError(
            f"{wired[point][0]} refused ROUTe for channel {wired[point][1]}; see its error queue"
        )
    inserted = [p for p in sorted(wired) if ask(p, "ROUTe:CLOSe?") == "1"]
    return {"point": point, "instrument": wired[point][0], "channel": wired[point][1], "inserted": inserted}


def station_ports(station: StationModel) -> dict[str, int]:
    """The ports the station file names (instrument name, "can", "rs485", "modbus_tcp", "control" -> port)."""
    found: dict[str, int] = {}
    for name, inst in station.instruments.items():
        match = re.match(r"^TCPIP\d*::[^:]+::(\d+)::SOCKET$", inst.resource, re.IGNORECASE)
        if match:
            found[name] = int(match[1])
    can = station.buses.can
    if can is not None and can.interface == "socketcand" and can.port:
        found["can"] = can.port
    rs485 = station.buses.rs485
    match = re.match(r"^socket://[^:/]+:(\d+)", rs485.url) if rs485 is not None else None
    if match:
        found["rs485"] = int(match[1])
    if station.buses.modbus_tcp is not None:
        found["modbus_tcp"] = station.buses.modbus_tcp.port
    match = re.match(r"^tcp://[^:/]+:(\d+)$", station.sim.attach or "") if station.sim is not None else None
    if match:
        found["control"] = int(match[1])
    return found


def _port_of(server: asyncio.Server) -> int:
    return int(server.sockets[0].getsockname()[1])


def serve(
    station: StationModel,
    settings: dict[str, Any] | None,
    seed: int | None,
    options: ServeOptions,
    out: TextIO = sys.stdout,
) -> None:
    """Build the lab, print the endpoints line, serve until SIGINT/SIGTERM."""

    async def main() -> None:
        lab = Lab(station, settings, seed)
        server = LabServer(lab, options)
        endpoints = await server.start()
        loop = asyncio.get_running_loop()
        running = asyncio.create_task(server.run())
        if options.after_start is not None:
            try:
                endpoints["outputs"] = await loop.run_in_executor(None, options.after_start, dict(endpoints))
            except Exception as exc:  # the lab stops: a half-powered lab is no use to anyone
                print(f"error: --power-on: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                server.stop()
                await running
                raise SystemExit(3) from None
        out.write(json.dumps(endpoints) + "\n")
        out.flush()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, server.stop)
        if options.exit_with_stdin:
            fd = sys.stdin.fileno()

            def stdin_readable() -> None:
                if not os.read(fd, 4096):  # EOF: the parent closed the pipe or died
                    loop.remove_reader(fd)
                    server.stop()

            loop.add_reader(fd, stdin_readable)
        await running

    asyncio.run(main())
