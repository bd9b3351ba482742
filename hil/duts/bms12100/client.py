"""The framework's client of the 12100 BMS: RS-485 (YD/T 1363.3) queries and the inverter CAN view.

Every sample is stamped with the station clock's time when it was read, so delays measured
from client samples and from CAN frame timestamps share one time base.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, TypeVar

import serial
import serial.rs485

from hil.can_monitor import CanMonitor, Frame
from hil.clock import Clock
from hil.dut import DutClient
from hil.duts.bms12100 import rs485
from hil.duts.bms12100.can_codec import InverterView, flag_ids
from hil.duts.bms12100.settings import PARAMETERS_BY_PATH, from_wire
from hil.errors import DutError, DutTimeout, ProtocolError
from hil.protocols.yd1363 import Frame as YdFrame
from hil.protocols.yd1363 import FrameReader, encode
from hil.station.station import Station

R = TypeVar("R")
#: a 9600 Bd answer of ~150 characters takes ~160 ms on the wire; allow for the BMS's own latency
ANSWER_TIMEOUT_S = 1.0


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


class Bms12100Client(DutClient):
    """RS-485 and CAN access to one 12100 BMS."""

    def __init__(self, station: Station, can_monitor: CanMonitor | None = None) -> None:
        bus = station.model.buses.rs485
        if bus is None:
            raise DutError(f"station {station.model.name} has no rs485 bus for the 12100 BMS")
        self.clock: Clock = station.clock
        self.address = station.model.dut.address
        try:
            self.port = serial.serial_for_url(bus.url, baudrate=bus.baudrate, timeout=ANSWER_TIMEOUT_S)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise DutError(f"RS-485 port {bus.url} could not be opened: {exc}") from exc
        if bus.rs485:
            self.port.rs485_mode = serial.rs485.RS485Settings()
        self.reader = FrameReader()
        self.view = InverterView()
        self.can_monitor = can_monitor
        if can_monitor is not None:
            can_monitor.listeners.append(self._on_frame)

    # --- RS-485 -----------------------------------------------------------------------
    def transact(self, request: YdFrame) -> YdFrame:
        """Send one request and return the BMS's answer frame."""
        self.port.reset_input_buffer()
        self.port.write(encode(request))
        for _ in range(4):  # a frame may come after garbage; each read ends at EOI or the timeout
            chunk = self.port.read_until(b"\r")
            if not chunk:
                break
            for frame in self.reader.feed(chunk):
                return frame
        raise DutTimeout(f"the BMS at address {self.address} did not answer CID2 {request.cid2:#04x}")

    def _query(self, command: Any, *args: Any) -> Any:
        return command.parse_response(self.transact(command.request(self.address, *args)))

    @property
    def bad_frames(self) -> int:
        """Frames from the BMS that failed framing or checksum checks."""
        return self.reader.bad_frames

    def status(self) -> Status:
        analog: rs485.AnalogValues = self._query(rs485.GetAnalogValues)
        alarms: rs485.AlarmInfo = self._query(rs485.GetAlarmInfo)
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
        alarms: rs485.AlarmInfo = self._query(rs485.GetAlarmInfo)
        return _mode(alarms)

    def active(self) -> frozenset[str]:
        """The requirement IDs of the alarms and protections active now (0x44)."""
        alarms: rs485.AlarmInfo = self._query(rs485.GetAlarmInfo)
        return rs485.active_ids_from_alarm_info(alarms)

    def read_setting(self, path: str) -> float | int | bool:
        """A firmware setting by its settings path, e.g. "cell_overvoltage_protection.trigger"."""
        value: rs485.ParameterValue = self._query(rs485.ReadParameter, PARAMETERS_BY_PATH[path].pid)
        return value.value

    def write_setting(self, path: str, value: float | bool) -> float | int | bool:
        """Write a firmware setting; returns the value the BMS reports back."""
        param = PARAMETERS_BY_PATH[path]
        raw = round(float(value) * param.scale)
        answer: rs485.ParameterValue = self._query(rs485.WriteParameter, param.pid, raw)
        return from_wire(param, answer.raw)

    def set_remaining_capacity(self, ah: float) -> float:
        result: float = self._query(rs485.SetRemainingCapacity, ah)
        return result

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
        with contextlib.suppress(ProtocolError):  # not one of the BMS's frames
            self.view.update(frame.arbitration_id, frame.data, frame.timestamp)

    def can_flag_ids(self) -> frozenset[str]:
        """The requirement IDs the latest 0x359 flags could stand for."""
        return flag_ids(self.view)

    def close(self) -> None:
        if self.can_monitor is not None and self._on_frame in self.can_monitor.listeners:
            self.can_monitor.listeners.remove(self._on_frame)
        self.port.close()
