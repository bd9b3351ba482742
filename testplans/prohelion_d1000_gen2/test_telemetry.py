"""CAN telemetry: every message of the layout, its accuracy against the bench, NTC, SoC, balancing.

PH-MSG checks the layout of the unit's configuration (base ID, node count): every message seen,
8 bytes, at its ID, values consistent with the configuration and with each other; a configuration
whose per-node IDs collide with fixed messages is reported (the codec refuses it) rather than
mis-decoded. PH-MSG-ACC compares what the BMS reports with the station's reference instruments.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from hil.duts.prohelion_d1000_gen2.bench import NOMINAL_CELL_V, D1000Bench, same
from hil.duts.prohelion_d1000_gen2.ocv import soc_from_ocv
from hil.duts.prohelion_d1000_gen2.protocol.codes import BmsState
from hil.duts.prohelion_d1000_gen2.protocol.dbc import (
    RECEIVED_MESSAGES,
    CanIdCollisionError,
    max_node_count,
    render_dbc,
)
from hil.duts.prohelion_d1000_gen2.terminals import CellId, SensorId
from hil.measure import info, within
from hil.procedures.placement import place
from hil.uncertainty import Budget, budget, reading, rectangular, scaled, station_uncertainty

#: the slow telemetry group is sent every second: a window of 3 s sees each message at least twice
WINDOW_S = 3.0
PACK_CURRENTS_A = (10.0, 50.0)
NTC_POINTS_C = (-10.0, 0.0, 25.0, 40.0, 55.0)
REST_CELL_V = (3.45, 3.85)
SOC_TOLERANCE_PCT = 1.0
COULOMB_CURRENT_A = 50.0
COULOMB_TIME_S = 360.0


@pytest.mark.requirement("PH-MSG")
def test_layout(bench: D1000Bench, check) -> None:
    """Every message of the configuration's layout is sent, 8 bytes, at its documented ID."""
    req = "PH-MSG"
    cfg = bench.config
    dut = bench.dut
    check(
        same(
            req,
            f"layout of base ID 0x{cfg.node_id:03X} with {cfg.num_cmu_nodes} CMU nodes",
            "no collision" if dut.layout_error is None else str(dut.layout_error),
            "no collision",
            bench.clock.now(),
            notes="the vendor's table places node n at base + 0x10 + 8n",
        )
    )
    t0 = bench.clock.now()
    bench.wait(WINDOW_S)
    frames = [f for f in dut.monitor.since(t0) if not f.is_error_frame]
    missing, short, periods = [], [], {}
    for placed in dut.codec.messages:
        if placed.name in RECEIVED_MESSAGES or placed.frame_id in dut.ambiguous:
            continue
        times = [f.timestamp for f in frames if f.arbitration_id == placed.frame_id]
        if not times:
            missing.append(placed.name)
        if any(len(f.data) != 8 for f in frames if f.arbitration_id == placed.frame_id):
            short.append(placed.name)
        if len(times) > 1:
            periods[placed.template.kind] = (times[-1] - times[0]) / (len(times) - 1)
    check(
        same(
            req,
            "messages not seen in 3 s",
            missing,
            [],
            bench.clock.now(),
            data={"messages": len(dut.codec.messages)},
        )
    )
    check(same(req, "messages not 8 bytes long", short, [], bench.clock.now()))
    for kind, period in sorted(periods.items()):
        check(
            info(
                req,
                f"period of {kind}",
                period,
                "s",
                bench.clock.now(),
                notes="transmit periods are not documented: measured",
            )
        )
    # values consistent with the configuration and with each other
    fw = dut.latest("DeviceFirmwareInfo")
    check(
        same(
            req,
            "firmware version V1.2",
            None if fw is None else (fw.signals["FirmwareMajorVersion"], fw.signals["FirmwareMinorVersion"]),
            (1, 2),
            bench.clock.now(),
        )
    )
    check(
        same(
            req,
            "NodeInfo.PackBalanceThreshold is cellBalancingVoltage",
            dut.value("NodeInfo", "PackBalanceThreshold"),
            cfg.cell_balancing_voltage,
            bench.clock.now(),
        )
    )
    check(
        same(
            req,
            "BMSSoPData limits are maxDischargeCurrent/maxChargeCurrent",
            (
                dut.value("BMSSoPData", "SoPMaxCurrentDischarge"),
                dut.value("BMSSoPData", "SoPMaxCurrentCharge"),
            ),
            (cfg.max_discharge_current, cfg.max_charge_current),
            bench.clock.now(),
        )
    )
    worst = 0.0
    total = 0.0
    for node in range(min(cfg.num_cmu_nodes, dut.fitting)):
        cells = dut.cell_voltages(node)
        voltage = dut.node_message("VoltageInfo", node)
        if cells is None or voltage is None:
            worst = float("inf")
            continue
        worst = max(worst, abs(float(voltage["TotalVoltage"]) - sum(cells)))
        total += float(voltage["TotalVoltage"])
    check(
        within(
            req,
            "Node<n>TotalVoltage against its cells (worst node)",
            worst,
            "V",
            bench.clock.now(),
            high=0.001 * max(cfg.cells_per_node()),
            # digital: the node total and each cell are sent in 1 mV steps (DBC)
            uncertainty=reading("Node<n>TotalVoltage", 0.001, "V").plus(
                *(reading(f"cell {i + 1}", 0.001, "V") for i in range(max(cfg.cells_per_node())))
            ),
            notes="1 mV rounding per cell",
        )
    )
    if dut.layout_error is None:
        pack = dut.value("NodeInfo", "TotalPackVoltage")
        check(
            within(
                req,
                "NodeInfo.TotalPackVoltage against the nodes",
                None if pack is None else abs(float(pack) - total),
                "V",
                bench.clock.now(),
                high=0.001 * cfg.num_cmu_nodes,
                uncertainty=reading("TotalPackVoltage", 0.001, "V").plus(
                    *(reading(f"Node{n}TotalVoltage", 0.001, "V") for n in range(cfg.num_cmu_nodes))
                ),
            )
        )
    # the tooling refuses a colliding configuration of this base ID instead of mis-decoding it
    fits = max_node_count(cfg.node_id)
    try:
        render_dbc(cfg.node_id, fits + 1)
        refused = "accepted"
    except CanIdCollisionError as exc:
        refused = f"refused: {exc.expected}"
    check(
        same(
            req,
            f"{fits + 1} nodes at base 0x{cfg.node_id:03X} refused",
            refused.startswith("refused"),
            True,
            bench.clock.now(),
            notes=refused,
        )
    )


