"""The D1000 Gen2's CAN telemetry as the twin's plant sends it: snapshot → frames, and their periods.

Transmit periods are not documented (spec PH-MSG notes). OUR CHOICE: the state and the values a
controller acts on (BMSInfo, current, voltages, contactors, cell/temperature extremes, state of
power) every 100 ms, everything else, the per-node messages included, every 1 s. The plan
measures and reports the periods; it does not judge them.

Layout: the vendor's (dbc.py) for the configuration's base ID and node count. A configuration
whose per-node IDs collide with the fixed messages (more than 27 nodes at base 0x600) is still
sent the way the vendor's table places it, colliding frames included, as the real unit would:
detecting that is the test tool's job (the codec refuses such a configuration). Messages whose ID
would pass 0x7FF are not sent. Values the twin cannot know (an extreme without a sensor, a
disconnected thermistor) go out as 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from operator import attrgetter

from hil.duts.prohelion_d1000_gen2.protocol.can_codec import D1000CanCodec, Value
from hil.duts.prohelion_d1000_gen2.protocol.dbc import (
    FIXED_MESSAGES,
    MAX_STANDARD_ID,
    NODE_KINDS,
    RECEIVED_MESSAGES,
    CanIdConfigError,
    max_node_count,
    node_frame_id,
)
from hil.duts.prohelion_d1000_gen2.sim.twin import D1000Snapshot, NodeSnapshot

FAST_PERIOD_S = 0.1
SLOW_PERIOD_S = 1.0
#: the messages sent every FAST_PERIOD_S (the rest every SLOW_PERIOD_S)
FAST_MESSAGES = (
    "BMSInfo",
    "BMSCurrentData",
    "BMSVoltageData",
    "BMSSoPData",
    "NodeCellInfo",
    "NodeTempInfo",
    "ContactorInfo",
)
SLOW_FIXED = tuple(
    m.name for m in FIXED_MESSAGES if m.name not in FAST_MESSAGES and m.name not in RECEIVED_MESSAGES
)
Frame = tuple[int, bytes]
#: encoded frames kept for reuse (cleared when full)
CACHE_SIZE = 20_000


def _z(value: float | int | None) -> float | int:
    """None (not known to the firmware) goes out as 0."""
    return 0 if value is None else value


def fixed_signals(snap: D1000Snapshot, name: str) -> Mapping[str, Value]:
    """The physical values of one fixed message from a snapshot (names as in the DBC)."""
    s = snap
    if name == "DeviceHeartbeat":
        return {"DeviceType": s.device_type, "DeviceSerial": s.device_serial}
    if name == "DeviceFirmwareInfo":
        return {
            "FirmwareMajorVersion": s.firmware_major_version,
            "FirmwareMinorVersion": s.firmware_minor_version,
            "FirmwarePatchVersion": s.firmware_patch_version,
            "FirmwareBuildNumber": s.firmware_build_number,
        }
    if name == "BMSCurrentData":
        return {"InstantaneousCurrent": s.instantaneous_current, "FilteredCurrent": s.filtered_current}
    if name == "BMSVoltageData":
        return {"BatteryVoltage": s.battery_voltage, "LoadVoltage": s.load_voltage}
    if name == "BMSAuxiliaryData":
        return {"AuxiliaryVoltage": s.auxiliary_voltage, "Power": s.power}
    if name == "BMSSoCData":
        return {
            "SoCPercentage": s.soc_percentage,
            "SoCCapacity": s.soc_capacity,
            "OCV_mV": s.ocv,
            "SoHPercentage": s.soh_percentage,
        }
    if name == "BMSSoPData":
        return {
            "SoPMaxCurrentDischarge": s.sop_max_current_discharge,
            "SoPMaxCurrentCharge": s.sop_max_current_charge,
        }
    if name == "NodeInfo":
        return {
            "TotalPackVoltage": s.total_pack_voltage,
            "PackBalanceThreshold": s.pack_balance_threshold,
            "TotalCellsBalancing": s.total_cells_balancing,
        }
    if name == "NodeCellInfo":
        return {
            "MaxCellVoltage": _z(s.max_cell_voltage),
            "MaxCellVoltageNodeID": _z(s.max_cell_voltage_node_id),
            "MaxCellVoltageCellID": _z(s.max_cell_voltage_cell_id),
            "MinCellVoltage": _z(s.min_cell_voltage),
            "MinCellVoltageNodeID": _z(s.min_cell_voltage_node_id),
            "MinCellVoltageCellID": _z(s.min_cell_voltage_cell_id),
        }
    if name == "NodeTempInfo":
        return {
            "MaxTemperature": _z(s.max_temperature),
            "MaxTemperatureNodeID": _z(s.max_temperature_node_id),
            "MaxTemperatureSensorID": _z(s.max_temperature_sensor_id),
            "MinTemperature": _z(s.min_temperature),
            "MinTemperatureNodeID": _z(s.min_temperature_node_id),
            "MinTemperatureSensorID": _z(s.min_temperature_sensor_id),
        }
    if name == "HVILInfo":
        return {
            "HVILFlag_NOK": int(s.hvil_flag_nok),
            "HVILFlag_SCG": int(s.hvil_flag_scg),
            "HVILFlag_SCB": int(s.hvil_flag_scb),
            "HVILFlag_OpenLoop": int(s.hvil_flag_open_loop),
        }
    if name == "ContactorInfo":
        values: dict[str, Value] = {}
        for k, (target, state) in enumerate(zip(s.contactor_target, s.contactor_state, strict=True), 1):
            values[f"ContactorTarget_{k}"] = target
            values[f"ContactorState_{k}"] = state
        return values
    if name == "NodeStats":
        return {
            "TotalConfiguredNodes": s.total_configured_nodes,
            "TotalConnectedNodes": s.total_connected_nodes,
            "TotalDisconnectedNodes": s.total_disconnected_nodes,
        }
    if name == "NodeCellStats":
        return {
            "TotalConfiguredCells": s.total_configured_cells,
            "TotalConnectedCells": s.total_connected_cells,
            "TotalDisconnectedCells": s.total_disconnected_cells,
        }
    if name == "NodeTempStats":
        return {
            "TotalConfiguredTempSensors": s.total_configured_temp_sensors,
            "TotalConnectedTempSensors": s.total_connected_temp_sensors,
            "TotalDisconnectedTempSensors": s.total_disconnected_temp_sensors,
        }
    if name == "SensorData1":
        return {
            "Temperature1": s.temperature1,
            "Temperature2": s.temperature2,
            "Pressure": s.pressure,
            "Humidity": s.humidity,
        }
    if name == "SensorData2":
        return {"VOC": s.voc, "NOX": s.nox}
    return {}  # watchdog, self-test, CMU bus diagnostics and status registers: all 0 (healthy)


#: the snapshot fields each fixed message's signals are made from (`fixed_signals`): a message whose
#: fields hold the values last sent is sent again as it was, without building its signals
FIXED_FIELDS: dict[str, tuple[str, ...]] = {
    "DeviceHeartbeat": ("device_type", "device_serial"),
    "DeviceFirmwareInfo": (
        "firmware_major_version",
        "firmware_minor_version",
        "firmware_patch_version",
        "firmware_build_number",
    ),
    "BMSCurrentData": ("instantaneous_current", "filtered_current"),
    "BMSVoltageData": ("battery_voltage", "load_voltage"),
    "BMSAuxiliaryData": ("auxiliary_voltage", "power"),
    "BMSSoCData": ("soc_percentage", "soc_capacity", "ocv", "soh_percentage"),
    "BMSSoPData": ("sop_max_current_discharge", "sop_max_current_charge"),
    "NodeInfo": ("total_pack_voltage", "pack_balance_threshold", "total_cells_balancing"),
    "NodeCellInfo": (
        "max_cell_voltage",
        "max_cell_voltage_node_id",
        "max_cell_voltage_cell_id",
        "min_cell_voltage",
        "min_cell_voltage_node_id",
        "min_cell_voltage_cell_id",
    ),
    "NodeTempInfo": (
        "max_temperature",
        "max_temperature_node_id",
        "max_temperature_sensor_id",
        "min_temperature",
        "min_temperature_node_id",
        "min_temperature_sensor_id",
    ),
    "HVILInfo": ("hvil_flag_nok", "hvil_flag_scg", "hvil_flag_scb", "hvil_flag_open_loop"),
    "ContactorInfo": ("contactor_target", "contactor_state"),
    "NodeStats": ("total_configured_nodes", "total_connected_nodes", "total_disconnected_nodes"),
    "NodeCellStats": ("total_configured_cells", "total_connected_cells", "total_disconnected_cells"),
    "NodeTempStats": (
        "total_configured_temp_sensors",
        "total_connected_temp_sensors",
        "total_disconnected_temp_sensors",
    ),
    "SensorData1": ("temperature1", "temperature2", "pressure", "humidity"),
    "SensorData2": ("voc", "nox"),
}


def _fields_of(name: str) -> Callable[[D1000Snapshot], tuple[object, ...]]:
    """The values of a fixed message's FIXED_FIELDS in a snapshot, as one tuple (() for a message
    sent as all 0)."""
    fields = FIXED_FIELDS.get(name, ())
    if not fields:
        return lambda snap: ()
    getter = attrgetter(*fields)
    if len(fields) == 1:  # pragma: no cover - every message above has two fields or more
        return lambda snap: (getter(snap),)
    return getter


def node_key(node: NodeSnapshot, kind: str) -> tuple[object, ...]:
    """What one per-node message's signals are made from (`node_signals`): a kind whose key holds
    the values last sent is sent again as it was."""
    if kind == "VoltageInfo":
        return node.total_voltage, node.high_resistance_cell_sense
    if kind.startswith("CellVoltages"):
        first = 4 * (int(kind[-1]) - 1)
        return node.cells[first : first + 4]
    if kind == "CellTemps":
        return node.temps[:4]
    if kind == "Stats":
        return (
            node.connected_cells,
            node.disconnected_cells,
            node.connected_temp_sensors,
            node.disconnected_temp_sensors,
            node.cell_balance_command_sent,
            node.cell_balance_status,
        )
    if kind == "Diagnostics":
        return node.node, node.connected
    return ()


def node_signals(node: NodeSnapshot, kind: str) -> Mapping[str, Value]:
    """The physical values of one per-node message, names without the node prefix (`Cell01`)."""
    if kind == "VoltageInfo":
        return {
            "TotalVoltage": node.total_voltage,
            "HighResistanceCellSense": node.high_resistance_cell_sense,
        }
    if kind.startswith("CellVoltages"):
        first = 4 * (int(kind[-1]) - 1) + 1
        count = 2 if first == 13 else 4
        return {
            f"Cell{c:02d}": node.cells[c - 1] if c <= len(node.cells) else 0.0
            for c in range(first, first + count)
        }
    if kind == "CellTemps":
        return {f"Temp{t:02d}": _z(node.temps[t - 1]) if t <= len(node.temps) else 0 for t in range(1, 5)}
    if kind == "Stats":
        return {
            "ConnectedCells": node.connected_cells,
            "DisconnectedCells": node.disconnected_cells,
            "ConnectedTempSensors": node.connected_temp_sensors,
            "DisconnectedTempSensors": node.disconnected_temp_sensors,
            "CellBalanceCommandSent": node.cell_balance_command_sent,
            "CellBalanceStatus": node.cell_balance_status,
        }
    if kind == "Diagnostics":
        return {"Type": 1, "Address": node.node, "State": 1 if node.connected else 0}
    return {}


@dataclass
class TelemetryEncoder:
    """Encodes snapshots for one configuration (base ID, node count), collisions included."""

    base_id: int
    node_count: int

    def __post_init__(self) -> None:
        try:
            self.codec = D1000CanCodec(self.base_id, self.node_count)
            self.fitting = self.node_count
        except CanIdConfigError:
            self.fitting = max(1, min(self.node_count, max_node_count(self.base_id)))
            self.codec = D1000CanCodec(self.base_id, self.fitting)
        self._cache: dict[tuple[int, tuple[tuple[str, Value], ...]], bytes] = {}
        #: each node's last snapshot and its frames: a node whose readings did not move since the
        #: last slow period (most of a large pack) is sent again without building its messages
        self._node_frames: dict[int, tuple[NodeSnapshot, list[Frame]]] = {}
        self._node_ids = {
            (n, kind): node_frame_id(self.base_id, n, kind)
            for n in range(self.node_count)
            for kind in NODE_KINDS
        }
        #: per message (a fixed one's name, or a node and kind): the values its last payload was
        #: made from, and that payload; only a message whose values moved is built and encoded
        self._fixed_fields = {name: _fields_of(name) for name in FAST_MESSAGES + SLOW_FIXED}
        self._sent: dict[object, tuple[tuple[object, ...], bytes]] = {}

    def frames(self, snap: D1000Snapshot, fast: bool, slow: bool) -> Iterator[Frame]:
        """The frames due: the fast group, the slow group (per-node messages included), or both."""
        names = (FAST_MESSAGES if fast else ()) + (SLOW_FIXED if slow else ())
        for name in names:
            if name == "BMSInfo":  # one bit per state/flag: the 64-bit word itself, little-endian
                yield self.codec.frame_id(name), snap.bms_info.to_bytes(8, "little")
                continue
            can_id = self.codec.frame_id(name)
            key = self._fixed_fields[name](snap)
            last = self._sent.get(name)
            if last is None or last[0] != key:
                last = key, self._encoded(can_id, fixed_signals(snap, name), name, None)
                self._sent[name] = last
            yield can_id, last[1]
        if not slow:
            return
        for node in snap.nodes[: self.node_count]:
            sent = self._node_frames.get(node.node)
            if sent is None or sent[0] != node:
                sent = node, list(self._node_message_frames(node))
                self._node_frames[node.node] = sent
            yield from sent[1]

    def _node_message_frames(self, node: NodeSnapshot) -> Iterator[Frame]:
        """The per-node messages of one node, in NODE_KINDS order (IDs past 0x7FF left out)."""
        for kind in NODE_KINDS:
            can_id = self._node_ids[(node.node, kind)]
            if can_id > MAX_STANDARD_ID:
                continue
            # a node beyond the non-colliding ones is laid out like node 0, at its own (colliding) ID
            template = node.node if node.node < self.fitting else 0
            key = node_key(node, kind)
            last = self._sent.get((node.node, kind))
            if last is None or last[0] != key:
                last = key, self._encoded(can_id, node_signals(node, kind), kind, template)
                self._sent[(node.node, kind)] = last
            yield can_id, last[1]

    def _encoded(self, can_id: int, signals: Mapping[str, Value], name: str, node: int | None) -> bytes:
        """The payload of message `name` (a node message kind laid out like `node`), from the cache
        when the same values went out before: most frames repeat from one period to the next."""
        key = (can_id, tuple(signals.items()))
        data = self._cache.get(key)
        if data is None:
            if node is None:
                data = self.codec.encode(name, signals, saturate=True).data
            else:
                data = self.codec.encode_node(name, node, signals, saturate=True).data
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = data
        return data
