"""The framework's client of a Movicom Main 2.1 / 2R: Modbus RTU/TCP registers and CANopen.

Modbus: pymodbus's serial client with the RTU framer on the station's RS-485 (a device or a
`socket://` URL) and, where the station has one, its TCP client on `buses.modbus_tcp`; registers
are read and written by their map names (protocol/maps) through the codec. CANopen: a
`canopen.Network` on its own connection to the station's CAN bus, with the unit as a `RemoteNode`
(SDO, SYNC); heartbeats and TPDOs are read from the station's CAN monitor, whose timestamps are the
station clock's, and decoded with the family's DBC (cantools).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, Literal, cast

import can
import canopen
from cantools.database import Database, DecodeError
from pymodbus import FramerType
from pymodbus.client import ModbusSerialClient, ModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusIOException
from pymodbus.pdu import ModbusPDU

from hil.can_monitor import CanMonitor, open_station_bus
from hil.can_window import Frame
from hil.dut import DutClient
from hil.duts.movicom_main_2.config import MovicomConfig, config_class, load_config
from hil.duts.movicom_main_2.protocol.canopen_od import SYNC_COB_ID, build_object_dictionary
from hil.duts.movicom_main_2.protocol.dbc import build_database
from hil.duts.movicom_main_2.protocol.modbus_codec import Codec, Value
from hil.duts.movicom_main_2.protocol.registers import load_map
from hil.duts.movicom_main_2.variants import family_variant
from hil.errors import ConfigError, DutError
from hil.retry import RetryPolicy
from hil.station.station import Station

Transport = Literal["rtu", "tcp"]
#: how long (wall time) a frame sent may take to come back through the station's capture
ECHO_TIMEOUT_S = 1.0
_READ_FC: dict[str, int] = {"input": 4, "holding": 3}


def configuration(station: Station) -> MovicomConfig:
    """The unit's configuration for this run: its configuration file, else the variant's defaults."""
    expected = family_variant(station.model.dut.name)
    if station.firmware_file is None:
        return config_class(expected)()
    config = load_config(station.firmware_file, expected)
    if config.variant != expected:  # a 2.1 file on a 2R station: the twin and the bench would disagree
        raise ConfigError(str(station.firmware_file), "variant", f"{expected} ({station.model.dut.name})")
    return config


def answer_value(codec: Codec, name: str, answer: ModbusPDU, transport: Transport = "rtu") -> Value:
    """The value of register `name` in the unit's answer to its read; DutError when the unit refused
    or answered with another number of registers than the row has (fuzzed: benchmarks/fuzz.py)."""
    reg = codec.register_map.get(name)
    if answer.isError():
        raise DutError(f"Modbus {transport.upper()}: {name} refused: {answer}")
    registers = list(getattr(answer, "registers", None) or [])
    if len(registers) != reg.words:
        raise DutError(
            f"Modbus {transport.upper()}: {name} is {reg.words} register(s), answered {len(registers)}"
        )
    return codec.decode(reg, registers)


def decode_tpdo(dbc: Database, number: int, data: bytes) -> dict[str, Any]:
    """TPDO `number`'s signals in one frame (the DBC); DutError for a frame of another length."""
    message = dbc.get_message_by_name(f"TPDO{number}")
    try:
        return dict(cast(Mapping[str, Any], message.decode(bytes(data), decode_choices=False)))
    except DecodeError as exc:
        raise DutError(f"CANopen: TPDO{number} frame {bytes(data).hex()} does not decode: {exc}") from exc


