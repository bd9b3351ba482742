"""The framework's client of the D1000 Gen2: its CAN telemetry decoded, and the BMS command it needs.

Telemetry: every frame the station's CAN monitor captured is decoded with the codec of the unit's
configuration (base ID, node count), lazily, in the caller's thread: after a wait the monitor has
caught up with the bus, so a query sees every frame up to "now" with its bus timestamp. A
configuration whose per-node IDs collide with fixed messages (PH-MSG) is refused by the codec;
the client then decodes only what is unambiguous (the nodes that fit, and the fixed messages no
node overlays) and says so in `layout_error`.

Commands: the controller must repeat BMSCommands or the BMS faults with BMSReasonCONTROLTIMEOUT
(PH-SM-CMD). `command` is repeated every COMMAND_PERIOD_S: on a simulated station from the
clock's sync hook after each wait (the plan's clock drives time; the bench keeps single waits
short), on hardware from a thread on the wall clock. `sending = False` stops it (the timeout test).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import can

from hil.can_monitor import CanMonitor, open_station_bus
from hil.can_window import Frame
from hil.clock import Clock
from hil.dut import DutClient
from hil.duts.prohelion_d1000_gen2.config import D1000Config, load_config
from hil.duts.prohelion_d1000_gen2.protocol.can_codec import (
    D1000CanCodec,
    Value,
)
from hil.duts.prohelion_d1000_gen2.protocol.codes import (
    CONTACTOR_CLOSED,
    BmsCommand,
    BmsState,
    CommandType,
    InfoBit,
)
from hil.duts.prohelion_d1000_gen2.protocol.dbc import (
    MAX_STANDARD_ID,
    NODE_KINDS,
    CanIdConfigError,
    max_node_count,
    node_frame_id,
)
from hil.errors import DutError
from hil.link import LinkLog, LinkStats
from hil.protocols.can_errors import CanFrameError, UnknownFrameError
from hil.station.station import Station

#: how often the command is repeated (the firmware's control timeout is undocumented; the twin's 5 s)
COMMAND_PERIOD_S = 0.2
#: on the sim, how long (wall time) a sent command may take to come back through the capture
COMMAND_ECHO_TIMEOUT_S = 1.0
_STATE_BITS = 12


def configuration(station: Station) -> D1000Config:
    """The unit's configuration for this run: the firmware/configuration file, else the defaults."""
    if station.firmware_file is not None:
        return load_config(station.firmware_file)
    return D1000Config()


def state_of(word: int) -> BmsState | None:
    """The state a BMSInfo word carries (its one state bit), None if no state bit is set."""
    for bit in range(_STATE_BITS):
        if word >> bit & 1:
            return BmsState(bit)
    return None


@dataclass(frozen=True)
class Received:
    """The latest decoded frame of one message."""

    time: float
    signals: dict[str, Value]


