"""Fuzz every parser of bytes that come from the DUT or the bench: random and mutated inputs.

For each parser it feeds N inputs (default 100,000): valid frames built from random field values,
the same with bit flips, byte changes, truncation, extension, insertion, deletion and duplication,
mutations whose checksums (and LENGTH) are corrected afterwards so they reach the command
parsers, mutations of the INFO field re-encoded as a well-formed frame, random headers, and plain
random bytes. A parser may only raise its declared error:

- YD/T 1363.3 framing (`hil.protocols.yd1363.decode`): `FrameError`; `FrameReader` never raises
  and never buffers more than its limit;
- the 12100's RS-485 commands, client side (`X.parse_response` and what the client derives from
  it: active IDs, telemetry fields, setting values) and twin side (`parse_request`): the
  `ProtocolError` family (`FrameError`, `InfoError`, `RtnError`);
- the CAN codec (`decode_frame`, `InverterView.update`): `CanFrameError`, and a refused frame
  leaves the view unchanged;
- the SCPI answer parsers of the drivers (`query_float`, `errors`, the N6705C's channel lists and
  output states, the PRS-202's resistance strings and *ESR?): `InstrumentError`;
- `VisaTransport.query` on a real socket (bytes an instrument sends): `InstrumentError`.
- the Movicom Main 2.1 / 2R's Modbus codec, its client's answer and TPDO parsing, and the lab's
  Modbus RTU/TCP server side and CANopen node (benchmarks/fuzz_movicom.py says what each may raise).

Prints per parser: inputs, accepted, declared errors, other exceptions (must be 0; the first of
each kind is shown with its input) and inputs/s. Exit status 1 if any parser raised anything else.

    .venv/bin/python benchmarks/fuzz.py [-n 100000] [--seed 1] [--only SUBSTRING] [--no-socket]

tests/test_fuzz.py drives the same builders and targets with hypothesis at small counts.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import random
import socket
import string
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hil.duts.bms12100.config import PARAMETERS  # noqa: E402
from hil.duts.bms12100.protocol import can_codec, rs485  # noqa: E402
from hil.duts.bms12100.protocol.snapshot import Mode, Telemetry  # noqa: E402
from hil.errors import InstrumentError, ProtocolError  # noqa: E402
from hil.instruments.drivers.iet_prs202 import IetPrs202Bank  # noqa: E402
from hil.instruments.drivers.keysight_n6705c import KeysightN6705C  # noqa: E402
from hil.instruments.info import InstrumentInfo  # noqa: E402
from hil.instruments.scpi import ScpiInstrument  # noqa: E402
from hil.instruments.transport import Transport  # noqa: E402
from hil.protocols import yd1363  # noqa: E402
from hil.protocols.can_errors import CanFrameError  # noqa: E402
from hil.protocols.yd1363 import Frame, FrameError, FrameReader  # noqa: E402

# ---------------------------------------------------------------------------------------------
# Mutations of byte strings (shared with tests/test_fuzz.py, which draws the same operations).

OPS = ("flip", "byte", "hex", "truncate", "extend", "insert", "delete", "duplicate")
_HEX = b"0123456789ABCDEF"


def apply_op(op: str, data: bytes, pos: int, extra: bytes) -> bytes:
    """One mutation of `data` at `pos` (taken modulo the length) using `extra` bytes."""
    buf = bytearray(data)
    n = len(buf)
    at = pos % (n + 1)
    if op == "flip" and n:
        buf[at % n] ^= 1 << (pos % 8)
    elif op == "byte" and n:
        buf[at % n] = extra[0] if extra else 0
    elif op == "hex" and n:  # stays a hex digit: gets past the character check to deeper ones
        buf[at % n] = _HEX[(extra[0] if extra else pos) % 16]
    elif op == "truncate":
        del buf[at:]
    elif op == "extend":
        buf += extra or b"\x00"
    elif op == "insert":
        buf[at:at] = extra or b"0"
    elif op == "delete":
        del buf[at : at + 1 + len(extra)]
    elif op == "duplicate" and n:
        buf[at:at] = buf[at : at + 1 + len(extra) * 4]
    return bytes(buf)


def reseal(raw: bytes, relength: bool) -> bytes:
    """Make a mutated YD/T 1363.3 frame's CHKSUM right again (and its LENGTH, if `relength`).

    What a bug in a sender would produce: a frame that passes the framing checks but carries
    wrong content, so the command parsers see it.
    """
    if len(raw) < 6:
        return raw
    body = bytearray(raw[1:-1])
    checked = body[:-4]
    if relength and len(checked) >= 12:
        info_chars = len(checked) - 12
        if 0 <= info_chars <= yd1363.MAX_LENID:
            checked[8:12] = f"{yd1363.length_field(info_chars):04X}".encode()
    return b"~" + bytes(checked) + f"{yd1363.chksum(bytes(checked)):04X}".encode() + b"\r"


def mutate(rng: random.Random, data: bytes, max_ops: int = 3) -> bytes:
    """1..max_ops random mutations."""
    for _ in range(rng.randint(1, max_ops)):
        extra = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 6)))
        data = apply_op(rng.choice(OPS), data, rng.getrandbits(16), extra)
    return data


def random_bytes(rng: random.Random, max_len: int = 64) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, max_len)))


# ---------------------------------------------------------------------------------------------
# Valid RS-485 frames with random content, for every command (both directions).

_PRINTABLE = string.ascii_letters + string.digits + " -_./"


def _text(rng: random.Random, size: int, pad: str) -> str:
    return "".join(rng.choice(_PRINTABLE) for _ in range(rng.randint(0, size))).rstrip(pad)


def _temp(rng: random.Random) -> float:
    return (rng.randint(0, 0xFFFF) - rs485.TEMPERATURE_OFFSET) / 10


def _s16(rng: random.Random, scale: int) -> float:
    return rng.randint(-0x8000, 0x7FFF) / scale


def _u16(rng: random.Random, scale: int = 1) -> float:
    return rng.randint(0, 0xFFFF) / scale


def _status(rng: random.Random) -> rs485.LimitStatus:
    return rng.choice(list(rs485.LimitStatus))


def _pid(rng: random.Random) -> int:
    return rng.choice(PARAMETERS).pid if rng.random() < 0.8 else rng.randint(0, 0xFFFF)


def _analog(rng: random.Random) -> rs485.AnalogValues:
    wide = rng.random() < 0.7
    top = 0xFFFFFF if wide else 0xFFFF
    return rs485.AnalogValues(
        pack=rng.randint(0, 255),
        cell_mv=tuple(rng.randint(0, 0xFFFF) for _ in range(rng.choice([4, 4, 4, 0, 1, 16]))),
        temperatures_c=tuple(_temp(rng) for _ in range(rng.choice([4, 4, 4, 0, 2, 8]))),
        current_a=_s16(rng, rs485.CURRENT_SCALE),
        pack_v=_u16(rng, 1000),
        remaining_ah=rng.randint(0, top) / 1000,
        full_ah=rng.randint(0, top) / 1000,
        cycles=rng.randint(0, 0xFFFF),
        info_flag=rng.randint(0, 255),
        user_defined=rs485.USER_DEFINED_WIDE if wide else rs485.USER_DEFINED_NARROW,
    )


def _alarm(rng: random.Random) -> rs485.AlarmInfo:
    if rng.random() < 0.7:
        ids = [rid for rid in rs485.ALARM_FLAG_BITS if rng.random() < 0.1]
        flags = rs485.alarm_flags(ids)
    else:
        flags = random_bytes(rng, 8)
    return rs485.AlarmInfo(
        pack=rng.randint(0, 255),
        cell_status=tuple(_status(rng) for _ in range(rng.choice([4, 4, 0, 16]))),
        temperature_status=tuple(_status(rng) for _ in range(rng.choice([4, 4, 0, 8]))),
        charge_current_status=_status(rng),
        pack_voltage_status=_status(rng),
        discharge_current_status=_status(rng),
        status1=rs485.Status1(rng.randint(0, 255)),
        status2=rs485.Status2(rng.randint(0, 255)),
        status3=rs485.Status3(rng.randint(0, 255)),
        cell_errors=rng.randint(0, 0xFFFF),
        flags=flags,
        info_flag=rng.randint(0, 255),
    )


def _system(rng: random.Random) -> rs485.SystemParameters:
    return rs485.SystemParameters(
        cell_high_voltage_limit_mv=rng.randint(0, 0xFFFF),
        cell_low_voltage_limit_mv=rng.randint(0, 0xFFFF),
        cell_under_voltage_limit_mv=rng.randint(0, 0xFFFF),
        charge_high_temperature_limit_c=_temp(rng),
        charge_low_temperature_limit_c=_temp(rng),
        charge_current_limit_a=_s16(rng, rs485.CURRENT_SCALE),
        pack_high_voltage_limit_v=_u16(rng, 1000),
        pack_low_voltage_limit_v=_u16(rng, 1000),
        pack_under_voltage_limit_v=_u16(rng, 1000),
        discharge_high_temperature_limit_c=_temp(rng),
        discharge_low_temperature_limit_c=_temp(rng),
        discharge_current_limit_a=_s16(rng, rs485.CURRENT_SCALE),
        info_flag=rng.randint(0, 255),
    )


def _charge(rng: random.Random) -> rs485.ChargeManagement:
    return rs485.ChargeManagement(
        pack=rng.randint(0, 255),
        charge_voltage_limit_v=_u16(rng, 1000),
        discharge_voltage_limit_v=_u16(rng, 1000),
        charge_current_limit_a=_s16(rng, rs485.CURRENT_SCALE),
        discharge_current_limit_a=_s16(rng, rs485.CURRENT_SCALE),
        charge_enable=rng.random() < 0.5,
        discharge_enable=rng.random() < 0.5,
        charge_immediately=rng.random() < 0.5,
        charge_immediately_2=rng.random() < 0.5,
        full_charge_request=rng.random() < 0.5,
    )


def _history(rng: random.Random) -> rs485.HistoryRecord:
    rid = rng.choice(list(rs485.ALARM_FLAG_BITS)) if rng.random() < 0.8 else _text(rng, 10, " ")
    return rs485.HistoryRecord(
        index=rng.randint(0, 0xFFFF),
        time_s=rng.randint(0, 0xFFFFFFFF),
        kind=rng.choice(list(rs485.EventKind)),
        requirement_id=rid,
        cell_mv=tuple(rng.randint(0, 0xFFFF) for _ in range(4)),
        pack_v=_u16(rng, 1000),
        current_a=_s16(rng, rs485.CURRENT_SCALE),
        temperatures_c=tuple(_temp(rng) for _ in range(4)),
    )


def _adr(rng: random.Random) -> int:
    return rng.randint(rs485.MIN_ADDRESS, rs485.MAX_ADDRESS)


#: command -> a valid response frame with random content
RESPONSES: dict[rs485.Command[Any, Any], Callable[[random.Random], Frame]] = {
    rs485.GetProtocolVersion: lambda r: rs485.GetProtocolVersion.response(_adr(r), r.randint(0, 255)),
    rs485.GetManufacturerInfo: lambda r: rs485.GetManufacturerInfo.response(
        _adr(r),
        rs485.ManufacturerInfo(
            _text(r, rs485.NAME_CHARS, "\x00"),
            (r.randint(0, 255), r.randint(0, 255)),
            _text(r, rs485.MANUFACTURER_CHARS, "\x00"),
        ),
    ),
    rs485.GetAnalogValues: lambda r: rs485.GetAnalogValues.response(_adr(r), _analog(r)),
    rs485.GetAlarmInfo: lambda r: rs485.GetAlarmInfo.response(_adr(r), _alarm(r)),
    rs485.GetSystemParameters: lambda r: rs485.GetSystemParameters.response(_adr(r), _system(r)),
    rs485.GetChargeManagement: lambda r: rs485.GetChargeManagement.response(_adr(r), _charge(r)),
    rs485.GetSerialNumber: lambda r: rs485.GetSerialNumber.response(
        _adr(r), rs485.SerialNumber(r.randint(0, 255), _text(r, rs485.SERIAL_CHARS, "\x00"))
    ),
    rs485.ReadParameter: lambda r: rs485.ReadParameter.response(
        _adr(r), rs485.ParameterValue(_pid(r), r.randint(-(2**31), 2**31 - 1))
    ),
    rs485.WriteParameter: lambda r: rs485.WriteParameter.response(
        _adr(r), rs485.ParameterValue(_pid(r), r.randint(-(2**31), 2**31 - 1))
    ),
    rs485.GetHistoryCount: lambda r: rs485.GetHistoryCount.response(_adr(r), r.randint(0, 0xFFFF)),
    rs485.ReadHistory: lambda r: rs485.ReadHistory.response(_adr(r), _history(r)),
    rs485.SetRemainingCapacity: lambda r: rs485.SetRemainingCapacity.response(
        _adr(r), r.randint(0, 0xFFFFFFFF) / 100
    ),
}

#: command -> a valid request frame with random arguments
REQUESTS: dict[rs485.Command[Any, Any], Callable[[random.Random], Frame]] = {
    rs485.GetProtocolVersion: lambda r: rs485.GetProtocolVersion.request(_adr(r), r.choice([0x20, 0x00])),
    rs485.GetManufacturerInfo: lambda r: rs485.GetManufacturerInfo.request(_adr(r)),
    rs485.GetAnalogValues: lambda r: rs485.GetAnalogValues.request(_adr(r), r.randint(0, 255)),
    rs485.GetAlarmInfo: lambda r: rs485.GetAlarmInfo.request(_adr(r), r.randint(0, 255)),
    rs485.GetSystemParameters: lambda r: rs485.GetSystemParameters.request(_adr(r)),
    rs485.GetChargeManagement: lambda r: rs485.GetChargeManagement.request(_adr(r)),
    rs485.GetSerialNumber: lambda r: rs485.GetSerialNumber.request(_adr(r)),
    rs485.ReadParameter: lambda r: rs485.ReadParameter.request(_adr(r), _pid(r)),
    rs485.WriteParameter: lambda r: rs485.WriteParameter.request(
        _adr(r), _pid(r), r.randint(-(2**31), 2**31 - 1)
    ),
    rs485.GetHistoryCount: lambda r: rs485.GetHistoryCount.request(_adr(r)),
    rs485.ReadHistory: lambda r: rs485.ReadHistory.request(_adr(r), r.randint(0, 0xFFFF)),
    rs485.SetRemainingCapacity: lambda r: rs485.SetRemainingCapacity.request(
        _adr(r), r.randint(0, 0xFFFFFFFF) / 100
    ),
}


def wire_variant(rng: random.Random, frame: Frame) -> bytes:
    """The wire bytes of `frame`, or one of its random/mutated variants (see the module doc)."""
    kind = rng.random()
    if kind < 0.10:  # as built
        return yd1363.encode(frame)
    if kind < 0.35:  # mutated on the wire, checksums left as they come out
        return mutate(rng, yd1363.encode(frame))
    if kind < 0.55:  # mutated on the wire, CHKSUM (and sometimes LENGTH) corrected
        return reseal(mutate(rng, yd1363.encode(frame)), relength=rng.random() < 0.5)
    if kind < 0.85:  # INFO mutated and re-encoded: a well-formed frame with wrong content
        info = mutate(rng, frame.info)[: yd1363.MAX_INFO_BYTES]
        return yd1363.encode(dataclasses.replace(frame, info=info))
    if kind < 0.92:  # another header (version, address, group, code) on the same INFO
        return yd1363.encode(
            Frame(
                rng.choice([frame.ver, rng.getrandbits(8)]),
                rng.getrandbits(8),
                rng.choice([frame.cid1, rng.getrandbits(8)]),
                rng.choice([frame.cid2, 0, rng.getrandbits(8)]),
                frame.info,
            )
        )
    if kind < 0.96:  # random hex between SOI and EOI, checksums right
        return reseal(b"~" + bytes(rng.choice(_HEX) for _ in range(rng.randint(12, 80))) + b"0000\r", True)
    return random_bytes(rng, 80)


# ---------------------------------------------------------------------------------------------
# CAN frames.


def random_telemetry(rng: random.Random) -> Telemetry:
    ids = frozenset(rid for rid in can_codec.FLAG_BITS if rng.random() < 0.1)
    return Telemetry(
        cell_mv=[rng.randint(0, 5000) for _ in range(4)],
        temperatures_c=[rng.uniform(-400, 400) for _ in range(4)],
        pack_v=rng.uniform(-10, 400),
        current_a=rng.uniform(-4000, 4000),
        soc_pct=rng.uniform(-10, 150),
        soh_pct=rng.uniform(-10, 150),
        remaining_ah=rng.uniform(0, 200),
        full_ah=rng.uniform(0, 200),
        cycles=rng.randint(0, 10000),
        mode=rng.choice(list(Mode)),
        charge_fet=rng.random() < 0.5,
        discharge_fet=rng.random() < 0.5,
        active=ids | ({"SOC-LA"} if rng.random() < 0.2 else set()),
        charge_voltage_limit_v=rng.uniform(-10, 7000),
        charge_current_limit_a=rng.uniform(-10, 4000),
        discharge_current_limit_a=rng.uniform(-10, 4000),
        discharge_voltage_limit_v=rng.uniform(-10, 7000),
    )


def can_variant(rng: random.Random) -> tuple[int, bytes, bool]:
    """(arbitration ID, data, extended) of a valid, mutated or random CAN frame."""
    if rng.random() < 0.1:
        frame_id, data = can_codec.ID_KEEPALIVE, random_bytes(rng, 8)
    else:
        manufacturer = _text(rng, 8, " ") if rng.random() < 0.5 else can_codec.DEFAULT_MANUFACTURER
        frame_id, data = rng.choice(can_codec.encode_telemetry(random_telemetry(rng), manufacturer))
    extended = False
    kind = rng.random()
    if kind < 0.45:
        data = mutate(rng, data)
    elif kind < 0.55:
        frame_id = rng.getrandbits(11)
    elif kind < 0.6:
        frame_id, extended = rng.choice([frame_id, rng.getrandbits(29)]), True
    elif kind < 0.7:
        data = random_bytes(rng, 9)
    return frame_id, data[:64], extended


# ---------------------------------------------------------------------------------------------
# SCPI answers through a transport that returns what it is given.


class ScriptedTransport(Transport):
    """Answers every query with `answer`; commands go nowhere."""

    def __init__(self) -> None:
        self.answer = ""

    def write(self, message: str) -> None:
        pass

    def query(self, message: str) -> str:
        return self.answer

    def close(self) -> None:
        pass


SCPI_SEEDS = (
    "+3.65000000E+00",
    "-1.25E-03",
    "9.9E+37",
    "+1.23400000E+00,+1.23500000E+00,+1.23600000E+00,+1.23700000E+00",
    '+0,"No error"',
    '-113,"Undefined header"',
    "0",
    "1",
    "ON",
    "32",
    "0000100000",
    '"0001000000"',
    "0100000000",
)


def scpi_variant(rng: random.Random) -> str:
    """A valid-looking SCPI answer, mutated, or random text (printable or any Unicode)."""
    kind = rng.random()
    seed = rng.choice(SCPI_SEEDS)
    if kind < 0.15:
        return seed
    if kind < 0.75:
        return mutate(rng, seed.encode()).decode("latin-1")
    if kind < 0.9:
        return "".join(rng.choice(string.printable) for _ in range(rng.randint(0, 30)))
    return "".join(chr(rng.randint(0, 0x2FFF)) for _ in range(rng.randint(0, 12)))


def _info(channels: dict[str, str]) -> InstrumentInfo:
    return InstrumentInfo(role="fuzz", model="fuzz", resource="fuzz", channels=channels)


# ---------------------------------------------------------------------------------------------
# Targets: a parser, what it may raise, and how to make its inputs.


@dataclass
class Target:
    """One parser under fuzzing."""

    name: str
    make: Callable[[random.Random], Any]  # an input
    run: Callable[[Any], object]  # parse it; returns the result (an invariant failure raises)
    declared: tuple[type[BaseException], ...]


def _parse_response(command: rs485.Command[Any, Any]) -> Callable[[bytes], object]:
    def run(raw: bytes) -> object:
        result = command.parse_response(yd1363.decode(raw))
        # what the client derives from the answer is part of the parsing
        if isinstance(result, rs485.AlarmInfo):
            rs485.active_ids_from_alarm_info(result)
            _ = (result.charge_fet, result.discharge_fet)
        elif isinstance(result, rs485.AnalogValues):
            rs485.telemetry_fields_from_analog(result)
        elif isinstance(result, rs485.ParameterValue):
            _ = result.value
        return result

    return run


def _wire_of(build: Callable[[random.Random], Frame]) -> Callable[[random.Random], bytes]:
    """Inputs for one command: its valid frames and their variants."""
    return lambda rng: wire_variant(rng, build(rng))


def _frame_reader(raw: bytes) -> object:
    reader = FrameReader()
    frames: list[Frame | FrameError] = []
    for start in range(0, len(raw), 7):
        frames += reader.feed_events(raw[start : start + 7])
        if reader.buffered > reader.max_buffer:
            raise AssertionError(f"FrameReader holds {reader.buffered} bytes > {reader.max_buffer}")
    return frames


def _stream(rng: random.Random) -> bytes:
    """Several frames (valid, mutated, garbage) back to back, as a serial port delivers them."""
    parts = []
    for _ in range(rng.randint(1, 4)):
        command = rng.choice(list(RESPONSES))
        parts.append(wire_variant(rng, RESPONSES[command](rng)))
    return b"".join(parts)


def _view_update(frame: tuple[int, bytes, bool]) -> object:
    frame_id, data, extended = frame
    view = can_codec.InverterView()
    before = dataclasses.asdict(view)
    try:
        if extended:
            return can_codec.decode_frame(frame_id, data, is_extended_id=True)
        return view.update(frame_id, data, 1.0)
    except CanFrameError:
        if dataclasses.asdict(view) != before:
            raise AssertionError("a refused frame changed the InverterView") from None
        raise


def _scpi(
    action: Callable[[ScpiInstrument], object], make: Callable[[], ScpiInstrument]
) -> Callable[[str], object]:
    def run(answer: str) -> object:
        inst = make()
        assert isinstance(inst.transport, ScriptedTransport)
        inst.transport.answer = answer
        return action(inst)

    return run


def _generic() -> ScpiInstrument:
    """The SCPI dialect's own parsers (query_float, errors), on a driver with no channels mapped."""
    return KeysightN6705C(_info({}), ScriptedTransport())


