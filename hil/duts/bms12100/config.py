"""The 12100 BMS's configuration (its firmware settings): the seed's "set values" table (§6.1), pydantic.

The twin reads its behaviour from these; `hil dut config bms12100` prints the defaults and
`hil run --dut-config FILE` loads a changed copy. Every settable value also has a parameter
number for the vendor RS-485 commands (see `PARAMETERS`), so the plan can read and write them.
Sections `fixed` (not settable on the real BMS), `behaviour` (twin behaviour flags used to
build non-conforming units) and `hardware` (SIM-ONLY per-unit hardware faults) have no parameter
numbers.
"""

from __future__ import annotations

import contextlib
import functools
import operator
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hil.duts.bms12100.rules import THRESHOLDS, validate_settings


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class VoltageAlarm(_Section):
    """An alarm on a voltage: trips beyond `trigger`, releases back beyond `release`."""

    enabled: bool
    trigger: float
    release: float
    delay_ms: int = 1000


class OverVoltageProtection(VoltageAlarm):
    """Charging blocked; releases on (value < release AND SOC < release_soc) OR discharge."""

    release_soc_pct: float = 96.0
    release_discharge_a: float = 3.0


class UnderVoltageProtection(VoltageAlarm):
    """Discharging blocked; releases on a charge current; shuts down after a minute."""

    release_charge_a: float = 1.0
    shutdown_after_s: int = 60


class TemperatureLimits(_Section):
    """High/low alarm and protection pairs (trigger, release) in °C for one group of NTCs."""

    enabled: bool = True
    high_alarm_c: float
    high_alarm_release_c: float
    over_c: float
    over_release_c: float
    low_alarm_c: float | None = None
    low_alarm_release_c: float | None = None
    under_c: float | None = None
    under_release_c: float | None = None
    delay_ms: int = 2000


class CurrentAlarm(_Section):
    enabled: bool
    trigger_a: float
    release_a: float


class CurrentProtection(_Section):
    enabled: bool
    trigger_a: float
    delay_ms: int
    auto_release_s: int = 60


class TransientProtection(CurrentProtection):
    lock_enabled: bool = False
    lock_count: int = 5


class ShortCircuit(_Section):
    lock_enabled: bool = True
    lock_count: int = 5
    auto_release_s: int = 60


class EffectiveCurrent(_Section):
    enter_ma: int
    exit_ma: int


class Balancing(_Section):
    standby_enabled: bool = True
    standby_time_h: int = 10
    charge_enabled: bool = True
    start_mv: int = 3400
    open_diff_mv: int = 30
    end_diff_mv: int = 20
    high_temp_ban_c: float = 50.0
    low_temp_ban_c: float = 0.0


class CellFailure(_Section):
    enabled: bool = True
    trigger_diff_mv: int = 500
    release_diff_mv: int = 300


class Capacity(_Section):
    rated_ah: float = 100.0
    cycle_threshold_pct: float = 80.0


class SocLimit(_Section):
    enabled: bool
    trigger_pct: float


class Precharge(_Section):
    time_ms: int = 2000


class PowerManagement(_Section):
    sleep_enabled: bool = True
    max_standby_h: int = 48


class Fixed(_Section):
    """Values fixed in firmware (not settable on the real unit); the twin still reads them."""

    charger_overvoltage_v: float = 18.0
    charge_mode_min_charger_v: float = 11.5
    short_circuit_a: float = -400.0
    short_circuit_delay_us: int = 300


class Behaviour(_Section):
    """Twin behaviour flags; a conforming unit has all of them true.

    Each flag set to false removes exactly one behaviour of the firmware (a non-conforming unit);
    the twin's modules say where each one acts.
    """

    ovp_release_on_recovery: bool = True
    ovp_release_on_discharge: bool = True
    uvp_release_on_charge: bool = True
    chg_hv_release: bool = True
    # UVP: the re-check of the recovery value when the firmware (re)boots (wake, reset button)
    uvp_release_on_reboot: bool = True
    # TC/TD/TE/TP over- and under-temperature protections: release on the recovery value
    temperature_release_on_recovery: bool = True
    # current protections: release by the opposite current, and the automatic release
    ic_ocp_release_on_discharge: bool = True
    ic_ocp_auto_release: bool = True
    id_ocp_release_on_charge: bool = True
    id_ocp_auto_release: bool = True
    id_tocp_release_on_charge: bool = True
    id_tocp_auto_release: bool = True
    scp_release_on_charge: bool = True
    scp_auto_release: bool = True
    # SOC-LP: release when the SOC is back above the threshold
    soc_lp_release_on_recovery: bool = True
    # ID-TLOCK and SCP-LOCK: a charger releases the lock; the lock counter counts trips
    lock_release_on_charger: bool = True
    count_consecutive_trips: bool = True
    # balancing: no balancing beyond the temperature limits; standby balancing time limit
    balancing_temperature_ban: bool = True
    standby_balancing_time_limit: bool = True
    # PM-SLEEP: power_management.sleep_enabled = false keeps the unit awake
    sleep_enabled_flag_respected: bool = True
    # PRE: precharge also when the discharge MOSFET turns on (not only at start-up)
    precharge_on_discharge_switch_on: bool = True
    # PM-WAKE: each wake-up source
    wake_on_charger: bool = True
    wake_on_rs485: bool = True
    wake_on_button: bool = True


