"""CAN database of the Prohelion BMS D1000 Gen2 (firmware V1.2), generated for one configuration.

The vendor's message table (references/prohelion-d1000-gen2/Messages_and_Signals.md) gives every
ID for the default base ID 0x600 and describes the per-node messages once; the base ID (parameter
`nodeID`, 0x000-0x700) and the number of CMU nodes (`numCMUNodes`, 1-32) are configuration. So the
DBC is a template: `render_dbc(base_id, node_count)` writes the DBC text of one configuration and
`build_database` loads it with cantools. A configuration whose IDs collide or leave the 11-bit range
is refused with `CanIdConfigError` before anything is rendered, never mis-decoded.

Layout (all signals little-endian, as documented): fixed messages at base + 0x00..0x0F and
base + 0xEF..0xFA; node n (0-based) owns base + 0x10 + 8*n .. base + 0x17 + 8*n. From node 27 on,
a node's block reaches base + 0xEF (HVILInfo), so at most 27 nodes fit although the parameter allows 32.

    python -m hil.duts.prohelion_d1000_gen2.protocol.dbc --base-id 0x600 --nodes 10 -o pack.dbc
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import cantools
from cantools.database.can import Database

from hil.errors import ConfigError

FIRMWARE_VERSION: Final = "V1.2"
BMS_NODE: Final = "ProhelionBmsD1000Gen2"  # the DBC node of the BMU, as the vendor's table names it
NO_NODE: Final = "Vector__XXX"  # DBC placeholder for an unnamed sender/receiver

DEFAULT_BASE_ID: Final = 0x600  # parameter nodeID default
DEFAULT_NODE_COUNT: Final = 1  # parameter numCMUNodes default
BASE_ID_MIN: Final = 0x000
BASE_ID_MAX: Final = 0x700
NODE_COUNT_MIN: Final = 1
NODE_COUNT_MAX: Final = 32
NODE_BLOCK_OFFSET: Final = 0x10  # node 0's first message, from the base ID
NODE_STRIDE: Final = 8  # IDs per node
MAX_STANDARD_ID: Final = 0x7FF
FRAME_LENGTH: Final = 8  # every message of the table is 8 bytes

NODE_PLACEHOLDER: Final = "{n}"
NODE_PREFIX: Final = "Node{n}"  # every per-node message and signal name starts with it
DEFAULT_SOURCE: Final = "Prohelion D1000 Gen2 CAN configuration"
DEFAULT_DBC_PATH: Final = Path(__file__).with_name("prohelion_d1000_gen2.dbc")

_TASK_STATUS: Final = ((4, "Fail"), (2, "Fast"), (1, "Slow"), (0, "Ok"))


@dataclass(frozen=True)
class SignalDef:
    """One signal as the vendor's table documents it (all little-endian, no documented min/max)."""

    name: str
    start: int
    length: int
    signed: bool = False
    scale: float = 1
    offset: float = 0
    unit: str = ""
    comment: str = ""
    choices: tuple[tuple[int, str], ...] = ()

    def named(self, node: int | None) -> str:
        """The signal's DBC name (per-node signals get the node number)."""
        return self.name if node is None else self.name.replace(NODE_PLACEHOLDER, str(node))


@dataclass(frozen=True)
class MessageDef:
    """One message: `offset` from the base ID (fixed) or from the node's first ID (per node)."""

    offset: int
    name: str
    comment: str
    signals: tuple[SignalDef, ...]
    sender: str = BMS_NODE
    receiver: str = NO_NODE
    length: int = FRAME_LENGTH

    @property
    def per_node(self) -> bool:
        """True for the messages every CMU node has (name contains the node placeholder)."""
        return NODE_PLACEHOLDER in self.name

    @property
    def kind(self) -> str:
        """The name without the node prefix (`CellVoltages1`); fixed messages keep their name."""
        return self.name.removeprefix(NODE_PREFIX) if self.per_node else self.name

    def named(self, node: int | None) -> str:
        """The message's DBC name (per-node messages get the node number)."""
        return self.name if node is None else self.name.replace(NODE_PLACEHOLDER, str(node))


_S = SignalDef
_M = MessageDef


def _flag(name: str, bit: int, comment: str) -> SignalDef:
    """A one-bit flag of BMSInfo / HVILInfo (1 = set)."""
    return SignalDef(name, bit, 1, comment=comment)