class MovicomClient(DutClient):
    """Reads and commands one Main 2.1 / 2R over the station's buses (see the module docstring)."""

    def __init__(self, station: Station, can_monitor: CanMonitor | None) -> None:
        self.station = station
        self.clock = station.clock
        self.config = configuration(station)
        register_map = load_map(self.config.hardware_variant.register_map)
        self.codec = Codec(register_map, self.config.modbus.register_order)
        self.unit = self.config.modbus.unit
        #: a read that got no answer is asked again (the shared policy); a write is sent once
        self.policy = RetryPolicy()
        self.node_id = self.config.can.node_id
        buses = station.model.buses
        self.rtu: ModbusSerialClient | None = None
        if buses.rs485 is not None:
            self.rtu = ModbusSerialClient(
                port=buses.rs485.url,
                framer=FramerType.RTU,
                baudrate=buses.rs485.baudrate,
                timeout=buses.rs485.timeout_s,
                retries=0,
            )
            if not self.rtu.connect():
                raise DutError(f"Modbus RTU: cannot open {buses.rs485.url}")
        self.tcp: ModbusTcpClient | None = None
        if buses.modbus_tcp is not None and self.config.hardware_variant.modbus_tcp:
            bus = buses.modbus_tcp
            self.tcp = ModbusTcpClient(bus.host, port=bus.port, timeout=bus.timeout_s, retries=0)
            if not self.tcp.connect():  # type: ignore[no-untyped-call]
                raise DutError(f"Modbus TCP: no connection to {bus.host}:{bus.port}")
        self.monitor = can_monitor
        self.dbc: Database = build_database(self.node_id)
        self.network: canopen.Network | None = None
        self.node: canopen.RemoteNode | None = None
        if buses.can is not None:
            c = buses.can
            can_bus = open_station_bus(c)
            self.network = canopen.Network(can_bus)
            self.network.notifier = can.Notifier(can_bus, self.network.listeners, 0.1)
            od = build_object_dictionary(self.node_id, c.bitrate, self.config.can.heartbeat_ms)
            self.node = canopen.RemoteNode(self.node_id, od)
            self.network.add_node(self.node)

    # --- Modbus -----------------------------------------------------------------------------------
    def _modbus(self, transport: Transport) -> ModbusSerialClient | ModbusTcpClient:
        client = self.rtu if transport == "rtu" else self.tcp
        if client is None:
            raise DutError(f"Modbus {transport.upper()}: not on this station / variant")
        return client

    def read(self, names: Sequence[str], transport: Transport = "rtu") -> dict[str, Value]:
        """The named registers, decoded; DutError when the unit does not answer or refuses."""
        client = self._modbus(transport)
        values: dict[str, Value] = {}
        for name in names:
            reg = self.codec.register_map.get(name)
            fc = _READ_FC[reg.table]
            call = client.read_input_registers if fc == 4 else client.read_holding_registers
            try:
                answer = self.policy.call(
                    partial(call, reg.address, count=reg.words, device_id=self.unit),
                    read=True,
                    lost=(ModbusIOException, ConnectionException),
                )
            except Exception as exc:  # pymodbus raises ModbusIOException on silence
                raise DutError(f"Modbus {transport.upper()}: no answer reading {name}: {exc}") from exc
            values[name] = answer_value(self.codec, name, answer, transport)
        return values

    def value(self, name: str, transport: Transport = "rtu") -> Value:
        """One register, decoded."""
        return self.read([name], transport)[name]

    def answers(self, transport: Transport = "rtu") -> bool:
        """Whether the unit answers a Modbus read now."""
        try:
            self.read(["firmware_version"], transport)
        except DutError:
            return False
        return True

    def write(self, name: str, value: Value, transport: Transport = "rtu") -> None:
        """Write one holding register by name."""
        reg = self.codec.register_map.get(name)
        words = self.codec.encode(reg, value)
        client = self._modbus(transport)
        try:
            answer = client.write_registers(reg.address, words, device_id=self.unit)
        except Exception as exc:
            raise DutError(f"Modbus {transport.upper()}: no answer writing {name}: {exc}") from exc
        if answer.isError():
            raise DutError(f"Modbus {transport.upper()}: write of {name} refused: {answer}")

    # --- CANopen ----------------------------------------------------------------------------------
    @property
    def heartbeat_id(self) -> int:
        """The unit's heartbeat COB-ID (0x700 + node id)."""
        return 0x700 + self.node_id

    def heartbeats(self, since: float) -> list[Frame]:
        """Heartbeat frames received since `since` (station time)."""
        return self._monitor().since(since, self.heartbeat_id)

    def sync(self) -> None:
        """Send one SYNC (COB-ID 0x80): the unit answers with TPDO1 and TPDO2. Returns once the
        station's capture has the SYNC (wall time: the bus, or the simulated lab, took it)."""
        if self.network is None:
            raise DutError("CANopen: no CAN bus on this station")
        monitor = self._monitor()
        seen = monitor.count(SYNC_COB_ID)
        self.network.send_message(SYNC_COB_ID, b"")
        if not monitor.wait_count(SYNC_COB_ID, seen + 1, ECHO_TIMEOUT_S):
            raise DutError(f"CANopen: the SYNC did not come back through the capture in {ECHO_TIMEOUT_S} s")

    def tpdo(self, number: int, since: float) -> list[tuple[float, dict[str, Any]]]:
        """TPDO `number` frames received since `since`, decoded with the DBC: (time, signals)."""
        frame_id = self.dbc.get_message_by_name(f"TPDO{number}").frame_id
        return [
            (f.timestamp, decode_tpdo(self.dbc, number, f.data))
            for f in self._monitor().since(since, frame_id)
        ]

    def _monitor(self) -> CanMonitor:
        if self.monitor is None:
            raise DutError("CANopen: no CAN monitor (the family declares can; the station has none?)")
        return self.monitor

    def sdo_serial(self) -> int:
        """The identity object's serial number (0x1018 sub 4) by SDO upload."""
        if self.node is None:
            raise DutError("CANopen: no CAN bus on this station")
        try:
            return int(self.node.sdo[0x1018][4].raw)
        except (canopen.SdoAbortedError, canopen.SdoCommunicationError) as exc:
            raise DutError(f"CANopen: SDO 0x1018:4 failed: {exc}") from exc

    # --- DutClient --------------------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        hw = self.config.hardware_variant
        version = self.value("firmware_version")
        assert isinstance(version, tuple)
        patch, minor, major = (int(v) for v in version[:3])
        return {
            "serial": str(self.sdo_serial()),
            "model": hw.title,
            "manufacturer": "Movicom Electric",
            "firmware": f"{major}.{minor}.{patch}",
        }

    def close(self) -> None:
        for client in (self.rtu, self.tcp):
            if client is not None:
                client.close()  # type: ignore[no-untyped-call]
        if self.network is not None:
            self.network.disconnect()
