"""Configuration of a Prohelion BMS D1000 Gen2: the firmware V1.2 configuration parameters.

`D1000Config` holds every parameter of `references/prohelion-d1000-gen2/Configuration_Parameters.md`
under the vendor's own key (`critCellOverVoltage`, `numCMUNodes`, ...), in engineering units (V, A,
°C, s, Ah, Ω, kPa, %RH; the vendor stores scaled integers, `to_raw()` gives them). Defaults are the
documented ones, so the default model is the unit the spec describes; a different pack (32 nodes of
14 cells, other limits) is only a different file. Two sections are ours, not the vendor's: `fixed`
(firmware constants the V1.2 documentation states or leaves open, so a mutant can move them) and
`behaviour` (twin behaviour flags for building non-conforming units, like the 12100's).

Readings of the documentation (also in the field descriptions):
- deviceID has no default and its Min/Max are swapped (4476/4472): the 12 V variant (4472) is ours.
- bmuTemperatureMin/Max are listed as 60.0 / -20.0 °C, evidently swapped: -20.0..60.0 °C here
  (`bmuTemperatureRangeNote` says so in every dumped file).
- chargingMethod lists Min 2 / Max 0 (swapped): 0 None, 1 EVSE, 2 External.
- contactorConfigAuxEnable/Types: one hex digit per contactor (0 or 1), contactor 1 the lowest
  digit (our reading of the 0x11111 bitfield); Types digit 1 = NO main contact with an NC auxiliary.
- nodeNumCells/nodeNumTemp are per-node arrays: one number (every node), one per node, or the full
  32-entry vendor array (entries beyond numCMUNodes unused).
- thermistorBetaValue: the table allows 0, which cannot convert; at least 1 here.
"""

from __future__ import annotations

import textwrap
from enum import IntEnum
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo
from pydantic_core import InitErrorDetails, PydanticCustomError

from hil.config import read_yaml, validation_to_config_error
from hil.duts.prohelion_d1000_gen2.ocv import DEFAULT_OCV_TABLE_V
from hil.errors import ConfigError

CONTACTOR_COUNT = 5
NODE_COUNT_MAX = 32
CELLS_PER_NODE_MAX = 14
TEMPS_PER_NODE_MAX = 4
BASE_ID_MAX = 0x700
BITRATES_KBPS = (125, 250, 500, 1000)
DEVICE_IDS = {4472: 12, 4476: 24}  # deviceID -> BMU supply variant (V)
BMU_TEMPERATURE_NOTE = (
    "The V1.2 table lists bmuTemperatureMin 60.0 °C and bmuTemperatureMax -20.0 °C, evidently "
    "swapped; read here as -20.0..60.0 °C."
)


class ChargingMethod(IntEnum):
    """chargingMethod values (index 0x37)."""

    NONE = 0
    EVSE = 1
    EXTERNAL = 2


def _inconsistent(key: str, expected: str, given: Any) -> ValidationError:
    """Parameters each valid but impossible together, as a validation error located at the vendor key
    to correct, so every loader (`load_config`, `hil run --firmware`) names that key, not the top level."""
    error = PydanticCustomError("value_error", "{expected}", {"expected": expected})
    return ValidationError.from_exception_data(
        "D1000Config", [InitErrorDetails(type=error, loc=(key,), input=given)]
    )


def _int_or_hex(value: Any) -> Any:
    """Accept "0x600"-style strings for IDs and bitfields (YAML 0x600 is already an int)."""
    if isinstance(value, str):
        try:
            return int(value.strip(), 0)
        except ValueError:
            return value  # pydantic reports it as not an integer
    return value


def _contactor_bitfield(value: int) -> int:
    if (
        value < 0
        or value >> (4 * CONTACTOR_COUNT)
        or any((value >> (4 * i)) & 0xF > 1 for i in range(CONTACTOR_COUNT))
    ):
        raise ValueError(
            "one hex digit 0 or 1 per contactor, contactor 1 the lowest digit (0x00000..0x11111)"
        )
    return value