def _cells(first: int, count: int) -> tuple[SignalDef, ...]:
    """`count` cell voltages of a node from cell `first` (1-based), 16 bits each, 1 mV."""
    return tuple(
        _S(f"Node{{n}}Cell{c:02d}", 16 * i, 16, scale=0.001, unit="V", comment=f"Cell {c:02d} voltage")
        for i, c in enumerate(range(first, first + count))
    )


# Base + offset; the comments are ours, the layout is the vendor's V1.2 table.
FIXED_MESSAGES: Final[tuple[MessageDef, ...]] = (
    _M(0x00, "DeviceHeartbeat", "Heartbeat: device type and serial number", (
        _S("DeviceType", 0, 32, comment="Device type"),
        _S("DeviceSerial", 32, 32, comment="Serial number of the device"),
    )),
    _M(0x01, "DeviceFirmwareInfo", "Firmware version", (
        _S("FirmwareMajorVersion", 0, 8, comment="Firmware major version"),
        _S("FirmwareMinorVersion", 8, 8, comment="Firmware minor version"),
        _S("FirmwarePatchVersion", 16, 16, comment="Firmware patch version"),
        _S("FirmwareBuildNumber", 32, 32, comment="Firmware build (commit hash)"),
    )),
    _M(0x06, "BMSInfo", "BMS state (one bit per state), precharge failures, contactor faults and "
       "fault reasons", (
        _flag("BMSStateINIT", 0, "State INITIALISE: entered at start-up"),
        _flag("BMSStateCALIBRATE", 1, "State CALIBRATE: contactors checked open before SAFE"),
        _flag("BMSStateIDLE", 2, "State IDLE: healthy, waiting for a command"),
        _flag("BMSStateCONNECT", 3, "State CONNECT: load negative contactor (1) closed"),
        _flag("BMSStatePRECHARGE", 4, "State PRECHARGE: precharge contactor closed"),
        _flag("BMSStateENABLED", 5, "State ENABLED: load contactors closed after precharge"),
        _flag("BMSStateCHARGE_INIT", 6, "State CHARGE_INIT: charge session starting"),
        _flag("BMSStateCHARGE_CONNECT", 7, "State CHARGE_CONNECT: charge negative contactor closed"),
        _flag("BMSStateCHARGE_ENABLED", 8, "State CHARGE_ENABLED: charge positive contactor closed"),
        _flag("BMSStateCHARGE_STOPPING", 9, "State CHARGE_STOPPING: waiting for the current to fall"),
        _flag("BMSStateDISCONNECT", 10, "State DISCONNECT: fault with contactors closed, opening"),
        _flag("BMSStateSAFE", 11, "State SAFE: battery disconnected"),
        _flag("BMSPrechargeFailTIMEOUT", 16, "Precharge failed: timeout"),
        _flag("BMSPrechargeFailOVERCURRENTMAX", 17, "Precharge failed: maximum over-current"),
        _flag("BMSPrechargeFailOVERCURRENTPCHG", 18, "Precharge failed: precharge current too high"),
        _flag("BMSPrechargeFailNEGCURRENT", 19, "Precharge failed: current flowing into the pack"),
        _flag("BMSPrechargeFailSTABLECURRENT", 20, "Precharge failed: precharge current not decaying"),
        _flag("BMSPrechargeFailOVERVOLTAGE", 21, "Precharge failed: voltage higher than expected"),
        _flag("BMSPrechargeFailSTABLEVOLTAGE", 22, "Precharge failed: load voltage not rising"),
        *(_flag(f"BMSContactorFaultCONTACTOR{i}", 23 + i, f"Contactor {i} fault") for i in range(1, 6)),
        _flag("BMSReasonSELFTESTFAIL", 32, "Fault reason: self-test failed"),
        _flag("BMSReasonWATCHDOGFAIL", 33, "Fault reason: firmware watchdog"),
        _flag("BMSReasonCONTACTORFAIL", 34, "Fault reason: contactor auxiliary feedback disagrees"),
        _flag("BMSReasonHVIL", 35, "Fault reason: HVIL loop open or shorted"),
        _flag("BMSReasonBATTVOLTAGE", 36, "Fault reason: battery voltage out of range"),
        _flag("BMSReasonPACKVOLTAGE", 37, "Fault reason: pack voltage differs from the sum of cells"),
        _flag("BMSReasonLOADVOLTAGE", 38, "Fault reason: load voltage out of range"),
        _flag("BMSReasonCHARGERVOLTAGE", 39, "Fault reason: charger voltage out of range"),
        _flag("BMSReasonOVERCURRENT", 40, "Fault reason: current above the configured limits"),
        _flag("BMSReasonNODECOUNT", 41, "Fault reason: wrong number of CMU nodes"),
        _flag("BMSReasonCELLCOUNT", 42, "Fault reason: wrong number of cells"),
        _flag("BMSReasonTEMPCOUNT", 43, "Fault reason: wrong number of temperature sensors"),
        _flag("BMSReasonBJU", 44, "Fault reason: BJU not answering"),
        _flag("BMSReasonIO", 45, "Fault reason: IO expander not answering"),
        _flag("BMSReasonCONTROLTIMEOUT", 46, "Fault reason: no control command for too long"),
        _flag("BMSReasonINTERNALCOMMS", 47, "Fault reason: internal device not answering"),
        _flag("BMSReasonOVERVOLT", 48, "Fault reason: cell over-voltage"),
        _flag("BMSReasonUNDERVOLT", 49, "Fault reason: cell under-voltage"),
        _flag("BMSReasonOVERTEMP", 50, "Fault reason: cell over-temperature"),
        _flag("BMSReasonUNDERTEMP", 51, "Fault reason: cell under-temperature"),
        _flag("BMSReasonPRESSURE", 52, "Fault reason: BMU pressure out of range"),
        _flag("BMSReasonHUMIDITY", 53, "Fault reason: BMU humidity out of range"),
        _flag("BMSReasonVOC", 54, "Fault reason: VOC concentration"),
        _flag("BMSReasonNOX", 55, "Fault reason: NOx concentration"),
        _flag("BMSReasonPRECHARGE", 56, "Fault reason: precharge failed"),
    )),
    _M(0x07, "BMSCurrentData", "Pack current", (
        _S("InstantaneousCurrent", 0, 32, signed=True, scale=0.001, unit="A", comment="Current, instant"),
        _S("FilteredCurrent", 32, 32, signed=True, scale=0.001, unit="A", comment="Current, filtered"),
    )),
    _M(0x08, "BMSVoltageData", "Battery and load voltage", (
        _S("BatteryVoltage", 0, 32, signed=True, scale=0.001, unit="V", comment="Battery voltage"),
        _S("LoadVoltage", 32, 32, signed=True, scale=0.001, unit="V", comment="Load voltage"),
    )),
    _M(0x09, "BMSAuxiliaryData", "Auxiliary voltage and power", (
        _S("AuxiliaryVoltage", 0, 32, signed=True, scale=0.001, unit="V", comment="Auxiliary voltage"),
        _S("Power", 32, 32, signed=True, scale=0.001, unit="W", comment="Power"),
    )),
    _M(0x0A, "BMSSoCData", "State of charge and health estimates", (
        _S("SoCPercentage", 0, 16, scale=0.1, unit="%", comment="State of charge"),
        _S("SoCCapacity", 16, 16, scale=0.1, unit="Ah", comment="State of charge as capacity"),
        _S("OCV_mV", 32, 16, scale=0.001, unit="V", comment="Estimated open-circuit voltage (raw in mV)"),
        _S("SoHPercentage", 48, 16, scale=0.1, unit="%", comment="Estimated state of health"),
    )),
    _M(0x0C, "BMSSoPData", "State of power: allowed currents", (
        _S("SoPMaxCurrentDischarge", 0, 32, signed=True, scale=0.001, unit="A",
           comment="Maximum allowed discharge current"),
        _S("SoPMaxCurrentCharge", 32, 32, signed=True, scale=0.001, unit="A",
           comment="Maximum allowed charge current"),
    )),
    _M(0x0D, "NodeInfo", "Pack voltage from the nodes and balancing summary", (
        _S("TotalPackVoltage", 0, 32, scale=0.001, unit="V", comment="Sum of the node voltages"),
        _S("PackBalanceThreshold", 32, 16, scale=0.001, unit="V", comment="Balancing threshold"),
        _S("TotalCellsBalancing", 48, 16, comment="Cells balancing"),
    )),
    _M(0x0E, "NodeCellInfo", "Highest and lowest cell voltage and where", (
        _S("MaxCellVoltage", 0, 16, scale=0.001, unit="V", comment="Highest cell voltage"),
        _S("MaxCellVoltageNodeID", 16, 8, comment="Node of the highest cell voltage"),
        _S("MaxCellVoltageCellID", 24, 8, comment="Cell of the highest cell voltage"),
        _S("MinCellVoltage", 32, 16, scale=0.001, unit="V", comment="Lowest cell voltage"),
        _S("MinCellVoltageNodeID", 48, 8, comment="Node of the lowest cell voltage"),
        _S("MinCellVoltageCellID", 56, 8, comment="Cell of the lowest cell voltage"),
    )),
    _M(0x0F, "NodeTempInfo", "Highest and lowest cell temperature and where", (
        _S("MaxTemperature", 0, 16, signed=True, scale=0.1, unit="C", comment="Highest temperature"),
        _S("MaxTemperatureNodeID", 16, 8, comment="Node of the highest temperature"),
        _S("MaxTemperatureSensorID", 24, 8, comment="Sensor of the highest temperature"),
        _S("MinTemperature", 32, 16, signed=True, scale=0.1, unit="C", comment="Lowest temperature"),
        _S("MinTemperatureNodeID", 48, 8, comment="Node of the lowest temperature"),
        _S("MinTemperatureSensorID", 56, 8, comment="Sensor of the lowest temperature"),
    )),
    _M(0xEF, "HVILInfo", "High-voltage interlock loop status", (
        _flag("HVILFlag_NOK", 0, "HVIL not OK"),
        _flag("HVILFlag_SCG", 1, "HVIL short to ground"),
        _flag("HVILFlag_SCB", 2, "HVIL short to battery"),
        _flag("HVILFlag_OpenLoop", 3, "HVIL loop open"),
    )),
    _M(0xF0, "ContactorInfo", "Commanded and actual state of the contactors and the BJU relay", (
        *(_S(f"ContactorTarget_{c}", 4 * i, 4, comment=f"Commanded state, contactor {c}")
          for i, c in enumerate("12345")),
        _S("ContactorTarget_BJU", 20, 4, comment="Commanded state, BJU relay"),
        *(_S(f"ContactorState_{c}", 32 + 4 * i, 4, comment=f"Actual state, contactor {c}")
          for i, c in enumerate("12345")),
        _S("ContactorState_BJU", 52, 4, comment="Actual state, BJU relay"),
    )),
    _M(0xF1, "DeviceWatchdogInfo", "Firmware task and watchdog status", (
        _S("SelfTestTaskStatus", 0, 4, choices=_TASK_STATUS, comment="Self-test task status"),
        _S("SensorTaskStatus", 8, 8, choices=_TASK_STATUS, comment="Sensor task status"),
        _S("TelemetryTaskStatus", 16, 8, choices=_TASK_STATUS, comment="Telemetry task status"),
        _S("CMUTaskStatus", 24, 8, choices=_TASK_STATUS, comment="CMU task status"),
        _S("BMSTaskStatus", 32, 8, choices=_TASK_STATUS, comment="BMS task status"),
        _S("SoXTaskStatus", 40, 8, choices=_TASK_STATUS, comment="SoX task status"),
        _S("WatchdogReset", 48, 1, choices=((1, "Fail"), (0, "Ok")), comment="Watchdog peripheral"),
    )),
    _M(0xF2, "DeviceSelftestInfo", "Self-test result", (
        _S("SelftestResult", 0, 64, comment="Reserved"),
    )),
    _M(0xF3, "NodeDiagnostics", "CMU bus controller diagnostics", (
        _S("ControllerType", 0, 8, comment="Controller type"),
        _S("CurrentState", 8, 8, comment="Controller state"),
        _S("CurrentStateTimer", 16, 16, comment="Time in the current state"),
        _S("CommsResult", 32, 16, comment="Last controller-to-CMU communication result"),
    )),
    _M(0xF4, "NodeStats", "CMU node counts", (
        _S("TotalConfiguredNodes", 0, 16, comment="Nodes configured"),
        _S("TotalConnectedNodes", 16, 16, comment="Nodes detected"),
        _S("TotalDisconnectedNodes", 32, 16, comment="Nodes configured but not detected"),
    )),
    _M(0xF5, "NodeCellStats", "Cell counts over all nodes", (
        _S("TotalConfiguredCells", 0, 16, comment="Cells configured"),
        _S("TotalConnectedCells", 16, 16, comment="Cells detected"),
        _S("TotalDisconnectedCells", 32, 16, comment="Cells configured but not detected"),
    )),
    _M(0xF6, "NodeTempStats", "Thermistor counts over all nodes", (
        _S("TotalConfiguredTempSensors", 0, 16, comment="Thermistors configured"),
        _S("TotalConnectedTempSensors", 16, 16, comment="Thermistors detected"),
        _S("TotalDisconnectedTempSensors", 32, 16, comment="Thermistors configured but not detected"),
    )),
    _M(0xF7, "NodeStatusRegisters", "CMU bus controller status registers", (
        _S("RXStatus", 0, 8, comment="RX status register"),
        _S("TXStatus", 8, 8, comment="TX status register"),
        _S("LSSMByteHWError", 16, 1, unit="BOOLEAN", comment="Hardware error"),
        _S("LSSMByteAliveCNTError", 17, 1, unit="BOOLEAN", comment="Alive counter error"),
        _S("LSSMByteCommandOP", 18, 1, unit="BOOLEAN", comment="Command op code"),
        _S("LSSMByteCommMismatchError", 19, 1, unit="BOOLEAN", comment="Communication mismatch"),
        _S("LSSMByteAlertPacketError", 20, 1, unit="BOOLEAN", comment="Alert packet error"),
        _S("LSSMByteCommError", 21, 1, unit="BOOLEAN", comment="Communication error"),
        _S("LSSMByteAlertPacketStatusError", 22, 1, unit="BOOLEAN", comment="Alert packet status error"),
        _S("LSSMByteRXReady", 23, 1, unit="BOOLEAN", comment="Ready to receive"),
        _S("GENStatus", 24, 8, comment="General status register"),
        _S("OPStateStatus", 32, 8, comment="Operating state register"),
        _S("BufferStatus", 40, 8, comment="Buffer status register"),
        _S("WatchdogStatus", 48, 8, comment="Watchdog status register"),
        _S("GPIOStatus", 56, 8, comment="GPIO status register"),
    )),
    _M(0xF8, "SensorData1", "BMU environment: temperatures, pressure, humidity", (
        _S("Temperature1", 0, 16, signed=True, scale=0.1, unit="C", comment="BMU thermistor 1"),
        _S("Temperature2", 16, 16, signed=True, scale=0.1, unit="C", comment="BMU thermistor 2"),
        _S("Pressure", 32, 16, signed=True, scale=0.1, unit="kPa", comment="Pressure"),
        _S("Humidity", 48, 16, signed=True, scale=0.1, unit="% RH", comment="Relative humidity"),
    )),
    _M(0xF9, "SensorData2", "BMU environment: gas concentrations", (
        _S("VOC", 0, 16, unit="ppb", comment="Volatile organic compounds"),
        _S("NOX", 16, 16, unit="ppb", comment="Nitrogen oxides"),
    )),
    _M(0xFA, "BMSCommands", "State command to the BMS, from the vehicle/system controller", (
        _S("BMSCommand", 0, 32, comment="Requested state",
           choices=((0, "None"), (1, "Idle"), (2, "Connect"), (4, "Enable"), (8, "Charge Initialise"),
                    (16, "Charge Enable"))),
        _S("BMSCommandType", 32, 32, comment="Command type", choices=((0, "None"), (1, "Command Update"))),
    ), sender=NO_NODE, receiver=BMS_NODE),
)  # fmt: skip
#: messages the BMU receives, never sends (the vendor's table names another sender)
RECEIVED_MESSAGES: Final = tuple(m.name for m in FIXED_MESSAGES if m.sender != BMS_NODE)

