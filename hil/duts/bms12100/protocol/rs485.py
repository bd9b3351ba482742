"""RS-485 command set of the 12100 BMS: YD/T 1363.3 frames with Pylontech-style INFO layouts.

The seed (§3.9, §10.1) only says the BMS speaks YD/T 1363.3 at 9600 Bd and names the vendor's
protocol file "1201-04S-V13 ADDR-EN"; it gives no frame layouts. The layouts here are OUR reading
of the Pylontech RS-485 protocol (v3.3 as published, and public clients of it), which
Pylontech-compatible packs such as this one follow, and they are to be confirmed against that
vendor file. Commands 0xD0..0xD4 are OUR definitions for the settings, history and capacity access
the seed requires (PARAM, HIST); the real firmware will have its own. Every layout is described in
docs/protocols/bms12100-rs485.md.

The same code serves both ends: the framework's client builds requests (`X.request`) and parses
responses (`X.parse_response`); the firmware twin parses requests (`X.parse_request` or the
dispatcher `parse_request`) and builds responses (`X.response`, `error_response`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import IntEnum, IntFlag
from typing import ClassVar, Literal, TypeAlias, TypedDict

from hil.duts.bms12100 import CELL_COUNT, NTC_NAMES
from hil.duts.bms12100.config import PARAMETERS_BY_PID, Parameter, Settings, from_wire, to_wire
from hil.duts.bms12100.protocol.snapshot import Mode, Telemetry
from hil.errors import ProtocolError
from hil.protocols.yd1363 import Frame, FrameError, Rtn

VER = 0x20  # protocol version 2.0, as Pylontech packs report it
CID1 = 0x46  # YD/T 1363.3 device group: lithium battery
MIN_ADDRESS = 1  # DIP-switch address range: up to 8 packs in parallel (seed §1)
MAX_ADDRESS = 8
CURRENT_SCALE = 100  # wire counts per ampere (10 mA); public Pylontech clients read 100 mA, see docs
TEMPERATURE_OFFSET = 2731  # temperatures travel as 0.1 K: wire = round(°C * 10) + 2731
USER_DEFINED_WIDE = 4  # 0x42 variant with 3-byte capacities (needed above 65.535 Ah)
USER_DEFINED_NARROW = 2  # 0x42 variant with 2-byte capacities only
REQUIREMENT_ID_CHARS = 10  # width of the ID field of a history record
NAME_CHARS = 10  # 0x51 device name
MANUFACTURER_CHARS = 20  # 0x51 manufacturer name
SERIAL_CHARS = 16  # 0x93 serial number


class Cid2(IntEnum):
    """Command codes (CID2 of requests)."""

    GET_ANALOG_VALUES = 0x42
    GET_ALARM_INFO = 0x44
    GET_SYSTEM_PARAMETERS = 0x47
    GET_PROTOCOL_VERSION = 0x4F
    GET_MANUFACTURER_INFO = 0x51
    GET_CHARGE_MANAGEMENT = 0x92
    GET_SERIAL_NUMBER = 0x93
    READ_PARAMETER = 0xD0  # ours
    WRITE_PARAMETER = 0xD1  # ours
    GET_HISTORY_COUNT = 0xD2  # ours
    READ_HISTORY = 0xD3  # ours
    SET_REMAINING_CAPACITY = 0xD4  # ours


class InfoError(FrameError):
    """A well-formed frame whose header or INFO does not fit the command; `rtn` is the answer code."""


class RtnError(ProtocolError):
    """The BMS answered a command with a return code other than NORMAL."""

    def __init__(self, command: Cid2, frame: Frame) -> None:
        self.command = command
        self.frame = frame
        self.rtn = frame.cid2
        try:
            meaning = Rtn(frame.cid2).name
        except ValueError:
            meaning = "unknown code"
        super().__init__(f"{command.name}: ADR {frame.adr} answered RTN {frame.cid2:#04x} ({meaning})")


class LimitStatus(IntEnum):
    """Per-value state byte of 0x44 (Pylontech): normal, below lower limit, above upper limit, other."""

    NORMAL = 0x00
    BELOW_LOWER = 0x01
    ABOVE_UPPER = 0x02
    OTHER_ERROR = 0xF0


class Status1(IntFlag):
    """0x44 Status1: protection states (Pylontech bit layout)."""

    MODULE_OVER_VOLTAGE = 0x01
    CELL_UNDER_VOLTAGE = 0x02
    CHARGE_OVER_CURRENT = 0x04
    DISCHARGE_OVER_CURRENT = 0x10
    DISCHARGE_OVER_TEMPERATURE = 0x20
    CHARGE_OVER_TEMPERATURE = 0x40
    MODULE_UNDER_VOLTAGE = 0x80


class Status2(IntFlag):
    """0x44 Status2: switch states (Pylontech bit layout)."""

    PRE_MOSFET = 0x01
    CHARGE_MOSFET = 0x02
    DISCHARGE_MOSFET = 0x04
    USING_BATTERY_POWER = 0x08


class Status3(IntFlag):
    """0x44 Status3: operating states (Pylontech bit layout)."""

    BUZZER = 0x01
    FULLY_CHARGED = 0x08
    HEATER = 0x20
    EFFECTIVE_DISCHARGE_CURRENT = 0x40
    EFFECTIVE_CHARGE_CURRENT = 0x80


_NO_STATUS1, _NO_STATUS2, _NO_STATUS3 = Status1(0), Status2(0), Status3(0)


class EventKind(IntEnum):
    """What a history record marks: an alarm/protection coming or going."""

    TRIGGER = 1
    RELEASE = 2


# ---------------------------------------------------------------------------------------------
# Requirement ID <-> 0x44 flag bits. OUR extension after Pylontech's Status5: a count byte P and
# P flag bytes, one bit per ID that can be active (bits not listed are reserved and must be 0).
# This table is the one authority for Telemetry.active on the wire.
ALARM_FLAG_BYTES = 5
ALARM_FLAG_BITS: dict[str, tuple[int, int]] = {  # ID -> (flag byte, bit)
    # byte 0: cell and pack voltage alarms and protections
    "CV-HA": (0, 0),
    "CV-LA": (0, 1),
    "CV-OVP": (0, 2),
    "CV-UVP": (0, 3),
    "PV-HA": (0, 4),
    "PV-LA": (0, 5),
    "PV-OVP": (0, 6),
    "PV-UVP": (0, 7),
    # byte 1: cell temperature while charging (TC) and discharging (TD)
    "TC-HA": (1, 0),
    "TC-OTP": (1, 1),
    "TC-LA": (1, 2),
    "TC-UTP": (1, 3),
    "TD-HA": (1, 4),
    "TD-OTP": (1, 5),
    "TD-LA": (1, 6),
    "TD-UTP": (1, 7),
    # byte 2: ambient (TE) and power MOSFET (TP) temperature; bits 6-7 reserved
    "TE-HA": (2, 0),
    "TE-OTP": (2, 1),
    "TE-LA": (2, 2),
    "TE-UTP": (2, 3),
    "TP-HA": (2, 4),
    "TP-OTP": (2, 5),
    # byte 3: current alarms, protections and locks
    "IC-A": (3, 0),
    "IC-OCP": (3, 1),
    "ID-A": (3, 2),
    "ID-OCP": (3, 3),
    "ID-TOCP": (3, 4),
    "ID-TLOCK": (3, 5),
    "SCP": (3, 6),
    "SCP-LOCK": (3, 7),
    # byte 4: cell failure, SOC, charger over-voltage; bits 4-7 reserved
    "CELL-FAIL": (4, 0),
    "SOC-LA": (4, 1),
    "SOC-LP": (4, 2),
    "CHG-HV": (4, 3),
}
_ID_BY_FLAG_BIT = {bit: rid for rid, bit in ALARM_FLAG_BITS.items()}

# Where an active ID also shows in Pylontech's standard 0x44 fields, for third-party hosts.
# Targets: the highest/lowest cell, the cell furthest from the mean, the warmer/colder cell NTC,
# the ambient or power NTC, or one of the three pack-level state bytes.
_Target = Literal[
    "cell_high", "cell_low", "cell_outlier", "ntc_cell_high", "ntc_cell_low",
    "ntc_ambient", "ntc_power", "charge_current", "pack_voltage", "discharge_current",
]  # fmt: skip
_LIMIT_STATUS_BY_ID: dict[str, tuple[_Target, LimitStatus]] = {
    "CV-HA": ("cell_high", LimitStatus.ABOVE_UPPER),
    "CV-OVP": ("cell_high", LimitStatus.ABOVE_UPPER),
    "CV-LA": ("cell_low", LimitStatus.BELOW_LOWER),
    "CV-UVP": ("cell_low", LimitStatus.BELOW_LOWER),
    "PV-HA": ("pack_voltage", LimitStatus.ABOVE_UPPER),
    "PV-OVP": ("pack_voltage", LimitStatus.ABOVE_UPPER),
    "PV-LA": ("pack_voltage", LimitStatus.BELOW_LOWER),
    "PV-UVP": ("pack_voltage", LimitStatus.BELOW_LOWER),
    "TC-HA": ("ntc_cell_high", LimitStatus.ABOVE_UPPER),
    "TC-OTP": ("ntc_cell_high", LimitStatus.ABOVE_UPPER),
    "TD-HA": ("ntc_cell_high", LimitStatus.ABOVE_UPPER),
    "TD-OTP": ("ntc_cell_high", LimitStatus.ABOVE_UPPER),
    "TC-LA": ("ntc_cell_low", LimitStatus.BELOW_LOWER),
    "TC-UTP": ("ntc_cell_low", LimitStatus.BELOW_LOWER),
    "TD-LA": ("ntc_cell_low", LimitStatus.BELOW_LOWER),
    "TD-UTP": ("ntc_cell_low", LimitStatus.BELOW_LOWER),
    "TE-HA": ("ntc_ambient", LimitStatus.ABOVE_UPPER),
    "TE-OTP": ("ntc_ambient", LimitStatus.ABOVE_UPPER),
    "TE-LA": ("ntc_ambient", LimitStatus.BELOW_LOWER),
    "TE-UTP": ("ntc_ambient", LimitStatus.BELOW_LOWER),
    "TP-HA": ("ntc_power", LimitStatus.ABOVE_UPPER),
    "TP-OTP": ("ntc_power", LimitStatus.ABOVE_UPPER),
    "IC-A": ("charge_current", LimitStatus.ABOVE_UPPER),
    "IC-OCP": ("charge_current", LimitStatus.ABOVE_UPPER),
    "ID-A": ("discharge_current", LimitStatus.ABOVE_UPPER),
    "ID-OCP": ("discharge_current", LimitStatus.ABOVE_UPPER),
    "ID-TOCP": ("discharge_current", LimitStatus.ABOVE_UPPER),
    "SCP": ("discharge_current", LimitStatus.ABOVE_UPPER),
    "CELL-FAIL": ("cell_outlier", LimitStatus.OTHER_ERROR),
}
_STATUS1_BY_ID: dict[str, Status1] = {
    "PV-OVP": Status1.MODULE_OVER_VOLTAGE,
    "CV-UVP": Status1.CELL_UNDER_VOLTAGE,
    "IC-OCP": Status1.CHARGE_OVER_CURRENT,
    "ID-OCP": Status1.DISCHARGE_OVER_CURRENT,
    "ID-TOCP": Status1.DISCHARGE_OVER_CURRENT,
    "SCP": Status1.DISCHARGE_OVER_CURRENT,
    "TD-OTP": Status1.DISCHARGE_OVER_TEMPERATURE,
    "TC-OTP": Status1.CHARGE_OVER_TEMPERATURE,
    "PV-UVP": Status1.MODULE_UNDER_VOLTAGE,
}
_CELL_NTCS = (NTC_NAMES.index("cell1"), NTC_NAMES.index("cell2"))
_AMBIENT_NTC = NTC_NAMES.index("ambient")
_POWER_NTC = NTC_NAMES.index("power")

# 0x92 status byte (Pylontech bit layout); bits 0-2 reserved.
_CHARGE_STATUS_BITS: dict[str, int] = {
    "charge_enable": 0x80,
    "discharge_enable": 0x40,
    "charge_immediately": 0x20,
    "charge_immediately_2": 0x10,
    "full_charge_request": 0x08,
}


# ---------------------------------------------------------------------------------------------
# Byte packing with range checks and errors that name the field.


def _u8(value: int, name: str) -> int:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{name} must be 0..255, got {value}")
    return value


class _Writer:
    """Builds an INFO field big-endian; out-of-range values raise ValueError naming the field."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._buf = bytearray()

    def uint(self, value: int, size: int, name: str) -> _Writer:
        if not 0 <= value < 1 << (8 * size):
            raise ValueError(f"{self._what}: {name} = {value} does not fit {size} unsigned byte(s)")
        self._buf += value.to_bytes(size, "big")
        return self

    def sint(self, value: int, size: int, name: str) -> _Writer:
        limit = 1 << (8 * size - 1)
        if not -limit <= value < limit:
            raise ValueError(f"{self._what}: {name} = {value} does not fit {size} signed byte(s)")
        self._buf += value.to_bytes(size, "big", signed=True)
        return self

    def text(self, value: str, size: int, name: str, pad: bytes) -> _Writer:
        if not (value.isascii() and value.isprintable()) or len(value) > size:
            raise ValueError(f"{self._what}: {name} must be printable ASCII, at most {size} chars: {value!r}")
        if value != value.rstrip(pad.decode("ascii")):
            raise ValueError(f"{self._what}: {name} must not end in its padding character: {value!r}")
        self._buf += value.encode("ascii").ljust(size, pad)
        return self

    def raw(self, data: bytes) -> _Writer:
        self._buf += data
        return self

    def done(self) -> bytes:
        return bytes(self._buf)


