"""The framework's client of the 12100 BMS: RS-485 (YD/T 1363.3) queries and the inverter CAN view.

Every sample is stamped with the station clock's time when it was read, so delays measured
from client samples and from CAN frame timestamps share one time base.
"""

from __future__ import annotations

import contextlib
import socket
import time
from dataclasses import dataclass
from typing import Any, TypeVar

import serial
import serial.rs485

from hil.can_monitor import CanMonitor
from hil.can_window import Frame
from hil.clock import Clock
from hil.dut import DutClient
from hil.duts.bms12100.config import PARAMETERS_BY_PATH, from_wire
from hil.duts.bms12100.protocol import rs485
from hil.duts.bms12100.protocol.can_codec import InverterView, flag_ids
from hil.duts.bms12100.protocol.rs485 import RtnError
from hil.errors import DutError, DutNotAnswering, DutWriteUnconfirmed, ProtocolError
from hil.link import LinkLog, LinkStats
from hil.protocols.can_errors import CanFrameError, UnknownFrameError
from hil.protocols.yd1363 import Frame as YdFrame
from hil.protocols.yd1363 import FrameError, FrameReader, Rtn, encode
from hil.retry import RetryPolicy
from hil.station.station import Station

R = TypeVar("R")
#: a read is sent again this many times while no valid answer comes back (writes: never)
READ_RETRIES = RetryPolicy().retries
#: how far (Ah) a read-back remaining capacity may be from the value set (one 10 mAh step + drift)
CAPACITY_READBACK_TOLERANCE_AH = 0.02
#: bytes taken per read once an answer has started (frames are a few hundred bytes at most)
READ_BLOCK = 4096


def _command_name(cid2: int) -> str:
    """`GET_ANALOG_VALUES (CID2 0x42)`, or just the code for one this client does not know."""
    try:
        return f"{rs485.Cid2(cid2).name} (CID2 {cid2:#04x})"
    except ValueError:
        return f"CID2 {cid2:#04x}"


def frame_error_kind(err: FrameError) -> str:
    """The link-log kind of a framing error: checksum, length, truncated, garbage or malformed."""
    if err.rtn == Rtn.CHKSUM_ERROR:
        return "checksum"
    if err.rtn == Rtn.LCHKSUM_ERROR:
        return "length"
    text = str(err)
    if text.startswith(("LENID says", "frame too short", "odd number")):
        return "length"
    if text.startswith(("frame cut short", "no EOI")):
        return "truncated"
    if text.startswith(("non-hex", "missing SOI", "missing EOI")):
        return "garbage"
    return "malformed"


@dataclass(frozen=True)
class Status:
    """One RS-485 poll of the BMS (0x42 + 0x44) with the time it was taken."""

    time: float
    cell_mv: tuple[int, ...]
    pack_v: float
    current_a: float
    soc_pct: float
    temperatures_c: tuple[float, ...]
    active: frozenset[str]
    charge_fet: bool
    discharge_fet: bool
    mode: str  # "charge" | "discharge" | "standby" (0x44 Status3 effective-current bits)


def _mode(alarms: rs485.AlarmInfo) -> str:
    if rs485.Status3.EFFECTIVE_CHARGE_CURRENT in alarms.status3:
        return "charge"
    if rs485.Status3.EFFECTIVE_DISCHARGE_CURRENT in alarms.status3:
        return "discharge"
    return "standby"


class _NoValidAnswer(Exception):
    """One attempt brought no valid answer (each bad answer is already in the link log)."""


