"""Fuzz targets of the Movicom Main 2.1 / 2R Modbus and CANopen parsers (benchmarks/fuzz.py runs them).

Inputs: valid frames built with pymodbus (requests and answers, RTU and TCP, every register of both
maps in every register order) and with the family's DBC/object dictionary (TPDOs, SDO requests,
NMT, SYNC), then mutated (benchmarks/fuzz.py's operations) with the RTU CRC made right again half
the time so the frame reaches the PDU decoders, and plain random bytes. What each may raise:

- `Codec.decode` (registers -> value, both sides): ValueError, and only for a wrong register count;
- the client's answer parsing (pymodbus client framer, then `client.answer_value`): DutError, or
  pymodbus's ModbusException from its framer (the client turns it into DutError around the call);
- the client's TPDO decoding (`client.decode_tpdo`): DutError;
- the lab's server side (the plant's Modbus RTU and TCP request handling, sim/modbus.py's
  TwinRegisters behind it) and its CANopen node (NMT, SYNC, SDO requests): nothing at all; an RTU
  buffer never holds more than its limit, every answer is a well-formed Modbus frame, and a valid
  request after the inputs is answered (the line is never left stuck).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from pymodbus.exceptions import ModbusException
from pymodbus.framer import FramerBase, FramerRTU, FramerSocket
from pymodbus.pdu import DecodePDU, ExceptionResponse, ModbusPDU
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    ReadHoldingRegistersResponse,
    ReadInputRegistersRequest,
    ReadInputRegistersResponse,
    WriteMultipleRegistersRequest,
    WriteSingleRegisterRequest,
)

from hil.duts.movicom_main_2.client import answer_value, decode_tpdo
from hil.duts.movicom_main_2.protocol.canopen_od import SYNC_COB_ID, TPDOS
from hil.duts.movicom_main_2.protocol.dbc import build_database
from hil.duts.movicom_main_2.protocol.modbus_codec import Codec
from hil.duts.movicom_main_2.protocol.registers import Register, load_map
from hil.duts.movicom_main_2.sim.plant import RTU_BUFFER_MAX, MovicomPlant
from hil.errors import DutError
from hil.sim.lab import Lab
from hil.station.station import load_station

ROOT = Path(__file__).resolve().parents[1]
UNIT = 32
NODE = 32
ORDERS = ("ABCD", "CDAB", "BADC", "DCBA")
MAPS = ("main-2.x", "main-3")
Mutate = Callable[[random.Random, bytes], bytes]
#: a whole Lab is built once per station (powered, Logic link up) and every input goes to it
POWER_UP: dict[str, list[str]] = {
    "supply": ["VOLT 12", "CURR 0.5", "OUTP ON"],
    **{f"cells_{c}": ["VOLT 3.3,(@1:4)", "OUTP ON,(@1:4)"] for c in "abcd"},
    "analog": ["SOUR:VOLT 2.5,(@104,105)"],
}


@cache
def codec(map_name: str, order: str) -> Codec:
    return Codec(load_map(map_name), order)  # type: ignore[arg-type]


def _any_codec(rng: random.Random) -> Codec:
    return codec(rng.choice(MAPS), rng.choice(ORDERS))


def _rows(c: Codec, table: str | None = None) -> list[Register]:
    return [r for r in c.register_map.registers if table is None or r.table == table]


def reseal_rtu(frame: bytes) -> bytes:
    """A mutated RTU frame with its CRC right again (what a sender's bug produces: it reaches the PDU
    decoder)."""
    if len(frame) < 3:
        return frame
    body = frame[:-2]
    return body + FramerRTU.compute_CRC(body).to_bytes(2, "big")


def _variant(rng: random.Random, frame: bytes, rtu: bool, mutate: Mutate) -> bytes:
    roll = rng.random()
    if roll < 0.2:
        return frame
    if roll < 0.9:
        mutated = mutate(rng, frame)
        return reseal_rtu(mutated) if rtu and rng.random() < 0.5 else mutated
    return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 40)))


# --- Codec.decode ------------------------------------------------------------------------------


def codec_input(rng: random.Random) -> tuple[Codec, Register, list[int]]:
    c = _any_codec(rng)
    reg = rng.choice(_rows(c))
    count = reg.words if rng.random() < 0.9 else rng.randint(0, reg.words + 2)
    return c, reg, [rng.getrandbits(16) for _ in range(count)]


def codec_run(item: tuple[Codec, Register, list[int]]) -> object:
    c, reg, words = item
    try:
        value = c.decode(reg, words)
    except ValueError:
        if len(words) == reg.words:
            raise AssertionError(f"{reg.name}: ValueError on the right register count") from None
        raise
    if reg.bits and not (isinstance(value, frozenset) and value <= {b.name for b in reg.bits}):
        raise AssertionError(f"{reg.name}: bitfield decoded to {value!r}")
    return value


# --- the client's answer parsing ---------------------------------------------------------------


def answer_input(rtu: bool, mutate: Mutate) -> Callable[[random.Random], tuple[Codec, str, bytes]]:
    """An answer to a read of one register: right, refused, another count, mutated or noise."""

    def make(rng: random.Random) -> tuple[Codec, str, bytes]:
        c = _any_codec(rng)
        reg = rng.choice(_rows(c))
        count = reg.words if rng.random() < 0.8 else rng.randint(0, 20)
        tid = rng.getrandbits(16)
        answer: ModbusPDU
        if rng.random() < 0.1:
            answer = ExceptionResponse(4 if reg.table == "input" else 3, rng.randint(1, 11), UNIT, tid)
        else:
            cls = ReadInputRegistersResponse if reg.table == "input" else ReadHoldingRegistersResponse
            answer = cls(
                registers=[rng.getrandbits(16) for _ in range(count)], dev_id=UNIT, transaction_id=tid
            )
        framer: FramerBase = FramerRTU(DecodePDU(is_server=False)) if rtu else FramerSocket(DecodePDU(False))
        return c, reg.name, _variant(rng, framer.buildFrame(answer), rtu, mutate)

    return make


def answer_run(rtu: bool) -> Callable[[tuple[Codec, str, bytes]], object]:
    def run(item: tuple[Codec, str, bytes]) -> object:
        c, name, data = item
        framer: FramerBase = FramerRTU(DecodePDU(is_server=False)) if rtu else FramerSocket(DecodePDU(False))
        _, pdu = framer.handleFrame(data, 0, 0)
        return None if pdu is None else answer_value(c, name, pdu, "rtu" if rtu else "tcp")

    return run


# --- the client's TPDO decoding ----------------------------------------------------------------

DBC = build_database(NODE)


def tpdo_input(mutate: Mutate) -> Callable[[random.Random], tuple[int, bytes]]:
    def make(rng: random.Random) -> tuple[int, bytes]:
        number = rng.choice([p.number for p in TPDOS])
        message = DBC.get_message_by_name(f"TPDO{number}")
        frame = bytes(rng.getrandbits(8) for _ in range(message.length))
        return number, _variant(rng, frame, False, mutate)[:8]

    return make


def tpdo_run(item: tuple[int, bytes]) -> object:
    return decode_tpdo(DBC, item[0], item[1])


# --- the lab's server side ---------------------------------------------------------------------


def powered_lab(station: str) -> Lab:
    """A lab of `station`, powered, its Logic link up."""
    model = load_station(ROOT / "stations" / station)
    built = Lab(getattr(model, "model", model))
    for name, lines in POWER_UP.items():
        for line in lines:
            built.instruments[name].execute(line)
    built.advance(3.0)
    return built


#: the lab every input of one station goes to (built once)
lab = cache(powered_lab)


def _plant(station: str) -> MovicomPlant:
    plant = lab(station).plant
    assert isinstance(plant, MovicomPlant)
    return plant


def request_input(rtu: bool, mutate: Mutate) -> Callable[[random.Random], bytes]:
    """A request as a master sends it: reads and writes of mapped and unmapped addresses, other
    units, then mutated (CRC resealed half the time) or noise."""

    def make(rng: random.Random) -> bytes:
        c = _any_codec(rng)
        reg = rng.choice(_rows(c))
        address = reg.address if rng.random() < 0.7 else rng.getrandbits(16)
        dev_id = UNIT if rng.random() < 0.9 else rng.randint(0, 247)
        tid = rng.getrandbits(16)
        kind = rng.randint(0, 3)
        request: ModbusPDU
        if kind == 0:
            request = ReadInputRegistersRequest(
                address=address, count=rng.randint(1, 30), dev_id=dev_id, transaction_id=tid
            )
        elif kind == 1:
            request = ReadHoldingRegistersRequest(
                address=address, count=rng.randint(1, 30), dev_id=dev_id, transaction_id=tid
            )
        elif kind == 2:
            request = WriteSingleRegisterRequest(
                address=address, registers=[rng.getrandbits(16)], dev_id=dev_id, transaction_id=tid
            )
        else:
            values = [rng.getrandbits(16) for _ in range(rng.randint(1, 6))]
            request = WriteMultipleRegistersRequest(
                address=address, registers=values, dev_id=dev_id, transaction_id=tid
            )
        framer: FramerBase = FramerRTU(DecodePDU(is_server=True)) if rtu else FramerSocket(DecodePDU(True))
        return _variant(rng, framer.buildFrame(request), rtu, mutate)

    return make


#: a valid read of the firmware version, sent after every PROBE_EVERY-th input: it must be answered
#: (a stuck line stays stuck, so probing every input is not needed to see it)
PROBE_EVERY = 25
PROBE = bytes(
    FramerRTU(DecodePDU(is_server=False)).buildFrame(
        ReadInputRegistersRequest(address=1, count=2, dev_id=UNIT)
    )
)


def serve_run(station: str, rtu: bool) -> Callable[[bytes], object]:
    """The plant answers; the answer must be nothing or one well-formed Modbus frame."""

    calls: list[None] = []

    def run(data: bytes) -> object:
        plant = _plant(station)
        t = lab(station).t
        answer = plant.serial(t, data) if rtu else plant.modbus_tcp(t, data)
        buffered = len(getattr(plant, "_rtu", b""))
        if buffered > RTU_BUFFER_MAX:
            raise AssertionError(f"the RTU request buffer holds {buffered} bytes > {RTU_BUFFER_MAX}")
        framer: FramerBase = FramerRTU(DecodePDU(is_server=False)) if rtu else FramerSocket(DecodePDU(False))
        if answer:
            used, pdu = framer.handleFrame(answer, 0, 0)
            if pdu is None or used != len(answer):
                raise AssertionError(f"the plant answered {answer.hex()}, not one Modbus frame")
        calls.append(None)
        if rtu and len(calls) % PROBE_EVERY == 0 and not plant.serial(t, PROBE):  # the line is not stuck
            raise AssertionError(f"after {data.hex()} the unit no longer answers a valid request")
        return answer

    return run


def can_input(mutate: Mutate) -> Callable[[random.Random], tuple[int, bytes]]:
    """Frames a CANopen master sends the node: SDO requests (expedited up/downloads of the software
    control, heartbeat, identity and mapped objects), NMT commands, SYNC, anything else."""
    indexes = [0x5100, 0x1017, 0x1018, 0x1000] + [f.index for p in TPDOS for f in p.fields]

    def make(rng: random.Random) -> tuple[int, bytes]:
        roll = rng.random()
        if roll < 0.6:
            command = rng.choice([0x40, 0x23, 0x2B, 0x2F, 0x21, 0x60, 0x80, 0xA0, 0xC0])
            index = rng.choice(indexes) if rng.random() < 0.8 else rng.getrandbits(16)
            sub = rng.randint(0, 0x20)
            frame = bytes([command]) + index.to_bytes(2, "little") + bytes([sub])
            frame += bytes(rng.getrandbits(8) for _ in range(4))
            return 0x600 + NODE, _variant(rng, frame, False, mutate)[:8]
        if roll < 0.75:
            return 0x000, _variant(rng, bytes([rng.choice([1, 2, 0x80, 0x81, 0x82]), NODE]), False, mutate)[
                :8
            ]
        if roll < 0.9:
            return SYNC_COB_ID, _variant(rng, b"", False, mutate)[:8]
        return rng.getrandbits(11), bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 8)))

    return make


def can_run(station: str) -> Callable[[tuple[int, bytes]], object]:
    def run(frame: tuple[int, bytes]) -> object:
        plant = _plant(station)
        plant.can_received(lab(station).t, frame[0], frame[1])
        return None

    return run


def targets(target: Callable[..., Any], mutate: Mutate) -> list[Any]:
    """Every Movicom parser as benchmarks/fuzz.py's Target(name, make, run, declared)."""
    client_errors = (DutError, ModbusException)
    found = [
        target("movicom Codec.decode (registers)", codec_input, codec_run, (ValueError,)),
        target("movicom client answer (RTU)", answer_input(True, mutate), answer_run(True), client_errors),
        target("movicom client answer (TCP)", answer_input(False, mutate), answer_run(False), client_errors),
        target("movicom client decode_tpdo", tpdo_input(mutate), tpdo_run, (DutError,)),
    ]
    for station, variant in (("sim-movicom-main-2.1.yaml", "2.1"), ("sim-movicom-main-2r.yaml", "2R")):
        found.append(
            target(
                f"movicom {variant} plant Modbus RTU (server)",
                request_input(True, mutate),
                serve_run(station, True),
                (),
            )
        )
        found.append(target(f"movicom {variant} plant CANopen node", can_input(mutate), can_run(station), ()))
    found.append(
        target(
            "movicom 2.1 plant Modbus TCP (server)",
            request_input(False, mutate),
            serve_run("sim-movicom-main-2.1.yaml", False),
            (),
        )
    )
    return found