# Offset from the node's first ID (base + 0x10 + 8*n).
NODE_MESSAGES: Final[tuple[MessageDef, ...]] = (
    _M(0x00, "Node{n}VoltageInfo", "Node voltage", (
        _S("Node{n}TotalVoltage", 0, 32, scale=0.001, unit="V", comment="Sum of the node's cell voltages"),
        _S("Node{n}HighResistanceCellSense", 48, 16, comment="Cell sense lines reading high resistance"),
    )),
    _M(0x01, "Node{n}CellVoltages1", "Cell voltages 1-4 of the node", _cells(1, 4)),
    _M(0x02, "Node{n}CellVoltages2", "Cell voltages 5-8 of the node", _cells(5, 4)),
    _M(0x03, "Node{n}CellVoltages3", "Cell voltages 9-12 of the node", _cells(9, 4)),
    _M(0x04, "Node{n}CellVoltages4", "Cell voltages 13-14 of the node", _cells(13, 2)),
    _M(0x05, "Node{n}CellTemps", "Thermistor temperatures of the node", tuple(
        _S(f"Node{{n}}Temp{t:02d}", 16 * (t - 1), 16, signed=True, scale=0.1, unit="C",
           comment=f"Thermistor {t:02d} temperature")
        for t in range(1, 5)
    )),
    _M(0x06, "Node{n}Stats", "Cell and thermistor counts and balancing of the node", (
        _S("Node{n}ConnectedCells", 0, 8, comment="Cells detected"),
        _S("Node{n}DisconnectedCells", 8, 8, comment="Cells configured but not detected"),
        _S("Node{n}ConnectedTempSensors", 16, 8, comment="Thermistors detected"),
        _S("Node{n}DisconnectedTempSensors", 24, 8, comment="Thermistors configured but not detected"),
        _S("Node{n}CellBalanceCommandSent", 32, 16, comment="Balancing command sent to the node"),
        _S("Node{n}CellBalanceStatus", 48, 16, comment="Balancing status of the node"),
    )),
    _M(0x07, "Node{n}Diagnostics", "Node diagnostics", (
        _S("Node{n}Type", 0, 8, comment="Node type"),
        _S("Node{n}Address", 8, 8, comment="Node address"),
        _S("Node{n}UARTResult", 16, 16, comment="Last UART communication result"),
        _S("Node{n}State", 32, 16, comment="Node state"),
        _S("Node{n}StateTimer", 48, 16, comment="Time in the current state"),
    )),
)  # fmt: skip

