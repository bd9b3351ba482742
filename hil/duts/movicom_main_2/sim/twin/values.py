"""The twin's state under the names of the register map and the PDO layout.

One function per protocol view. Names not in a given map are simply not served by it (the
Modbus server encodes only the rows its map has); bitfields are sets of the map's bit names.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hil.duts.movicom_main_2.config import InputFunction
from hil.duts.movicom_main_2.protocol.modbus_codec import Value
from hil.duts.movicom_main_2.sim.twin.twin import (
    DI1_SIGNALS,
    DI2_SIGNALS,
    FIRMWARE_VERSION,
    HARDWARE_VERSION,
    MovicomTwin,
)

CLOCK_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)  # the twin's real-time clock at virtual time 0
LOGIC_CELLS_MAX = 18  # the placeholder block's array lengths (maps/main-2.x.yaml)
LOGIC_TEMPERATURES_MAX = 12
_ERRORS_2 = frozenset({"low_charge_temperature", "high_charge_temperature"})


def internal_signals(twin: MovicomTwin) -> frozenset[str]:
    """Internal-signal bits (0x2009 / TPDO2 bytes 0-3) the twin sets."""
    if not twin.running:
        return frozenset()
    cfg = twin.config
    names = {"power_up"}
    if twin.soc_percent < cfg.battery.low_soc_percent:
        names.add("low_soc")
    if -twin.readings.current_a > cfg.fixed.discharge_current_present_a:
        names.add("discharging_current_present")
    if twin.ev_latched:
        names.add("voltage_too_high")
    if twin.heater_on:
        names.add("heater_aux")
    if any(closed and a.function == "discharge" for closed, a in zip(twin.relays, cfg.relays, strict=True)):
        names.add("discharging_aux")
    if any(f.name == "POWER_DOWN_REQUEST" for f in twin.signals()):
        names.add("power_down_acknowledge")
    return frozenset(names)


def register_values(twin: MovicomTwin) -> dict[str, Value]:
    """Every value the Main 2.x / Main 3 maps may hold, by register name."""
    cfg, r = twin.config, twin.readings
    cells, temps = r.cells(), r.temperatures()
    signals = twin.signals()
    errors = twin.errors()
    now = CLOCK_EPOCH + timedelta(seconds=twin.t)
    board = twin.logic_selected
    board_cells: tuple[float, ...] = ()
    board_temps: tuple[float, ...] = ()
    if 1 <= board <= len(r.cell_v):
        board_cells = r.cell_v[board - 1] or ()
        board_temps = r.temperature_c[board - 1] or ()
    battery_v = sum(cells)
    values: dict[str, Value] = {
        "hardware_version": HARDWARE_VERSION,
        "firmware_version": FIRMWARE_VERSION,
        "bootloader_version": (0, 0, 1, 0),
        "clock": (now.day, now.month, now.year % 100, now.hour, now.minute, now.second),
        "discrete_inputs_1": frozenset(f.name.lower() for f in DI1_SIGNALS if f in signals),
        "discrete_inputs_2": frozenset(f.name.lower() for f in DI2_SIGNALS if f in signals),
        "battery_current": r.current_a,
        "external_temperature": r.external_temperature_c[0],
        "humidity": r.humidity_percent if r.humidity_percent is not None else 0.0,
        "external_temperature_2": r.external_temperature_c[1] if len(r.external_temperature_c) > 1 else 0.0,
        "errors_1": errors - _ERRORS_2,
        "errors_2": errors & _ERRORS_2,
        "internal_signals": internal_signals(twin),
        "discrete_outputs": frozenset(f"output_{i}" for i, on in enumerate(twin.outputs(), 1) if on),
        "relays": frozenset(f"relay_{i}" for i, on in enumerate(twin.relays, 1) if on),
        "logic_address": board,
        "logic_cell_count": len(board_cells),
        "logic_temperature_count": len(board_temps),
        "logic_cell_voltages": board_cells + (0.0,) * (LOGIC_CELLS_MAX - len(board_cells)),
        "logic_temperatures": board_temps + (0.0,) * (LOGIC_TEMPERATURES_MAX - len(board_temps)),
        "soc": twin.soc_percent,
        "soc_percent": round(twin.soc_percent),
        "soh_percent": 100,
        "balancing_efficiency": 100,
        "logic_count": sum(1 for b in r.cell_v if b is not None),
        "battery_voltage": battery_v,
        "min_cell_voltage": min(cells, default=0.0),
        "max_cell_voltage": max(cells, default=0.0),
        "min_cell_temperature": min(temps, default=0.0),
        "max_cell_temperature": max(temps, default=0.0),
        "load_charge_ah": twin.load_charge_ah,
        "balancing_flag": 0,
        "average_cell_voltage": battery_v / len(cells) if cells else 0.0,
        "current_sensor_1": r.sensor_current_a[0] if r.sensor_current_a else 0.0,
        "current_sensor_2": r.sensor_current_a[1] if len(r.sensor_current_a) > 1 else 0.0,
        "final_current": r.current_a,
        "battery_state": 0,
        "battery_state_duration": 0,
        "nominal_capacity": cfg.battery.nominal_capacity_ah,
        "max_charge_voltage": cfg.battery.max_charge_voltage_v,
        "min_discharge_voltage": cfg.battery.min_discharge_voltage_v,
        "max_charge_current": cfg.battery.max_charge_current_a,
        "max_discharge_current": cfg.battery.max_discharge_current_a,
        "logic_select": board,
        "acknowledge_errors": 0,  # write-only in effect: bits of errors_1 to unlock
    }
    for function_code, value in twin.software_control.items():
        values[f"input_control_{InputFunction(function_code).name.lower()}"] = value
    return values


def pdo_values(twin: MovicomTwin) -> dict[str, Value]:
    """TPDO1/TPDO2 fields in engineering units (bitfields as sets of the map's bit names)."""
    regs = register_values(twin)
    r = twin.readings
    temps = r.temperatures()
    return {
        "discrete_inputs": regs["discrete_inputs_1"],
        "battery_current": r.current_a,
        "min_cell_temperature": round(min(temps, default=0.0)),
        "max_cell_temperature": round(max(temps, default=0.0)),
        "soc": round(twin.soc_percent),
        "battery_voltage": sum(r.cells()),
        "internal_signals": regs["internal_signals"],
        "errors_1": regs["errors_1"],
    }