def _n6705c() -> ScpiInstrument:
    return KeysightN6705C(_info({f"CELL{i}": str(i) for i in range(1, 5)}), ScriptedTransport())


def _prs202() -> ScpiInstrument:
    return IetPrs202Bank(_info({"T_CELL1": "5"}), ScriptedTransport())


def _on(inst: ScpiInstrument) -> object:
    assert isinstance(inst, KeysightN6705C)
    return inst.output_is_on("CELL1")


def _currents(inst: ScpiInstrument) -> object:
    assert isinstance(inst, KeysightN6705C)
    return inst.measure_currents()


def _resistance(inst: ScpiInstrument) -> object:
    assert isinstance(inst, IetPrs202Bank)
    return inst.get_resistance("T_CELL1")


def targets() -> list[Target]:
    """Every parser this bench fuzzes, in-process (the socket target is separate)."""
    found = [
        Target(
            "yd1363.decode",
            lambda r: wire_variant(r, r.choice(list(RESPONSES.values()) + list(REQUESTS.values()))(r)),
            yd1363.decode,
            (FrameError,),
        ),
        Target("yd1363.FrameReader", _stream, _frame_reader, ()),
    ]
    for command, build in RESPONSES.items():
        found.append(
            Target(
                f"rs485.{command.__name__}.parse_response",
                _wire_of(build),
                _parse_response(command),
                (ProtocolError,),
            )
        )
    found.append(
        Target(
            "rs485.parse_request (twin)",
            lambda r: wire_variant(r, r.choice(list(REQUESTS.values()))(r)),
            lambda raw: rs485.parse_request(yd1363.decode(raw)),
            (FrameError,),
        )
    )
    found.append(
        Target(
            "can_codec.decode_frame",
            can_variant,
            lambda f: can_codec.decode_frame(f[0], f[1], is_extended_id=f[2]),
            (CanFrameError,),
        )
    )
    found.append(Target("can_codec.InverterView.update", can_variant, _view_update, (CanFrameError,)))
    scpi = [
        ("ScpiInstrument.query_float", _generic, lambda i: i.query_float("MEAS:VOLT?")),
        ("ScpiInstrument.errors", _generic, lambda i: i.errors()),
        ("KeysightN6705C.output_is_on", _n6705c, _on),
        ("KeysightN6705C.measure_currents", _n6705c, _currents),
        ("IetPrs202Bank.get_resistance", _prs202, _resistance),
        ("IetPrs202Bank.errors", _prs202, lambda i: i.errors()),
    ]
    for name, make, action in scpi:
        found.append(Target(name, scpi_variant, _scpi(action, make), (InstrumentError,)))
    family: list[Target] = _family("fuzz_movicom").targets(Target, mutate)
    return found + family