class _Reader:
    """Walks an INFO field; running short, left-over bytes or bad text raise InfoError."""

    def __init__(self, frame: Frame, what: str) -> None:
        self._info = frame.info
        self._adr = frame.adr
        self._what = what
        self._pos = 0

    def error(self, detail: str, rtn: Rtn = Rtn.COMMAND_FORMAT_ERROR) -> InfoError:
        return InfoError(f"{self._what}: {detail}", rtn, adr=self._adr)

    def take(self, size: int, name: str) -> bytes:
        if self._pos + size > len(self._info):
            raise self.error(
                f"INFO ends before {name} (needs {size} byte(s) at offset {self._pos}, "
                f"INFO has {len(self._info)})"
            )
        data = self._info[self._pos : self._pos + size]
        self._pos += size
        return data

    def uint(self, size: int, name: str) -> int:
        return int.from_bytes(self.take(size, name), "big")

    def sint(self, size: int, name: str) -> int:
        return int.from_bytes(self.take(size, name), "big", signed=True)

    def text(self, size: int, name: str, pad: bytes) -> str:
        data = self.take(size, name).rstrip(pad)
        if not data.isascii() or not data.decode("ascii").isprintable():
            raise self.error(f"{name} is not printable ASCII: {data!r}")
        return data.decode("ascii")

    def end(self) -> None:
        if self._pos != len(self._info):
            raise self.error(f"{len(self._info) - self._pos} unexpected byte(s) after offset {self._pos}")


def _temp_to_wire(celsius: float) -> int:
    return round(celsius * 10) + TEMPERATURE_OFFSET


def _temp_from_wire(raw: int) -> float:
    return (raw - TEMPERATURE_OFFSET) / 10


def _quantize(value: float, scale: int) -> float:
    """`value` on the wire grid of 1/scale, as the far end will decode it."""
    return round(value * scale) / scale


def _saturate16(value: float, scale: int) -> float:
    """A signed 16-bit reading clipped to the wire range (a real BMS saturates, it does not fail)."""
    raw = max(-0x8000, min(0x7FFF, round(value * scale)))
    return raw / scale


def _check_address(adr: int) -> int:
    if not MIN_ADDRESS <= adr <= MAX_ADDRESS:
        raise ValueError(f"ADR must be the DIP-switch address {MIN_ADDRESS}..{MAX_ADDRESS}, got {adr}")
    return adr


def _request_frame(adr: int, command: Cid2, info: bytes = b"", ver: int = VER) -> Frame:
    return Frame(ver, _check_address(adr), CID1, int(command), info)


def _response_frame(adr: int, info: bytes = b"", ver: int = VER) -> Frame:
    return Frame(ver, adr, CID1, int(Rtn.NORMAL), info)


def error_response(adr: int, rtn: Rtn, ver: int = VER) -> Frame:
    """A refusal: CID2 carries the return code and INFO is empty."""
    return Frame(ver, adr, CID1, int(rtn))


