"""Movicom Modbus sim: pymodbus's own clients (TCP, RTU framer over TCP, serial client on a socket://
URL) read the twin's values for unit 32, and writes to 0x4000 / 0x4001 / 0x5100+ take effect in it.

Values are decoded in the tests with pymodbus's converters, not with our codec, so the check does not
lean on the code under test: REAL32 low word first (the configured CDAB order).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest
from pymodbus import FramerType
from pymodbus.client import ModbusSerialClient, ModbusTcpClient
from pymodbus.client.mixin import ModbusClientMixin

from hil.duts.movicom_main_2.config import InputFunction, MovicomConfig
from hil.duts.movicom_main_2.protocol.modbus_codec import Codec
from hil.duts.movicom_main_2.protocol.registers import load_map
from hil.duts.movicom_main_2.sim.modbus import ModbusSim, TwinRegisters
from hil.duts.movicom_main_2.sim.twin import MovicomTwin

UNIT = 32
F32 = ModbusClientMixin.DATATYPE.FLOAT32
U32 = ModbusClientMixin.DATATYPE.UINT32


class Bench:
    """A twin served over Modbus, with the lock the servers take."""

    def __init__(self, variant: str = "main-2.1", **config: object) -> None:
        self.config = MovicomConfig.model_validate({"variant": variant, **config})
        self.twin = MovicomTwin(self.config, ideal=True)
        self.twin.step(2.0)
        self.lock = threading.RLock()
        codec = Codec(load_map(self.config.hardware_variant.register_map), self.config.modbus.register_order)
        self.registers = TwinRegisters(self.twin, codec, self.config.modbus.unit, self.lock)
        self.sim = ModbusSim(self.registers, tcp=self.config.hardware_variant.modbus_tcp)

    def set_current(self, amps: float) -> None:
        with self.lock:
            s = self.config.current_sensors[0]
            self.twin.inputs.sensors[0].vcs_v = 2.5 + amps * s.volts_at_rated / s.rated_a
            self.twin.inputs_changed()


@pytest.fixture
def bench() -> Iterator[Bench]:
    b = Bench()
    with b.sim:
        yield b


@contextmanager
def _tcp(port: int | None, framer: FramerType = FramerType.SOCKET) -> Iterator[ModbusTcpClient]:
    """pymodbus's TCP client (with the RTU framer: the RS-485 line behind a gateway)."""
    assert port is not None
    client = ModbusTcpClient("127.0.0.1", port=port, framer=framer)
    assert client.connect()  # type: ignore[no-untyped-call]
    try:
        yield client
    finally:
        client.close()  # type: ignore[no-untyped-call]


def _f32(registers: Sequence[int]) -> float:
    value = ModbusClientMixin.convert_from_registers(registers, F32, word_order="little")
    assert isinstance(value, float)
    return value


def _read_f32(client: ModbusTcpClient | ModbusSerialClient, address: int) -> float:
    response = client.read_input_registers(address, count=2, device_id=UNIT)
    assert not response.isError(), response
    return _f32(response.registers)


def test_tcp_reads_values_that_agree_with_the_stimulus(bench: Bench) -> None:
    bench.set_current(-25.0)
    with bench.lock:
        for b in bench.twin.inputs.boards:
            b.cell_v[:] = [3.25] * len(b.cell_v)
        bench.twin.inputs_changed()
    with _tcp(bench.sim.endpoints.tcp_port) as client:
        assert _read_f32(client, 0x2001) == pytest.approx(-25.0, abs=1e-4)  # battery current
        assert _read_f32(client, 0x2003) == pytest.approx(25.0, abs=1e-4)  # Vts at 0.75 V
        assert _read_f32(client, 0x2005) == pytest.approx(40.0, abs=1e-3)  # humidity
        assert _read_f32(client, 0x2100) == pytest.approx(50.0, abs=1e-4)  # SOC
        assert _read_f32(client, 0x2103) == pytest.approx(16 * 3.25, abs=1e-3)  # provisional address
        count = client.read_input_registers(0x2102, count=1, device_id=UNIT)
        assert count.registers == [2]
        relays = client.read_input_registers(0x200C, count=1, device_id=UNIT)
        assert relays.registers == [0b0001]  # relay 1 closed (discharge), others open
        version = client.read_input_registers(0x0001, count=2, device_id=UNIT)
        assert version.registers[1] & 0xFF == 2  # byte 2 = major 2


def test_rtu_framer_over_tcp_and_serial_client_on_a_socket_url(bench: Bench) -> None:
    with _tcp(bench.sim.endpoints.rtu_port, framer=FramerType.RTU) as rtu:
        assert _read_f32(rtu, 0x2100) == pytest.approx(50.0, abs=1e-4)
    serial = ModbusSerialClient(
        port=bench.sim.endpoints.rtu_url, framer=FramerType.RTU, baudrate=9600, timeout=2
    )
    assert serial.connect()
    try:
        bench.set_current(12.5)
        assert _read_f32(serial, 0x2001) == pytest.approx(12.5, abs=1e-4)
    finally:
        serial.close()  # type: ignore[no-untyped-call]


