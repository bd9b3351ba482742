"""The 12100 BMS's RS-485 commands: a request layout and an answer layout under one CID2 each.

The same objects serve both ends: the framework's client builds requests (`X.request`) and parses
answers (`X.parse_response`); the firmware twin parses requests (`X.parse_request`, or the
dispatcher `parse_request`) and builds answers (`X.response`, `error_response`).
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from hil.duts.bms12100.protocol import layouts as a
from hil.duts.bms12100.protocol import requests as q
from hil.duts.bms12100.protocol.codes import CID1, MAX_ADDRESS, MIN_ADDRESS, VER, Cid2, InfoError, RtnError
from hil.duts.bms12100.protocol.fields import Layout
from hil.protocols.yd1363 import Frame, Rtn

Q = TypeVar("Q")
A = TypeVar("A")
P = TypeVar("P", bound=q.PackRequest)


def _check_address(adr: int) -> int:
    if not MIN_ADDRESS <= adr <= MAX_ADDRESS:
        raise ValueError(f"ADR must be the DIP-switch address {MIN_ADDRESS}..{MAX_ADDRESS}, got {adr}")
    return adr


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


class Command(Generic[Q, A]):
    """One command: its CID2, the layout of its request INFO and of its answer INFO."""

    any_ver = False  # whether a request and its answer may carry any VER

    def __init__(self, name: str, cid2: Cid2, asked: Layout[Q], answered: Layout[A]) -> None:
        self.__name__ = name
        self.CID2 = cid2
        self.asked = asked
        self.answered = answered

    def __repr__(self) -> str:
        return self.__name__

    def _ask(self, adr: int, request: Q, ver: int = VER) -> Frame:
        return Frame(ver, _check_address(adr), CID1, int(self.CID2), self.asked.encode(request))

    def parse_request(self, frame: Frame) -> Q:
        """The typed request; InfoError carries the RTN to answer with."""
        _check_request(frame, self.CID2, any_ver=self.any_ver)
        known = {"ver": frame.ver} if self.any_ver else {}
        return self.asked.decode(frame, adr=frame.adr, **known)

    def response(self, adr: int, value: A) -> Frame:
        """The answer frame carrying `value`."""
        return Frame(VER, adr, CID1, int(Rtn.NORMAL), self.answered.encode(value))

    def parse_response(self, frame: Frame) -> A:
        """The value an answer carries; a refusal raises RtnError, bad INFO InfoError."""
        _check_response(frame, self.CID2, any_ver=self.any_ver)
        return self.answered.decode(frame)


class PackCommand(Command[P, A]):
    """A command asked of one pack: INFO is the pack address (default: the frame's ADR)."""

    def request(self, adr: int, pack: int | None = None) -> Frame:
        """Ask pack `pack` (default: `adr`)."""
        return self._ask(adr, self.asked.make(adr=adr, pack=adr if pack is None else pack))

    def parse_request(self, frame: Frame) -> P:
        """As Command's; an empty INFO asks the addressed pack where EMPTY_PACK_INFO allows it."""
        if not frame.info and self.CID2 in q.EMPTY_PACK_INFO:
            _check_request(frame, self.CID2, any_ver=self.any_ver)
            return self.asked.make(adr=frame.adr, pack=frame.adr)
        return super().parse_request(frame)


class PlainCommand(Command[Q, A]):
    """A command with an empty request INFO."""

    def request(self, adr: int) -> Frame:
        """Ask with an empty INFO."""
        return self._ask(adr, self.asked.make(adr=adr))


class _ProtocolVersion(Command[q.ProtocolVersionRequest, int]):
    """0x4F: the answer's VER field is the answer; INFO is empty both ways; any VER is accepted."""

    any_ver = True

    def request(self, adr: int, ver: int = VER) -> Frame:
        """Ask for the protocol version (some hosts send VER 0x00 here)."""
        return self._ask(adr, q.ProtocolVersionRequest(adr, ver), ver)

    def response(self, adr: int, version: int = VER) -> Frame:
        """Answer with `version` in VER."""
        return Frame(version, adr, CID1, int(Rtn.NORMAL))

    def parse_response(self, frame: Frame) -> int:
        """The protocol version the BMS reports."""
        _check_response(frame, self.CID2, any_ver=True)
        self.answered.decode(frame)  # checks that INFO is empty
        return frame.ver


class _ReadParameter(Command[q.ReadParameterRequest, a.ParameterValue]):
    def request(self, adr: int, pid: int) -> Frame:
        """Ask for one parameter's wire value."""
        return self._ask(adr, q.ReadParameterRequest(adr, pid))


class _WriteParameter(Command[q.WriteParameterRequest, a.ParameterValue]):
    def request(self, adr: int, pid: int, raw: int) -> Frame:
        """Write one parameter's wire value (see config.PARAMETERS for numbers and scales)."""
        return self._ask(adr, q.WriteParameterRequest(adr, pid, raw))


class _ReadHistory(Command[q.ReadHistoryRequest, a.HistoryRecord]):
    def request(self, adr: int, index: int) -> Frame:
        """Ask for record `index` (0 = oldest); the twin refuses an index beyond its records."""
        return self._ask(adr, q.ReadHistoryRequest(adr, index))


class _SetRemainingCapacity(Command[q.SetRemainingCapacityRequest, float]):
    def request(self, adr: int, remaining_ah: float) -> Frame:
        """Set the remaining capacity (resolution 10 mAh); the answer echoes it."""
        return self._ask(adr, q.SetRemainingCapacityRequest(adr, remaining_ah))


C = Cid2
GetProtocolVersion = _ProtocolVersion(
    "GetProtocolVersion",
    C.GET_PROTOCOL_VERSION,
    q.PROTOCOL_VERSION_REQUEST,
    Layout("GET_PROTOCOL_VERSION response", int),
)
GetManufacturerInfo = PlainCommand(
    "GetManufacturerInfo", C.GET_MANUFACTURER_INFO, q.MANUFACTURER_INFO_REQUEST, a.MANUFACTURER_INFO
)
GetAnalogValues = PackCommand(
    "GetAnalogValues", C.GET_ANALOG_VALUES, q.ANALOG_VALUES_REQUEST, a.ANALOG_VALUES
)
GetAlarmInfo = PackCommand("GetAlarmInfo", C.GET_ALARM_INFO, q.ALARM_INFO_REQUEST, a.ALARM_INFO)
GetSystemParameters = PackCommand(
    "GetSystemParameters", C.GET_SYSTEM_PARAMETERS, q.SYSTEM_PARAMETERS_REQUEST, a.SYSTEM_PARAMETERS
)
GetChargeManagement = PackCommand(
    "GetChargeManagement", C.GET_CHARGE_MANAGEMENT, q.CHARGE_MANAGEMENT_REQUEST, a.CHARGE_MANAGEMENT
)
GetSerialNumber = PackCommand(
    "GetSerialNumber", C.GET_SERIAL_NUMBER, q.SERIAL_NUMBER_REQUEST, a.SERIAL_NUMBER
)
ReadParameter = _ReadParameter("ReadParameter", C.READ_PARAMETER, q.READ_PARAMETER_REQUEST, a.READ_PARAMETER)
WriteParameter = _WriteParameter(
    "WriteParameter", C.WRITE_PARAMETER, q.WRITE_PARAMETER_REQUEST, a.WRITE_PARAMETER
)
GetHistoryCount = PlainCommand(
    "GetHistoryCount", C.GET_HISTORY_COUNT, q.HISTORY_COUNT_REQUEST, a.HISTORY_COUNT
)
ReadHistory = _ReadHistory("ReadHistory", C.READ_HISTORY, q.READ_HISTORY_REQUEST, a.HISTORY_RECORD)
SetRemainingCapacity = _SetRemainingCapacity(
    "SetRemainingCapacity", C.SET_REMAINING_CAPACITY, q.SET_REMAINING_CAPACITY_REQUEST, a.REMAINING_CAPACITY
)

COMMANDS: dict[int, Command[Any, Any]] = {
    int(command.CID2): command
    for command in (
        GetProtocolVersion,
        GetManufacturerInfo,
        GetAnalogValues,
        GetAlarmInfo,
        GetSystemParameters,
        GetChargeManagement,
        GetSerialNumber,
        ReadParameter,
        WriteParameter,
        GetHistoryCount,
        ReadHistory,
        SetRemainingCapacity,
    )
}


def parse_request(frame: Frame) -> q.Request:
    """The twin's entry point: the typed request in a frame.

    Raises InfoError whose `rtn` is the code to answer with (`error_response(frame.adr, e.rtn)`).
    """
    if frame.cid1 != CID1:
        raise InfoError(
            f"CID1 {frame.cid1:#04x} is not the battery group {CID1:#04x}", Rtn.CID2_INVALID, adr=frame.adr
        )
    command = COMMANDS.get(frame.cid2)
    if command is None:
        raise InfoError(
            f"CID2 {frame.cid2:#04x} is not a command of this BMS", Rtn.CID2_INVALID, adr=frame.adr
        )
    request: q.Request = command.parse_request(frame)
    return request