def _check_request(frame: Frame, command: Cid2, *, any_ver: bool = False) -> None:
    """Header checks a responder makes; failures carry the RTN it should answer with."""
    if frame.cid1 != CID1:
        raise InfoError(
            f"{command.name}: CID1 {frame.cid1:#04x} is not the battery group {CID1:#04x}",
            Rtn.CID2_INVALID,
            adr=frame.adr,
        )
    if frame.cid2 != command:
        raise InfoError(
            f"{command.name}: CID2 {frame.cid2:#04x} is not {int(command):#04x}",
            Rtn.CID2_INVALID,
            adr=frame.adr,
        )
    if not any_ver and frame.ver != VER:
        raise InfoError(
            f"{command.name}: VER {frame.ver:#04x} is not {VER:#04x}", Rtn.VER_ERROR, adr=frame.adr
        )


def _check_response(frame: Frame, command: Cid2, *, any_ver: bool = False) -> None:
    """Header checks a client makes; a refusal raises RtnError."""
    if frame.cid1 != CID1:
        raise InfoError(f"{command.name}: response CID1 {frame.cid1:#04x} is not {CID1:#04x}", adr=frame.adr)
    if frame.cid2 != Rtn.NORMAL:
        raise RtnError(command, frame)
    if not any_ver and frame.ver != VER:
        raise InfoError(f"{command.name}: response VER {frame.ver:#04x} is not {VER:#04x}", adr=frame.adr)


def _tuple_field(obj: object, name: str) -> None:
    object.__setattr__(obj, name, tuple(getattr(obj, name)))


# ---------------------------------------------------------------------------------------------
# Typed requests (what the twin gets from parse_request).


@dataclass(frozen=True)
class ProtocolVersionRequest:
    """0x4F: asked with any VER (hosts often send 0x00 before they know the version)."""

    command: ClassVar[Cid2] = Cid2.GET_PROTOCOL_VERSION
    adr: int
    ver: int


@dataclass(frozen=True)
class ManufacturerInfoRequest:
    """0x51."""

    command: ClassVar[Cid2] = Cid2.GET_MANUFACTURER_INFO
    adr: int


@dataclass(frozen=True)
class _PackRequest:
    adr: int
    pack: int  # the pack address byte in INFO (Pylontech "command value")


@dataclass(frozen=True)
class AnalogValuesRequest(_PackRequest):
    """0x42."""

    command: ClassVar[Cid2] = Cid2.GET_ANALOG_VALUES


@dataclass(frozen=True)
class AlarmInfoRequest(_PackRequest):
    """0x44."""

    command: ClassVar[Cid2] = Cid2.GET_ALARM_INFO


@dataclass(frozen=True)
class SystemParametersRequest(_PackRequest):
    """0x47."""

    command: ClassVar[Cid2] = Cid2.GET_SYSTEM_PARAMETERS


@dataclass(frozen=True)
class ChargeManagementRequest(_PackRequest):
    """0x92."""

    command: ClassVar[Cid2] = Cid2.GET_CHARGE_MANAGEMENT


@dataclass(frozen=True)
class SerialNumberRequest(_PackRequest):
    """0x93."""

    command: ClassVar[Cid2] = Cid2.GET_SERIAL_NUMBER


@dataclass(frozen=True)
class ReadParameterRequest:
    """0xD0: read one setting by its vendor parameter number."""

    command: ClassVar[Cid2] = Cid2.READ_PARAMETER
    adr: int
    pid: int


@dataclass(frozen=True)
class WriteParameterRequest:
    """0xD1: write one setting as its int32 wire value."""

    command: ClassVar[Cid2] = Cid2.WRITE_PARAMETER
    adr: int
    pid: int
    raw: int


@dataclass(frozen=True)
class HistoryCountRequest:
    """0xD2."""

    command: ClassVar[Cid2] = Cid2.GET_HISTORY_COUNT
    adr: int


@dataclass(frozen=True)
class ReadHistoryRequest:
    """0xD3: record `index`, 0 = oldest."""

    command: ClassVar[Cid2] = Cid2.READ_HISTORY
    adr: int
    index: int


@dataclass(frozen=True)
class SetRemainingCapacityRequest:
    """0xD4: set the coulomb counter's remaining capacity."""

    command: ClassVar[Cid2] = Cid2.SET_REMAINING_CAPACITY
    adr: int
    remaining_ah: float


Request: TypeAlias = (
    ProtocolVersionRequest
    | ManufacturerInfoRequest
    | AnalogValuesRequest
    | AlarmInfoRequest
    | SystemParametersRequest
    | ChargeManagementRequest
    | SerialNumberRequest
    | ReadParameterRequest
    | WriteParameterRequest
    | HistoryCountRequest
    | ReadHistoryRequest
    | SetRemainingCapacityRequest
)


def _pack_request(adr: int, command: Cid2, pack: int | None) -> Frame:
    pack = adr if pack is None else pack
    return _request_frame(adr, command, bytes([_u8(pack, "pack")]))


#: commands real packs also answer when asked with a two-byte INFO (pack address, then pack number),
#: as widely used third-party hosts send them; OUR READING in docs/protocols/bms12100-rs485.md
TWO_BYTE_PACK_INFO = frozenset({Cid2.GET_ANALOG_VALUES, Cid2.GET_ALARM_INFO})


def _parse_pack(frame: Frame, command: Cid2) -> int:
    _check_request(frame, command)
    reader = _Reader(frame, f"{command.name} request")
    pack = reader.uint(1, "pack address")
    if command in TWO_BYTE_PACK_INFO and len(frame.info) == 2:
        reader.uint(1, "pack number")  # the host's count of packs: the answer is this pack's alone
    reader.end()
    return pack


def _parse_empty(frame: Frame, command: Cid2, *, any_ver: bool = False) -> None:
    _check_request(frame, command, any_ver=any_ver)
    _Reader(frame, f"{command.name} request").end()


# ---------------------------------------------------------------------------------------------
# Results (what the client gets from parse_response) and their conversions.


@dataclass(frozen=True)
class ManufacturerInfo:
    """0x51 result: device name, software version (major, minor), manufacturer name."""

    device_name: str
    software_version: tuple[int, int]
    manufacturer: str


@dataclass(frozen=True)
class AnalogValues:
    """0x42 result: one pack's measurements in engineering units, on the wire's grid."""

    pack: int
    cell_mv: tuple[int, ...]
    temperatures_c: tuple[float, ...]  # this BMS: NTC_NAMES order (cell1, cell2, ambient, power)
    current_a: float  # + charge, - discharge
    pack_v: float
    remaining_ah: float
    full_ah: float
    cycles: int
    info_flag: int = 0
    user_defined: int = USER_DEFINED_WIDE

    def __post_init__(self) -> None:
        _tuple_field(self, "cell_mv")
        _tuple_field(self, "temperatures_c")

    @property
    def soc_pct(self) -> float:
        """State of charge implied by the two capacities (0x42 carries no SOC of its own)."""
        return round(100.0 * self.remaining_ah / self.full_ah, 1) if self.full_ah > 0 else 0.0


class AnalogFields(TypedDict):
    """The Telemetry fields 0x42 carries, as `telemetry_fields_from_analog` returns them."""

    cell_mv: list[int]
    temperatures_c: list[float]
    pack_v: float
    current_a: float
    soc_pct: float
    remaining_ah: float
    full_ah: float
    cycles: int


def analog_from_telemetry(t: Telemetry, pack: int, info_flag: int = 0) -> AnalogValues:
    """What the twin reports for 0x42: the snapshot put on the wire grid (current saturates)."""
    return AnalogValues(
        pack=pack,
        cell_mv=tuple(round(mv) for mv in t.cell_mv),
        temperatures_c=tuple(_quantize(c, 10) for c in t.temperatures_c),
        current_a=_saturate16(t.current_a, CURRENT_SCALE),
        pack_v=_quantize(t.pack_v, 1000),
        remaining_ah=_quantize(t.remaining_ah, 1000),
        full_ah=_quantize(t.full_ah, 1000),
        cycles=t.cycles,
        info_flag=info_flag,
    )


def telemetry_fields_from_analog(a: AnalogValues) -> AnalogFields:
    """The Telemetry fields a 0x42 answer fills (SOC derived from the capacities)."""
    return AnalogFields(
        cell_mv=list(a.cell_mv),
        temperatures_c=list(a.temperatures_c),
        pack_v=a.pack_v,
        current_a=a.current_a,
        soc_pct=a.soc_pct,
        remaining_ah=a.remaining_ah,
        full_ah=a.full_ah,
        cycles=a.cycles,
    )


def apply_analog(t: Telemetry, a: AnalogValues) -> Telemetry:
    """A copy of `t` with the fields a 0x42 answer carries replaced."""
    return replace(t, **telemetry_fields_from_analog(a))