class D1000Client(DutClient):
    """CAN access to one D1000 Gen2 BMU (telemetry in, BMSCommands out)."""

    def __init__(self, station: Station, can_monitor: CanMonitor | None = None) -> None:
        if can_monitor is None:
            raise DutError("the D1000 Gen2 client needs the station's CAN monitor")
        bus_model = station.model.buses.can
        if bus_model is None:
            raise DutError(f"station {station.model.name} has no CAN bus for the D1000 Gen2")
        self.station = station
        self.clock: Clock = station.clock
        self.monitor = can_monitor
        self.config = configuration(station)
        self.link = LinkLog("d1000-commands")
        base, nodes = self.config.node_id, self.config.num_cmu_nodes
        self.layout_error: CanIdConfigError | None = None
        try:
            self.codec = D1000CanCodec(base, nodes)
            self.fitting = nodes
        except CanIdConfigError as exc:
            self.layout_error = exc
            self.fitting = max(1, min(nodes, max_node_count(base)))
            self.codec = D1000CanCodec(base, self.fitting)
        #: IDs a node beyond the fitting ones also uses: their frames cannot be told apart
        self.ambiguous = frozenset(
            can_id
            for n in range(self.fitting, nodes)
            for kind in NODE_KINDS
            if (can_id := node_frame_id(base, n, kind)) <= MAX_STANDARD_ID
        )
        self._latest: dict[str, Received] = {}  # decoded when read
        self._undecoded: dict[str, Frame] = {}  # newer than `_latest`, checked but not decoded yet
        self._received_at: dict[str, float] = {}  # the newest frame's timestamp, by message
        self._info_id = self.codec.frame_id("BMSInfo")
        self._info_word: int | None = None
        self.info_changes: list[tuple[float, int]] = []  # (time, BMSInfo word) whenever the word changed
        self._arrived: dict[int, Frame] = {}  # newest frame per ID since the last _consume (capture thread)
        self._arrived_lock = threading.Lock()
        can_monitor.listeners.append(self._on_frame)
        self.command: BmsCommand = BmsCommand.NONE
        self.sending = True
        self.last_sent = -1e9
        self.tx: can.BusABC = open_station_bus(bus_model)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.simulated = station.simulated
        if station.simulated:
            self.clock.add_sync_hook(self._tick)
        else:
            self._thread = threading.Thread(target=self._repeat, name="d1000-commands", daemon=True)
            self._thread.start()

    # --- commands ---------------------------------------------------------------------------
    def send_command(self, command: BmsCommand, command_type: int = CommandType.UPDATE) -> None:
        """Send one BMSCommands frame now; `command` becomes the one repeated from then on."""
        self.command = command
        frame = self.codec.encode("BMSCommands", {"BMSCommand": int(command), "BMSCommandType": command_type})
        seen = self.monitor.count(frame.arbitration_id)
        try:
            self.tx.send(frame.to_can_message())
        except can.CanError as exc:
            self.link.add("send_failed", self.clock.now(), str(exc), frame.data)
            raise DutError(f"BMSCommands could not be sent: {exc}") from exc
        if self.simulated:
            # the lab takes the frame before it passes it on: once the capture has it, the next
            # clock advance cannot overtake it (the command and the clock go over separate sockets)
            self.monitor.wait_count(frame.arbitration_id, seen + 1, COMMAND_ECHO_TIMEOUT_S)
        self.last_sent = self.clock.now()

    def _tick(self, counters: dict[str, float]) -> None:
        """After each wait (simulated station): repeat the command when it is due."""
        del counters
        if self.sending and self.clock.now() - self.last_sent >= COMMAND_PERIOD_S - 1e-9:
            self.send_command(self.command)

    def _repeat(self) -> None:
        """Hardware: repeat the command on the wall clock."""
        while not self._stop.wait(COMMAND_PERIOD_S):
            if self.sending:
                try:
                    self.send_command(self.command)
                except DutError:
                    continue  # counted in the link log; the plan sees the control timeout if it lasts

    # --- telemetry --------------------------------------------------------------------------
    def _on_frame(self, frame: Frame) -> None:
        """Capture thread: keep the newest frame of each ID and every BMSInfo word change."""
        if frame.is_error_frame or frame.arbitration_id in self.ambiguous:
            return
        if frame.arbitration_id == self._info_id and len(frame.data) == 8:  # every state/flag change counts
            word = int.from_bytes(frame.data, "little")
            if not self.info_changes or self.info_changes[-1][1] != word:
                self.info_changes.append((frame.timestamp, word))
        with self._arrived_lock:
            self._arrived[frame.arbitration_id] = frame

    def _consume(self) -> None:
        """Take the frames captured since the last call: each is checked (ID, length) and the newest
        of each message kept; its signals are decoded only when the message is read (`latest`), so
        a 32-node pack's per-node frames cost little until a test looks at them."""
        with self._arrived_lock:
            newest, self._arrived = self._arrived, {}
        for frame in newest.values():
            try:
                name = self.codec.check(frame.arbitration_id, frame.data)
            except UnknownFrameError:
                continue  # not one of the BMU's messages
            except CanFrameError as exc:
                self.monitor.undecodable(frame, str(exc))
                continue
            self._undecoded[name] = frame
            self._received_at[name] = frame.timestamp
            if frame.arbitration_id == self._info_id:
                self._info_word = int.from_bytes(frame.data, "little")

    def latest(self, name: str) -> Received | None:
        """The latest frame of a DBC message name (None if none was received)."""
        self._consume()
        frame = self._undecoded.pop(name, None)
        if frame is not None:
            decoded = self.codec.decode(frame.arbitration_id, frame.data)
            self._latest[name] = Received(frame.timestamp, decoded.signals)
        return self._latest.get(name)

    def value(self, message: str, signal: str) -> Value | None:
        """One signal of the latest frame of `message`."""
        got = self.latest(message)
        return None if got is None else got.signals.get(signal)

    def fresh(self, names: Iterable[str], since: float) -> bool:
        """Whether every message in `names` was received with a timestamp at or after `since`."""
        self._consume()
        return all((t := self._received_at.get(n)) is not None and t >= since - 1e-6 for n in names)

    def info_word(self) -> int | None:
        """The 64-bit BMSInfo word of the latest frame (state bit and flags)."""
        self._consume()
        return self._info_word

    def state(self) -> BmsState | None:
        """The BMS state of the latest BMSInfo frame."""
        word = self.info_word()
        return None if word is None else state_of(word)

    def flags(self) -> frozenset[InfoBit]:
        """The BMSInfo flags (precharge failures, contactor faults, reasons) set in the latest frame."""
        word = self.info_word() or 0
        return frozenset(bit for bit in InfoBit if word >> int(bit) & 1)

    def has(self, bit: InfoBit) -> bool:
        return bit in self.flags()

    def contactors(self) -> tuple[tuple[bool, ...], tuple[bool, ...]] | None:
        """(targets, states) of contactors 1..5 from ContactorInfo (True = closed)."""
        got = self.latest("ContactorInfo")
        if got is None:
            return None
        targets = tuple(got.signals[f"ContactorTarget_{k}"] == CONTACTOR_CLOSED for k in range(1, 6))
        states = tuple(got.signals[f"ContactorState_{k}"] == CONTACTOR_CLOSED for k in range(1, 6))
        return targets, states

    def node_message(self, kind: str, node: int) -> dict[str, Value] | None:
        """Node `node`'s latest message `kind` with signal names without the node prefix."""
        if node >= self.fitting:
            return None
        got = self.latest(f"Node{node}{kind}")
        if got is None:
            return None
        prefix = f"Node{node}"
        return {k.removeprefix(prefix): v for k, v in got.signals.items()}

    def cell_voltages(self, node: int) -> list[float] | None:
        """Node `node`'s configured cell voltages (V), cell 1 first; None until all were received."""
        count = self.config.cells_per_node()[node]
        volts: list[float] = []
        for group in range(1, 5):
            first = 4 * (group - 1) + 1
            if first > count:
                break
            values = self.node_message(f"CellVoltages{group}", node)
            if values is None:
                return None
            volts += [float(values[f"Cell{c:02d}"]) for c in range(first, min(first + 4, count + 1))]
        return volts[:count]

    def temperatures(self, node: int) -> list[float] | None:
        """Node `node`'s configured thermistor temperatures (°C), sensor 1 first."""
        values = self.node_message("CellTemps", node)
        if values is None:
            return None
        return [float(values[f"Temp{t:02d}"]) for t in range(1, self.config.temps_per_node()[node] + 1)]

    def identity(self) -> dict[str, Any]:
        """Serial number, model (from DeviceType), firmware version and the CAN layout in use."""
        deadline = self.clock.now() + 3.0
        while not (self.latest("DeviceHeartbeat") and self.latest("DeviceFirmwareInfo")):
            if self.clock.now() >= deadline:
                raise DutError("no DeviceHeartbeat/DeviceFirmwareInfo from the BMU within 3 s")
            self.clock.sleep(0.2)
        beat = self.latest("DeviceHeartbeat")
        fw = self.latest("DeviceFirmwareInfo")
        assert beat is not None and fw is not None
        device = int(beat.signals["DeviceType"])
        variant = {4472: "12 V", 4476: "24 V"}.get(device, f"device type {device}")
        s = fw.signals
        return {
            "serial": str(int(beat.signals["DeviceSerial"])),
            "model": f"Prohelion BMS D1000 Gen2 {variant}",
            "manufacturer": "Prohelion",
            "firmware": (
                f"{int(s['FirmwareMajorVersion'])}.{int(s['FirmwareMinorVersion'])}."
                f"{int(s['FirmwarePatchVersion'])} build {int(s['FirmwareBuildNumber'])}"
            ),
            "protocol": (
                f"CAN V1.2 layout, base ID 0x{self.config.node_id:03X}, "
                f"{self.config.num_cmu_nodes} CMU nodes, {self.config.bitrate} kb/s"
            ),
        }

    def link_stats(self) -> LinkStats:
        """Commands that could not be sent (the telemetry's own faults are the CAN monitor's)."""
        return self.link.stats()

    def close(self) -> None:
        self._stop.set()
        if self._on_frame in self.monitor.listeners:
            self.monitor.listeners.remove(self._on_frame)
        self.clock.remove_sync_hook(self._tick)
        if self._thread is not None:
            self._thread.join(1)
        self.tx.shutdown()


def frame_times(monitor: CanMonitor, can_id: int, since: float, until: float) -> list[float]:
    """Timestamps of the frames of one ID captured in [since, until] (for period measurements)."""
    return [
        f.timestamp for f in monitor.since(since, can_id) if f.timestamp <= until and not f.is_error_frame
    ]