def _family(module: str) -> ModuleType:
    """A family's fuzz targets beside this file (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{module}", Path(__file__).with_name(f"{module}.py"))
    assert spec is not None and spec.loader is not None
    found = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = found
    spec.loader.exec_module(found)
    return found


# ---------------------------------------------------------------------------------------------
# VisaTransport on a socket: bytes from an "instrument" that answers each line with the next input.


@contextlib.contextmanager
def scripted_instrument(answers: Iterator[bytes]) -> Iterator[str]:
    """A TCP server answering every received line with the next of `answers` (+ newline)."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = server.accept()
                with conn, conn.makefile("rb") as lines:
                    for _line in lines:
                        conn.sendall(next(answers, b"") + b"\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"TCPIP0::127.0.0.1::{port}::SOCKET"
    finally:
        server.close()


def socket_answer(rng: random.Random) -> bytes:
    """One line an instrument might send: a mutated SCPI answer or random bytes, without newline."""
    data = scpi_variant(rng).encode("utf-8", "replace") if rng.random() < 0.6 else random_bytes(rng, 24)
    return data.replace(b"\n", b" ")


# ---------------------------------------------------------------------------------------------


@dataclass
class Tally:
    """Counts of one parser's run."""

    name: str
    inputs: int = 0
    accepted: int = 0
    declared: int = 0
    other: int = 0
    seconds: float = 0.0
    first_other: dict[str, str] = field(default_factory=dict)

    def line(self) -> str:
        rate = self.inputs / self.seconds if self.seconds else 0.0
        return (
            f"{self.name:44s} {self.inputs:9,d} {self.accepted:9,d} {self.declared:9,d} "
            f"{self.other:6,d} {rate:11,.0f}"
        )


def _where(exc: BaseException) -> str:
    """An exception's kind: its type and the line that raised it (one entry per bug, not per input)."""
    frames = traceback.extract_tb(exc.__traceback__)
    place = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}{place}"