@pytest.mark.requirement("PH-MSG-ACC")
def test_accuracy(bench: D1000Bench, check) -> None:
    """Cell voltages, temperatures, pack voltage and current on CAN against the station's instruments."""
    req = "PH-MSG-ACC"
    exp = bench.expectations
    cfg = bench.config
    # a distinct level per cell, inside the warning limits
    levels = {c: 3.40 + 0.007 * (i % 80) for i, c in enumerate(bench.cell_ids)}
    for cell, volts in levels.items():
        bench.set_cell(cell, volts)
    temps = {s: 10.0 + 7.5 * (i % 5) for i, s in enumerate(bench.sensor_ids)}
    for sensor, celsius in temps.items():
        bench.set_temperature(sensor, celsius)
    t0 = bench.clock.now()
    bench.wait(1.5)
    assert bench.dut.fresh(["NodeInfo"], t0 + 0.1), "no fresh telemetry"
    cell_tol = exp.get("cell_accuracy_v", 0.002)
    for node in range(min(cfg.num_cmu_nodes, bench.dut.fitting)):
        reported = bench.dut.cell_voltages(node) or []
        errors = []
        for index, value in enumerate(reported, start=1):
            cell = CellId(node, index)
            reference = bench.cells[cell.terminal].measure_voltage(cell.terminal)
            errors.append((abs(value - reference), cell.terminal, value, reference))
        worst = max(errors, default=(None, "", 0.0, 0.0))
        budget = station_uncertainty(
            bench.station,
            bench.cells[bench.cell_ids[0].terminal].name,
            "voltage",
            NOMINAL_CELL_V,
            scale=1000.0,
            unit="mV",
        )
        check(
            within(
                req,
                f"cell voltage, node {node} (worst cell {worst[1]})",
                None if worst[0] is None else worst[0] * 1000.0,
                "mV",
                bench.clock.now(),
                high=cell_tol * 1000,
                uncertainty=budget,
                data={"cells": [(e[1], e[2], e[3]) for e in errors]},
                notes="reference: the cell emulator's own readback",
            )
        )
    temp_tol = exp.get("temperature_accuracy_c", 0.5)
    for node in range(min(cfg.num_cmu_nodes, bench.dut.fitting)):
        reported_t = bench.dut.temperatures(node) or []
        worst_t = (
            max((abs(v - temps[SensorId(node, i)]), i) for i, v in enumerate(reported_t, start=1))
            if reported_t
            else None
        )
        check(
            within(
                req,
                f"temperature, node {node} (worst sensor)",
                None if worst_t is None else worst_t[0],
                "°C",
                bench.clock.now(),
                high=temp_tol,
                uncertainty=_ntc_budget(bench, 25.0).plus(reading("Node<n>Temp", 0.1, "°C")),
                notes=f"reference: the emulated NTC (Beta {cfg.thermistor_beta_value}, "
                f"R25 {cfg.fixed.thermistor_r25_ohm:g} Ω)",
            )
        )
    pack_ref = bench.pack_terminal_v()
    pack = bench.dut.value("BMSVoltageData", "BatteryVoltage")
    check(
        within(
            req,
            "battery voltage (BJU) against the DAQ",
            None if pack is None else float(pack) - pack_ref,
            "V",
            bench.clock.now(),
            low=-exp.get("voltage_accuracy_v", 0.1),
            high=exp.get("voltage_accuracy_v", 0.1),
            uncertainty=station_uncertainty(bench.station, "daq", "voltage", pack_ref, unit="V"),
        )
    )
    bench.set_cells(NOMINAL_CELL_V)
    bench.set_temperatures(25.0)
    assert bench.drive_enabled(), f"not ENABLED (state {bench.state()})"
    tol_i = exp.get("current_accuracy_a", 0.5)
    assert bench.load is not None
    for amps in PACK_CURRENTS_A:
        bench.discharge(amps)
        bench.wait(1.0)
        reference = bench.load.measure_current()
        reported_i = bench.dut.value("BMSCurrentData", "InstantaneousCurrent")
        check(
            within(
                req,
                f"pack current at {amps:g} A against the load",
                None if reported_i is None else float(reported_i) - reference,
                "A",
                bench.clock.now(),
                low=-tol_i,
                high=tol_i,
                uncertainty=station_uncertainty(bench.station, bench.load.name, "current", amps, unit="A"),
                notes="+ = discharge on CAN; no BJU accuracy documented: station current_accuracy_a",
            )
        )
    bench.discharge(0.0)