def _per_node(value: Any) -> Any:
    """A single number stands for every node."""
    return [value] if isinstance(value, int) and not isinstance(value, bool) else value


def _charging_method(value: Any) -> Any:
    if isinstance(value, str) and value.strip().upper() in ChargingMethod.__members__:
        return ChargingMethod[value.strip().upper()]
    return value


HexInt = Annotated[int, BeforeValidator(_int_or_hex)]
CellCount = Annotated[int, Field(ge=1, le=CELLS_PER_NODE_MAX)]
TempCount = Annotated[int, Field(ge=0, le=TEMPS_PER_NODE_MAX)]
OcvVolts = Annotated[float, Field(ge=0.0, le=100.0)]


def _param(
    default: Any, index: int | None, scale: float | None, unit: str, text: str, **constraints: Any
) -> Any:
    """A vendor parameter: its V1.2 index and raw scale are kept for `to_raw()` and the dump."""
    where = f" [{unit}]" if unit else ""
    at = f" (index 0x{index:02X})" if index is not None else ""
    return Field(
        default=default,
        description=f"{text}{where}{at}",
        json_schema_extra={"index": index, "scale": scale, "unit": unit},
        **constraints,
    )


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Fixed(_Section):
    """Firmware constants, not V1.2 configuration parameters (not settable on the real unit).

    The documented ones come from State_Machine.md / Sequence_Diagram.md; the others are OUR
    ASSUMPTIONS where the documentation gives no value. The twin reads them here so that a
    non-conforming unit can be built by moving one.
    """

    disconnect_timeout_s: float = Field(
        default=2.0, gt=0, description="DISCONNECT -> SAFE at the latest after this (documented)"
    )
    disconnect_complete_current_a: float = Field(
        default=5.0,
        ge=0,
        description="DISCONNECT -> SAFE once |current| is below this (assumed: CHARGE_STOPPING's 5 A)",
    )
    charge_stopping_timeout_s: float = Field(
        default=20.0, gt=0, description="CHARGE_STOPPING -> DISCONNECT after this (documented)"
    )
    charge_stopping_current_a: float = Field(
        default=5.0, ge=0, description="CHARGE_STOPPING -> IDLE below this |current| (documented)"
    )
    charge_init_timeout_s: float = Field(
        default=50.0, gt=0, description="CHARGE_INIT -> IDLE after this (documented, ERS wait)"
    )
    control_timeout_s: float = Field(
        default=5.0,
        gt=0,
        description="BMSReasonCONTROLTIMEOUT after this long without a BMSCommands update (assumed)",
    )
    contactor_aux_debounce_s: float = Field(
        default=0.25,
        ge=0,
        description="an auxiliary contact may disagree with its command this long (assumed)",
    )
    initialise_s: float = Field(
        default=0.5, ge=0, description="shortest INITIALISE (first CMU/BJU scan; assumed)"
    )
    calibrate_s: float = Field(default=1.0, ge=0, description="duration of CALIBRATE (assumed)")
    precharge_negative_current_a: float = Field(
        default=0.5,
        gt=0,
        description="BMSPrechargeFailNEGCURRENT below minus this current during PRECHARGE (assumed)",
    )
    thermistor_r25_ohm: float = Field(
        default=10_000.0, gt=0, description="CMU NTC resistance at 25 °C (assumed; B 3380 fits 10 kΩ parts)"
    )
    filtered_current_tau_s: float = Field(
        default=1.0, gt=0, description="time constant of FilteredCurrent (assumed)"
    )
    balancing_current_a: float = Field(
        default=0.65,
        ge=0,
        description="bleed current of a balanced cell (CMU: 650 mA at 100 % duty; 100 % duty assumed)",
    )
    cell_present_v: float = Field(
        default=0.5,
        ge=0,
        description="a configured cell channel below this counts as not connected (assumed)",
    )


