"""The 12100 BMS's RS-485 answers: typed values and their INFO layouts, each written once.

One layout per answer (fields.py) serves the twin's encoder and the client's decoder. The layouts
are OUR reading of the Pylontech protocol, described in docs/protocols/bms12100-rs485.md; what a
client makes of an answer (`telemetry_fields_from_analog`) is here too, what the twin puts into
one is in hil/duts/bms12100/sim/answers.py.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, TypedDict

from hil.duts.bms12100 import CELL_COUNT, NTC_NAMES
from hil.duts.bms12100.config import PARAMETERS_BY_PID, Parameter, from_wire
from hil.duts.bms12100.protocol.codes import (
    CHARGE_STATUS_BITS,
    CURRENT_SCALE,
    MANUFACTURER_CHARS,
    NAME_CHARS,
    REQUIREMENT_ID_CHARS,
    SERIAL_CHARS,
    USER_DEFINED_NARROW,
    USER_DEFINED_WIDE,
    EventKind,
    InfoError,
    LimitStatus,
    Status1,
    Status2,
    Status3,
    active_ids,
)
from hil.duts.bms12100.protocol.fields import (
    SELF,
    Ascii,
    Bits,
    Blob,
    Counted,
    Enumerated,
    Field,
    Int,
    Kelvin,
    Layout,
    Octets,
    One,
    Reader,
    Scaled,
    Series,
    Writer,
    itself,
)
from hil.duts.bms12100.protocol.snapshot import Telemetry
from hil.protocols.yd1363 import Rtn

_NUL = b"\x00"
_STATE = Enumerated(LimitStatus, "{name} = {raw:#04x} is not a state byte (00, 01, 02 or F0)")
_MV = Int(2)
_V = Scaled(2, 1000)  # volts sent as mV
_A = Scaled(2, CURRENT_SCALE, signed=True)
_NO_STATUS1, _NO_STATUS2, _NO_STATUS3 = Status1(0), Status2(0), Status3(0)


def _tuple_field(obj: object, name: str) -> None:
    object.__setattr__(obj, name, tuple(getattr(obj, name)))


@dataclass(frozen=True)
class ManufacturerInfo:
    """0x51 answer: device name, software version (major, minor), manufacturer name."""

    device_name: str
    software_version: tuple[int, int]
    manufacturer: str


@dataclass(frozen=True)
class AnalogValues:
    """0x42 answer: one pack's measurements in engineering units, on the wire's grid."""

    pack: int
    cell_mv: tuple[int, ...]
    temperatures_c: tuple[float, ...]  # this BMS: NTC_NAMES order (cell1, cell2, ambient, power)
    current_a: float  # + charge, - discharge
    pack_v: float
    remaining_ah: float
    full_ah: float
    cycles: int
    info_flag: int = 0
    user_defined: int = USER_DEFINED_WIDE

    def __post_init__(self) -> None:
        _tuple_field(self, "cell_mv")
        _tuple_field(self, "temperatures_c")

    @property
    def soc_pct(self) -> float:
        """State of charge implied by the two capacities (0x42 carries no SOC of its own)."""
        return round(100.0 * self.remaining_ah / self.full_ah, 1) if self.full_ah > 0 else 0.0


class AnalogFields(TypedDict):
    """The Telemetry fields 0x42 carries, as `telemetry_fields_from_analog` returns them."""

    cell_mv: list[int]
    temperatures_c: list[float]
    pack_v: float
    current_a: float
    soc_pct: float
    remaining_ah: float
    full_ah: float
    cycles: int


def telemetry_fields_from_analog(a: AnalogValues) -> AnalogFields:
    """The Telemetry fields a 0x42 answer fills (SOC derived from the capacities)."""
    return AnalogFields(
        cell_mv=list(a.cell_mv),
        temperatures_c=list(a.temperatures_c),
        pack_v=a.pack_v,
        current_a=a.current_a,
        soc_pct=a.soc_pct,
        remaining_ah=a.remaining_ah,
        full_ah=a.full_ah,
        cycles=a.cycles,
    )


def apply_analog(t: Telemetry, a: AnalogValues) -> Telemetry:
    """A copy of `t` with the fields a 0x42 answer carries replaced."""
    return replace(t, **telemetry_fields_from_analog(a))


class _Capacities(Field):
    """0x42's tail: remaining, user-defined count, full, cycles, then (count 4) 3-byte capacities.

    With count 4 the 2-byte capacities saturate at 0xFFFF and the 3-byte ones carry the value.
    """

    def write(self, w: Writer, obj: Any) -> None:
        remaining, full = round(obj.remaining_ah * 1000), round(obj.full_ah * 1000)
        if obj.user_defined == USER_DEFINED_NARROW:
            w.uint(remaining, 2, "remaining mAh").uint(USER_DEFINED_NARROW, 1, "user-defined count")
            w.uint(full, 2, "full mAh").uint(obj.cycles, 2, "cycles")
        elif obj.user_defined == USER_DEFINED_WIDE:
            w.uint(min(remaining, 0xFFFF), 2, "remaining mAh").uint(
                USER_DEFINED_WIDE, 1, "user-defined count"
            )
            w.uint(min(full, 0xFFFF), 2, "full mAh").uint(obj.cycles, 2, "cycles")
            w.uint(remaining, 3, "remaining mAh (3 bytes)").uint(full, 3, "full mAh (3 bytes)")
        else:
            raise ValueError(f"user_defined must be 2 or 4, got {obj.user_defined}")

    def read(self, r: Reader, out: dict[str, Any]) -> None:
        remaining = r.uint(2, "remaining mAh")
        user_defined = r.uint(1, "user-defined count")
        full, cycles = r.uint(2, "full mAh"), r.uint(2, "cycles")
        if user_defined == USER_DEFINED_WIDE:
            remaining, full = r.uint(3, "remaining mAh (3 bytes)"), r.uint(3, "full mAh (3 bytes)")
        elif user_defined != USER_DEFINED_NARROW:
            raise r.error(f"user-defined count must be 2 or 4, got {user_defined}")
        out.update(
            remaining_ah=remaining / 1000, full_ah=full / 1000, cycles=cycles, user_defined=user_defined
        )


@dataclass(frozen=True)
class AlarmInfo:
    """0x44 answer: Pylontech's per-value state bytes and status bytes, then our ID flag bytes."""

    pack: int
    cell_status: tuple[LimitStatus, ...]
    temperature_status: tuple[LimitStatus, ...]
    charge_current_status: LimitStatus = LimitStatus.NORMAL
    pack_voltage_status: LimitStatus = LimitStatus.NORMAL
    discharge_current_status: LimitStatus = LimitStatus.NORMAL
    status1: Status1 = _NO_STATUS1
    status2: Status2 = _NO_STATUS2
    status3: Status3 = _NO_STATUS3
    cell_errors: int = 0  # Status4 = cells 1-8 (bit 0 = cell 1), Status5 = cells 9-16
    flags: bytes = b""  # our extension: ALARM_FLAG_BITS
    info_flag: int = 0

    def __post_init__(self) -> None:
        _tuple_field(self, "cell_status")
        _tuple_field(self, "temperature_status")
        object.__setattr__(self, "flags", bytes(self.flags))

    @property
    def charge_fet(self) -> bool:
        """Charge MOSFET on (Status2)."""
        return Status2.CHARGE_MOSFET in self.status2

    @property
    def discharge_fet(self) -> bool:
        """Discharge MOSFET on (Status2)."""
        return Status2.DISCHARGE_MOSFET in self.status2


