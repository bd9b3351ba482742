"""The twin's side of the RS-485 link: YD/T 1363.3 requests in, the BMS's answers out.

Only frames addressed to this pack (its DIP-switch address) are answered, as on a multi-drop
bus. Traffic addressed to the pack wakes it from shutdown (PM-WAKE); it then answers.

A host polls 0x44 again and again while it waits for a state: the bytes of the last 0x44 answer
are kept with what they were built from (`answers.alarm_info_inputs`) and sent again while that
has not changed, or while the answer built again is the same value (new readings, same states).
"""

from __future__ import annotations

import logging

from hil.duts.bms12100.protocol import rs485
from hil.duts.bms12100.protocol.snapshot import Mode
from hil.duts.bms12100.sim import answers
from hil.duts.bms12100.sim.twin import Bms12100Twin
from hil.protocols.yd1363 import Frame, FrameReader, Rtn, encode

log = logging.getLogger(__name__)


class Rs485Responder:
    """Turns request bytes into response bytes for one twin."""

    def __init__(self, twin: Bms12100Twin, address: int) -> None:
        self.twin = twin
        self.address = address
        self.reader = FrameReader()
        #: the last 0x44 answer: what it was built from, its value and its frame's bytes
        self._alarm_answer: tuple[tuple[object, ...], rs485.AlarmInfo, bytes] | None = None

    def feed(self, t: float, data: bytes) -> bytes:
        out = bytearray()
        for frame in self.reader.feed(data):
            if frame.adr != self.address:
                continue
            if self.twin.mode is Mode.SHUTDOWN:
                self.twin.wake(t, "rs485")
            try:
                out += self._alarm_info_bytes(frame) or encode(self.answer(frame))
            except (ValueError, KeyError) as exc:  # a twin value the codec cannot carry
                log.error("cannot answer CID2 %#04x: %s", frame.cid2, exc)
                out += encode(rs485.error_response(self.address, Rtn.COMMUNICATION_ERROR))
        return bytes(out)

    def _alarm_info_bytes(self, frame: Frame) -> bytes | None:
        """The 0x44 answer's bytes, built again only when what it says changed (None: not a valid 0x44)."""
        if frame.cid2 != rs485.Cid2.GET_ALARM_INFO:
            return None
        try:
            request = rs485.parse_request(frame)
        except rs485.InfoError:
            return None  # answered (refused) by `answer`
        assert isinstance(request, rs485.AlarmInfoRequest)
        tel = self.twin.telemetry()
        inputs = answers.alarm_info_inputs(tel, request.pack)
        kept = self._alarm_answer
        if kept is not None and kept[0] == inputs:
            return kept[2]
        info = answers.alarm_info_from_telemetry(tel, request.pack)
        if kept is not None and kept[1] == info:  # new readings, the same flags and states
            self._alarm_answer = inputs, info, kept[2]
        else:
            self._alarm_answer = inputs, info, encode(rs485.GetAlarmInfo.response(self.address, info))
        return self._alarm_answer[2]

    def answer(self, frame: Frame) -> Frame:
        adr = self.address
        try:
            request = rs485.parse_request(frame)
        except rs485.InfoError as exc:
            return rs485.error_response(adr, exc.rtn)
        twin = self.twin
        if isinstance(request, rs485.ProtocolVersionRequest):
            return rs485.GetProtocolVersion.response(adr)
        if isinstance(request, rs485.ManufacturerInfoRequest):
            major, minor = (int(x) for x in twin.firmware_version.split(".")[:2])
            info = rs485.ManufacturerInfo(twin.device_name, (major, minor), twin.manufacturer)
            return rs485.GetManufacturerInfo.response(adr, info)
        if isinstance(request, rs485.AnalogValuesRequest):
            tel = twin.telemetry()
            return rs485.GetAnalogValues.response(adr, answers.analog_from_telemetry(tel, request.pack))
        if isinstance(request, rs485.AlarmInfoRequest):
            return rs485.GetAlarmInfo.response(
                adr, answers.alarm_info_from_telemetry(twin.telemetry(), request.pack)
            )
        if isinstance(request, rs485.SystemParametersRequest):
            return rs485.GetSystemParameters.response(
                adr, answers.system_parameters_from_settings(twin.settings)
            )
        if isinstance(request, rs485.ChargeManagementRequest):
            cm = answers.charge_management_from_telemetry(twin.telemetry(), request.pack)
            return rs485.GetChargeManagement.response(adr, cm)
        if isinstance(request, rs485.SerialNumberRequest):
            return rs485.GetSerialNumber.response(adr, rs485.SerialNumber(request.pack, twin.serial))
        if isinstance(request, rs485.ReadParameterRequest):
            try:
                raw = twin.read_parameter(request.pid)
            except (KeyError, ValueError):
                return rs485.error_response(adr, Rtn.INVALID_DATA)
            return rs485.ReadParameter.response(adr, rs485.ParameterValue(request.pid, raw))
        if isinstance(request, rs485.WriteParameterRequest):
            try:
                twin.write_parameter(request.pid, request.raw)
            except (KeyError, ValueError):
                return rs485.error_response(adr, Rtn.INVALID_DATA)
            raw = twin.read_parameter(request.pid)
            return rs485.WriteParameter.response(adr, rs485.ParameterValue(request.pid, raw))
        if isinstance(request, rs485.HistoryCountRequest):
            return rs485.GetHistoryCount.response(adr, len(twin.history))
        if isinstance(request, rs485.ReadHistoryRequest):
            if request.index >= len(twin.history):
                return rs485.error_response(adr, Rtn.INVALID_DATA)
            event = twin.history[request.index]
            snap = event.snapshot
            record = rs485.HistoryRecord(
                index=request.index,
                time_s=int(event.time),
                kind=rs485.EventKind.TRIGGER if event.kind == "trigger" else rs485.EventKind.RELEASE,
                requirement_id=event.rid,
                cell_mv=tuple(round(mv) for mv in snap.cell_mv),
                pack_v=round(snap.pack_v, 3),
                current_a=round(snap.current_a, 2),
                temperatures_c=tuple(round(c, 1) for c in snap.temperatures_c),
            )
            return rs485.ReadHistory.response(adr, record)
        if isinstance(request, rs485.SetRemainingCapacityRequest):
            try:
                twin.set_remaining_capacity(request.remaining_ah)
            except ValueError:
                return rs485.error_response(adr, Rtn.INVALID_DATA)
            return rs485.SetRemainingCapacity.response(adr, request.remaining_ah)
        return rs485.error_response(adr, Rtn.CID2_INVALID)
