"""Configuration of a Movicom BMS Main 2.1 / 2R unit: what its firmware is set to do.

Protection thresholds, hysteresis ("tolerant" values), delays, heater control, input assignments
with inversion, output and relay functions, CAN and Modbus settings, and the variant. The menu
structure follows the vendor's configuration pages (references/movicom-bms-main-2/README.md §4:
every protection has enable, set threshold, tolerant threshold, set delay, clear delay, lock).

THE VENDOR DEFAULTS ARE NOT PUBLIC. The defaults below are an example configuration of a 16-cell
LiFePO4-like pack (ours), not the factory settings; `configs/example-main-2.1.yaml` is the same with
comments. A plan reads its limits from the unit's configuration file, so a unit configured
differently needs a different file, not different code. Sections `fixed` (firmware constants the
documentation leaves open: OUR ASSUMPTIONS), `behaviour` (twin flags for non-conforming units) and
`hardware` (sim-only unit faults) are ours, as in the other families.
"""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from hil.config import read_yaml, validation_to_config_error
from hil.duts.movicom_main_2.variants import RelayFunctionName, Variant, VariantId, variant
from hil.errors import ConfigError

BITRATES_KBPS = (125, 250, 500, 1000)
MODBUS_BAUDRATES = (600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
LOGIC_BOARDS_MAX = 20  # the Logic address switch range 1-20 (the spec pages also say 23: conflict)
CELLS_PER_LOGIC_MAX = 18  # BMS Logic 18
TEMPS_PER_LOGIC_MAX = 12  # BMS Logic 12


def _inconsistent(loc: tuple[str | int, ...], expected: str, given: Any) -> ValidationError:
    """Values each valid but impossible together, located at the key to correct (as the D1000's)."""
    error = PydanticCustomError("value_error", "{expected}", {"expected": expected})
    return ValidationError.from_exception_data(
        "MovicomConfig", [InitErrorDetails(type=error, loc=loc, input=given)]
    )


class InputFunction(IntEnum):
    """Discrete-input assignment codes, in the order of the vendor's assignment list (S6).

    OUR READING (unverified): the code is also the CANopen 0x5100 sub-index and the Modbus software
    control register 0x5100 + code - 1 (anchors: battery cover 0x5100, balancing request 0x5113).
    """

    NONE = 0
    BATTERY_COVER = 1
    CHARGER_CONNECTED = 2
    POWER_DOWN_REQUEST = 3
    INHIBIT_CHARGING = 4
    INHIBIT_DISCHARGING = 5
    CH_CONTACTOR_FEEDBACK = 6
    DCH_CONTACTOR_FEEDBACK = 7
    INSULATION_STATUS = 8
    CHARGE_REQUEST = 9
    PRECHARGE_REQUEST = 10
    DISCHARGE_REQUEST = 11
    PCH_CONTACTOR_FEEDBACK = 12
    CH_DCH_CONTACTOR_FEEDBACK = 13
    MAIN_CONTACTOR_FEEDBACK = 14
    CIRCUIT_BREAKER_STATUS = 19
    BALANCING_REQUEST = 20
    CLOSE_MAIN_CONTACTOR = 21


#: the functions a discrete output can be given. The vendor's list is not public: OUR READING of
#: what an output of a battery controller signals (the relay functions plus the error states).
OutputFunctionName = Literal[
    "none", "discharge_allowed", "charge_allowed", "heater", "error", "critical_error", "logic_offline"
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Protection(_Section):
    """One protection as the vendor's menu has it: trip at `set`, release at `tolerant`.

    `direction` says which side trips: above (over-voltage, over-temperature, over-current) or
    below (under-voltage, under-temperature). The error sets after the condition held for
    `set_delay_s` and clears after the release condition held for `clear_delay_s`; `lock` keeps it
    until an acknowledgement (Modbus 0x4001, OUR READING) or a power cycle.
    """

    enabled: bool = True
    set: float
    tolerant: float
    set_delay_s: float = Field(default=1.0, ge=0)
    clear_delay_s: float = Field(default=2.0, ge=0)
    lock: bool = False


class SignalProtection(_Section):
    """A protection on a signal (battery cover, Logic link): no threshold, only delays and lock."""

    enabled: bool = True
    set_delay_s: float = Field(default=0.5, ge=0)
    clear_delay_s: float = Field(default=1.0, ge=0)
    lock: bool = False


class Protections(_Section):
    """Protections → … (S9 3.6). Cell values come from the Logic boards, current from the sensor."""

    overvoltage: Protection = Protection(set=3.65, tolerant=3.45)
    undervoltage: Protection = Protection(set=2.50, tolerant=2.90)
    charge_overcurrent: Protection = Protection(set=100.0, tolerant=90.0, set_delay_s=0.5)
    discharge_overcurrent: Protection = Protection(set=150.0, tolerant=135.0, set_delay_s=0.5)
    low_charge_temperature: Protection = Protection(set=0.0, tolerant=3.0)
    low_discharge_temperature: Protection = Protection(set=-20.0, tolerant=-17.0)
    high_charge_temperature: Protection = Protection(set=45.0, tolerant=42.0)
    high_discharge_temperature: Protection = Protection(set=55.0, tolerant=52.0)
    high_humidity: Protection = Protection(enabled=False, set=90.0, tolerant=85.0)
    battery_cover: SignalProtection = SignalProtection(lock=True)
    logic_offline: SignalProtection = SignalProtection(set_delay_s=1.0, clear_delay_s=1.0)


#: direction of each threshold protection (part of the firmware, not of the configuration)
PROTECTION_DIRECTIONS: dict[str, Literal["above", "below"]] = {
    "overvoltage": "above",
    "undervoltage": "below",
    "charge_overcurrent": "above",
    "discharge_overcurrent": "above",
    "low_charge_temperature": "below",
    "low_discharge_temperature": "below",
    "high_charge_temperature": "above",
    "high_discharge_temperature": "above",
    "high_humidity": "above",
}
#: the error (register map bit name, errors_1 / errors_2) each protection section raises: the
#: twin's errors and the bench's bits to read
ERROR_NAMES: dict[str, str] = {
    "overvoltage": "overvoltage",
    "undervoltage": "undervoltage",
    "charge_overcurrent": "overcurrent",
    "discharge_overcurrent": "overcurrent",
    "low_charge_temperature": "low_charge_temperature",
    "low_discharge_temperature": "low_discharge_temperature",
    "high_charge_temperature": "high_charge_temperature",
    "high_discharge_temperature": "high_discharge_temperature",
    "high_humidity": "high_humidity",
    "battery_cover": "battery_cover_error",
    "logic_offline": "logic_offline",
}


class ChargeControl(_Section):
    """Cells → Charging control (S8 3.5.1): mode, Ton, Toff and the EV (end-of-charge) level."""

    mode: Literal["always", "charger_signal"] = "charger_signal"
    ton_s: float = Field(default=2.0, ge=0, description="charger signal to both charge relays closed")
    toff_s: float = Field(default=5.0, ge=0, description="charger signal lost to charging relay open")
    ev_cell_v: float = Field(default=3.55, gt=0, description="a cell above this opens allow-charging")


class Heater(_Section):
    """Heater control (relay 4 by default): on below `on_below_c`, off above `off_above_c`.

    OUR READING: the section itself was not visible; the heater acts on the minimum cell temperature.
    """

    enabled: bool = True
    on_below_c: float = 5.0
    off_above_c: float = 10.0


def _input_function(value: Any) -> Any:
    """Accept the function's name (`charger_connected`) as well as its code."""
    if isinstance(value, str) and value.strip().upper() in InputFunction.__members__:
        return InputFunction[value.strip().upper()]
    return value


InputFunctionField = Annotated[
    InputFunction,
    BeforeValidator(_input_function),
    PlainSerializer(lambda f: f.name.lower(), return_type=str, when_used="json"),
]


class InputAssignment(_Section):
    """One discrete input: its function and inversion flag (S6)."""

    function: InputFunctionField = InputFunction.NONE
    inverted: bool = False


class RelayAssignment(_Section):
    """One relay's function."""

    function: RelayFunctionName


class OutputAssignment(_Section):
    """One discrete output's function (OUR READING of the list, see OutputFunctionName)."""

    function: OutputFunctionName = "none"


class Can(_Section):
    """CANopen: bit rate (default 250 kbit/s), node id (default 32), heartbeat producer time."""

    bitrate_kbps: Literal[125, 250, 500, 1000] = 250
    node_id: int = Field(default=32, ge=1, le=127)
    heartbeat_ms: int = Field(
        default=1000, ge=0, le=65535, description="0x1017 producer time; default not public (ours)"
    )


class Modbus(_Section):
    """Modbus RTU on the external RS-485 (9600 8N1, unit 32 by default) and TCP (2.1: port 502).

    `register_order`: how 32-bit values sit in two registers (A = most significant byte):
    ABCD plain Modbus, CDAB low word first (OUR READING of "words are in the little endian"),
    BADC / DCBA bytes swapped in each register. The documentation is ambiguous: determine it on a
    unit by reading a REAL32 of known value (references §2.1).
    """

    unit: int = Field(default=32, ge=1, le=247)
    baudrate: int = 9600
    bytesize: Literal[7, 8] = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    tcp_port: int = Field(default=502, ge=1, le=65535)
    register_order: Literal["ABCD", "CDAB", "BADC", "DCBA"] = "CDAB"

    @model_validator(mode="after")
    def _baud(self) -> Modbus:
        if self.baudrate not in MODBUS_BAUDRATES:
            raise ValueError(f"baudrate: one of {', '.join(map(str, MODBUS_BAUDRATES))}")
        return self


class CurrentSensor(_Section):
    """A bidirectional Hall sensor (LEM HASS/HTFS): Vcs - Vref = volts_at_rated * I / rated_a.

    Positive current = charging (Vcs above Vref; OUR READING of the sensor's orientation).
    HASS: 0.625 V at the rated current.
    """

    rated_a: float = Field(default=200.0, gt=0)
    volts_at_rated: float = Field(default=0.625, gt=0)


class AnalogSensors(_Section):
    """The external temperature and humidity inputs (P13 Vts/Vhs; 2R X10 T_SENS1/2).

    The transfer functions are not public: OUR READING, a linear temperature sensor (500 mV at
    0 °C, 10 mV/°C, like MCP9700A/TMP36) and a ratiometric humidity sensor at 5 V (HIH-4000:
    V = 5 (0.0062 RH + 0.16)).
    """

    temperature_v_at_0c: float = 0.5
    temperature_v_per_c: float = Field(default=0.01, gt=0)
    humidity_v_offset: float = 0.8
    humidity_v_per_percent: float = Field(default=0.031, gt=0)


class LogicAssembly(_Section):
    """The BMS Logic boards on the internal link (the pack; not a firmware setting on the real unit)."""

    boards: int = Field(default=2, ge=1, le=LOGIC_BOARDS_MAX)
    cells_per_board: int = Field(default=8, ge=1, le=CELLS_PER_LOGIC_MAX)
    temperatures_per_board: int = Field(default=2, ge=0, le=TEMPS_PER_LOGIC_MAX)


class Battery(_Section):
    """Battery parameters (input registers 0x2420-0x2429) and the SOC start point."""

    nominal_capacity_ah: float = Field(default=100.0, gt=0)
    max_charge_voltage_v: float = Field(default=57.6, gt=0)
    min_discharge_voltage_v: float = Field(default=40.0, gt=0)
    max_charge_current_a: float = Field(default=100.0, gt=0)
    max_discharge_current_a: float = Field(default=150.0, gt=0)
    initial_soc_percent: float = Field(default=50.0, ge=0, le=100)
    low_soc_percent: float = Field(default=10.0, ge=0, le=100)


class Fixed(_Section):
    """Firmware constants the documentation does not give: OUR ASSUMPTIONS, movable by a mutant."""

    logic_init_s: float = Field(default=2.0, ge=0, description="power-up to Logic link established")
    run_blink_hz: float = Field(default=1.0, gt=0, description="DS2 blink while the firmware runs")
    link_init_blink_hz: float = Field(default=2.0, gt=0, description="DS3 while initialising (seed)")
    link_up_blink_hz: float = Field(default=25.0, gt=0, description="DS3 once established (seed)")
    error_blink_hz: float = Field(default=2.0, gt=0, description="DS4 on a Logic link error")
    output_high_v: float = Field(default=5.0, gt=0, description="discrete output level (seed: +5 V)")
    output_resistance_ohm: float = Field(
        default=10.0, ge=0, description="discrete output source resistance (ours: 4.8 V at 20 mA)"
    )
    vref_min_v: float = Field(default=1.5, description="Vref below this is an ADC error (critical)")
    vref_max_v: float = Field(default=3.5, description="Vref above this is an ADC error (critical)")
    adc_error_mv: float = Field(default=1.0, ge=0, description="sensor ADC error bound (S4: <= 1 mV)")
    discharge_current_present_a: float = Field(default=1.0, ge=0, description="internal bit 6 above this")
    supply_current_ma: float = Field(default=60.0, gt=0, description="board draw at 12 V, relays open")
    relay_coil_ma: float = Field(default=8.0, ge=0, description="extra draw per closed relay")
    contact_resistance_ohm: float = Field(default=0.02, ge=0, description="closed relay contact")
    termination_ohm: float = Field(default=120.0, gt=0, description="CAN / RS-485 terminator (seed: 120 Ω)")


class Behaviour(_Section):
    """Twin behaviour flags; a conforming unit has all of them true (one flag = one behaviour)."""

    critical_opens_all: bool = True
    honour_inversion: bool = True
    hysteresis: bool = Field(default=True, description="false: release at the set threshold")
    delays: bool = Field(default=True, description="false: errors set and clear at once")
    heater_control: bool = True
    logic_offline_check: bool = True
    current_sign: bool = Field(default=True, description="false: charging reported negative")
    ev_opens_allow_charging: bool = True
    software_control: bool = Field(default=True, description="false: 0x5100+ writes are ignored")
    heater_hysteresis: bool = Field(default=True, description="false: the heater goes off above on_below_c")


class Hardware(_Section):
    """SIM-ONLY per-unit faults of the simulated unit; all zero = a good unit."""

    current_offset_a: float = 0.0
    contact_resistance_extra_ohm: float = Field(default=0.0, ge=0)
    supply_current_extra_ma: float = Field(default=0.0, ge=0)
    temperature_offset_c: float = Field(default=0.0, description="added to every external temperature input")
    termination_missing: bool = Field(default=False, description="terminators open with the jumper fitted")
    termination_always: bool = Field(default=False, description="terminators in circuit with it removed")

    relay_stuck_closed: int = Field(
        default=0, ge=0, le=4, description="relay n (1-4) whose contact never opens"
    )
    weak_output: int = Field(default=0, ge=0, le=4, description="discrete output n (1-4) with a weak driver")
    weak_output_extra_ohm: float = Field(
        default=0.0, ge=0, description="the weak output's extra source resistance"
    )
    dead_led: str = Field(default="", description="an LED (e.g. DS7) that never lights")
    supply_min_offset_v: float = Field(
        default=0.0, description="the unit runs from the variant's minimum + this (negative: below it too)"
    )


#: the defaults that differ by variant (X8 low range and X9 high range on a 2R:
#: configs/example-main-2r.yaml); every other default is the same on both
VARIANT_DEFAULTS: dict[str, dict[str, Any]] = {
    "main-2.1": {"current_sensors": (CurrentSensor(),)},
    "main-2r": {"current_sensors": (CurrentSensor(rated_a=50.0), CurrentSensor(rated_a=300.0))},
}


class MovicomConfig(BaseModel):
    """The configuration of one Main 2.1 / 2R unit (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    variant: VariantId = "main-2.1"
    protections: Protections = Field(default_factory=Protections)
    charge_control: ChargeControl = Field(default_factory=ChargeControl)
    heater: Heater = Field(default_factory=Heater)
    inputs: tuple[InputAssignment, InputAssignment, InputAssignment, InputAssignment] = (
        InputAssignment(function=InputFunction.CHARGER_CONNECTED),
        InputAssignment(function=InputFunction.INHIBIT_CHARGING),
        InputAssignment(function=InputFunction.INHIBIT_DISCHARGING),
        # OUR EXAMPLE: a cover switch that opens when the cover is lifted (configs/example-*.yaml)
        InputAssignment(function=InputFunction.BATTERY_COVER, inverted=True),
    )
    relays: tuple[RelayAssignment, RelayAssignment, RelayAssignment, RelayAssignment] = (
        RelayAssignment(function="discharge"),
        RelayAssignment(function="allow_charging"),
        RelayAssignment(function="charge"),
        RelayAssignment(function="heater"),
    )
    outputs: tuple[OutputAssignment, OutputAssignment, OutputAssignment, OutputAssignment] = (
        OutputAssignment(function="discharge_allowed"),
        OutputAssignment(function="charge_allowed"),
        OutputAssignment(function="error"),
        OutputAssignment(function="critical_error"),
    )
    can: Can = Field(default_factory=Can)
    modbus: Modbus = Field(default_factory=Modbus)
    current_sensors: tuple[CurrentSensor, ...] = Field(default=(CurrentSensor(),), min_length=1, max_length=2)
    analog: AnalogSensors = Field(default_factory=AnalogSensors)
    logic: LogicAssembly = Field(default_factory=LogicAssembly)
    battery: Battery = Field(default_factory=Battery)
    fixed: Fixed = Field(default_factory=Fixed)
    behaviour: Behaviour = Field(default_factory=Behaviour)
    hardware: Hardware = Field(default_factory=Hardware)

    @model_validator(mode="before")
    @classmethod
    def _variant_defaults(cls, data: Any) -> Any:
        """A key the file leaves out takes its variant's default (a 2R has two current sensors),
        whichever model reads the file: the variant decides the defaults, not the reader."""
        if not isinstance(data, dict):
            return data
        named = data.get("variant", cls.model_fields["variant"].default)
        return {**VARIANT_DEFAULTS.get(str(named), {}), **data}

    @model_validator(mode="after")
    def _consistent(self) -> MovicomConfig:
        for name, direction in PROTECTION_DIRECTIONS.items():
            p: Protection = getattr(self.protections, name)
            where = ("protections", name, "tolerant")
            if direction == "above" and not p.tolerant <= p.set:
                raise _inconsistent(where, f"at or below set ({p.set:g})", p.tolerant)
            if direction == "below" and not p.tolerant >= p.set:
                raise _inconsistent(where, f"at or above set ({p.set:g})", p.tolerant)
        if not self.heater.on_below_c < self.heater.off_above_c:
            raise _inconsistent(
                ("heater", "off_above_c"),
                f"above on_below_c ({self.heater.on_below_c:g})",
                self.heater.off_above_c,
            )
        sensors = len(variant(self.variant).current_sensors)
        if len(self.current_sensors) > sensors:
            raise _inconsistent(
                ("current_sensors",), f"at most {sensors} on {self.variant}", len(self.current_sensors)
            )
        return self

    @property
    def hardware_variant(self) -> Variant:
        """The variant's hardware data (variants.yaml)."""
        return variant(self.variant)

    def input_assigned(self, function: InputFunction) -> tuple[int, ...]:
        """The inputs (0-based) assigned to `function`."""
        return tuple(i for i, a in enumerate(self.inputs) if a.function == function)

    def relay_with(self, function: RelayFunctionName) -> int | None:
        """The first relay (0-based) with `function`, or None."""
        for i, r in enumerate(self.relays):
            if r.function == function:
                return i
        return None


class Main2RConfig(MovicomConfig):
    """A Main 2R's configuration: the same keys, and the 2R's variant (so its defaults) by default."""

    variant: VariantId = "main-2r"


def config_class(variant_id: str) -> type[MovicomConfig]:
    """The configuration model whose defaults are the given variant's."""
    return Main2RConfig if variant_id == "main-2r" else MovicomConfig


def load_config(path: Path | str, variant_id: str = "main-2.1") -> MovicomConfig:
    """Read a configuration file (a file naming no variant is `variant_id`'s); a problem is a
    ConfigError naming the file, key and expectation."""
    path = Path(path)
    data = read_yaml(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), "(top level)", "a mapping of configuration sections")
    named = data.get("variant", variant_id)
    try:  # the variant the file names decides the model and so the defaults of what it leaves out
        return config_class(str(named)).model_validate(data)
    except ValidationError as exc:
        raise validation_to_config_error(path, exc) from None
