"""The station file schema (pydantic): instruments by role, DUT buses, simulation parameters."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

RoleKind = Literal[
    "power_supply",
    "electronic_load",
    "cell_emulator",
    "temperature_emulator",
    "dmm",
    "switch",
    "climatic_chamber",
    "pressure_controller",
    "analog_source",
    "led_analyser",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _ordered(low: float | None, high: float | None, what: str) -> None:
    if low is not None and high is not None and low > high:
        raise ValueError(f"{what}: the minimum {low:g} is above the maximum {high:g}")


class LimitsModel(_Strict):
    """Safe operating limits of one instrument on this bench (its rating, its wiring).

    The drivers refuse a setting beyond them before it is sent; where the DUT's limits are
    tighter (`dut.limits`), those apply.
    """

    voltage_max: float | None = Field(default=None, description="V, the highest voltage setting")
    voltage_min: float | None = Field(default=None, description="V, the lowest voltage setting")
    current_max: float | None = Field(default=None, ge=0, description="A, the highest current setting")
    resistance_min: float | None = Field(default=None, ge=0, description="Ω, the lowest resistance")
    resistance_max: float | None = Field(default=None, gt=0, description="Ω, the highest resistance")
    temperature_min: float | None = Field(default=None, description="°C, the lowest chamber setpoint")
    temperature_max: float | None = Field(default=None, description="°C, the highest chamber setpoint")
    humidity_min: float | None = Field(
        default=None, ge=0, le=100, description="%RH, the lowest humidity the chamber controls to"
    )
    humidity_max: float | None = Field(
        default=None, ge=0, le=100, description="%RH, the highest humidity setpoint"
    )
    pressure_min: float | None = Field(
        default=None,
        ge=0,
        description="kPa absolute, the lowest pressure setpoint (the controller's reachable floor)",
    )
    pressure_max: float | None = Field(
        default=None, gt=0, description="kPa absolute, the highest pressure setpoint (the enclosure's)"
    )
    voltage_slew_max: float | None = Field(
        default=None, gt=0, description="V/s, the fastest voltage change (programmed into the instrument)"
    )
    current_slew_max: float | None = Field(
        default=None, gt=0, description="A/s, the fastest current change (programmed into the instrument)"
    )

    @model_validator(mode="after")
    def _min_below_max(self) -> LimitsModel:
        _ordered(self.voltage_min, self.voltage_max, "voltage")
        _ordered(self.resistance_min, self.resistance_max, "resistance")
        _ordered(self.temperature_min, self.temperature_max, "temperature")
        _ordered(self.humidity_min, self.humidity_max, "humidity")
        _ordered(self.pressure_min, self.pressure_max, "pressure")
        return self


class DutLimitsModel(_Strict):
    """What the DUT may be exposed to on this bench; every stimulus is refused beyond it.

    Mapped onto the roles: cell voltages (and their sum) on the cell emulator, the pack-port
    voltage and charge current on the charger, discharge current and short circuits on the load,
    emulated temperatures on the temperature emulator.
    """

    cell_voltage_min: float = Field(ge=0, description="V, lowest cell voltage programmed")
    cell_voltage_max: float = Field(gt=0, description="V, highest cell voltage programmed")
    pack_voltage_max: float = Field(gt=0, description="V, highest voltage on P+/P- and of the cells added up")
    charge_current_max: float = Field(ge=0, description="A, highest charge current (the charger's limit)")
    discharge_current_max: float = Field(ge=0, description="A, highest discharge current (load, pulses)")
    short_circuit: bool = Field(default=False, description="whether the load may short the output")
    temperature_min: float = Field(ge=-273.15, description="°C, lowest emulated temperature")
    temperature_max: float = Field(description="°C, highest emulated temperature")

    @model_validator(mode="after")
    def _min_below_max(self) -> DutLimitsModel:
        _ordered(self.cell_voltage_min, self.cell_voltage_max, "cell voltage")
        _ordered(self.temperature_min, self.temperature_max, "temperature")
        return self


class AccuracyModel(_Strict):
    """Accuracy of a measurement function (± gain·|reading| + offset), for uncertainty budgets."""

    gain: float = Field(ge=0)
    offset: float = Field(ge=0)
    resolution: float = Field(default=0.0, ge=0)
    source: str = Field(
        default="",
        description="where the figure comes from (data sheet, table, range); 'OUR READING: ...' when "
        "it is not confirmed from one (shown in the report's instrument table)",
    )


class InstrumentModel(_Strict):
    """One instrument on the bench, in the role the test plans use it for."""

    role: RoleKind
    driver: str = Field(description="driver name from the registry, e.g. keysight-n8900")
    model: str = Field(description="the exact instrument model, e.g. 'Keysight N8940A'")
    resource: str = Field(description="VISA resource string")
    channels: dict[str, str] = Field(description="DUT terminal -> instrument channel")
    limits: LimitsModel = Field(default=LimitsModel(), description="safe operating limits on this bench")
    accuracy: dict[str, AccuracyModel] = Field(
        default={}, description="measurement function (voltage, current...) -> accuracy, for uncertainties"
    )
    asset_id: str = Field(description="the lab's inventory number (in the report)")
    serial: str = Field(default="", description="the instrument's serial number (quote it if all digits)")
    calibration_due: dt.date = Field(description="YYYY-MM-DD; a run stops before any stimulus after it")
    timeout_s: float = Field(default=5.0, gt=0, description="how long one answer may take (s)")
    retries: int = Field(
        default=2, ge=0, le=5, description="further attempts of a read-only query after a timeout"
    )

    @field_validator("channels")
    @classmethod
    def _channels_not_empty(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("at least one DUT terminal -> channel mapping")
        return {str(k): str(v) for k, v in value.items()}


class CanBusModel(_Strict):
    """The DUT's CAN bus as python-can opens it."""

    interface: str = Field(description="python-can interface: socketcand, socketcan, pcan, kvaser...")
    channel: str = Field(description="adapter channel: can0 (socketcan), PCAN_USBBUS1 (pcan)...")
    bitrate: int = Field(gt=0, description="bit/s")
    host: str | None = Field(default=None, description="socketcand: the server's host")
    port: int | None = Field(default=None, gt=0, lt=65536, description="socketcand: the server's port")

    @model_validator(mode="after")
    def _socketcand_needs_host(self) -> CanBusModel:
        if self.interface == "socketcand" and (self.host is None or self.port is None):
            raise ValueError("interface socketcand needs host and port")
        return self