NODE_KINDS: Final[tuple[str, ...]] = tuple(m.kind for m in NODE_MESSAGES)


class CanIdConfigError(ConfigError):
    """A base ID / node count the CAN layout cannot carry; names both and what went wrong."""

    def __init__(self, base_id: int, node_count: int, field: str, expected: str, source: str) -> None:
        self.base_id = base_id
        self.node_count = node_count
        super().__init__(source, field, expected)


class CanIdRangeError(CanIdConfigError):
    """The base ID or node count is outside its parameter range, or an ID beyond 0x7FF would result."""


class CanIdCollisionError(CanIdConfigError):
    """A node's message would share its ID with a fixed message."""

    def __init__(
        self,
        base_id: int,
        node_count: int,
        node: int,
        message: str,
        other: str,
        can_id: int,
        source: str,
    ) -> None:
        self.node = node
        self.message = message
        self.other = other
        self.can_id = can_id
        limit = max_node_count(base_id)
        super().__init__(
            base_id,
            node_count,
            "numCMUNodes",
            f"at most {limit} CMU nodes with base ID {_hex(base_id)} (got {node_count}): "
            f"node {node}'s {message} ({_hex(can_id)}) collides with {other} ({_hex(can_id)})",
            source,
        )


@dataclass(frozen=True)
class PlacedMessage:
    """A message at its ID in one configuration; `node` is None for the fixed messages."""

    frame_id: int
    name: str
    template: MessageDef
    node: int | None