@dataclass(frozen=True)
class AlarmInfo:
    """0x44 result: Pylontech's per-value state bytes and status bytes, then our ID flag bytes."""

    pack: int
    cell_status: tuple[LimitStatus, ...]
    temperature_status: tuple[LimitStatus, ...]
    charge_current_status: LimitStatus = LimitStatus.NORMAL
    pack_voltage_status: LimitStatus = LimitStatus.NORMAL
    discharge_current_status: LimitStatus = LimitStatus.NORMAL
    status1: Status1 = _NO_STATUS1
    status2: Status2 = _NO_STATUS2
    status3: Status3 = _NO_STATUS3
    cell_errors: int = 0  # Status4 = cells 1-8 (bit 0 = cell 1), Status5 = cells 9-16
    flags: bytes = b""  # our extension: ALARM_FLAG_BITS
    info_flag: int = 0

    def __post_init__(self) -> None:
        _tuple_field(self, "cell_status")
        _tuple_field(self, "temperature_status")
        object.__setattr__(self, "flags", bytes(self.flags))

    @property
    def charge_fet(self) -> bool:
        """Charge MOSFET on (Status2)."""
        return Status2.CHARGE_MOSFET in self.status2

    @property
    def discharge_fet(self) -> bool:
        """Discharge MOSFET on (Status2)."""
        return Status2.DISCHARGE_MOSFET in self.status2


def _extreme(
    values: list[float], indices: Iterable[int], pick: Callable[[Iterable[float]], float]
) -> list[int]:
    """Indices (among `indices`) holding the max or min value; all of them on a tie."""
    chosen = [i for i in indices if i < len(values)]
    if not chosen:
        return []
    best = pick(values[i] for i in chosen)
    return [i for i in chosen if values[i] == best]


def _target_indices(t: Telemetry, target: _Target) -> list[int]:
    cells = [float(mv) for mv in t.cell_mv]
    temps = t.temperatures_c
    if target == "cell_high":
        return _extreme(cells, range(len(cells)), max)
    if target == "cell_low":
        return _extreme(cells, range(len(cells)), min)
    if target == "cell_outlier":
        mean = sum(cells) / len(cells) if cells else 0.0
        return _extreme([abs(v - mean) for v in cells], range(len(cells)), max)[:1]
    if target == "ntc_cell_high":
        return _extreme(temps, _CELL_NTCS, max)
    if target == "ntc_cell_low":
        return _extreme(temps, _CELL_NTCS, min)
    if target == "ntc_ambient":
        return _extreme(temps, [_AMBIENT_NTC], max)
    if target == "ntc_power":
        return _extreme(temps, [_POWER_NTC], max)
    return []


def alarm_flags(active: Iterable[str]) -> bytes:
    """Our 0x44 flag bytes for a set of requirement IDs; an ID with no bit raises ValueError."""
    active = set(active)
    unknown = sorted(active - ALARM_FLAG_BITS.keys())
    if unknown:
        raise ValueError(f"no 0x44 flag bit is defined for requirement ID(s) {unknown}")
    flags = bytearray(ALARM_FLAG_BYTES)
    for rid in active:
        byte, bit = ALARM_FLAG_BITS[rid]
        flags[byte] |= 1 << bit
    return bytes(flags)


def alarm_info_from_telemetry(t: Telemetry, pack: int, info_flag: int = 0) -> AlarmInfo:
    """What the twin reports for 0x44: our flag bits plus Pylontech's fields derived from them.

    Cell and NTC state bytes flag the extreme cell/NTC behind an active ID (all of them on a tie);
    the first rule that applies to a byte wins, in flag-bit order.
    """
    flags = alarm_flags(t.active)
    cells = [LimitStatus.NORMAL] * len(t.cell_mv)
    temps = [LimitStatus.NORMAL] * len(t.temperatures_c)
    pack_states: dict[str, LimitStatus] = dict.fromkeys(
        ("charge_current", "pack_voltage", "discharge_current"), LimitStatus.NORMAL
    )
    status1 = Status1(0)
    cell_errors = 0
    for rid in sorted(t.active, key=ALARM_FLAG_BITS.__getitem__):
        status1 |= _STATUS1_BY_ID.get(rid, Status1(0))
        rule = _LIMIT_STATUS_BY_ID.get(rid)
        if rule is None:
            continue
        target, state = rule
        if target in pack_states:
            if pack_states[target] is LimitStatus.NORMAL:
                pack_states[target] = state
            continue
        states = cells if target.startswith("cell") else temps
        for i in _target_indices(t, target):
            if states[i] is LimitStatus.NORMAL:
                states[i] = state
            if target == "cell_outlier":
                cell_errors |= 1 << i
    status2 = Status2(0)
    if t.charge_fet:
        status2 |= Status2.CHARGE_MOSFET
    if t.discharge_fet:
        status2 |= Status2.DISCHARGE_MOSFET
    if t.mode is not Mode.SHUTDOWN:
        status2 |= Status2.USING_BATTERY_POWER
    status3 = Status3(0)
    if t.mode is Mode.CHARGE:
        status3 |= Status3.EFFECTIVE_CHARGE_CURRENT
    if t.mode is Mode.DISCHARGE:
        status3 |= Status3.EFFECTIVE_DISCHARGE_CURRENT
    if t.soc_pct >= 100.0:
        status3 |= Status3.FULLY_CHARGED
    return AlarmInfo(
        pack=pack,
        cell_status=tuple(cells),
        temperature_status=tuple(temps),
        charge_current_status=pack_states["charge_current"],
        pack_voltage_status=pack_states["pack_voltage"],
        discharge_current_status=pack_states["discharge_current"],
        status1=status1,
        status2=status2,
        status3=status3,
        cell_errors=cell_errors,
        flags=flags,
        info_flag=info_flag,
    )


def active_ids_from_alarm_info(a: AlarmInfo) -> frozenset[str]:
    """Telemetry.active as a 0x44 answer reports it (our flag bytes only; a set reserved bit raises).

    An answer without flag bytes (a plain Pylontech pack) reports no IDs.
    """
    active: set[str] = set()
    for byte, value in enumerate(a.flags):
        for bit in range(8):
            if not value & (1 << bit):
                continue
            rid = _ID_BY_FLAG_BIT.get((byte, bit))
            if rid is None:
                raise InfoError(f"GET_ALARM_INFO: reserved flag bit {bit} of flag byte {byte} is set")
            active.add(rid)
    return frozenset(active)


@dataclass(frozen=True)
class SystemParameters:
    """0x47 result: the limits Pylontech publishes, filled from the BMS settings."""

    cell_high_voltage_limit_mv: int
    cell_low_voltage_limit_mv: int
    cell_under_voltage_limit_mv: int
    charge_high_temperature_limit_c: float
    charge_low_temperature_limit_c: float
    charge_current_limit_a: float
    pack_high_voltage_limit_v: float
    pack_low_voltage_limit_v: float
    pack_under_voltage_limit_v: float
    discharge_high_temperature_limit_c: float
    discharge_low_temperature_limit_c: float
    discharge_current_limit_a: float  # negative: discharge direction
    info_flag: int = 0


def system_parameters_from_settings(s: Settings, info_flag: int = 0) -> SystemParameters:
    """0x47 values for a unit's settings: high = protection, low = alarm, under = protection."""
    return SystemParameters(
        cell_high_voltage_limit_mv=round(s.cell_overvoltage_protection.trigger),
        cell_low_voltage_limit_mv=round(s.cell_low_voltage_alarm.trigger),
        cell_under_voltage_limit_mv=round(s.cell_undervoltage_protection.trigger),
        charge_high_temperature_limit_c=_quantize(s.charge_temperature.over_c, 10),
        charge_low_temperature_limit_c=_quantize(s.charge_temperature.under_c or 0.0, 10),
        charge_current_limit_a=_quantize(s.charge_overcurrent_protection.trigger_a, CURRENT_SCALE),
        pack_high_voltage_limit_v=_quantize(s.pack_overvoltage_protection.trigger, 1000),
        pack_low_voltage_limit_v=_quantize(s.pack_low_voltage_alarm.trigger, 1000),
        pack_under_voltage_limit_v=_quantize(s.pack_undervoltage_protection.trigger, 1000),
        discharge_high_temperature_limit_c=_quantize(s.discharge_temperature.over_c, 10),
        discharge_low_temperature_limit_c=_quantize(s.discharge_temperature.under_c or 0.0, 10),
        discharge_current_limit_a=_quantize(s.discharge_overcurrent_protection.trigger_a, CURRENT_SCALE),
        info_flag=info_flag,
    )


