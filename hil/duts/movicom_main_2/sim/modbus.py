"""The twin's Modbus side: pymodbus servers answering for unit 32 from the twin's registers.

Two transports, as the issue asks and real installations have them:
- Modbus TCP (the 2.1's Ethernet, port 502; an ephemeral port on the sim);
- Modbus RTU on the external RS-485 as a raw TCP serial port (`socket://127.0.0.1:PORT`, like an
  RS-485/Ethernet gateway): pymodbus's own TCP server with its RTU framer, so any client that opens
  `socket://` with an RTU framer (pymodbus's serial client, or its TCP client with the RTU framer)
  talks to it as to the bus.

The registers are pymodbus's own server datastore (`SimDevice` blocks, one per table, laid out from
the register map), refreshed from the twin by the device's `action` on every read; writes to the
holding registers take effect in the twin (0x4000 Logic selector, 0x4001 acknowledge, 0x5100+
software control of input signals). Undefined addresses answer ILLEGAL ADDRESS, coils and discrete
inputs ILLEGAL FUNCTION. While the twin is not running (supply below its minimum) every request is
answered GATEWAY TARGET NO RESPONSE, which is what an RS-485 gateway says for a silent device.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from types import TracebackType
from typing import Self, cast

from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.pdu.device import ModbusDeviceIdentification
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from hil.duts.movicom_main_2.config import InputFunction
from hil.duts.movicom_main_2.protocol.modbus_codec import Codec
from hil.duts.movicom_main_2.protocol.registers import RegisterMap, Table
from hil.duts.movicom_main_2.sim.twin.twin import MovicomTwin
from hil.duts.movicom_main_2.sim.twin.values import register_values

_TABLES: dict[int, Table] = {3: "holding", 4: "input", 6: "holding", 16: "holding", 23: "holding"}
_CONTROL_PREFIX = "input_control_"


def _block(register_map: RegisterMap, table: Table) -> list[SimData]:
    return [
        SimData(reg.address, count=reg.words, datatype=DataType.REGISTERS, readonly=reg.access == "r")
        for reg in register_map.table(table)
    ]


class TwinRegisters:
    """Serves one twin as one Modbus unit: the datastore, its refresh and its writes."""

    def __init__(
        self,
        twin: MovicomTwin,
        codec: Codec,
        unit: int,
        lock: AbstractContextManager[object] | None = None,
    ) -> None:
        self.twin = twin
        self.codec = codec
        self.unit = unit
        self._lock: AbstractContextManager[object] = lock if lock is not None else nullcontext()
        self.writes: list[tuple[str, int]] = []  # (register name, value) applied, for the record

    def devices(self) -> list[SimDevice]:
        """This unit, and a catch-all for every other unit that answers GATEWAY TARGET NO RESPONSE.

        (pymodbus 3.16's SimCore raises KeyError for an unknown unit instead of its NoSuchIdException,
        so `ignore_missing_devices` cannot make other units silent; a gateway's answer is the next
        most realistic.)
        """
        silent = SimDevice(
            id=0,
            simdata=[
                SimData(0, count=0xFFFF, datatype=DataType.REGISTERS)
            ],  # every address reaches the action
            action=_no_response,
        )
        return [self.device(), silent]

    def device(self) -> SimDevice:
        """The pymodbus device: holding and input blocks from the map, no coils or discrete inputs."""
        m = self.codec.register_map
        bits = [SimData(0, values=[False] * 16, datatype=DataType.BITS)]  # answered ILLEGAL FUNCTION
        return SimDevice(
            id=self.unit,
            simdata=(bits, list(bits), _block(m, "holding"), _block(m, "input")),
            identity=ModbusDeviceIdentification(  # type: ignore[no-untyped-call]
                info_name={"VendorName": "Movicom Electric (twin)", "ProductName": self.twin.config.variant}
            ),
            action=self._action,
        )

    async def _action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        if set_values is None:
            answer = self.read(function_code, address, count)
            if isinstance(answer, ExcCodes):
                return answer
            registers[address - start_address : address - start_address + count] = answer
            return None
        return self.write(function_code, address, cast(list[int], set_values))

    def read(self, function_code: int, address: int, count: int) -> list[int] | ExcCodes:
        """The registers a read of `count` from `address` answers, or the exception it raises
        (shared by the pymodbus servers here and the simulated lab's plant)."""
        table = _TABLES.get(function_code)
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        with self._lock:
            if not self.twin.running:
                return ExcCodes.GATEWAY_NO_RESPONSE
            if not self._mapped(table, address, count):
                return ExcCodes.ILLEGAL_ADDRESS
            image = self.codec.image(table, register_values(self.twin))
            return [image.get(a, 0) for a in range(address, address + count)]

    def write(self, function_code: int, address: int, values: list[int]) -> ExcCodes | None:
        """Take a write of `values` from `address` into the twin (None) or say why not."""
        if _TABLES.get(function_code) != "holding":
            return ExcCodes.ILLEGAL_FUNCTION
        with self._lock:
            if not self.twin.running:
                return ExcCodes.GATEWAY_NO_RESPONSE
            if not self._mapped("holding", address, len(values)):
                return ExcCodes.ILLEGAL_ADDRESS
            image = self.codec.image("holding", register_values(self.twin))
            for i, value in enumerate(values):
                image[address + i] = value
            return self._apply(address, len(values), image)

    def _mapped(self, table: Table, address: int, count: int) -> bool:
        return count > 0 and all(
            self.codec.register_map.at(table, a) is not None for a in range(address, address + count)
        )

    def _apply(self, address: int, count: int, image: dict[int, int]) -> ExcCodes | None:
        """Take a holding-register write into the twin, row by row."""
        end = address + count
        for reg in self.codec.register_map.table("holding"):
            if reg.end <= address or reg.address >= end:
                continue
            raw = [image[a] for a in range(reg.address, reg.end)]
            if reg.name == "acknowledge_errors":
                layout = self.codec.register_map.bits_of(reg)  # errors_1's (the map's bits_of)
                bits = self.codec.raw_bits(reg, raw)
                self.twin.acknowledge(frozenset(b.name for b in layout if bits >> b.bit & 1))
                self.writes.append((reg.name, bits))
                continue
            value = int(cast(int, self.codec.decode(reg, raw)))
            if reg.name == "logic_select":
                self.twin.select_logic(value)
            elif reg.name.startswith(_CONTROL_PREFIX):
                function = InputFunction[reg.name.removeprefix(_CONTROL_PREFIX).upper()]
                self.twin.set_software_control(function, value)
            else:
                return ExcCodes.ILLEGAL_ADDRESS
            self.writes.append((reg.name, value))
        return None


async def _no_response(
    function_code: int,
    start_address: int,
    address: int,
    count: int,
    registers: list[int],
    set_values: list[int] | list[bool] | None,
) -> ExcCodes | None:
    return ExcCodes.GATEWAY_NO_RESPONSE


@dataclass(frozen=True)
class Endpoints:
    """Where the servers listen: Modbus TCP (None on a variant without Ethernet) and RTU over TCP."""

    host: str
    tcp_port: int | None
    rtu_port: int

    @property
    def rtu_url(self) -> str:
        """The RS-485 line as a pyserial URL."""
        return f"socket://{self.host}:{self.rtu_port}"


def _port(server: ModbusTcpServer) -> int:
    sockets = cast(asyncio.Server, server.transport).sockets
    return int(sockets[0].getsockname()[1])


async def start_servers(
    registers: TwinRegisters,
    host: str = "127.0.0.1",
    tcp_port: int = 0,
    rtu_port: int = 0,
    *,
    tcp: bool = True,
) -> tuple[list[ModbusTcpServer], Endpoints]:
    """Start the servers in the running event loop (port 0: ephemeral); stop them with `shutdown()`."""
    servers: list[ModbusTcpServer] = []
    rtu = ModbusTcpServer(registers.devices(), framer=FramerType.RTU, address=(host, rtu_port))
    await rtu.serve_forever(background=True)
    servers.append(rtu)
    tcp_bound: int | None = None
    if tcp:
        plain = ModbusTcpServer(registers.devices(), framer=FramerType.SOCKET, address=(host, tcp_port))
        await plain.serve_forever(background=True)
        servers.append(plain)
        tcp_bound = _port(plain)
    return servers, Endpoints(host, tcp_bound, _port(rtu))


class ModbusSim:
    """The servers in a background thread with their own event loop (for tests and plain scripts).

    with ModbusSim(TwinRegisters(twin, codec, 32, lock)) as sim:
        ModbusTcpClient("127.0.0.1", port=sim.endpoints.tcp_port) ...
    """

    def __init__(self, registers: TwinRegisters, host: str = "127.0.0.1", *, tcp: bool = True) -> None:
        self.registers = registers
        self._host = host
        self._tcp = tcp
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._endpoints: Endpoints | None = None
        self._thread = threading.Thread(target=self._run, name="movicom-modbus", daemon=True)

    @property
    def endpoints(self) -> Endpoints:
        """The bound ports (after `start()`)."""
        if self._endpoints is None:
            raise RuntimeError("not started")
        return self._endpoints

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        servers: Sequence[ModbusTcpServer] = ()
        try:
            servers, self._endpoints = await start_servers(self.registers, self._host, tcp=self._tcp)
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        await self._stop.wait()
        for server in servers:
            await server.shutdown()  # type: ignore[no-untyped-call]

    def start(self, timeout: float = 10.0) -> Endpoints:
        """Start serving; returns the endpoints once both servers listen."""
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("Modbus servers did not start")
        if self._error is not None:
            raise RuntimeError(f"Modbus servers did not start: {self._error}") from self._error
        return self.endpoints

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