def active_ids_from_alarm_info(a: AlarmInfo) -> frozenset[str]:
    """Telemetry.active as a 0x44 answer reports it (our flag bytes only; a set reserved bit raises).

    An answer without flag bytes (a plain Pylontech pack) reports no IDs.
    """
    return active_ids(a.flags)


@dataclass(frozen=True)
class SystemParameters:
    """0x47 answer: the limits Pylontech publishes, filled from the BMS settings."""

    cell_high_voltage_limit_mv: int
    cell_low_voltage_limit_mv: int
    cell_under_voltage_limit_mv: int
    charge_high_temperature_limit_c: float
    charge_low_temperature_limit_c: float
    charge_current_limit_a: float
    pack_high_voltage_limit_v: float
    pack_low_voltage_limit_v: float
    pack_under_voltage_limit_v: float
    discharge_high_temperature_limit_c: float
    discharge_low_temperature_limit_c: float
    discharge_current_limit_a: float  # negative: discharge direction
    info_flag: int = 0


@dataclass(frozen=True)
class ChargeManagement:
    """0x92 answer: recommended limits and the request bits for the charger/inverter."""

    pack: int
    charge_voltage_limit_v: float
    discharge_voltage_limit_v: float
    charge_current_limit_a: float
    discharge_current_limit_a: float  # negative: discharge direction, as on the wire
    charge_enable: bool
    discharge_enable: bool
    charge_immediately: bool = False  # Pylontech: SOC 5-9 %
    charge_immediately_2: bool = False  # Pylontech: SOC 9-13 %
    full_charge_request: bool = False