@dataclass(frozen=True)
class ChargeManagement:
    """0x92 result: recommended limits and the request bits for the charger/inverter."""

    pack: int
    charge_voltage_limit_v: float
    discharge_voltage_limit_v: float
    charge_current_limit_a: float
    discharge_current_limit_a: float  # negative: discharge direction, as on the wire
    charge_enable: bool
    discharge_enable: bool
    charge_immediately: bool = False  # Pylontech: SOC 5-9 %
    charge_immediately_2: bool = False  # Pylontech: SOC 9-13 %
    full_charge_request: bool = False


def charge_management_from_telemetry(
    t: Telemetry, pack: int, full_charge_request: bool = False
) -> ChargeManagement:
    """0x92 values for a snapshot: limits as reported, enables from the FETs, SOC-band requests."""
    return ChargeManagement(
        pack=pack,
        charge_voltage_limit_v=_quantize(t.charge_voltage_limit_v, 1000),
        discharge_voltage_limit_v=_quantize(t.discharge_voltage_limit_v, 1000),
        charge_current_limit_a=_saturate16(abs(t.charge_current_limit_a), CURRENT_SCALE),
        discharge_current_limit_a=_saturate16(-abs(t.discharge_current_limit_a), CURRENT_SCALE),
        charge_enable=t.charge_fet,
        discharge_enable=t.discharge_fet,
        charge_immediately=5.0 <= t.soc_pct < 9.0,
        charge_immediately_2=9.0 <= t.soc_pct < 13.0,
        full_charge_request=full_charge_request,
    )


@dataclass(frozen=True)
class SerialNumber:
    """0x93 result."""

    pack: int
    serial: str


@dataclass(frozen=True)
class ParameterValue:
    """0xD0/0xD1 payload: a vendor parameter number and its int32 wire value."""

    pid: int
    raw: int

    @property
    def parameter(self) -> Parameter:
        """The settings entry of this number (KeyError if the number is unknown)."""
        return PARAMETERS_BY_PID[self.pid]

    @property
    def value(self) -> float | int | bool:
        """The setting value this wire value stands for.

        An answer naming a parameter number this BMS does not have raises InfoError (a bad
        answer is a protocol error, not a KeyError deep in the client; found by benchmarks/fuzz.py).
        """
        param = PARAMETERS_BY_PID.get(self.pid)
        if param is None:
            raise InfoError(
                f"parameter number {self.pid:#06x} is not a parameter of this BMS", Rtn.INVALID_DATA
            )
        return from_wire(param, self.raw)


def parameter_value_from_settings(s: Settings, pid: int) -> ParameterValue:
    """The 0xD0 answer for a parameter of a unit's settings (KeyError if the number is unknown)."""
    return ParameterValue(pid, to_wire(s, PARAMETERS_BY_PID[pid]))


@dataclass(frozen=True)
class HistoryRecord:
    """0xD3 result: one stored event with the measurements at that moment."""

    index: int
    time_s: int  # seconds on the BMS's clock (since boot, or epoch once the clock is set)
    kind: EventKind
    requirement_id: str
    cell_mv: tuple[int, ...]  # CELL_COUNT values
    pack_v: float
    current_a: float
    temperatures_c: tuple[float, ...]  # NTC_NAMES order

    def __post_init__(self) -> None:
        _tuple_field(self, "cell_mv")
        _tuple_field(self, "temperatures_c")


def history_record_from_telemetry(
    t: Telemetry, index: int, kind: EventKind, requirement_id: str
) -> HistoryRecord:
    """A record of `requirement_id` with the snapshot's measurements on the wire grid."""
    return HistoryRecord(
        index=index,
        time_s=int(t.time_s),
        kind=kind,
        requirement_id=requirement_id,
        cell_mv=tuple(round(mv) for mv in t.cell_mv),
        pack_v=_quantize(t.pack_v, 1000),
        current_a=_saturate16(t.current_a, CURRENT_SCALE),
        temperatures_c=tuple(_quantize(c, 10) for c in t.temperatures_c),
    )


# ---------------------------------------------------------------------------------------------
# Commands: request builder, request parser (twin), response builder (twin), response parser.


class GetProtocolVersion:
    """0x4F: the response's VER field is the answer; INFO is empty both ways."""

    CID2: ClassVar[Cid2] = Cid2.GET_PROTOCOL_VERSION

    @staticmethod
    def request(adr: int, ver: int = VER) -> Frame:
        """Ask for the protocol version (some hosts send VER 0x00 here)."""
        return _request_frame(adr, Cid2.GET_PROTOCOL_VERSION, ver=ver)

    @staticmethod
    def parse_request(frame: Frame) -> ProtocolVersionRequest:
        """Accepts any VER."""
        _parse_empty(frame, Cid2.GET_PROTOCOL_VERSION, any_ver=True)
        return ProtocolVersionRequest(frame.adr, frame.ver)

    @staticmethod
    def response(adr: int, version: int = VER) -> Frame:
        """Answer with `version` in VER."""
        return _response_frame(adr, ver=version)

    @staticmethod
    def parse_response(frame: Frame) -> int:
        """The protocol version the BMS reports."""
        _check_response(frame, Cid2.GET_PROTOCOL_VERSION, any_ver=True)
        _Reader(frame, "GET_PROTOCOL_VERSION response").end()
        return frame.ver


class GetManufacturerInfo:
    """0x51: empty request; name (10 chars), software version (2 bytes), manufacturer (20 chars)."""

    CID2: ClassVar[Cid2] = Cid2.GET_MANUFACTURER_INFO

    @staticmethod
    def request(adr: int) -> Frame:
        """Ask for device and manufacturer names."""
        return _request_frame(adr, Cid2.GET_MANUFACTURER_INFO)

    @staticmethod
    def parse_request(frame: Frame) -> ManufacturerInfoRequest:
        """Check an empty 0x51 request."""
        _parse_empty(frame, Cid2.GET_MANUFACTURER_INFO)
        return ManufacturerInfoRequest(frame.adr)

    @staticmethod
    def response(adr: int, info: ManufacturerInfo) -> Frame:
        """Names padded with NUL to their fixed widths."""
        w = _Writer("GET_MANUFACTURER_INFO response")
        w.text(info.device_name, NAME_CHARS, "device_name", b"\x00")
        w.uint(info.software_version[0], 1, "software major").uint(
            info.software_version[1], 1, "software minor"
        )
        w.text(info.manufacturer, MANUFACTURER_CHARS, "manufacturer", b"\x00")
        return _response_frame(adr, w.done())

    @staticmethod
    def parse_response(frame: Frame) -> ManufacturerInfo:
        """Names with their NUL padding removed."""
        _check_response(frame, Cid2.GET_MANUFACTURER_INFO)
        r = _Reader(frame, "GET_MANUFACTURER_INFO response")
        name = r.text(NAME_CHARS, "device name", b"\x00")
        version = (r.uint(1, "software major"), r.uint(1, "software minor"))
        manufacturer = r.text(MANUFACTURER_CHARS, "manufacturer", b"\x00")
        r.end()
        return ManufacturerInfo(name, version, manufacturer)