@pytest.mark.requirement("PH-NTC")
def test_thermistor_conversion(bench: D1000Bench, check) -> None:
    """Temperatures converted with the configured thermistorBetaValue across the operating range."""
    req = "PH-NTC"
    cfg = bench.config
    tol = bench.expectations.get("temperature_accuracy_c", 0.5)
    sensor = bench.sensor_ids[0]
    check(
        info(req, "configured thermistorBetaValue", float(cfg.thermistor_beta_value), "K", bench.clock.now())
    )
    for celsius in NTC_POINTS_C:
        if not cfg.min_cell_temperature < celsius < cfg.max_cell_temperature:
            continue
        bench.set_temperature(sensor, celsius)
        t0 = bench.clock.now()
        bench.wait_fresh([f"Node{sensor.node}CellTemps"], t0 + 0.1, 2.0)
        reported = bench.dut.temperatures(sensor.node)
        value = None if reported is None else reported[sensor.sensor - 1]
        ohm = bench.ntc.resistance_ohm(celsius)
        name = bench.ntcs[sensor.terminal].name
        budget = station_uncertainty(bench.station, name, "resistance", ohm, unit="Ω")
        check(
            within(
                req,
                f"{sensor.terminal} at {celsius:g} °C ({ohm:.0f} Ω)",
                None if value is None else value - celsius,
                "°C",
                bench.clock.now(),
                low=-tol,
                high=tol,
                uncertainty=budget.expanded / ohm / bench.ntc_sensitivity(celsius),
                notes="R25 of the thermistor is not documented (assumed "
                f"{cfg.fixed.thermistor_r25_ohm:g} Ω): a constant offset would point at R25, a slope at Beta",
            )
        )


