"""The twin's outputs at one instant, named after the DBC signals they feed.

Each field is the snake_case of its V1.2 signal (Messages_and_Signals.md) in the signal's physical
unit, so mapping a snapshot onto frames is one name per signal: `max_cell_voltage_node_id` →
NodeCellInfo.MaxCellVoltageNodeID, `nodes[n].cells[i - 1]` → Node𝑛CellVoltages.Node𝑛Cell<i>, and
`bms_info` is the whole 64-bit BMSInfo word (state bit + flag bits). Fields after `# twin only` have
no signal: they are what the plant needs (coil outputs, bleed currents, supply current) or
diagnostics. Values the firmware cannot know (an extreme with no sensor) are None.
"""

from __future__ import annotations

from dataclasses import dataclass

from hil.duts.prohelion_d1000_gen2.protocol.codes import BmsState, InfoBit, LowSideStatus


@dataclass(frozen=True)
class NodeSnapshot:
    """One configured CMU (the Node𝑛 messages; `node` is n, from 0)."""

    node: int
    connected: bool
    total_voltage: float  # Node𝑛TotalVoltage, V
    high_resistance_cell_sense: int  # Node𝑛HighResistanceCellSense (not modelled: 0)
    cells: tuple[float, ...]  # Node𝑛Cell01.. in V, configured cells only
    temps: tuple[float | None, ...]  # Node𝑛Temp01.. in °C; None = sensor not connected
    connected_cells: int  # Node𝑛ConnectedCells
    disconnected_cells: int  # Node𝑛DisconnectedCells
    connected_temp_sensors: int  # Node𝑛ConnectedTempSensors
    disconnected_temp_sensors: int  # Node𝑛DisconnectedTempSensors
    cell_balance_command_sent: int  # Node𝑛CellBalanceCommandSent, bit i-1 = cell i
    cell_balance_status: int  # Node𝑛CellBalanceStatus, bit i-1 = cell i


@dataclass(frozen=True)
class D1000Snapshot:
    """Everything the BMU reports, plus what the plant needs from it."""

    t: float
    # DeviceHeartbeat / DeviceFirmwareInfo
    device_type: int
    device_serial: int
    firmware_major_version: int
    firmware_minor_version: int
    firmware_patch_version: int
    firmware_build_number: int
    # BMSInfo
    state: BmsState
    bms_info: int
    # BMSCurrentData / BMSVoltageData / BMSAuxiliaryData
    instantaneous_current: float  # A, + = discharge
    filtered_current: float
    battery_voltage: float  # V (BJU U1)
    load_voltage: float  # V (BJU U3)
    auxiliary_voltage: float  # V: OUR READING, the BJU's U2 (charger voltage)
    power: float  # W, battery_voltage × instantaneous_current
    # BMSSoCData / BMSSoPData
    soc_percentage: float
    soc_capacity: float  # Ah
    ocv: float  # V (signal OCV_mV, scale 0.001 V)
    soh_percentage: float
    sop_max_current_discharge: float  # A: maxDischargeCurrent, 0 while discharge is disabled
    sop_max_current_charge: float  # A: maxChargeCurrent, 0 while charge is disabled
    # NodeInfo / NodeCellInfo / NodeTempInfo
    total_pack_voltage: float  # V, sum of the present cells
    pack_balance_threshold: float  # V, cellBalancingVoltage
    total_cells_balancing: int
    max_cell_voltage: float | None
    max_cell_voltage_node_id: int | None
    max_cell_voltage_cell_id: int | None
    min_cell_voltage: float | None
    min_cell_voltage_node_id: int | None
    min_cell_voltage_cell_id: int | None
    max_temperature: float | None
    max_temperature_node_id: int | None
    max_temperature_sensor_id: int | None
    min_temperature: float | None
    min_temperature_node_id: int | None
    min_temperature_sensor_id: int | None
    nodes: tuple[NodeSnapshot, ...]
    # HVILInfo
    hvil_flag_nok: bool
    hvil_flag_scg: bool
    hvil_flag_scb: bool
    hvil_flag_open_loop: bool
    # ContactorInfo (0 open, 1 closed), contactor 1 first
    contactor_target: tuple[int, ...]
    contactor_state: tuple[int, ...]
    # NodeStats / NodeCellStats / NodeTempStats
    total_configured_nodes: int
    total_connected_nodes: int
    total_disconnected_nodes: int
    total_configured_cells: int
    total_connected_cells: int
    total_disconnected_cells: int
    total_configured_temp_sensors: int
    total_connected_temp_sensors: int
    total_disconnected_temp_sensors: int
    # SensorData1 / SensorData2
    temperature1: float  # °C
    temperature2: float
    pressure: float  # kPa
    humidity: float  # %RH
    voc: int  # ppb
    nox: int
    # twin only
    powered: bool
    reasons: frozenset[InfoBit]  # the flags set in bms_info
    contactor_coil: tuple[bool, ...]  # coil outputs 1..5 (what the plant actuates)
    charge_allowed: bool
    discharge_allowed: bool
    bmu_temperature_fault: bool
    low_side_switch: tuple[bool, ...]  # outputs 1..3
    low_side_status: tuple[LowSideStatus, ...]
    supply_current: float  # A drawn from the BMU supply, contactor coils excluded

    def has(self, bit: InfoBit) -> bool:
        """Whether a BMSInfo flag is set."""
        return bool(self.bms_info >> int(bit) & 1)

    def state_bit(self, state: BmsState) -> bool:
        """Whether a BMSState bit is set (exactly one is, the current state's)."""
        return bool(self.bms_info >> int(state) & 1)

    def contactors_closed(self) -> frozenset[int]:
        """The contactors whose target is closed."""
        return frozenset(n for n, target in enumerate(self.contactor_target, start=1) if target)