class SerialBusModel(_Strict):
    """The DUT's RS-485 as pyserial opens it (a device path or a URL such as socket://)."""

    url: str = Field(description="/dev/ttyUSB0, /dev/serial/by-id/..., or socket://host:port")
    baudrate: int = Field(gt=0, description="bit/s")
    rs485: bool = Field(default=False, description="enable the adapter's RS-485 mode (real adapters only)")
    # a 9600 Bd answer of ~150 characters takes ~160 ms on the wire, plus the DUT's own latency
    timeout_s: float = Field(default=1.0, gt=0, description="how long the DUT's answer may take (s)")


class ModbusTcpBusModel(_Strict):
    """The DUT's Modbus TCP endpoint as pymodbus opens it (or a Modbus RTU gateway's)."""

    host: str = Field(description="the DUT's (or the gateway's) address")
    port: int = Field(default=502, gt=0, lt=65536, description="TCP port (Modbus: 502)")
    unit: int = Field(default=1, ge=0, le=255, description="the Modbus unit (slave) ID")
    timeout_s: float = Field(default=1.0, gt=0, description="how long the DUT's answer may take (s)")


class BusesModel(_Strict):
    """The DUT's buses, each optional: a DUT family declares which it uses (hil.family.Bus; the
    field names are that vocabulary), and a station without one of them is refused for it."""

    can: CanBusModel | None = None
    rs485: SerialBusModel | None = None
    modbus_tcp: ModbusTcpBusModel | None = None


class DutModel(_Strict):
    """Which DUT family this station is wired for, and its bus address."""

    name: str = Field(description="the DUT family: an installed `hil.duts` entry point (docs/families.md)")
    address: int = Field(default=1, ge=0, le=255, description="the DUT's bus address")
    limits: DutLimitsModel | None = Field(default=None, description="required on a real bench")


class SimModel(_Strict):
    """Parameters of the simulated lab (only for simulated stations)."""

    seed: int = Field(
        default=1, description="noise seed of the simulated lab (`hil run --seed` overrides it)"
    )
    battery_ohm: float = Field(
        default=0.01, gt=0, description="resistance of cells, interconnects and BMS path seen from P+/P-"
    )
    dut_serial: str | None = Field(
        default=None,
        description="the serial number the simulated unit reports (default: the twin's own; "
        "a D1000 whose configuration leaves serialNumber at 0 reports 1001)",
    )
    attach: str | None = Field(
        default=None,
        pattern=r"^tcp://[^:/]+:\d+$",
        description="control port of a lab already running (tcp://HOST:PORT): used instead of "
        "starting one, and left running after the run",
    )


class LabModel(_Strict):
    """The laboratory that runs the station, as a test report names it (ISO/IEC 17025 §7.8.2.1 b).

    Older station files give `lab` as one line of text: it loads as the lab's name, no address.
    """

    name: str = Field(min_length=1, description="the laboratory's name")
    address: str = Field(default="", description="where the tests are performed (postal address)")
    accreditation: str = Field(
        default="", description="accreditation body and number, e.g. 'DAkkS D-PL-12345-01-00' (optional)"
    )
    contact: str = Field(default="", description="who answers questions about the report (e-mail, phone)")


class StationModel(_Strict):
    """A complete station file."""

    name: str = Field(description="the station's name (in the report)")
    description: str = Field(default="", description="one line about the bench")
    lab: LabModel | None = Field(default=None, description="the laboratory (a block; a plain string = name)")
    simulated: bool = Field(description="true: the simulated lab; false: real instruments")
    dut: DutModel = Field(description="the DUT this station is wired for")
    buses: BusesModel = Field(description="the DUT's buses")
    instruments: dict[str, InstrumentModel] = Field(description="instrument name -> instrument")
    expectations: dict[str, float] = Field(
        default={}, description="bench-specific expectations, e.g. voltage_protection_delay_max_s"
    )
    sim: SimModel | None = Field(default=None, description="simulated stations only")
    visa_library: str = Field(
        default="@py",
        description="the VISA library pyvisa opens instruments with: @py (pyvisa-py, the default), "
        "@ivi (an installed IVI VISA such as NI-VISA or Keysight IO Libraries) or the path of a VISA "
        "shared library",
    )

    @field_validator("lab", mode="before")
    @classmethod
    def _lab_as_text(cls, value: object) -> object:
        """`lab: Some Lab` (the old form) is the lab's name; an empty string is no lab."""
        if isinstance(value, str):
            return {"name": value} if value.strip() else None
        return value

    @model_validator(mode="after")
    def _sim_section(self) -> StationModel:
        if self.simulated and self.sim is None:
            self.sim = SimModel()
        if not self.simulated and self.sim is not None:
            raise ValueError("a 'sim' section is only allowed when simulated is true")
        return self

    def by_role(self, role: RoleKind) -> tuple[str, InstrumentModel]:
        """The (name, instrument) filling a role; the plan asks for roles, not names."""
        for name, inst in self.instruments.items():
            if inst.role == role:
                return name, inst
        raise KeyError(role)