class Hardware(_Section):
    """SIM-ONLY: per-unit hardware faults of the simulated unit (docs/eol.md); defaults = a good unit.

    Not a V1.2 parameter and never on CAN: only the configuration file the simulator loads sets it,
    so no plan can reach it; a real unit's file has no such section.
    """

    supply_current_extra_a: float = Field(
        default=0.0, ge=0.0, description="extra BMU supply current (A) of a faulty unit (PH-SUP-I)"
    )
    cell_offset_v: float = Field(
        default=0.0, description="extra offset (V) of the first node's first cell channel (PH-MSG-ACC)"
    )
    current_offset_a: float = Field(default=0.0, description="extra offset (A) of the BJU current channel")


class Behaviour(_Section):
    """Twin behaviour flags; a conforming unit has all of them true.

    Each flag set to false removes exactly one behaviour of the firmware (a non-conforming unit), so
    the plan can be shown to catch it. The twin's modules say where each one acts.
    """

    check_contactor_aux: bool = Field(
        default=True, description="false: auxiliary feedback ignored (welded contactor unseen)"
    )
    latch_contactor_faults: bool = Field(
        default=True, description="false: a contactor fault clears when the aux agrees again"
    )
    precharge_timeout: bool = Field(
        default=True, description="false: PRECHARGE / CHARGE_CONNECT wait forever"
    )
    precharge_overcurrent: bool = Field(default=True, description="false: no BMSPrechargeFailOVERCURRENTPCHG")
    precharge_voltage_check: bool = Field(
        default=True, description="false: ENABLED without waiting for the load voltage"
    )
    charge_stopping_timeout: bool = Field(default=True, description="false: CHARGE_STOPPING never times out")
    charge_stopping_waits_for_current: bool = Field(
        default=True, description="false: IDLE at once, contactors opened under current"
    )
    disconnect_timeout: bool = Field(
        default=True, description="false: DISCONNECT waits for the current to stop, however long"
    )
    balance_only_in_enabled: bool = Field(default=True, description="false: balancing in every state")
    control_timeout: bool = Field(default=True, description="false: no BMSReasonCONTROLTIMEOUT")
    node_count_check: bool = Field(default=True, description="false: a missing or extra CMU goes unnoticed")
    hvil_check: bool = Field(
        default=True, description="false: an open HVIL loop is reported on HVILInfo but does not fault"
    )
    cell_voltage_limits: bool = Field(
        default=True, description="false: no critical over/under-voltage disconnect"
    )
    cell_temperature_limits: bool = Field(
        default=True, description="false: no over/under-temperature disconnect"
    )
    overcurrent_check: bool = Field(default=True, description="false: no BMSReasonOVERCURRENT")
    environment_limits: bool = Field(
        default=True, description="false: BMU temperature/pressure/humidity not checked"
    )
    warning_limits: bool = Field(
        default=True, description="false: warning voltages do not disable charge/discharge"
    )
    safe_requires_idle_command: bool = Field(
        default=True, description="false: SAFE -> IDLE as soon as faults clear"
    )
    soc_from_ocv: bool = Field(
        default=True, description="false: SoC starts at 50 % instead of from the OCV table"
    )