@pytest.mark.requirement("PH-SOC")
def test_soc(bench: D1000Bench, profile: str, check) -> None:
    """SoC from the configured OCV table at start-up; SoCCapacity and coulomb counting on packCapacity.

    EOL profile: the OCV table and SoCCapacity only. The 6-minute coulomb count proves the
    firmware's integration (the same on every unit); this unit's current channel is PH-MSG-ACC's
    and its packCapacity shows in SoCCapacity = SoC x packCapacity, so the count is left to the
    full and audit profiles and the row is recorded as covered in part."""
    req = "PH-SOC"
    cfg = bench.config
    table = cfg.cell_soc_lookup_table
    for rest in REST_CELL_V:
        bench.set_cells(rest)
        bench.boot()
        bench.to_idle()
        bench.wait(1.5)
        reference_v = sum(bench.cells[c.terminal].measure_voltage(c.terminal) for c in bench.cell_ids) / len(
            bench.cell_ids
        )
        expected = soc_from_ocv(reference_v, table)
        soc = bench.dut.value("BMSSoCData", "SoCPercentage")
        check(
            within(
                req,
                f"initial SoC at {rest:g} V per cell",
                None if soc is None else float(soc) - expected,
                "%",
                bench.clock.now(),
                low=-SOC_TOLERANCE_PCT,
                high=SOC_TOLERANCE_PCT,
                uncertainty=reading("SoCPercentage", 0.1, "%").plus(
                    scaled(
                        station_uncertainty(bench.station, "cell_emulator", "voltage", reference_v),
                        _soc_slope(reference_v, table),
                        "cell voltage readback, V to % of the configured table",
                        "%",
                    )
                ),
                notes=f"expected {expected:.2f} % from the configured table at {reference_v:.4f} V; no SoC "
                "accuracy documented: ±1 % (0.1 % resolution, cell voltage accuracy)",
            )
        )
        capacity = bench.dut.value("BMSSoCData", "SoCCapacity")
        check(
            within(
                req,
                "SoCCapacity = SoC x packCapacity",
                None
                if capacity is None or soc is None
                else float(capacity) - float(soc) * cfg.pack_capacity / 100.0,
                "Ah",
                bench.clock.now(),
                low=-0.1 - cfg.pack_capacity * 0.0005,
                high=0.1 + cfg.pack_capacity * 0.0005,
                uncertainty=reading("SoCCapacity", 0.1, "Ah").plus(
                    scaled(reading("SoCPercentage", 0.1, "%"), cfg.pack_capacity / 100.0, "% to Ah", "Ah")
                ),
                notes="limits: the two signals' 0.1 steps (rounding of each): OUR READING, none documented",
            )
        )
    if profile == "eol":
        why = (
            "coulomb counting left to the full and audit profiles: firmware integration, type-tested; "
            "the current channel is PH-MSG-ACC's, packCapacity shows in SoCCapacity"
        )
        now = bench.clock.now()
        check(info(req, "coulomb counting", None, "%", now, notes=why, data={"not_covered": why}))
        return
    bench.set_cells(NOMINAL_CELL_V)
    bench.boot()
    assert bench.drive_enabled(), f"not ENABLED (state {bench.state()})"
    assert bench.load is not None
    start = float(bench.dut.value("BMSSoCData", "SoCPercentage") or 0.0)
    bench.discharge(COULOMB_CURRENT_A)
    bench.wait(COULOMB_TIME_S)
    drawn = bench.load.measure_current()
    bench.discharge(0.0)
    bench.wait(1.5)
    end = float(bench.dut.value("BMSSoCData", "SoCPercentage") or 0.0)
    expected_drop = 100.0 * drawn * COULOMB_TIME_S / 3600.0 / cfg.pack_capacity
    check(
        within(
            req,
            f"SoC drop over {COULOMB_TIME_S:g} s at {COULOMB_CURRENT_A:g} A",
            start - end,
            "%",
            bench.clock.now(),
            low=expected_drop - 0.3,
            high=expected_drop + 0.3,
            uncertainty=station_uncertainty(
                bench.station,
                bench.load.name,
                "current",
                drawn,
                scale=100.0 * COULOMB_TIME_S / 3600.0 / cfg.pack_capacity,
                unit="%",
            ),
            notes=f"expected {expected_drop:.2f} % for packCapacity {cfg.pack_capacity:g} Ah",
        )
    )