def _hex(can_id: int) -> str:
    """An 11-bit ID as the vendor writes it, e.g. 0x6EF."""
    return f"0x{can_id:03X}"


def node_frame_id(base_id: int, node: int, kind: str) -> int:
    """The ID of node `node`'s message `kind` (e.g. "CellVoltages1"), without range checks."""
    for template in NODE_MESSAGES:
        if template.kind == kind:
            return base_id + NODE_BLOCK_OFFSET + NODE_STRIDE * node + template.offset
    raise KeyError(f"no per-node message {kind!r}; known: {', '.join(NODE_KINDS)}")


def _first_conflict(base_id: int, node_count: int) -> tuple[int, MessageDef, int, str | None] | None:
    """The lowest node whose block collides or leaves 11 bits: (node, message, ID, other or None)."""
    fixed = {base_id + m.offset: m.name for m in FIXED_MESSAGES}
    for node in range(node_count):
        for template in NODE_MESSAGES:
            can_id = base_id + NODE_BLOCK_OFFSET + NODE_STRIDE * node + template.offset
            if can_id > MAX_STANDARD_ID or can_id in fixed:
                return node, template, can_id, fixed.get(can_id)
    return None


def max_node_count(base_id: int) -> int:
    """How many CMU nodes fit with `base_id` before a node's IDs collide or pass 0x7FF (27 here)."""
    conflict = _first_conflict(base_id, NODE_COUNT_MAX)
    return NODE_COUNT_MAX if conflict is None else conflict[0]