def test_logic_selector_write_shows_that_boards_cells(bench: Bench) -> None:
    """Uses write access (holding 0x4000) to read one Logic board's cells, as a plan would."""
    with bench.lock:
        bench.twin.inputs.boards[1].cell_v[5] = 3.111
        bench.twin.inputs_changed()
    with _tcp(bench.sim.endpoints.tcp_port) as client:
        assert not client.write_register(0x4000, 2, device_id=UNIT).isError()
        assert bench.twin.logic_selected == 2
        echo = client.read_input_registers(0x2010, count=2, device_id=UNIT)
        assert echo.registers == [2, 8]  # selected address, its cell count (placeholder layout)
        cells = client.read_input_registers(0x2013, count=16, device_id=UNIT)
        values = ModbusClientMixin.convert_from_registers(cells.registers, F32, word_order="little")
        assert isinstance(values, list)
        assert values[5] == pytest.approx(3.111, abs=1e-5) and values[0] == pytest.approx(3.30, abs=1e-5)
        assert client.read_holding_registers(0x4000, count=1, device_id=UNIT).registers == [2]


def test_software_control_write_takes_effect_in_the_twin(bench: Bench) -> None:
    """Uses write access (0x5100 + code - 1, OUR READING of the numbering) to force input signals."""
    with _tcp(bench.sim.endpoints.tcp_port) as client:
        assert bench.twin.relays[0]
        assert not client.write_register(0x5104, 1, device_id=UNIT).isError()  # inhibit discharging: set
        assert bench.twin.software_control[InputFunction.INHIBIT_DISCHARGING] == 1
        assert not bench.twin.relays[0]
        inputs = client.read_input_registers(0x2000, count=1, device_id=UNIT)
        assert inputs.registers == [1 << 4]  # bit 4 inhibit discharging
        assert client.read_input_registers(0x200C, count=1, device_id=UNIT).registers == [0]
        assert not client.write_register(0x5104, 2, device_id=UNIT).isError()  # back to the physical input
        assert bench.twin.relays[0]
        assert not client.write_register(0x5100, 1, device_id=UNIT).isError()  # battery cover: set
        with bench.lock:
            bench.twin.advance(0.5)
        errors = client.read_input_registers(0x2007, count=2, device_id=UNIT)
        raw = ModbusClientMixin.convert_from_registers(errors.registers, U32, word_order="little")
        assert raw == 1 << 5  # battery cover error (critical)
        assert bench.twin.relays == (False, False, False, False)
        # locked (example config): release the cover, acknowledge bit 5 at 0x4001 (U32, low word first)
        assert not client.write_register(0x5100, 0, device_id=UNIT).isError()
        with bench.lock:
            bench.twin.advance(5.0)
        assert "battery_cover_error" in bench.twin.errors()
        ack = ModbusClientMixin.convert_to_registers(1 << 5, U32, word_order="little")
        assert not client.write_registers(0x4001, ack, device_id=UNIT).isError()
        with bench.lock:
            bench.twin.advance(1.0)
        assert "battery_cover_error" not in bench.twin.errors() and bench.twin.relays[0]
        assert ("acknowledge_errors", 1 << 5) in bench.registers.writes


def test_errors_for_what_the_device_does_not_have(bench: Bench) -> None:
    with _tcp(bench.sim.endpoints.tcp_port) as client:
        assert client.read_input_registers(0x200D, count=1, device_id=UNIT).exception_code == 2  # undefined
        assert (
            client.read_holding_registers(0x2000, count=1, device_id=UNIT).exception_code == 2
        )  # wrong table
        assert client.write_register(0x2000, 1, device_id=UNIT).exception_code == 2  # input: read-only
        assert client.read_coils(0, count=1, device_id=UNIT).exception_code == 1
        assert client.read_input_registers(0x2100, count=2, device_id=5).exception_code == 11  # not us
        with bench.lock:
            bench.twin.inputs.supply_v = 8.0  # below 9 V: the firmware does not run
            bench.twin.inputs_changed()
        assert client.read_input_registers(0x2100, count=2, device_id=UNIT).exception_code == 11


def test_main_2r_serves_the_main_3_map_over_rtu_only() -> None:
    bench = Bench("main-2r", current_sensors=[{"rated_a": 50.0}, {"rated_a": 300.0}])
    with bench.sim:
        assert bench.sim.endpoints.tcp_port is None
        with _tcp(bench.sim.endpoints.rtu_port, framer=FramerType.RTU) as client:
            assert client.read_input_registers(0x1000, count=2, device_id=UNIT).registers == [
                50,
                100,
            ]  # SOC, SOH
            with bench.lock:
                bench.twin.inputs.sensors[1].vcs_v = 2.5 + 100.0 * 0.625 / 300.0
                bench.twin.inputs_changed()
            assert _read_f32(client, 0x2404) == pytest.approx(100.0, abs=1e-3)  # sensor 2 (placeholder)