class D1000Config(BaseModel):
    """The V1.2 configuration parameters of one D1000 Gen2 BMU (vendor keys, engineering units)."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        validate_assignment=True,
    )

    serial_number: int = _param(
        0, 0x32, 1, "", "serialNumber: unique serial number of the unit", ge=0, le=0xFFFF
    )
    device_id: Literal[4472, 4476] = Field(
        default=4472,
        description="deviceID: 4472 = 12 V rev 1, 4476 = 24 V rev 1 (index 0x33; no default documented)",
        json_schema_extra={"index": 0x33, "scale": 1, "unit": ""},
        validation_alias="deviceID",
        serialization_alias="deviceID",
    )
    bitrate: Literal[125, 250, 500, 1000] = _param(
        500, 0x34, 1, "kb/s", "bitrate: CAN bit rate, 125/250/500/1000"
    )
    node_id: HexInt = Field(
        default=0x600,
        ge=0,
        le=BASE_ID_MAX,
        description="nodeID: CAN base ID, 0x000..0x700 (index 0x35)",
        json_schema_extra={"index": 0x35, "scale": 1, "unit": ""},
        validation_alias="nodeID",
        serialization_alias="nodeID",
    )
    num_cmu_nodes: int = Field(
        default=1,
        ge=1,
        le=NODE_COUNT_MAX,
        description="numCMUNodes: number of CMU nodes, 1..32 (index 0x36)",
        json_schema_extra={"index": 0x36, "scale": 1, "unit": ""},
        validation_alias="numCMUNodes",
        serialization_alias="numCMUNodes",
    )
    charging_method: Annotated[ChargingMethod, BeforeValidator(_charging_method)] = _param(
        ChargingMethod.NONE, 0x37, 1, "", "chargingMethod: 0 None, 1 EVSE, 2 External"
    )
    precharge_resistance: float = _param(
        33.0, 0x39, 0.1, "Ω", "prechargeResistance: resistance of the precharge resistor", ge=0.1, le=3200.0
    )
    pack_capacity: float = _param(
        100.0, 0x40, 0.1, "Ah", "packCapacity: total Ah of the battery", ge=0.1, le=3200.0
    )
    crit_cell_over_voltage: float = _param(
        4.2,
        0x41,
        0.001,
        "V",
        "critCellOverVoltage: a cell at this voltage forces a disconnect",
        ge=0.001,
        le=32.0,
    )
    warning_cell_over_voltage: float = _param(
        4.15, 0x42, 0.001, "V", "warningCellOverVoltage: a cell at this voltage disables further charging",
        ge=0.001, le=32.0,
    )  # fmt: skip
    cell_balancing_voltage: float = _param(
        4.1, 0x43, 0.001, "V", "cellBalancingVoltage: a cell at this voltage is balanced (ENABLED only)",
        ge=0.001, le=32.0,
    )  # fmt: skip
    warning_cell_under_voltage: float = _param(
        2.6, 0x44, 0.001, "V", "warningCellUnderVoltage: a cell at this voltage disables further discharging",
        ge=0.001, le=32.0,
    )  # fmt: skip
    crit_cell_under_voltage: float = _param(
        2.5,
        0x45,
        0.001,
        "V",
        "critCellUnderVoltage: a cell at this voltage forces a disconnect",
        ge=0.001,
        le=32.0,
    )
    max_cell_temperature: float = _param(
        60.0, 0x46, 0.1, "°C", "maxCellTemperature: disconnect at this temperature", ge=-200.0, le=200.0
    )
    min_cell_temperature: float = _param(
        -20.0, 0x47, 0.1, "°C", "minCellTemperature: disconnect at this temperature", ge=-200.0, le=200.0
    )
    max_charge_current: float = _param(
        100.0,
        0x48,
        0.1,
        "A",
        "maxChargeCurrent: largest charge current without disconnecting",
        ge=0.1,
        le=3200.0,
    )
    max_discharge_current: float = _param(
        100.0, 0x49, 0.1, "A", "maxDischargeCurrent: largest discharge current without disconnecting",
        ge=0.1, le=3200.0,
    )  # fmt: skip
    max_precharge_current: float = _param(
        3.0,
        0x50,
        0.001,
        "A",
        "maxPrechargeCurrent: largest precharge current without failing",
        ge=0.0,
        le=32.0,
    )
    max_precharge_voltage_delta: float = _param(
        1.0, 0x51, 0.001, "V", "maxPrechargeVoltageDelta: load within this of the pack ends the precharge",
        ge=0.0, le=32.0,
    )  # fmt: skip
    thermistor_beta_value: int = _param(
        3380, 0x52, 1, "K", "thermistorBetaValue: Beta of the CMU thermistors", ge=1, le=64000
    )
    precharge_timeout: float = _param(
        25.0, 0x54, 0.001, "s", "prechargeTimeout: longest wait before failing the precharge", ge=0.0, le=64.0
    )
    bmu_temperature_min: float = _param(
        -20.0, 0x55, 0.1, "°C", "bmuTemperatureMin: lowest BMU temperature (table default 60.0, swapped)",
        ge=-3200.0, le=3200.0,
    )  # fmt: skip
    bmu_temperature_max: float = _param(
        60.0, 0x56, 0.1, "°C", "bmuTemperatureMax: highest BMU temperature (table default -20.0, swapped)",
        ge=-3200.0, le=3200.0,
    )  # fmt: skip
    bmu_temperature_range_note: str = Field(
        default=BMU_TEMPERATURE_NOTE,
        description="why the BMU temperature defaults differ from the V1.2 table",
    )
    bmu_pressure_min: float = _param(
        0.0, 0x57, 0.1, "kPa", "bmuPressureMin: lowest BMU pressure", ge=0.0, le=3200.0
    )
    bmu_pressure_max: float = _param(
        120.0, 0x58, 0.1, "kPa", "bmuPressureMax: highest BMU pressure", ge=0.0, le=3200.0
    )
    bmu_humidity_min: float = _param(
        0.0, 0x59, 0.1, "%RH", "bmuHumidityMin: lowest BMU humidity", ge=0.0, le=3200.0
    )
    bmu_humidity_max: float = _param(
        90.0, 0x5A, 0.1, "%RH", "bmuHumidityMax: highest BMU humidity", ge=0.0, le=3200.0
    )
    cell_internal_resistance: float = _param(
        0.031,
        0x5B,
        0.001,
        "Ω",
        "cellInternalResistance: nominal internal resistance of a cell",
        ge=0.0,
        le=64.0,
    )
    cell_nominal_capacity: float = _param(
        5.0, 0x5C, 0.001, "Ah", "cellNominalCapacity: nominal capacity of one cell", ge=0.001, le=64000.0
    )
    contactor_config_aux_enable: HexInt = _param(
        0x11111, 0x60, 1, "", "contactorConfigAuxEnable: auxiliary check per contactor, one hex digit each"
    )
    contactor_config_types: HexInt = _param(
        0x00000, 0x61, 1, "", "contactorConfigTypes: 0 = NO/NO, 1 = NO/NC per contactor, one hex digit each"
    )
    node_num_cells: Annotated[list[CellCount], BeforeValidator(_per_node)] = _param(
        [10], 0x100, 1, "", "nodeNumCells: cells per node, 1..14 (one number for all, or one per node)"
    )
    node_num_temp: Annotated[list[TempCount], BeforeValidator(_per_node)] = _param(
        [4],
        0x140,
        1,
        "",
        "nodeNumTemp: temperature sensors per node, 0..4 (one number for all, or one per node)",
    )
    cell_soc_lookup_table_length: int = _param(
        101, 0x5D, 1, "", "cellSocLookupTableLength: entries of the OCV table", ge=2, le=101
    )
    cell_soc_lookup_table: list[OcvVolts] = _param(
        list(DEFAULT_OCV_TABLE_V), 0x160, 0.001, "V",
        "cellSocLookupTable: cell OCV at each SoC point, evenly spaced 0..100 %",
    )  # fmt: skip
    fixed: Fixed = Field(default=Fixed(), description="firmware constants (not V1.2 parameters)")
    behaviour: Behaviour = Field(
        default_factory=Behaviour, description="twin behaviour flags (all true = conforming)"
    )
    hardware: Hardware = Field(
        default_factory=Hardware, description="SIM-ONLY per-unit hardware faults (all zero = a good unit)"
    )

    # --- validation --------------------------------------------------------------------------
    @field_validator("contactor_config_aux_enable", "contactor_config_types")
    @classmethod
    def _bits(cls, value: int) -> int:
        return _contactor_bitfield(value)

    @model_validator(mode="after")
    def _consistent(self) -> D1000Config:
        if not self.crit_cell_under_voltage <= self.warning_cell_under_voltage:
            raise _inconsistent(
                "warningCellUnderVoltage",
                f"at or above critCellUnderVoltage ({self.crit_cell_under_voltage:g})",
                self.warning_cell_under_voltage,
            )
        if not self.warning_cell_under_voltage < self.warning_cell_over_voltage:
            raise _inconsistent(
                "warningCellOverVoltage",
                f"above warningCellUnderVoltage ({self.warning_cell_under_voltage:g})",
                self.warning_cell_over_voltage,
            )
        if not self.warning_cell_over_voltage <= self.crit_cell_over_voltage:
            raise _inconsistent(
                "critCellOverVoltage",
                f"at or above warningCellOverVoltage ({self.warning_cell_over_voltage:g})",
                self.crit_cell_over_voltage,
            )
        for low, high, key in (
            (self.min_cell_temperature, self.max_cell_temperature, "maxCellTemperature"),
            (self.bmu_temperature_min, self.bmu_temperature_max, "bmuTemperatureMax"),
            (self.bmu_pressure_min, self.bmu_pressure_max, "bmuPressureMax"),
            (self.bmu_humidity_min, self.bmu_humidity_max, "bmuHumidityMax"),
        ):
            if not low < high:
                raise _inconsistent(key, f"above its minimum counterpart ({low:g})", high)
        for key, values in (("nodeNumCells", self.node_num_cells), ("nodeNumTemp", self.node_num_temp)):
            if len(values) not in (1, self.num_cmu_nodes, NODE_COUNT_MAX):
                raise _inconsistent(
                    key,
                    f"one number, or one per node ({self.num_cmu_nodes} for numCMUNodes), got {len(values)}",
                    values,
                )
        table = self.cell_soc_lookup_table
        if len(table) != self.cell_soc_lookup_table_length:
            raise _inconsistent(
                "cellSocLookupTable",
                f"{self.cell_soc_lookup_table_length} entries (cellSocLookupTableLength), got {len(table)}",
                table,
            )
        if any(b <= a for a, b in pairwise(table)):
            raise _inconsistent("cellSocLookupTable", "voltages rising strictly with SoC", table)
        return self

    @field_serializer("node_num_cells", "node_num_temp")
    def _one_or_list(self, values: list[int]) -> int | list[int]:
        return values[0] if len(values) == 1 else list(values)

    # --- derived views -----------------------------------------------------------------------
    @property
    def supply_variant_v(self) -> int:
        """Nominal BMU supply of this variant (12 or 24 V), from deviceID."""
        return DEVICE_IDS[self.device_id]

    def cells_per_node(self) -> tuple[int, ...]:
        """Configured cells of each node 0..numCMUNodes-1."""
        return _expand(self.node_num_cells, self.num_cmu_nodes)

    def temps_per_node(self) -> tuple[int, ...]:
        """Configured temperature sensors of each node 0..numCMUNodes-1."""
        return _expand(self.node_num_temp, self.num_cmu_nodes)

    def aux_enabled(self, contactor: int) -> bool:
        """Whether the auxiliary contact of contactor 1..5 is checked."""
        return _digit(self.contactor_config_aux_enable, contactor) == 1

    def aux_normally_closed(self, contactor: int) -> bool:
        """Whether contactor 1..5 is configured NO/NC (its auxiliary contact is closed when open)."""
        return _digit(self.contactor_config_types, contactor) == 1

    def to_raw(self) -> dict[str, int | list[int]]:
        """Every vendor parameter as the scaled integer(s) the BMU stores (vendor keys)."""
        raw: dict[str, int | list[int]] = {}
        for name, info in type(self).model_fields.items():
            extra = info.json_schema_extra
            if not isinstance(extra, dict) or extra.get("scale") is None:
                continue
            scale = extra["scale"]
            assert isinstance(scale, int | float)
            value = getattr(self, name)
            if isinstance(value, list):
                raw[_key(name, info)] = [round(float(v) / scale) for v in value]
            else:
                raw[_key(name, info)] = round(float(value) / scale)
        return raw


def _expand(values: list[int], nodes: int) -> tuple[int, ...]:
    return (values[0],) * nodes if len(values) == 1 else tuple(values[:nodes])


def _digit(bits: int, contactor: int) -> int:
    if not 1 <= contactor <= CONTACTOR_COUNT:
        raise ValueError(f"contactor must be 1..{CONTACTOR_COUNT}, got {contactor}")
    return (bits >> (4 * (contactor - 1))) & 0xF


def _key(name: str, info: FieldInfo) -> str:
    """The key a field has in the file (sections keep their own name)."""
    if name in ("fixed", "behaviour", "hardware"):
        return name
    return info.serialization_alias or info.alias or to_camel(name)


# --- files -------------------------------------------------------------------------------------
def load_config(path: Path | str) -> D1000Config:
    """Read a configuration file; any problem is a ConfigError naming the file, key and expectation."""
    path = Path(path)
    data = read_yaml(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), "(top level)", "a mapping of configuration parameters")
    try:
        return D1000Config.model_validate(data)
    except ValidationError as exc:
        raise config_error(path, exc) from None


def config_error(path: Path | str, exc: ValidationError) -> ConfigError:
    """A ValidationError of D1000Config as a ConfigError naming the file and the vendor key."""
    return validation_to_config_error(path, exc)


_HEX_WIDTH = {"nodeID": 3, "contactorConfigAuxEnable": 5, "contactorConfigTypes": 5}
_HEADER = (
    "# Prohelion BMS D1000 Gen2 configuration: firmware V1.2 parameters under the vendor's keys,\n"
    "# in engineering units (V, A, °C, s, Ah, Ω, kPa, %RH); `fixed`, `behaviour`, `hardware` the twin's.\n"
)


def _comment(text: str | None, indent: str) -> list[str]:
    if not text:
        return []
    return [f"{indent}# {line}" for line in textwrap.wrap(text, 100 - len(indent) - 2)]


def _yaml_entry(key: str, value: Any, indent: str) -> list[str]:
    if key in _HEX_WIDTH and isinstance(value, int):
        return [f"{indent}{key}: 0x{value:0{_HEX_WIDTH[key]}X}"]
    if isinstance(value, list):
        flow = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=96 - len(indent))
        first, *rest = flow.rstrip("\n").splitlines()
        return [f"{indent}{key}: {first}"] + [f"{indent}  {line.strip()}" for line in rest]
    text = yaml.safe_dump({key: value}, default_flow_style=False, allow_unicode=True, width=1000)
    return [indent + line for line in text.rstrip("\n").splitlines()]


def dump_config(config: D1000Config) -> str:
    """A configuration as YAML, each key preceded by what it means and its unit."""
    data = config.model_dump(mode="json", by_alias=True)
    lines = [_HEADER.rstrip("\n")]
    for name, info in D1000Config.model_fields.items():
        key = _key(name, info)
        value = data[key]
        lines.extend(_comment(info.description, ""))
        section = getattr(config, name)
        if isinstance(section, BaseModel):
            lines.append(f"{key}:")
            for sub, sub_info in type(section).model_fields.items():
                lines.extend(_comment(sub_info.description, "  "))
                lines.extend(_yaml_entry(sub, value[sub], "  "))
        else:
            lines.extend(_yaml_entry(key, value, ""))
    return "\n".join(lines) + "\n"


def dump_default() -> str:
    """The documented defaults as a YAML configuration file (`load_config` reads it back unchanged)."""
    return dump_config(D1000Config())