class Bms12100Client(DutClient):
    """RS-485 and CAN access to one 12100 BMS."""

    def __init__(
        self,
        station: Station,
        can_monitor: CanMonitor | None = None,
        *,
        answer_timeout_s: float | None = None,
        retries: int = READ_RETRIES,
    ) -> None:
        bus = station.model.buses.rs485
        if bus is None:
            raise DutError(f"station {station.model.name} has no rs485 bus for the 12100 BMS")
        if answer_timeout_s is None:
            answer_timeout_s = bus.timeout_s  # the station's buses.rs485.timeout_s
        if answer_timeout_s <= 0 or retries < 0:
            raise ValueError("answer_timeout_s must be > 0 and retries >= 0")
        self.answer_timeout_s = answer_timeout_s
        self.policy = RetryPolicy(retries)
        self.link = LinkLog("rs485")
        self.clock: Clock = station.clock
        self.address = station.model.dut.address
        try:
            self.port = serial.serial_for_url(bus.url, baudrate=bus.baudrate, timeout=answer_timeout_s)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise DutError(f"RS-485 port {bus.url} could not be opened: {exc}") from exc
        if bus.rs485:
            self.port.rs485_mode = serial.rs485.RS485Settings()
        self.reader = FrameReader()
        self.view = InverterView()
        #: the last time a poll found the discharge path open (None: never): it can only have
        #: turned on (and started its precharge) after that
        self.discharge_open_seen: float | None = None
        self.can_monitor = can_monitor
        if can_monitor is not None:
            can_monitor.listeners.append(self._on_frame)

    @property
    def retries(self) -> int:
        """How often a read is sent again while no valid answer comes back (writes: never)."""
        return self.policy.retries

    @retries.setter
    def retries(self, value: int) -> None:
        self.policy = RetryPolicy(value)

    # --- RS-485 -----------------------------------------------------------------------
    def transact(self, request: YdFrame) -> YdFrame:
        """Send one request and return the BMS's answer frame (one attempt, no retry).

        Every bad answer on the way is counted in the link log; no valid answer raises DutNotAnswering.
        """
        started, before = time.monotonic(), self.link.stats()
        frame = self._attempt(request)
        if frame is None:
            raise self._not_answering(_command_name(request.cid2), time.monotonic() - started, 1, before)
        return frame

    def _attempt(self, request: YdFrame) -> YdFrame | None:
        """One request and its answer: the first frame from our address, or None by the timeout.

        Frames that fail to decode, bytes outside frames, frames from another address and a frame
        cut short by the timeout are each logged by kind with their raw bytes; none of them raises.
        """
        self.port.reset_input_buffer()
        self.reader.reset()  # bytes left from an earlier exchange belong to no answer of this one
        self.port.write(encode(request))
        deadline = time.monotonic() + self.answer_timeout_s
        received = bytearray()
        while (remaining := deadline - time.monotonic()) > 0:
            self.port.timeout = remaining
            first = self.port.read(1)  # waits for the answer to start, or the time to run out
            if not first:
                break
            self.port.timeout = 0  # then whatever has arrived, in one read (not byte by byte)
            chunk = first + self.port.read(READ_BLOCK)
            received += chunk
            discarded = self.reader.discarded_bytes
            events = self.reader.feed_events(chunk)
            if self.reader.discarded_bytes > discarded:
                self._log("garbage", f"{self.reader.discarded_bytes - discarded} bytes outside frames", chunk)
            for event in events:
                if isinstance(event, FrameError):
                    self._log(frame_error_kind(event), str(event), event.raw)
                elif event.adr != self.address:
                    detail = f"answer from address {event.adr}, expected {self.address}"
                    self._log("address", detail, encode(event))
                else:
                    return event
        if self.reader.buffered:
            cut = bytes(received[-self.reader.buffered :])
            self._log("truncated", f"frame without EOI after {self.answer_timeout_s:g} s", cut)
            self.reader.reset()
        elif not received:
            name = _command_name(request.cid2)
            self._log("no_answer", f"{name}: no bytes in {self.answer_timeout_s:g} s")
        return None

    def _log(self, kind: str, detail: str = "", raw: bytes = b"") -> None:
        self.link.add(kind, self.clock.now(), detail, raw)

    def _not_answering(
        self, command: str, waited_s: float, attempts: int, before: LinkStats
    ) -> DutNotAnswering:
        """The declared error for a command without a valid answer, saying what came instead."""
        came = self.link.stats().since(before).counts
        bad = {k: n for k, n in came.items() if k not in ("retry", "no_answer")}
        if bad:
            detail = "bad answers only: " + ", ".join(f"{n} {k}" for k, n in sorted(bad.items()))
        else:
            detail = "no bytes at all"
        self._log("not_answering", f"{command}: no valid answer in {attempts} attempt(s), {detail}")
        return DutNotAnswering(command, self.address, waited_s, attempts, detail)

    def _answer(self, command: Any, request: YdFrame) -> Any:
        """One attempt: the parsed answer; _NoValidAnswer if none came or its content does not fit."""
        frame = self._attempt(request)
        if frame is None:
            raise _NoValidAnswer
        try:
            return command.parse_response(frame)
        except RtnError:
            raise  # the BMS answered: a refusal is its answer, not a link fault
        except ProtocolError as exc:  # a valid frame whose INFO does not fit the command
            self._log("content", str(exc), encode(frame))
            raise _NoValidAnswer from exc

    def _query(self, command: Any, *args: Any) -> Any:
        """A read: the request is sent again (up to `retries` times) while no valid answer comes back."""
        request: YdFrame = command.request(self.address, *args)
        name = _command_name(request.cid2)
        started, before = time.monotonic(), self.link.stats()

        def retrying(attempt: int, attempts: int) -> None:
            self._log("retry", f"{name}: attempt {attempt} of {attempts}")

        try:
            return self.policy.call(
                lambda: self._answer(command, request), read=True, lost=(_NoValidAnswer,), retrying=retrying
            )
        except _NoValidAnswer:
            attempts = self.policy.attempts(read=True)
            raise self._not_answering(name, time.monotonic() - started, attempts, before) from None

    def _write(self, command: Any, *args: Any) -> tuple[Any, bool]:
        """A write is sent once; (its parsed answer, True), or (None, False) when the answer was lost.

        Never re-sent: the caller reads the value back to learn whether it was stored.
        """
        request: YdFrame = command.request(self.address, *args)
        try:
            return self.policy.call(
                lambda: self._answer(command, request), read=False, lost=(_NoValidAnswer,)
            ), True
        except _NoValidAnswer:
            self._log(
                "write_unanswered",
                f"{_command_name(request.cid2)}: answer lost; reading back, not re-sending",
            )
            return None, False

    def link_stats(self) -> LinkStats:
        """RS-485 counters by kind (checksum, length, garbage, truncated, address, content, no_answer,
        retry, not_answering, write_unanswered, write_verified) and the latest events with raw bytes."""
        return self.link.stats()

    @property
    def bad_frames(self) -> int:
        """Frames from the BMS that failed framing or checksum checks."""
        return self.reader.bad_frames

    def status(self) -> Status:
        analog: rs485.AnalogValues = self._query(rs485.GetAnalogValues)
        alarms = self.alarm_info()
        return Status(
            time=self.clock.now(),
            cell_mv=analog.cell_mv,
            pack_v=analog.pack_v,
            current_a=analog.current_a,
            soc_pct=analog.soc_pct,
            temperatures_c=analog.temperatures_c,
            active=rs485.active_ids_from_alarm_info(alarms),
            charge_fet=alarms.charge_fet,
            discharge_fet=alarms.discharge_fet,
            mode=_mode(alarms),
        )

    def analog(self) -> rs485.AnalogValues:
        """0x42 as the BMS sends it (cells, temperatures, current, capacities, cycle count)."""
        result: rs485.AnalogValues = self._query(rs485.GetAnalogValues)
        return result

    def mode(self) -> str:
        """The working mode the BMS reports (seed §6.2): charge, discharge or standby."""
        return _mode(self.alarm_info())

    def active(self) -> frozenset[str]:
        """The requirement IDs of the alarms and protections active now (0x44)."""
        return rs485.active_ids_from_alarm_info(self.alarm_info())

    def alarm_info(self) -> rs485.AlarmInfo:
        """0x44 as the BMS sends it; notes when the discharge path was last seen open."""
        alarms: rs485.AlarmInfo = self._query(rs485.GetAlarmInfo)
        if not alarms.discharge_fet:
            self.discharge_open_seen = self.clock.now()
        return alarms

    def read_setting(self, path: str) -> float | int | bool:
        """A firmware setting by its settings path, e.g. "cell_overvoltage_protection.trigger"."""
        value: rs485.ParameterValue = self._query(rs485.ReadParameter, PARAMETERS_BY_PATH[path].pid)
        return value.value

    def write_setting(self, path: str, value: float | bool) -> float | int | bool:
        """Write a firmware setting; returns the value the BMS reports back.

        Sent once: if the answer is lost the setting is read back, and a value other than the one
        written raises DutWriteUnconfirmed (a write is never re-sent blindly).
        """
        param = PARAMETERS_BY_PATH[path]
        raw = round(float(value) * param.scale)
        answer, answered = self._write(rs485.WriteParameter, param.pid, raw)
        if answered:
            return from_wire(param, answer.raw)
        stored: rs485.ParameterValue = self._query(rs485.ReadParameter, param.pid)
        if stored.raw != raw:
            raise DutWriteUnconfirmed(f"write of {path} (wire values)", self.address, raw, stored.raw)
        self._log("write_verified", f"{path}: read back {stored.raw} as written")
        return from_wire(param, stored.raw)

    def set_remaining_capacity(self, ah: float) -> float:
        """Set the remaining capacity; sent once, a lost answer is checked in 0x42, never re-sent."""
        answer, answered = self._write(rs485.SetRemainingCapacity, ah)
        if answered:
            result: float = answer
            return result
        remaining = self.analog().remaining_ah
        if abs(remaining - ah) > CAPACITY_READBACK_TOLERANCE_AH:
            raise DutWriteUnconfirmed("set remaining capacity", self.address, ah, remaining)
        self._log("write_verified", f"remaining capacity: read back {remaining} Ah")
        return remaining

    def history(self) -> list[rs485.HistoryRecord]:
        count: int = self._query(rs485.GetHistoryCount)
        return [self._query(rs485.ReadHistory, i) for i in range(count)]

    def identity(self) -> dict[str, Any]:
        version: int = self._query(rs485.GetProtocolVersion)
        info: rs485.ManufacturerInfo = self._query(rs485.GetManufacturerInfo)
        sn: rs485.SerialNumber = self._query(rs485.GetSerialNumber)
        return {
            "serial": sn.serial.strip(),
            "model": info.device_name.strip(),
            "manufacturer": info.manufacturer.strip(),
            "firmware": f"{info.software_version[0]}.{info.software_version[1]}",
            "protocol": f"YD/T 1363.3 VER {version:#04x}",
        }

    # --- CAN ----------------------------------------------------------------------------
    def _on_frame(self, frame: Frame) -> None:
        """Feed the inverter view; a frame of the BMS's IDs that does not decode is counted, not raised."""
        if frame.is_error_frame:
            return
        try:
            self.view.update(frame.arbitration_id, frame.data, frame.timestamp)
        except UnknownFrameError:
            pass  # not one of the BMS's frames
        except CanFrameError as exc:
            if self.can_monitor is not None:
                self.can_monitor.undecodable(frame, str(exc))

    def can_flag_ids(self) -> frozenset[str]:
        """The requirement IDs the latest 0x359 flags could stand for."""
        return flag_ids(self.view)

    def close(self) -> None:
        if self.can_monitor is not None and self._on_frame in self.can_monitor.listeners:
            self.can_monitor.listeners.remove(self._on_frame)
        close_port(self.port)


def close_port(port: serial.SerialBase) -> None:
    """Close an RS-485 port. pyserial's `socket://` port sleeps 0.3 s in its close "in case of quick
    reconnects"; a client's port is closed for good at the end of a run, so its socket is shut and
    closed here without that wait (pyserial exposes no other way). Any other port: its own close."""
    sock = getattr(port, "_socket", None)
    if not isinstance(sock, socket.socket):
        port.close()
        return
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
    port._socket = None  # what pyserial's close leaves, so a later close() does nothing
    port.is_open = False