def _nodes(count: int) -> str:
    """'1 CMU node', '27 CMU nodes'."""
    return f"{count} CMU node" if count == 1 else f"{count} CMU nodes"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def layout(base_id: int, node_count: int, *, source: str = DEFAULT_SOURCE) -> tuple[PlacedMessage, ...]:
    """Every message of the configuration at its ID, in ID order; refuses a configuration it cannot carry.

    Raises `CanIdRangeError` for a base ID outside 0x000-0x700, a node count outside 1-32 or an ID
    beyond 0x7FF, and `CanIdCollisionError` (naming the node and both messages) for colliding IDs.
    `source` names the configuration (e.g. its file) in the error.
    """
    if not _is_int(base_id) or not _is_int(node_count):
        raise CanIdRangeError(base_id, node_count, "nodeID/numCMUNodes", "integers", source)
    if not BASE_ID_MIN <= base_id <= BASE_ID_MAX:
        top = max(FIXED_MESSAGES, key=lambda m: m.offset)
        beyond = (
            f"; {top.name} would be at {_hex(base_id + top.offset)}, beyond the 11-bit range"
            if base_id + top.offset > MAX_STANDARD_ID
            else ""
        )
        raise CanIdRangeError(
            base_id,
            node_count,
            "nodeID",
            f"a base ID in {_hex(BASE_ID_MIN)}-{_hex(BASE_ID_MAX)} (got {base_id:#x} with "
            f"{_nodes(node_count)}{beyond})",
            source,
        )
    if not NODE_COUNT_MIN <= node_count <= NODE_COUNT_MAX:
        raise CanIdRangeError(
            base_id,
            node_count,
            "numCMUNodes",
            f"a CMU node count in {NODE_COUNT_MIN}-{NODE_COUNT_MAX} (got {node_count} with base ID "
            f"{_hex(base_id)})",
            source,
        )
    conflict = _first_conflict(base_id, node_count)
    if conflict is not None:
        node, template, can_id, other = conflict
        if other is not None:
            raise CanIdCollisionError(base_id, node_count, node, template.named(node), other, can_id, source)
        raise CanIdRangeError(
            base_id,
            node_count,
            "numCMUNodes",
            f"at most {max_node_count(base_id)} CMU nodes with base ID {_hex(base_id)} (got "
            f"{node_count}): node {node}'s {template.named(node)} would be at {can_id:#x}, beyond "
            f"the 11-bit range {_hex(MAX_STANDARD_ID)}",
            source,
        )
    placed = [PlacedMessage(base_id + m.offset, m.name, m, None) for m in FIXED_MESSAGES]
    for node in range(node_count):
        first = base_id + NODE_BLOCK_OFFSET + NODE_STRIDE * node
        placed += [PlacedMessage(first + m.offset, m.named(node), m, node) for m in NODE_MESSAGES]
    return tuple(sorted(placed, key=lambda p: p.frame_id))