@pytest.mark.requirement("PH-BAL", "PH-SM-DRIVE")
def test_balancing(bench: D1000Bench, spec_data, check) -> None:
    """Balancing at cellBalancingVoltage on every cell, only in ENABLED (status bits, bleed current)."""
    req = "PH-BAL"
    row = spec_data.get(req)
    threshold = bench.config.cell_balancing_voltage
    placement = place(check.rule, row.tolerance or 0.0, bench.setting_budget(row, threshold))
    margin = placement.distance
    first = bench.cell_ids[0]
    bench.set_cell(first, threshold + margin)
    t0 = bench.clock.now()
    bench.wait_fresh([f"Node{first.node}Stats"], t0 + 0.1, 2.0)
    stats = bench.dut.node_message("Stats", first.node)
    check(
        same(
            "PH-SM-DRIVE",
            "no balancing in IDLE",
            None if stats is None else stats["CellBalanceStatus"],
            0,
            bench.clock.now(),
            notes="balancing only in ENABLED",
        )
    )
    bench.set_cell(first, NOMINAL_CELL_V)
    assert bench.drive_enabled(), f"not ENABLED (state {bench.state()})"
    for cell in bench.cell_ids:
        results = []
        for level, expected in ((threshold - margin, False), (threshold + margin, True)):
            bench.set_cell(cell, level)
            t0 = bench.clock.now()
            bench.wait_fresh([f"Node{cell.node}Stats"], t0 + 0.1, 2.0)
            stats = bench.dut.node_message("Stats", cell.node) or {}
            bit = bool(int(stats.get("CellBalanceStatus", 0)) >> (cell.cell - 1) & 1)
            results.append(bit == expected)
            if expected:
                bleed = bench.cells[cell.terminal].measure_current(cell.terminal)
                results.append(bleed > 0.3)
        bench.set_cell(cell, NOMINAL_CELL_V)
        check(
            same(
                req,
                f"{cell.terminal}: no balancing at -{margin * 1000:.1f} mV, balancing (bit and bleed) at "
                f"+{margin * 1000:.1f} mV",
                all(results),
                True,
                bench.clock.now(),
                method=placement.describe("V"),
                data=placement.data(threshold),
            )
        )
    check(same(req, "still ENABLED", bench.state(), BmsState.ENABLED, bench.clock.now()))


def _ntc_budget(bench: D1000Bench, celsius: float) -> Budget:
    """The NTC emulator's resistance accuracy at `celsius` as a temperature (°C): the reference."""
    name = bench.ntcs[bench.sensor_ids[0].terminal].name
    acc = bench.station.model.instruments[name].accuracy["resistance"]
    ohm = bench.ntc.resistance_ohm(celsius)
    return budget(
        rectangular(
            f"{name} resistance ±({acc.gain:g}·R + {acc.offset:g} Ω) at {celsius:g} °C, as °C",
            (acc.gain + acc.offset / ohm) / bench.ntc_sensitivity(celsius),
        ),
        unit="°C",
    )


def _soc_slope(volts: float, table: Sequence[float]) -> float:
    """d(SoC)/dV of the configured table at `volts` (% per V), by a 1 mV difference."""
    return abs(soc_from_ocv(volts + 0.0005, table) - soc_from_ocv(volts - 0.0005, table)) / 0.001