class GetAnalogValues:
    """0x42: request INFO is the pack address; response layout in docs/protocols/bms12100-rs485.md."""

    CID2: ClassVar[Cid2] = Cid2.GET_ANALOG_VALUES

    @staticmethod
    def request(adr: int, pack: int | None = None) -> Frame:
        """Ask pack `pack` (default: `adr`) for its measurements."""
        return _pack_request(adr, Cid2.GET_ANALOG_VALUES, pack)

    @staticmethod
    def parse_request(frame: Frame) -> AnalogValuesRequest:
        """Check a 0x42 request and return the pack it asks for."""
        return AnalogValuesRequest(frame.adr, _parse_pack(frame, Cid2.GET_ANALOG_VALUES))

    @staticmethod
    def response(adr: int, values: AnalogValues) -> Frame:
        """Encode measurements; with user-defined 4 the 2-byte capacities saturate at 0xFFFF."""
        w = _Writer("GET_ANALOG_VALUES response")
        w.uint(values.info_flag, 1, "info_flag").uint(values.pack, 1, "pack")
        w.uint(len(values.cell_mv), 1, "cell count")
        for i, mv in enumerate(values.cell_mv, start=1):
            w.uint(mv, 2, f"cell {i} mV")
        w.uint(len(values.temperatures_c), 1, "temperature count")
        for i, c in enumerate(values.temperatures_c, start=1):
            w.uint(_temp_to_wire(c), 2, f"temperature {i}")
        w.sint(round(values.current_a * CURRENT_SCALE), 2, "current")
        w.uint(round(values.pack_v * 1000), 2, "pack mV")
        remaining, full = round(values.remaining_ah * 1000), round(values.full_ah * 1000)
        if values.user_defined == USER_DEFINED_NARROW:
            w.uint(remaining, 2, "remaining mAh").uint(USER_DEFINED_NARROW, 1, "user-defined count")
            w.uint(full, 2, "full mAh").uint(values.cycles, 2, "cycles")
        elif values.user_defined == USER_DEFINED_WIDE:
            w.uint(min(remaining, 0xFFFF), 2, "remaining mAh").uint(
                USER_DEFINED_WIDE, 1, "user-defined count"
            )
            w.uint(min(full, 0xFFFF), 2, "full mAh").uint(values.cycles, 2, "cycles")
            w.uint(remaining, 3, "remaining mAh (3 bytes)").uint(full, 3, "full mAh (3 bytes)")
        else:
            raise ValueError(f"user_defined must be 2 or 4, got {values.user_defined}")
        return _response_frame(adr, w.done())

    @staticmethod
    def parse_response(frame: Frame) -> AnalogValues:
        """Decode measurements; accepts both user-defined variants (2 and 4)."""
        _check_response(frame, Cid2.GET_ANALOG_VALUES)
        r = _Reader(frame, "GET_ANALOG_VALUES response")
        info_flag, pack = r.uint(1, "info_flag"), r.uint(1, "pack")
        cells = tuple(r.uint(2, f"cell {i} mV") for i in range(1, r.uint(1, "cell count") + 1))
        temps = tuple(
            _temp_from_wire(r.uint(2, f"temperature {i}"))
            for i in range(1, r.uint(1, "temperature count") + 1)
        )
        current = r.sint(2, "current") / CURRENT_SCALE
        pack_v = r.uint(2, "pack mV") / 1000
        remaining = r.uint(2, "remaining mAh")
        user_defined = r.uint(1, "user-defined count")
        full, cycles = r.uint(2, "full mAh"), r.uint(2, "cycles")
        if user_defined == USER_DEFINED_WIDE:
            remaining, full = r.uint(3, "remaining mAh (3 bytes)"), r.uint(3, "full mAh (3 bytes)")
        elif user_defined != USER_DEFINED_NARROW:
            raise r.error(f"user-defined count must be 2 or 4, got {user_defined}")
        r.end()
        return AnalogValues(
            pack=pack,
            cell_mv=cells,
            temperatures_c=temps,
            current_a=current,
            pack_v=pack_v,
            remaining_ah=remaining / 1000,
            full_ah=full / 1000,
            cycles=cycles,
            info_flag=info_flag,
            user_defined=user_defined,
        )


def _limit_status(r: _Reader, name: str) -> LimitStatus:
    raw = r.uint(1, name)
    try:
        return LimitStatus(raw)
    except ValueError:
        raise r.error(f"{name} = {raw:#04x} is not a state byte (00, 01, 02 or F0)") from None


class GetAlarmInfo:
    """0x44: request INFO is the pack address; response layout in docs/protocols/bms12100-rs485.md."""

    CID2: ClassVar[Cid2] = Cid2.GET_ALARM_INFO

    @staticmethod
    def request(adr: int, pack: int | None = None) -> Frame:
        """Ask pack `pack` (default: `adr`) for its alarm and protection states."""
        return _pack_request(adr, Cid2.GET_ALARM_INFO, pack)

    @staticmethod
    def parse_request(frame: Frame) -> AlarmInfoRequest:
        """Check a 0x44 request and return the pack it asks for."""
        return AlarmInfoRequest(frame.adr, _parse_pack(frame, Cid2.GET_ALARM_INFO))

    @staticmethod
    def response(adr: int, info: AlarmInfo) -> Frame:
        """Pylontech's fields, then our flag count and flag bytes."""
        w = _Writer("GET_ALARM_INFO response")
        w.uint(info.info_flag, 1, "info_flag").uint(info.pack, 1, "pack")
        w.uint(len(info.cell_status), 1, "cell count")
        for i, state in enumerate(info.cell_status, start=1):
            w.uint(int(state), 1, f"cell {i} state")
        w.uint(len(info.temperature_status), 1, "temperature count")
        for i, state in enumerate(info.temperature_status, start=1):
            w.uint(int(state), 1, f"temperature {i} state")
        w.uint(int(info.charge_current_status), 1, "charge current state")
        w.uint(int(info.pack_voltage_status), 1, "pack voltage state")
        w.uint(int(info.discharge_current_status), 1, "discharge current state")
        w.uint(int(info.status1), 1, "status1").uint(int(info.status2), 1, "status2")
        w.uint(int(info.status3), 1, "status3")
        w.uint(info.cell_errors & 0xFF, 1, "status4 (cells 1-8)").uint(
            info.cell_errors >> 8, 1, "status5 (cells 9-16)"
        )
        w.uint(len(info.flags), 1, "flag byte count").raw(info.flags)
        return _response_frame(adr, w.done())

    @staticmethod
    def parse_response(frame: Frame) -> AlarmInfo:
        """Decode all fields; state bytes must be 00, 01, 02 or F0."""
        _check_response(frame, Cid2.GET_ALARM_INFO)
        r = _Reader(frame, "GET_ALARM_INFO response")
        info_flag, pack = r.uint(1, "info_flag"), r.uint(1, "pack")
        cells = tuple(_limit_status(r, f"cell {i} state") for i in range(1, r.uint(1, "cell count") + 1))
        temps = tuple(
            _limit_status(r, f"temperature {i} state") for i in range(1, r.uint(1, "temperature count") + 1)
        )
        charge = _limit_status(r, "charge current state")
        voltage = _limit_status(r, "pack voltage state")
        discharge = _limit_status(r, "discharge current state")
        status1, status2, status3 = (r.uint(1, f"status{i}") for i in (1, 2, 3))
        cell_errors = r.uint(1, "status4 (cells 1-8)") | r.uint(1, "status5 (cells 9-16)") << 8
        flags = r.take(r.uint(1, "flag byte count"), "flag bytes")
        r.end()
        return AlarmInfo(
            pack=pack,
            cell_status=cells,
            temperature_status=temps,
            charge_current_status=charge,
            pack_voltage_status=voltage,
            discharge_current_status=discharge,
            status1=Status1(status1),
            status2=Status2(status2),
            status3=Status3(status3),
            cell_errors=cell_errors,
            flags=flags,
            info_flag=info_flag,
        )


class GetSystemParameters:
    """0x47: request INFO is the pack address; response is INFOFLAG and twelve 2-byte limits."""

    CID2: ClassVar[Cid2] = Cid2.GET_SYSTEM_PARAMETERS

    @staticmethod
    def request(adr: int, pack: int | None = None) -> Frame:
        """Ask for the pack's published limits."""
        return _pack_request(adr, Cid2.GET_SYSTEM_PARAMETERS, pack)

    @staticmethod
    def parse_request(frame: Frame) -> SystemParametersRequest:
        """Check a 0x47 request and return the pack it asks for."""
        return SystemParametersRequest(frame.adr, _parse_pack(frame, Cid2.GET_SYSTEM_PARAMETERS))

    @staticmethod
    def response(adr: int, p: SystemParameters) -> Frame:
        """Voltages in mV, temperatures in 0.1 K, currents signed in CURRENT_SCALE counts."""
        w = _Writer("GET_SYSTEM_PARAMETERS response").uint(p.info_flag, 1, "info_flag")
        w.uint(p.cell_high_voltage_limit_mv, 2, "cell high voltage limit")
        w.uint(p.cell_low_voltage_limit_mv, 2, "cell low voltage limit")
        w.uint(p.cell_under_voltage_limit_mv, 2, "cell under voltage limit")
        w.uint(_temp_to_wire(p.charge_high_temperature_limit_c), 2, "charge high temperature limit")
        w.uint(_temp_to_wire(p.charge_low_temperature_limit_c), 2, "charge low temperature limit")
        w.sint(round(p.charge_current_limit_a * CURRENT_SCALE), 2, "charge current limit")
        w.uint(round(p.pack_high_voltage_limit_v * 1000), 2, "pack high voltage limit")
        w.uint(round(p.pack_low_voltage_limit_v * 1000), 2, "pack low voltage limit")
        w.uint(round(p.pack_under_voltage_limit_v * 1000), 2, "pack under voltage limit")
        w.uint(_temp_to_wire(p.discharge_high_temperature_limit_c), 2, "discharge high temperature limit")
        w.uint(_temp_to_wire(p.discharge_low_temperature_limit_c), 2, "discharge low temperature limit")
        w.sint(round(p.discharge_current_limit_a * CURRENT_SCALE), 2, "discharge current limit")
        return _response_frame(adr, w.done())

    @staticmethod
    def parse_response(frame: Frame) -> SystemParameters:
        """Decode the twelve limits."""
        _check_response(frame, Cid2.GET_SYSTEM_PARAMETERS)
        r = _Reader(frame, "GET_SYSTEM_PARAMETERS response")
        p = SystemParameters(
            info_flag=r.uint(1, "info_flag"),
            cell_high_voltage_limit_mv=r.uint(2, "cell high voltage limit"),
            cell_low_voltage_limit_mv=r.uint(2, "cell low voltage limit"),
            cell_under_voltage_limit_mv=r.uint(2, "cell under voltage limit"),
            charge_high_temperature_limit_c=_temp_from_wire(r.uint(2, "charge high temperature limit")),
            charge_low_temperature_limit_c=_temp_from_wire(r.uint(2, "charge low temperature limit")),
            charge_current_limit_a=r.sint(2, "charge current limit") / CURRENT_SCALE,
            pack_high_voltage_limit_v=r.uint(2, "pack high voltage limit") / 1000,
            pack_low_voltage_limit_v=r.uint(2, "pack low voltage limit") / 1000,
            pack_under_voltage_limit_v=r.uint(2, "pack under voltage limit") / 1000,
            discharge_high_temperature_limit_c=_temp_from_wire(r.uint(2, "discharge high temperature limit")),
            discharge_low_temperature_limit_c=_temp_from_wire(r.uint(2, "discharge low temperature limit")),
            discharge_current_limit_a=r.sint(2, "discharge current limit") / CURRENT_SCALE,
        )
        r.end()
        return p