class Hardware(_Section):
    """SIM-ONLY: per-unit hardware faults of the simulated unit (docs/eol.md); defaults = a good unit.

    Not firmware and not a parameter: no parameter number, never read or written over RS-485, so
    no plan can reach it; only the firmware file the simulator loads (`--firmware`) sets it. A real
    unit's configuration has no such section. The twin applies it (twin/hardware.py).
    """

    cell_channel: int = Field(default=0, ge=0, le=4)  # 1-4: the cell channel with the errors below
    cell_gain: float = 0.0  # extra relative gain error of that channel
    cell_offset_mv: float = 0.0  # extra offset of that channel
    current_gain: float = 0.0  # extra relative gain error of the current channel
    current_offset_a: float = 0.0
    path_extra_mohm: float = Field(default=0.0, ge=0.0)  # FET resistance too high (EL-RDS)
    charge_fet_stuck_on: bool = False  # the charge MOSFET does not open
    discharge_fet_stuck_on: bool = False  # the discharge MOSFET does not open
    short_circuit_level_a: float | None = Field(default=None, lt=0.0)  # comparator level (A)
    sleep_current_ua: float | None = Field(default=None, ge=0.0)  # supply current when shut down
    open_bleed_cell: int = Field(default=0, ge=0, le=4)  # 1-4: that cell's bleed resistor is open
    ntc_channel: int = Field(default=0, ge=0, le=4)  # 1-4: cell1, cell2, ambient, power NTC input
    ntc_offset_c: float = 0.0  # extra offset of that NTC channel


class Bms12100Config(_Section):
    """The complete firmware configuration of one unit (the family's `config` model)."""

    cell_high_voltage_alarm: VoltageAlarm = VoltageAlarm(enabled=False, trigger=3500, release=3400)
    cell_low_voltage_alarm: VoltageAlarm = VoltageAlarm(enabled=True, trigger=2900, release=3100)
    cell_overvoltage_protection: OverVoltageProtection = OverVoltageProtection(
        enabled=True, trigger=3650, release=3400, release_soc_pct=96.0, release_discharge_a=3.0
    )
    cell_undervoltage_protection: UnderVoltageProtection = UnderVoltageProtection(
        enabled=True, trigger=2800, release=3100
    )
    pack_high_voltage_alarm: VoltageAlarm = VoltageAlarm(enabled=False, trigger=14.0, release=13.5)
    pack_low_voltage_alarm: VoltageAlarm = VoltageAlarm(enabled=True, trigger=11.8, release=12.5)
    pack_overvoltage_protection: OverVoltageProtection = OverVoltageProtection(
        enabled=True, trigger=14.5, release=13.5, release_soc_pct=96.0, release_discharge_a=3.0
    )
    pack_undervoltage_protection: UnderVoltageProtection = UnderVoltageProtection(
        enabled=True, trigger=11.4, release=12.5
    )
    charge_temperature: TemperatureLimits = TemperatureLimits(
        high_alarm_c=50, high_alarm_release_c=47, over_c=60, over_release_c=50,
        low_alarm_c=2, low_alarm_release_c=5, under_c=-10, under_release_c=0,
    )  # fmt: skip
    discharge_temperature: TemperatureLimits = TemperatureLimits(
        high_alarm_c=52, high_alarm_release_c=47, over_c=60, over_release_c=50,
        low_alarm_c=-10, low_alarm_release_c=3, under_c=-20, under_release_c=-10,
    )  # fmt: skip
    ambient_temperature: TemperatureLimits = TemperatureLimits(
        high_alarm_c=50, high_alarm_release_c=47, over_c=60, over_release_c=55,
        low_alarm_c=-10, low_alarm_release_c=3, under_c=-20, under_release_c=-10,
    )  # fmt: skip
    power_temperature: TemperatureLimits = TemperatureLimits(
        high_alarm_c=80, high_alarm_release_c=75, over_c=100, over_release_c=85
    )
    charge_overcurrent_alarm: CurrentAlarm = CurrentAlarm(enabled=True, trigger_a=80, release_a=77)
    charge_overcurrent_protection: CurrentProtection = CurrentProtection(
        enabled=True, trigger_a=100, delay_ms=10000
    )
    effective_charge_current: EffectiveCurrent = EffectiveCurrent(enter_ma=300, exit_ma=250)
    discharge_overcurrent_alarm: CurrentAlarm = CurrentAlarm(enabled=True, trigger_a=-105, release_a=-103)
    discharge_overcurrent_protection: CurrentProtection = CurrentProtection(
        enabled=True, trigger_a=-110, delay_ms=10000
    )
    transient_overcurrent_protection: TransientProtection = TransientProtection(
        enabled=True, trigger_a=-200, delay_ms=100
    )
    short_circuit_protection: ShortCircuit = ShortCircuit()
    effective_discharge_current: EffectiveCurrent = EffectiveCurrent(enter_ma=-200, exit_ma=-150)
    balancing: Balancing = Balancing()
    cell_failure_alarm: CellFailure = CellFailure()
    capacity: Capacity = Capacity()
    soc_alarm: SocLimit = SocLimit(enabled=True, trigger_pct=15)
    soc_protection: SocLimit = SocLimit(enabled=False, trigger_pct=5)
    precharge: Precharge = Precharge()
    power_management: PowerManagement = PowerManagement()
    fixed: Fixed = Fixed()
    behaviour: Behaviour = Behaviour()
    hardware: Hardware = Hardware()

    def get(self, path: str) -> Any:
        """Value at a dotted path such as "cell_overvoltage_protection.trigger"."""
        return _getter(path)(self)

    def set(self, path: str, value: Any) -> None:
        """Set the value at a dotted path (validated)."""
        section, _, name = path.partition(".")
        setattr(getattr(self, section), name, value)

    def config_problems(self) -> list[tuple[str, str]]:
        """What the firmware refuses in this set, as (settings path, expected): the rules of rules.py.

        Loading a settings file runs these (hil.config.SelfChecking), so `hil run --dut-config` stops
        with exit 2 naming the field before the plan starts instead of the lab refusing the file.
        """
        release_paths = {t.rid: t.release or t.trigger for t in THRESHOLDS.values()}
        return [self._problem_field(problem, release_paths) for problem in validate_settings(self)]

    def _problem_field(self, problem: str, release_paths: dict[str, str]) -> tuple[str, str]:
        """One sentence of the twin's validator as (field, expected)."""
        key, sep, rest = problem.partition(": ")
        if not sep:
            return "(top level)", f"settings the firmware accepts ({problem})"
        if key in release_paths:  # "CV-OVP: release 3700 is above trigger 3650"
            return release_paths[key], f"a release on the non-tripping side of the trigger ({problem})"
        if key in Bms12100Config.model_fields:  # "balancing: needs end_diff_mv <= open_diff_mv"
            named = re.match(r"needs (\w+)", rest)
            return (f"{key}.{named.group(1)}" if named else key), f"settings the firmware accepts: {rest}"
        expected = f"a value the firmware accepts: {rest}"
        if "got" not in rest:
            with contextlib.suppress(AttributeError):
                expected += f" (got {self.get(key)!r})"
        return key, expected