@dataclass(frozen=True)
class SerialNumber:
    """0x93 answer."""

    pack: int
    serial: str


@dataclass(frozen=True)
class ParameterValue:
    """0xD0/0xD1 payload: a vendor parameter number and its int32 wire value."""

    pid: int
    raw: int

    @property
    def parameter(self) -> Parameter:
        """The settings entry of this number (KeyError if the number is unknown)."""
        return PARAMETERS_BY_PID[self.pid]

    @property
    def value(self) -> float | int | bool:
        """The setting value this wire value stands for.

        An answer naming a parameter number this BMS does not have raises InfoError (a bad
        answer is a protocol error, not a KeyError deep in the client; found by benchmarks/fuzz.py).
        """
        param = PARAMETERS_BY_PID.get(self.pid)
        if param is None:
            raise InfoError(
                f"parameter number {self.pid:#06x} is not a parameter of this BMS", Rtn.INVALID_DATA
            )
        return from_wire(param, self.raw)


@dataclass(frozen=True)
class HistoryRecord:
    """0xD3 answer: one stored event with the measurements at that moment."""

    index: int
    time_s: int  # seconds on the BMS's clock (since boot, or epoch once the clock is set)
    kind: EventKind
    requirement_id: str
    cell_mv: tuple[int, ...]  # CELL_COUNT values
    pack_v: float
    current_a: float
    temperatures_c: tuple[float, ...]  # NTC_NAMES order

    def __post_init__(self) -> None:
        _tuple_field(self, "cell_mv")
        _tuple_field(self, "temperatures_c")