class GetChargeManagement:
    """0x92: request INFO is the pack address; response: pack, four limits, status byte."""

    CID2: ClassVar[Cid2] = Cid2.GET_CHARGE_MANAGEMENT

    @staticmethod
    def request(adr: int, pack: int | None = None) -> Frame:
        """Ask for the recommended charge/discharge limits."""
        return _pack_request(adr, Cid2.GET_CHARGE_MANAGEMENT, pack)

    @staticmethod
    def parse_request(frame: Frame) -> ChargeManagementRequest:
        """Check a 0x92 request and return the pack it asks for."""
        return ChargeManagementRequest(frame.adr, _parse_pack(frame, Cid2.GET_CHARGE_MANAGEMENT))

    @staticmethod
    def response(adr: int, cm: ChargeManagement) -> Frame:
        """Voltages in mV, currents signed in CURRENT_SCALE counts, then the status bits."""
        status = sum(bit for name, bit in _CHARGE_STATUS_BITS.items() if getattr(cm, name))
        w = _Writer("GET_CHARGE_MANAGEMENT response").uint(cm.pack, 1, "pack")
        w.uint(round(cm.charge_voltage_limit_v * 1000), 2, "charge voltage limit")
        w.uint(round(cm.discharge_voltage_limit_v * 1000), 2, "discharge voltage limit")
        w.sint(round(cm.charge_current_limit_a * CURRENT_SCALE), 2, "charge current limit")
        w.sint(round(cm.discharge_current_limit_a * CURRENT_SCALE), 2, "discharge current limit")
        w.uint(status, 1, "status")
        return _response_frame(adr, w.done())

    @staticmethod
    def parse_response(frame: Frame) -> ChargeManagement:
        """Decode limits and status bits; a set reserved bit (0-2) raises InfoError."""
        _check_response(frame, Cid2.GET_CHARGE_MANAGEMENT)
        r = _Reader(frame, "GET_CHARGE_MANAGEMENT response")
        pack = r.uint(1, "pack")
        charge_v, discharge_v = r.uint(2, "charge voltage limit"), r.uint(2, "discharge voltage limit")
        charge_a, discharge_a = r.sint(2, "charge current limit"), r.sint(2, "discharge current limit")
        status = r.uint(1, "status")
        r.end()
        reserved = status & ~sum(_CHARGE_STATUS_BITS.values()) & 0xFF
        if reserved:
            raise r.error(f"reserved status bits {reserved:#04x} are set")
        bits = {name: bool(status & bit) for name, bit in _CHARGE_STATUS_BITS.items()}
        return ChargeManagement(
            pack=pack,
            charge_voltage_limit_v=charge_v / 1000,
            discharge_voltage_limit_v=discharge_v / 1000,
            charge_current_limit_a=charge_a / CURRENT_SCALE,
            discharge_current_limit_a=discharge_a / CURRENT_SCALE,
            **bits,
        )


class GetSerialNumber:
    """0x93: request INFO is the pack address; response: pack and 16 ASCII characters."""

    CID2: ClassVar[Cid2] = Cid2.GET_SERIAL_NUMBER

    @staticmethod
    def request(adr: int, pack: int | None = None) -> Frame:
        """Ask for the pack's serial number."""
        return _pack_request(adr, Cid2.GET_SERIAL_NUMBER, pack)

    @staticmethod
    def parse_request(frame: Frame) -> SerialNumberRequest:
        """Check a 0x93 request and return the pack it asks for."""
        return SerialNumberRequest(frame.adr, _parse_pack(frame, Cid2.GET_SERIAL_NUMBER))

    @staticmethod
    def response(adr: int, sn: SerialNumber) -> Frame:
        """Serial padded with NUL to 16 characters."""
        w = _Writer("GET_SERIAL_NUMBER response").uint(sn.pack, 1, "pack")
        w.text(sn.serial, SERIAL_CHARS, "serial", b"\x00")
        return _response_frame(adr, w.done())

    @staticmethod
    def parse_response(frame: Frame) -> SerialNumber:
        """Serial with its NUL padding removed."""
        _check_response(frame, Cid2.GET_SERIAL_NUMBER)
        r = _Reader(frame, "GET_SERIAL_NUMBER response")
        sn = SerialNumber(r.uint(1, "pack"), r.text(SERIAL_CHARS, "serial", b"\x00"))
        r.end()
        return sn


def _parameter_info(what: str, pid: int, raw: int) -> bytes:
    return _Writer(what).uint(pid, 2, "pid").sint(raw, 4, "value").done()


def _read_parameter_info(r: _Reader, *, known: bool) -> ParameterValue:
    pid = r.uint(2, "pid")
    if known and pid not in PARAMETERS_BY_PID:
        raise r.error(f"unknown parameter number {pid:#06x}", Rtn.INVALID_DATA)
    return ParameterValue(pid, r.sint(4, "value"))


class ReadParameter:
    """0xD0 (ours): INFO = pid (2 bytes); response = pid + int32 value; unknown pid -> RTN 06."""

    CID2: ClassVar[Cid2] = Cid2.READ_PARAMETER

    @staticmethod
    def request(adr: int, pid: int) -> Frame:
        """Ask for one parameter's wire value."""
        return _request_frame(
            adr, Cid2.READ_PARAMETER, _Writer("READ_PARAMETER request").uint(pid, 2, "pid").done()
        )

    @staticmethod
    def parse_request(frame: Frame) -> ReadParameterRequest:
        """An unknown parameter number raises InfoError with RTN INVALID_DATA."""
        _check_request(frame, Cid2.READ_PARAMETER)
        r = _Reader(frame, "READ_PARAMETER request")
        pid = r.uint(2, "pid")
        r.end()
        if pid not in PARAMETERS_BY_PID:
            raise r.error(f"unknown parameter number {pid:#06x}", Rtn.INVALID_DATA)
        return ReadParameterRequest(frame.adr, pid)

    @staticmethod
    def response(adr: int, value: ParameterValue) -> Frame:
        """The parameter number and its int32 value."""
        return _response_frame(adr, _parameter_info("READ_PARAMETER response", value.pid, value.raw))

    @staticmethod
    def parse_response(frame: Frame) -> ParameterValue:
        """The parameter number and its int32 value."""
        _check_response(frame, Cid2.READ_PARAMETER)
        r = _Reader(frame, "READ_PARAMETER response")
        value = _read_parameter_info(r, known=False)
        r.end()
        return value