def fuzz(target: Target, n: int, seed: int) -> Tally:
    """Feed `n` inputs to one target."""
    rng = random.Random(f"{seed}:{target.name}")
    tally = Tally(target.name)
    start = time.perf_counter()
    for _ in range(n):
        item = target.make(rng)
        tally.inputs += 1
        try:
            target.run(item)
            tally.accepted += 1
        except target.declared:
            tally.declared += 1
        except Exception as exc:
            tally.other += 1
            tally.first_other.setdefault(_where(exc), f"{exc!s:.100}\n    input: {item!r:.300}")
    tally.seconds = time.perf_counter() - start
    return tally


def fuzz_socket(n: int, seed: int) -> Tally:
    """`VisaTransport.query` against a socket that answers with random/mutated lines."""
    from hil.instruments.transport import VisaTransport

    rng = random.Random(f"{seed}:socket")
    answers = [socket_answer(rng) for _ in range(n)]
    tally = Tally("VisaTransport.query (socket bytes)")
    start = time.perf_counter()
    with scripted_instrument(iter(answers)) as resource:
        transport = VisaTransport("fuzz", resource, timeout_s=2.0)
        try:
            for answer in answers:
                tally.inputs += 1
                try:
                    transport.query("MEAS:VOLT?")
                    tally.accepted += 1
                except InstrumentError:
                    tally.declared += 1
                except Exception as exc:
                    tally.other += 1
                    tally.first_other.setdefault(_where(exc), f"{exc!s:.100}\n    input: {answer!r:.300}")
        finally:
            transport.close()
    tally.seconds = time.perf_counter() - start
    return tally


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000, help="inputs per parser (default 100000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", help="run only parsers whose name contains this")
    parser.add_argument("--no-socket", action="store_true", help="skip VisaTransport on a socket")
    args = parser.parse_args()
    chosen = [t for t in targets() if not args.only or args.only in t.name]
    print(f"{'parser':44s} {'inputs':>9s} {'accepted':>9s} {'declared':>9s} {'other':>6s} {'inputs/s':>11s}")
    tallies = []
    for target in chosen:
        tally = fuzz(target, args.n, args.seed)
        tallies.append(tally)
        print(tally.line(), flush=True)
    socket_name = "VisaTransport.query (socket bytes)"
    if not args.no_socket and (not args.only or args.only in socket_name):
        tally = fuzz_socket(args.n, args.seed)
        tallies.append(tally)
        print(tally.line(), flush=True)
    total = sum(t.inputs for t in tallies)
    others = sum(t.other for t in tallies)
    seconds = sum(t.seconds for t in tallies)
    print(f"total: {total:,d} inputs, {others} other exceptions, {seconds:.1f} s")
    for tally in tallies:
        for kind, example in tally.first_other.items():
            print(f"OTHER {tally.name}: {kind}: {example}")
    return 1 if others else 0


if __name__ == "__main__":
    raise SystemExit(main())
