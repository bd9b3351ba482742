"""The BMU's hardware rows: supply variant and current, CMU counts, external CAN (PH-ENV: its own module)."""

from __future__ import annotations

import pytest

from hil.duts.prohelion_d1000_gen2.bench import D1000Bench, same
from hil.duts.prohelion_d1000_gen2.config import DEVICE_IDS
from hil.duts.prohelion_d1000_gen2.protocol.codes import BmsCommand, BmsState, InfoBit
from hil.duts.prohelion_d1000_gen2.terminals import CMU_BREAK
from hil.measure import info, within
from hil.uncertainty import station_uncertainty

#: supply levels characterised around the nominal (no supply range is documented)
SUPPLY_SWEEP = (0.8, 0.9, 1.1, 1.25)


@pytest.mark.requirement("PH-SUP-V")
def test_supply_variant(bench: D1000Bench, check) -> None:
    """The BMU runs at its variant's nominal supply (deviceID); other levels are characterised."""
    req = "PH-SUP-V"
    device = bench.dut.value("DeviceHeartbeat", "DeviceType")
    nominal = float(bench.config.supply_variant_v)
    check(
        same(
            req,
            "DeviceType is the configured deviceID",
            device,
            bench.config.device_id,
            bench.clock.now(),
            notes=f"deviceID {bench.config.device_id} = {DEVICE_IDS[bench.config.device_id]} V variant",
        )
    )
    check(
        same(
            req,
            f"operates at {nominal:g} V (SAFE, then IDLE on command)",
            bench.boot() and bench.to_idle(),
            True,
            bench.clock.now(),
            data={"covers": [f"{nominal:g} V variant"], "stimulus": {"supply [V]": nominal}},
        )
    )
    for factor in SUPPLY_SWEEP:
        volts = nominal * factor
        bench.power_bmu(False)
        bench.wait(0.5)
        bench.dut.send_command(BmsCommand.IDLE)
        bench.power_bmu(True, volts)
        runs = bench.wait_state(BmsState.IDLE, bench.expectations.get("start_up_max_s", 5.0) + 2.0)
        check(
            info(
                req,
                f"operates at {volts:.4g} V (1 = IDLE reached)",
                float(runs),
                "",
                bench.clock.now(),
                notes="no supply range documented: characterised",
                data={"stimulus": {"supply [V]": round(volts, 4)}},
            )
        )
    bench.power_bmu(True)


@pytest.mark.requirement("PH-SUP-I")
def test_supply_current(bench: D1000Bench, check) -> None:
    """BMU supply current at most 80 mA in SAFE and in IDLE (coils unloaded), on the DAQ's current input."""
    req = "PH-SUP-I"
    for state in (BmsState.SAFE, BmsState.IDLE):
        if state is BmsState.SAFE:
            bench.boot(command=BmsCommand.NONE)
        else:
            bench.to_idle()
        bench.wait(1.0)
        amps = bench.supply_current()
        check(
            within(
                req,
                f"supply current in {state.name} at {bench.config.supply_variant_v} V",
                amps * 1000.0,
                "mA",
                bench.clock.now(),
                high=80.0,
                uncertainty=station_uncertainty(
                    bench.station, "daq", "current", amps, scale=1000.0, unit="mA"
                ),
            )
        )


@pytest.mark.requirement("PH-CMU")
def test_cmu_counts(bench: D1000Bench, check) -> None:
    """Configured and connected nodes, cells and thermistors as reported; a missing CMU is NODECOUNT."""
    req = "PH-CMU"
    cfg = bench.config
    nodes, cells, temps = cfg.num_cmu_nodes, sum(cfg.cells_per_node()), sum(cfg.temps_per_node())
    bench.wait_fresh(["NodeStats"])
    size = "1 CMU" if nodes == 1 else "2-27 CMUs" if nodes <= 27 else "28-32 CMUs"
    for message, prefix, expected in (
        ("NodeStats", "Total{}Nodes", nodes),
        ("NodeCellStats", "Total{}Cells", cells),
        ("NodeTempStats", "Total{}TempSensors", temps),
    ):
        for which, want in (("Configured", expected), ("Connected", expected), ("Disconnected", 0)):
            signal = prefix.format(which)
            hidden = bench.dut.codec.frame_id(message) in bench.dut.ambiguous
            check(
                same(
                    req,
                    f"{message}.{signal}",
                    bench.dut.value(message, signal),
                    want,
                    bench.clock.now(),
                    notes="not observable: its ID is shared with a node's message (see PH-MSG)"
                    if hidden
                    else "",
                    data={"covers": [size]},
                )
            )
    for node in range(min(nodes, bench.dut.fitting)):
        stats = bench.dut.node_message("Stats", node)
        got = None if stats is None else (stats["ConnectedCells"], stats["ConnectedTempSensors"])
        check(
            same(
                req,
                f"Node{node}Stats connected cells, sensors",
                str(got),
                str((cfg.cells_per_node()[node], cfg.temps_per_node()[node])),
                bench.clock.now(),
            )
        )
    check(
        info(
            req,
            "cells in this configuration",
            float(cells),
            "",
            bench.clock.now(),
            notes=f"{nodes} CMU nodes; the system maximum is 448 (32 x 14)",
        )
    )
    t0 = bench.clock.now()
    bench.set_fault(CMU_BREAK, True)
    seen = bench.wait_until(lambda: bench.flag(InfoBit.REASON_NODECOUNT), 3.0)
    check(same(req, "BMSReasonNODECOUNT with the last CMU off the bus", seen, True, bench.clock.now()))
    check(same(req, "SAFE", bench.wait_state(BmsState.SAFE, 3.0), True, bench.clock.now()))
    bench.wait_fresh(["NodeStats"], t0 + 0.2, 2.0)
    check(
        same(
            req,
            "NodeStats.TotalConnectedNodes one short",
            bench.dut.value("NodeStats", "TotalConnectedNodes"),
            nodes - 1,
            bench.clock.now(),
        )
    )
    bench.set_fault(CMU_BREAK, False)
    check(same(req, "IDLE once the CMU answers again", bench.to_idle(), True, bench.clock.now()))


@pytest.mark.requirement("PH-CAN")
def test_external_can(bench: D1000Bench, check) -> None:
    """The bus runs at the configured bitrate and every BMU frame sits at the configured base ID."""
    req = "PH-CAN"
    cfg = bench.config
    bus = bench.station.model.buses.can
    assert bus is not None
    check(
        same(
            req,
            "bus bit rate (station) is the configured bitrate",
            bus.bitrate,
            cfg.bitrate * 1000,
            bench.clock.now(),
            notes=f"{bus.interface}: the rate the interface was opened with",
        )
    )
    t0 = bench.clock.now()
    bench.wait(2.0)
    frames = [f for f in bench.dut.monitor.since(t0) if not f.is_error_frame]
    ids = {f.arbitration_id for f in frames}
    known = set(bench.dut.codec.frame_ids) | set(bench.dut.ambiguous)
    check(
        same(
            req,
            f"DeviceHeartbeat at the base ID 0x{cfg.node_id:03X}",
            cfg.node_id in ids,
            True,
            bench.clock.now(),
        )
    )
    check(
        same(
            req,
            "frames outside the configured layout",
            sorted(hex(i) for i in ids - known),
            [],
            bench.clock.now(),
            data={"ids": len(ids), "frames": len(frames)},
        )
    )