class WriteParameter:
    """0xD1 (ours): INFO = pid + int32; the response echoes what was stored; unknown pid -> RTN 06."""

    CID2: ClassVar[Cid2] = Cid2.WRITE_PARAMETER

    @staticmethod
    def request(adr: int, pid: int, raw: int) -> Frame:
        """Write one parameter's wire value (see settings.PARAMETERS for numbers and scales)."""
        return _request_frame(adr, Cid2.WRITE_PARAMETER, _parameter_info("WRITE_PARAMETER request", pid, raw))

    @staticmethod
    def parse_request(frame: Frame) -> WriteParameterRequest:
        """An unknown parameter number raises InfoError with RTN INVALID_DATA."""
        _check_request(frame, Cid2.WRITE_PARAMETER)
        r = _Reader(frame, "WRITE_PARAMETER request")
        value = _read_parameter_info(r, known=True)
        r.end()
        return WriteParameterRequest(frame.adr, value.pid, value.raw)

    @staticmethod
    def response(adr: int, value: ParameterValue) -> Frame:
        """Echo of the stored value."""
        return _response_frame(adr, _parameter_info("WRITE_PARAMETER response", value.pid, value.raw))

    @staticmethod
    def parse_response(frame: Frame) -> ParameterValue:
        """The stored value as echoed."""
        _check_response(frame, Cid2.WRITE_PARAMETER)
        r = _Reader(frame, "WRITE_PARAMETER response")
        value = _read_parameter_info(r, known=False)
        r.end()
        return value


class GetHistoryCount:
    """0xD2 (ours): empty request; response = number of stored records (2 bytes)."""

    CID2: ClassVar[Cid2] = Cid2.GET_HISTORY_COUNT

    @staticmethod
    def request(adr: int) -> Frame:
        """Ask how many history records are stored."""
        return _request_frame(adr, Cid2.GET_HISTORY_COUNT)

    @staticmethod
    def parse_request(frame: Frame) -> HistoryCountRequest:
        """Check an empty 0xD2 request."""
        _parse_empty(frame, Cid2.GET_HISTORY_COUNT)
        return HistoryCountRequest(frame.adr)

    @staticmethod
    def response(adr: int, count: int) -> Frame:
        """The record count."""
        return _response_frame(adr, _Writer("GET_HISTORY_COUNT response").uint(count, 2, "count").done())

    @staticmethod
    def parse_response(frame: Frame) -> int:
        """The record count."""
        _check_response(frame, Cid2.GET_HISTORY_COUNT)
        r = _Reader(frame, "GET_HISTORY_COUNT response")
        count = r.uint(2, "count")
        r.end()
        return count


class ReadHistory:
    """0xD3 (ours): INFO = record index (2 bytes); response = the record (index echoed first)."""

    CID2: ClassVar[Cid2] = Cid2.READ_HISTORY

    @staticmethod
    def request(adr: int, index: int) -> Frame:
        """Ask for record `index` (0 = oldest)."""
        return _request_frame(
            adr, Cid2.READ_HISTORY, _Writer("READ_HISTORY request").uint(index, 2, "index").done()
        )

    @staticmethod
    def parse_request(frame: Frame) -> ReadHistoryRequest:
        """The twin answers an index beyond its records with RTN INVALID_DATA."""
        _check_request(frame, Cid2.READ_HISTORY)
        r = _Reader(frame, "READ_HISTORY request")
        index = r.uint(2, "index")
        r.end()
        return ReadHistoryRequest(frame.adr, index)

    @staticmethod
    def response(adr: int, rec: HistoryRecord) -> Frame:
        """37 bytes: index, time, kind, ID (10 chars, space padded), 4 cells, pack, current, 4 NTCs."""
        w = _Writer("READ_HISTORY response")
        if len(rec.cell_mv) != CELL_COUNT or len(rec.temperatures_c) != len(NTC_NAMES):
            raise ValueError(f"a history record holds {CELL_COUNT} cells and {len(NTC_NAMES)} temperatures")
        w.uint(rec.index, 2, "index").uint(rec.time_s, 4, "time_s").uint(int(rec.kind), 1, "kind")
        w.text(rec.requirement_id, REQUIREMENT_ID_CHARS, "requirement_id", b" ")
        for i, mv in enumerate(rec.cell_mv, start=1):
            w.uint(mv, 2, f"cell {i} mV")
        w.uint(round(rec.pack_v * 1000), 2, "pack mV").sint(
            round(rec.current_a * CURRENT_SCALE), 2, "current"
        )
        for name, c in zip(NTC_NAMES, rec.temperatures_c, strict=True):
            w.uint(_temp_to_wire(c), 2, f"{name} temperature")
        return _response_frame(adr, w.done())

    @staticmethod
    def parse_response(frame: Frame) -> HistoryRecord:
        """Decode one record; an unknown event kind raises InfoError."""
        _check_response(frame, Cid2.READ_HISTORY)
        r = _Reader(frame, "READ_HISTORY response")
        index, time_s, kind = r.uint(2, "index"), r.uint(4, "time_s"), r.uint(1, "kind")
        try:
            event = EventKind(kind)
        except ValueError:
            raise r.error(f"event kind {kind} is neither 1 (trigger) nor 2 (release)") from None
        rid = r.text(REQUIREMENT_ID_CHARS, "requirement ID", b" ")
        cells = tuple(r.uint(2, f"cell {i} mV") for i in range(1, CELL_COUNT + 1))
        pack_v = r.uint(2, "pack mV") / 1000
        current = r.sint(2, "current") / CURRENT_SCALE
        temps = tuple(_temp_from_wire(r.uint(2, f"{name} temperature")) for name in NTC_NAMES)
        r.end()
        return HistoryRecord(index, time_s, event, rid, cells, pack_v, current, temps)


class SetRemainingCapacity:
    """0xD4 (ours): INFO = remaining capacity in 10 mAh (4 bytes); the response echoes it."""

    CID2: ClassVar[Cid2] = Cid2.SET_REMAINING_CAPACITY

    @staticmethod
    def _info(what: str, remaining_ah: float) -> bytes:
        return _Writer(what).uint(round(remaining_ah * 100), 4, "remaining (10 mAh)").done()

    @staticmethod
    def request(adr: int, remaining_ah: float) -> Frame:
        """Set the remaining capacity (resolution 10 mAh)."""
        info = SetRemainingCapacity._info("SET_REMAINING_CAPACITY request", remaining_ah)
        return _request_frame(adr, Cid2.SET_REMAINING_CAPACITY, info)

    @staticmethod
    def parse_request(frame: Frame) -> SetRemainingCapacityRequest:
        """The requested capacity in Ah."""
        _check_request(frame, Cid2.SET_REMAINING_CAPACITY)
        r = _Reader(frame, "SET_REMAINING_CAPACITY request")
        value = r.uint(4, "remaining (10 mAh)") / 100
        r.end()
        return SetRemainingCapacityRequest(frame.adr, value)

    @staticmethod
    def response(adr: int, remaining_ah: float) -> Frame:
        """Echo of the capacity now set."""
        return _response_frame(
            adr, SetRemainingCapacity._info("SET_REMAINING_CAPACITY response", remaining_ah)
        )

    @staticmethod
    def parse_response(frame: Frame) -> float:
        """The capacity now set, in Ah."""
        _check_response(frame, Cid2.SET_REMAINING_CAPACITY)
        r = _Reader(frame, "SET_REMAINING_CAPACITY response")
        value = r.uint(4, "remaining (10 mAh)") / 100
        r.end()
        return value


_REQUEST_PARSERS: dict[int, Callable[[Frame], Request]] = {
    Cid2.GET_PROTOCOL_VERSION: GetProtocolVersion.parse_request,
    Cid2.GET_MANUFACTURER_INFO: GetManufacturerInfo.parse_request,
    Cid2.GET_ANALOG_VALUES: GetAnalogValues.parse_request,
    Cid2.GET_ALARM_INFO: GetAlarmInfo.parse_request,
    Cid2.GET_SYSTEM_PARAMETERS: GetSystemParameters.parse_request,
    Cid2.GET_CHARGE_MANAGEMENT: GetChargeManagement.parse_request,
    Cid2.GET_SERIAL_NUMBER: GetSerialNumber.parse_request,
    Cid2.READ_PARAMETER: ReadParameter.parse_request,
    Cid2.WRITE_PARAMETER: WriteParameter.parse_request,
    Cid2.GET_HISTORY_COUNT: GetHistoryCount.parse_request,
    Cid2.READ_HISTORY: ReadHistory.parse_request,
    Cid2.SET_REMAINING_CAPACITY: SetRemainingCapacity.parse_request,
}


def parse_request(frame: Frame) -> Request:
    """The twin's entry point: the typed request in a frame.

    Raises InfoError whose `rtn` is the code to answer with (`error_response(frame.adr, e.rtn)`).
    """
    if frame.cid1 != CID1:
        raise InfoError(
            f"CID1 {frame.cid1:#04x} is not the battery group {CID1:#04x}", Rtn.CID2_INVALID, adr=frame.adr
        )
    parser = _REQUEST_PARSERS.get(frame.cid2)
    if parser is None:
        raise InfoError(
            f"CID2 {frame.cid2:#04x} is not a command of this BMS", Rtn.CID2_INVALID, adr=frame.adr
        )
    return parser(frame)