def _number(value: float) -> str:
    """A scale/offset as DBC text: 1, 0.1, 0.001 (no float noise, no trailing .0)."""
    return f"{value:.12g}"


def _quoted(text: str) -> str:
    """A DBC string literal (DBC has no escapes: double quotes become single)."""
    return '"' + text.replace('"', "'") + '"'


def _signal_line(sig: SignalDef, node: int | None, receiver: str) -> str:
    sign = "-" if sig.signed else "+"
    return (
        f" SG_ {sig.named(node)} : {sig.start}|{sig.length}@1{sign} "
        f"({_number(sig.scale)},{_number(sig.offset)}) [0|0] {_quoted(sig.unit)} {receiver}"
    )


def render_dbc(base_id: int, node_count: int, *, source: str = DEFAULT_SOURCE) -> str:
    """The DBC text of one configuration (deterministic; refused like `layout` when it cannot fit)."""
    placed = layout(base_id, node_count, source=source)
    out = [
        f'VERSION "Prohelion BMS D1000 Gen2 firmware {FIRMWARE_VERSION}, base ID {_hex(base_id)}, '
        f'{_nodes(node_count)}"',
        "",
        "",
        "NS_ :",
        *(f"\t{ns}" for ns in ("NS_DESC_", "CM_", "BA_DEF_", "BA_", "VAL_", "BA_DEF_DEF_")),
        "",
        "BS_:",
        "",
        f"BU_: {BMS_NODE}",
        "",
    ]
    for p in placed:
        m = p.template
        out.append("")
        out.append(f"BO_ {p.frame_id} {p.name}: {m.length} {m.sender}")
        out += [_signal_line(s, p.node, m.receiver) for s in m.signals]
    out += ["", ""]
    out.append(
        "CM_ "
        + _quoted(
            f"Prohelion BMS D1000 Gen2, firmware {FIRMWARE_VERSION} message table, rendered for base ID "
            f"{_hex(base_id)} (parameter nodeID) and {_nodes(node_count)} (numCMUNodes) by "
            "hil.duts.prohelion_d1000_gen2.protocol.dbc. Node n (0-based) owns base + 0x10 + 8n .. "
            "base + 0x17 + 8n. Classic CAN, 11-bit IDs, all signals little-endian. "
            "No ranges are documented: [0|0]."
        )
        + ";"
    )
    out.append(f"CM_ BU_ {BMS_NODE} {_quoted('The BMU of the Prohelion BMS D1000 Gen2')};")
    for p in placed:
        suffix = f" (node {p.node})" if p.node is not None else ""
        out.append(f"CM_ BO_ {p.frame_id} {_quoted(p.template.comment + suffix)};")
        out += [
            f"CM_ SG_ {p.frame_id} {s.named(p.node)} {_quoted(s.comment)};"
            for s in p.template.signals
            if s.comment
        ]
    for p in placed:
        for s in p.template.signals:
            if s.choices:
                pairs = " ".join(f"{v} {_quoted(t)}" for v, t in sorted(s.choices, reverse=True))
                out.append(f"VAL_ {p.frame_id} {s.named(p.node)} {pairs} ;")
    out.append("")
    return "\n".join(out)