MANUFACTURER_INFO = Layout(
    "GET_MANUFACTURER_INFO response",
    ManufacturerInfo,
    (
        One("device_name", Ascii(NAME_CHARS, _NUL), "device name"),
        Series("software_version", Int(1), ("software major", "software minor")),
        One("manufacturer", Ascii(MANUFACTURER_CHARS, _NUL)),
    ),
)
ANALOG_VALUES = Layout(
    "GET_ANALOG_VALUES response",
    AnalogValues,
    (
        One("info_flag", Int(1)),
        One("pack", Int(1)),
        Counted("cell_mv", _MV, "cell count", "cell {i} mV"),
        Counted("temperatures_c", Kelvin(), "temperature count", "temperature {i}"),
        One("current_a", _A, "current"),
        One("pack_v", _V, "pack mV"),
        _Capacities(),
    ),
)
ALARM_INFO = Layout(
    "GET_ALARM_INFO response",
    AlarmInfo,
    (
        One("info_flag", Int(1)),
        One("pack", Int(1)),
        Counted("cell_status", _STATE, "cell count", "cell {i} state"),
        Counted("temperature_status", _STATE, "temperature count", "temperature {i} state"),
        One("charge_current_status", _STATE, "charge current state"),
        One("pack_voltage_status", _STATE, "pack voltage state"),
        One("discharge_current_status", _STATE, "discharge current state"),
        One("status1", Enumerated(Status1)),
        One("status2", Enumerated(Status2)),
        One("status3", Enumerated(Status3)),
        Octets("cell_errors", ("status4 (cells 1-8)", "status5 (cells 9-16)")),
        Blob("flags", "flag byte count", "flag bytes"),
    ),
)
SYSTEM_PARAMETERS = Layout(
    "GET_SYSTEM_PARAMETERS response",
    SystemParameters,
    (
        One("info_flag", Int(1)),
        One("cell_high_voltage_limit_mv", _MV, "cell high voltage limit"),
        One("cell_low_voltage_limit_mv", _MV, "cell low voltage limit"),
        One("cell_under_voltage_limit_mv", _MV, "cell under voltage limit"),
        One("charge_high_temperature_limit_c", Kelvin(), "charge high temperature limit"),
        One("charge_low_temperature_limit_c", Kelvin(), "charge low temperature limit"),
        One("charge_current_limit_a", _A, "charge current limit"),
        One("pack_high_voltage_limit_v", _V, "pack high voltage limit"),
        One("pack_low_voltage_limit_v", _V, "pack low voltage limit"),
        One("pack_under_voltage_limit_v", _V, "pack under voltage limit"),
        One("discharge_high_temperature_limit_c", Kelvin(), "discharge high temperature limit"),
        One("discharge_low_temperature_limit_c", Kelvin(), "discharge low temperature limit"),
        One("discharge_current_limit_a", _A, "discharge current limit"),
    ),
)
CHARGE_MANAGEMENT = Layout(
    "GET_CHARGE_MANAGEMENT response",
    ChargeManagement,
    (
        One("pack", Int(1)),
        One("charge_voltage_limit_v", _V, "charge voltage limit"),
        One("discharge_voltage_limit_v", _V, "discharge voltage limit"),
        One("charge_current_limit_a", _A, "charge current limit"),
        One("discharge_current_limit_a", _A, "discharge current limit"),
        Bits("status", CHARGE_STATUS_BITS),
    ),
)
SERIAL_NUMBER = Layout(
    "GET_SERIAL_NUMBER response",
    SerialNumber,
    (One("pack", Int(1)), One("serial", Ascii(SERIAL_CHARS, _NUL))),
)
_PARAMETER = (One("pid", Int(2)), One("raw", Int(4, signed=True), "value"))
READ_PARAMETER = Layout("READ_PARAMETER response", ParameterValue, _PARAMETER)
WRITE_PARAMETER = Layout("WRITE_PARAMETER response", ParameterValue, _PARAMETER)
HISTORY_COUNT: Layout[int] = Layout("GET_HISTORY_COUNT response", itself, (One(SELF, Int(2), "count"),))
HISTORY_RECORD = Layout(
    "READ_HISTORY response",
    HistoryRecord,
    (
        One("index", Int(2)),
        One("time_s", Int(4)),
        One("kind", Enumerated(EventKind, "event kind {raw} is neither 1 (trigger) nor 2 (release)")),
        One("requirement_id", Ascii(REQUIREMENT_ID_CHARS, b" ")),
        Series("cell_mv", _MV, tuple(f"cell {i} mV" for i in range(1, CELL_COUNT + 1))),
        One("pack_v", _V, "pack mV"),
        One("current_a", _A, "current"),
        Series("temperatures_c", Kelvin(), tuple(f"{name} temperature" for name in NTC_NAMES)),
    ),
)
REMAINING_CAPACITY: Layout[float] = Layout(
    "SET_REMAINING_CAPACITY response", itself, (One(SELF, Scaled(4, 100), "remaining (10 mAh)"),)
)
