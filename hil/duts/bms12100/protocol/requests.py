"""Typed requests of the 12100 BMS's RS-485 commands and their INFO layouts (what the twin parses).

Each layout is written once (fields.py) and serves the client's request builder and the twin's
request parser alike. The pack-address byte is what Pylontech calls the "command value".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias, TypeVar

from hil.duts.bms12100.config import PARAMETERS_BY_PID
from hil.duts.bms12100.protocol.codes import Cid2
from hil.duts.bms12100.protocol.fields import Codec, Int, Layout, One, Reader, Scaled, Trailer, Writer
from hil.protocols.yd1363 import Rtn


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
class PackRequest:
    """A request whose INFO is the address of the pack asked."""

    command: ClassVar[Cid2]
    adr: int
    pack: int  # the pack address byte in INFO (Pylontech "command value")


@dataclass(frozen=True)
class AnalogValuesRequest(PackRequest):
    """0x42."""

    command: ClassVar[Cid2] = Cid2.GET_ANALOG_VALUES


@dataclass(frozen=True)
class AlarmInfoRequest(PackRequest):
    """0x44."""

    command: ClassVar[Cid2] = Cid2.GET_ALARM_INFO


@dataclass(frozen=True)
class SystemParametersRequest(PackRequest):
    """0x47."""

    command: ClassVar[Cid2] = Cid2.GET_SYSTEM_PARAMETERS


@dataclass(frozen=True)
class ChargeManagementRequest(PackRequest):
    """0x92."""

    command: ClassVar[Cid2] = Cid2.GET_CHARGE_MANAGEMENT


@dataclass(frozen=True)
class SerialNumberRequest(PackRequest):
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


#: commands real packs also answer when asked with a two-byte INFO (pack address, then pack number),
#: as widely used third-party hosts send them; OUR READING in docs/protocols/bms12100-rs485.md
TWO_BYTE_PACK_INFO = frozenset({Cid2.GET_ANALOG_VALUES, Cid2.GET_ALARM_INFO})
#: commands Pylontech v3.3 documents with an empty INFO (0x47; 0x92/0x93 as public hosts send them):
#: an empty INFO asks the addressed pack; OUR READING in docs/protocols/bms12100-rs485.md
EMPTY_PACK_INFO = frozenset({Cid2.GET_SYSTEM_PARAMETERS, Cid2.GET_CHARGE_MANAGEMENT, Cid2.GET_SERIAL_NUMBER})


class KnownPid(Codec[int]):
    """A two-byte parameter number; reading one this BMS does not have is INVALID_DATA."""

    def put(self, w: Writer, value: int, name: str) -> None:
        w.uint(value, 2, name)

    def get(self, r: Reader, name: str) -> int:
        pid = r.uint(2, name)
        if pid not in PARAMETERS_BY_PID:
            raise r.error(f"unknown parameter number {pid:#06x}", Rtn.INVALID_DATA)
        return pid


P = TypeVar("P", bound=PackRequest)


def pack_layout(kind: type[P]) -> Layout[P]:
    """INFO = the pack address (plus an ignored pack number where TWO_BYTE_PACK_INFO allows it)."""
    extra = (Trailer("pack number"),) if kind.command in TWO_BYTE_PACK_INFO else ()
    return Layout(f"{kind.command.name} request", kind, (One("pack", Int(1), "pack address"), *extra))


def empty_layout(kind: type[Any]) -> Layout[Any]:
    """An empty INFO."""
    return Layout(f"{kind.command.name} request", kind)


ANALOG_VALUES_REQUEST = pack_layout(AnalogValuesRequest)
ALARM_INFO_REQUEST = pack_layout(AlarmInfoRequest)
SYSTEM_PARAMETERS_REQUEST = pack_layout(SystemParametersRequest)
CHARGE_MANAGEMENT_REQUEST = pack_layout(ChargeManagementRequest)
SERIAL_NUMBER_REQUEST = pack_layout(SerialNumberRequest)
PROTOCOL_VERSION_REQUEST: Layout[ProtocolVersionRequest] = empty_layout(ProtocolVersionRequest)
MANUFACTURER_INFO_REQUEST: Layout[ManufacturerInfoRequest] = empty_layout(ManufacturerInfoRequest)
HISTORY_COUNT_REQUEST: Layout[HistoryCountRequest] = empty_layout(HistoryCountRequest)
READ_PARAMETER_REQUEST = Layout("READ_PARAMETER request", ReadParameterRequest, (One("pid", KnownPid()),))
WRITE_PARAMETER_REQUEST = Layout(
    "WRITE_PARAMETER request",
    WriteParameterRequest,
    (One("pid", KnownPid()), One("raw", Int(4, signed=True), "value")),
)
READ_HISTORY_REQUEST = Layout("READ_HISTORY request", ReadHistoryRequest, (One("index", Int(2)),))
SET_REMAINING_CAPACITY_REQUEST = Layout(
    "SET_REMAINING_CAPACITY request",
    SetRemainingCapacityRequest,
    (One("remaining_ah", Scaled(4, 100), "remaining (10 mAh)"),),
)