#: the older name of Bms12100Config (deprecated: one word, `config`, for a DUT's configuration)
Settings = Bms12100Config


_NOT_SETTABLE = ("fixed", "behaviour", "hardware")
# Integer scale of each value on the wire, by the unit its name or section implies.
_VOLTAGE_SECTIONS_V = ("pack_",)


@dataclass(frozen=True)
class Parameter:
    """One settable value as the vendor RS-485 commands carry it: a number and an int32 scale."""

    pid: int
    path: str
    scale: float  # wire integer = round(value * scale)
    unit: str


def _unit_and_scale(section: str, name: str) -> tuple[str, float]:
    if name in ("trigger", "release"):
        return ("V", 1000.0) if section.startswith(_VOLTAGE_SECTIONS_V) else ("mV", 1.0)
    for suffix, unit, scale in (
        ("_mv", "mV", 1.0), ("_ma", "mA", 1.0), ("_ms", "ms", 1.0), ("_us", "us", 1.0),
        ("_s", "s", 1.0), ("_h", "h", 1.0), ("_ah", "Ah", 100.0), ("_a", "A", 100.0),
        ("_c", "°C", 10.0), ("_pct", "%", 10.0), ("_v", "V", 1000.0),
    ):  # fmt: skip
        if name.endswith(suffix):
            return unit, scale
    return "", 1.0  # enabled flags and counts


def _build_parameters() -> tuple[Parameter, ...]:
    params: list[Parameter] = []
    pid = 0x0100
    for section, info in Bms12100Config.model_fields.items():
        if section in _NOT_SETTABLE:
            continue
        model = info.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        for name in model.model_fields:
            unit, scale = _unit_and_scale(section, name)
            params.append(Parameter(pid, f"{section}.{name}", scale, unit))
            pid += 1
    return tuple(params)


PARAMETERS: tuple[Parameter, ...] = _build_parameters()
PARAMETERS_BY_PID = {p.pid: p for p in PARAMETERS}
PARAMETERS_BY_PATH = {p.path: p for p in PARAMETERS}


def to_wire(settings: Bms12100Config, param: Parameter) -> int:
    """The int32 the BMS sends for a parameter."""
    value = settings.get(param.path)
    return 0 if value is None else round(float(value) * param.scale)


def from_wire(param: Parameter, raw: int) -> float | int | bool:
    """The setting value for an int32 received for a parameter."""
    if param.path.endswith((".enabled", "_enabled")):
        return bool(raw)
    value = raw / param.scale
    return (
        int(value) if param.scale == 1.0 and param.unit in ("mV", "mA", "ms", "us", "s", "h", "") else value
    )


@functools.cache
def _getter(path: str) -> operator.attrgetter[Any]:
    """A getter for a dotted settings path (the twin reads settings every firmware cycle)."""
    return operator.attrgetter(path)