def build_database(base_id: int, node_count: int, *, source: str = DEFAULT_SOURCE) -> Database:
    """The cantools database of one configuration: `render_dbc` loaded with cantools' strict checks."""
    db = cantools.database.load_string(
        render_dbc(base_id, node_count, source=source), database_format="dbc", strict=True
    )
    if not isinstance(db, Database):  # pragma: no cover - DBC text always loads as a CAN database
        raise TypeError("the rendered DBC did not load as a CAN database")
    return db


def _int_auto(text: str) -> int:
    """An integer in any base Python accepts (0x600, 1536)."""
    return int(text, 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Write the DBC of a configuration to a file or stdout; exit 2 for a refused configuration."""
    parser = argparse.ArgumentParser(
        prog="python -m hil.duts.prohelion_d1000_gen2.protocol.dbc",
        description="Render the Prohelion BMS D1000 Gen2 DBC for a base ID and CMU node count.",
    )
    parser.add_argument("--base-id", type=_int_auto, default=DEFAULT_BASE_ID, help="nodeID (default 0x600)")
    parser.add_argument("--nodes", type=int, default=DEFAULT_NODE_COUNT, help="numCMUNodes (default 1)")
    parser.add_argument("-o", "--output", type=Path, help="DBC file to write (default: stdout)")
    args = parser.parse_args(argv)
    try:
        text = render_dbc(args.base_id, args.nodes)
    except CanIdConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
