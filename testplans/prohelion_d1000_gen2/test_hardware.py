"""The BMU's hardware rows: supply variant and current, CMU counts, BMU environment, external CAN."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

import pytest

from hil.duts.prohelion_d1000_gen2.bench import D1000Bench, same
from hil.duts.prohelion_d1000_gen2.config import DEVICE_IDS
from hil.duts.prohelion_d1000_gen2.protocol.codes import BmsCommand, BmsState, InfoBit
from hil.duts.prohelion_d1000_gen2.terminals import CMU_BREAK
from hil.measure import Measurement, Verdict, capable, info, within
from hil.uncertainty import reading, station_uncertainty

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


@pytest.mark.requirement("PH-ENV")
def test_environment(bench: D1000Bench, check) -> None:
    """SensorData1 at the bench's ambient (chamber in standby, enclosure vented), no environment fault.

    The limits themselves: test_environment_temperature / _humidity / _pressure (chamber and
    pressure controller). Here the configured ranges are recorded and the readings checked
    against the station's ambient.
    """
    req = "PH-ENV"
    cfg = bench.config
    exp = bench.expectations
    bench.wait_fresh(["SensorData1"])
    for signal, key, unit in (
        ("Temperature1", "ambient_temperature", "°C"),
        ("Temperature2", "ambient_temperature", "°C"),
        ("Pressure", "ambient_pressure", "kPa"),
        ("Humidity", "ambient_humidity", "%RH"),
    ):
        suffix = {"°C": "_c", "kPa": "_kpa", "%RH": "_pct"}[unit]
        centre, tol = exp.get(key + suffix), exp.get(f"{key}_tolerance{suffix}")
        check(_sensor_reading(bench, req, signal, "at the bench ambient", unit, centre, tol))
    for name, low, high, unit in (
        ("bmuTemperature", cfg.bmu_temperature_min, cfg.bmu_temperature_max, "°C"),
        ("bmuPressure", cfg.bmu_pressure_min, cfg.bmu_pressure_max, "kPa"),
        ("bmuHumidity", cfg.bmu_humidity_min, cfg.bmu_humidity_max, "%RH"),
    ):
        check(
            info(
                req,
                f"configured {name}Min..Max",
                high - low,
                unit,
                bench.clock.now(),
                notes=f"{low:g}..{high:g} {unit}"
                + (f". {cfg.bmu_temperature_range_note}" if name == "bmuTemperature" else ""),
            )
        )
    faults = [b.signal for b in ENV_FAULTS if bench.flag(b)]
    check(same(req, "no environment fault at ambient", faults, [], bench.clock.now()))
    check(same(req, "IDLE at ambient", bench.state(), BmsState.IDLE, bench.clock.now()))


#: the BMSInfo reasons an environment excursion sets (BMU temperature: OUR READING, see protection.py)
ENV_FAULTS = (
    InfoBit.REASON_PRESSURE,
    InfoBit.REASON_HUMIDITY,
    InfoBit.REASON_OVERTEMP,
    InfoBit.REASON_UNDERTEMP,
)


def _sensor_reading(
    bench: D1000Bench,
    req: str,
    signal: str,
    label: str,
    unit: str,
    centre: float | None,
    tolerance: float | None,
) -> Measurement:
    """One SensorData1 reading judged against centre ± tolerance (recorded only, without them).

    U: the reference instrument's accuracy at the centre (chamber or pressure controller, from the
    station file) and the reading's 0.1 step (DBC); without a reference instrument on the station
    the reading is characterised, not judged."""
    value = bench.dut.value("SensorData1", signal)
    low = high = None
    if centre is not None and tolerance is not None:
        low, high = centre - tolerance, centre + tolerance
    role, quantity = _REFERENCE[unit]
    u = None
    if centre is not None:
        try:
            u = station_uncertainty(bench.station, role, quantity, centre, unit=unit)
        except KeyError:
            u = None
    result = within(
        req,
        f"SensorData1.{signal} {label}",
        None if value is None else float(value),
        unit,
        bench.clock.now(),
        low=low,
        high=high,
        uncertainty=None if u is None else u.plus(reading(f"SensorData1.{signal}", SENSOR_STEP, unit)),
    )
    if u is None and (low is not None or high is not None):
        why = f"not judged: no {role} on this station to give the reference's uncertainty"
        result = replace(result, verdict=Verdict.INFO, decision_rule="none", notes=why)
        return replace(result, data={"not_covered": why})
    return capable(result)


#: SensorData1 signals are sent in 0.1 steps (DBC)
SENSOR_STEP = 0.1
#: which station instrument gives the reference of each environment reading
_REFERENCE = {
    "°C": ("climatic_chamber", "temperature"),
    "%RH": ("climatic_chamber", "humidity"),
    "kPa": ("pressure_controller", "pressure"),
}


@dataclass(frozen=True)
class EnvLimit:
    """One BMU environment quantity as the plan stimulates and observes it."""

    name: str  # the parameters' stem, e.g. bmuTemperature
    unit: str
    low: float  # the configured Min and Max
    high: float
    below: InfoBit  # the reason a reading below Min sets, and above Max
    above: InfoBit
    signals: tuple[str, ...]  # SensorData1 signals that read it
    margin: float  # the station's go/no-go distance
    tolerance: float  # reading against the stimulus's readback
    reachable: tuple[float | None, float | None]  # the stimulus's limits on this station
    digits: int  # the stimulus's setting resolution (decimals)


def _levels(env: EnvLimit) -> list[tuple[str, float, InfoBit | None, str]]:
    """(label, level, the reason expected or None, note) in the order visited: Max side, then Min side.

    A level beyond what the station can reach is left out with a note; an inside level the
    station cannot reach is moved to its reachable end (still inside the limit).
    """
    floor, ceiling = env.reachable
    levels: list[tuple[str, float, InfoBit | None, str]] = []
    for side, limit, sign, bit in (("Max", env.high, 1.0, env.above), ("Min", env.low, -1.0, env.below)):
        inside = round(limit - sign * env.margin, env.digits)
        beyond = round(limit + sign * env.margin, env.digits)
        note = ""
        if floor is not None and inside < floor:
            inside, note = floor, f"the station's lowest reachable level {floor:g} {env.unit}"
        if ceiling is not None and inside > ceiling:
            inside, note = ceiling, f"the station's highest reachable level {ceiling:g} {env.unit}"
        reachable = (floor is None or beyond >= floor) and (ceiling is None or beyond <= ceiling)
        levels.append((f"inside {env.name}{side}", inside, None, note))
        if reachable:
            levels.append((f"beyond {env.name}{side}", beyond, bit, ""))
            levels.append((f"back inside {env.name}{side}", inside, bit, "clears"))
        else:
            levels.append((f"beyond {env.name}{side}", beyond, None, "unreachable"))
    return levels


def _probe_limits(
    bench: D1000Bench, check, env: EnvLimit, stimulate: Callable[[float], float], reason: str
) -> None:
    """Each side of one quantity's range: inside by the margin no fault and SensorData1 within
    tolerance of the stimulus's readback; beyond by the margin its reason and SAFE; back inside,
    IDLE on command IDLE with the reason cleared. A side the station cannot reach is recorded."""
    req = "PH-ENV"
    delay = bench.expectations.get("protection_delay_max_s", 1.0) + bench.settle_s
    for label, level, bit, note in _levels(env):
        now = bench.clock.now
        if note == "unreachable":
            limit = env.high if label.endswith("Max") else env.low
            reach = env.reachable[1] if label.endswith("Max") else env.reachable[0]
            check(
                info(
                    req,
                    f"{env.name}{label[-3:]} {limit:g} {env.unit} cannot be approached from beyond",
                    limit,
                    env.unit,
                    now(),
                    notes=f"{level:g} {env.unit} is beyond what this station reaches ({reach:g} {env.unit}, "
                    f"{reason}); the limit is checked only from inside, at the reachable end: a unit "
                    f"whose {env.name}{label[-3:]} sits inside that end faults there",
                )
            )
            continue
        readback = stimulate(level)
        if bit is None or note == "clears":
            if note == "clears" and bit is not None:
                cleared = bench.to_idle() and not bench.flag(bit)
                check(
                    same(
                        req,
                        f"{label} at {level:g} {env.unit}: IDLE on command IDLE, {bit.signal} cleared",
                        cleared,
                        True,
                        now(),
                    )
                )
                continue
            if bench.state() is not BmsState.IDLE:
                bench.to_idle()
            bench.wait(delay)
            t0 = now()
            bench.wait_fresh(["SensorData1"], t0)
            faults = [b.signal for b in (env.below, env.above) if bench.flag(b)]
            check(
                same(
                    req,
                    f"{label} at {level:g} {env.unit}: no fault, IDLE",
                    (faults, bench.state()),
                    ([], BmsState.IDLE),
                    now(),
                    notes=note,
                )
            )
            for signal in env.signals:
                label = f"at {level:g} {env.unit} (readback {readback:g})"
                check(_sensor_reading(bench, req, signal, label, env.unit, readback, env.tolerance))
            continue
        seen = bench.wait_until(partial(bench.flag, bit), delay)
        check(same(req, f"{label} at {level:g} {env.unit}: {bit.signal}", seen, True, now()))
        check(same(req, f"{label}: SAFE", bench.wait_state(BmsState.SAFE, 3.0), True, now()))


#: per quantity: the parameters' stem, unit, the reasons below Min and above Max, the SensorData1
#: signals, the station expectations of margin and reading tolerance (with their defaults), the
#: stimulus's setting decimals
_ENV_QUANTITIES: dict[
    str, tuple[str, str, InfoBit, InfoBit, tuple[str, ...], tuple[str, float], tuple[str, float], int]
] = {
    "temperature": (
        "bmuTemperature",
        "°C",
        InfoBit.REASON_UNDERTEMP,
        InfoBit.REASON_OVERTEMP,
        ("Temperature1", "Temperature2"),
        ("environment_temperature_margin_c", 2.0),
        ("environment_reading_tolerance_c", 1.0),
        1,
    ),
    "humidity": (
        "bmuHumidity",
        "%RH",
        InfoBit.REASON_HUMIDITY,
        InfoBit.REASON_HUMIDITY,
        ("Humidity",),
        ("humidity_margin_pct", 3.0),
        ("environment_reading_tolerance_pct", 4.0),
        0,
    ),
    "pressure": (
        "bmuPressure",
        "kPa",
        InfoBit.REASON_PRESSURE,
        InfoBit.REASON_PRESSURE,
        ("Pressure",),
        ("pressure_margin_kpa", 2.0),
        ("environment_reading_tolerance_kpa", 0.5),
        3,
    ),
}


def _env(bench: D1000Bench, quantity: str) -> EnvLimit:
    """The configured limits of `quantity` and how this station stimulates it."""
    cfg, exp = bench.config, bench.expectations
    name, unit, below, above, signals, margin, tolerance, digits = _ENV_QUANTITIES[quantity]
    stimulus = bench.need_pressure() if quantity == "pressure" else bench.need_chamber()
    lim = stimulus.info.limits
    stem = name.removeprefix("bmu").lower()
    return EnvLimit(
        name,
        unit,
        getattr(cfg, f"bmu_{stem}_min"),
        getattr(cfg, f"bmu_{stem}_max"),
        below,
        above,
        signals,
        exp.get(*margin),
        exp.get(*tolerance),
        (getattr(lim, f"{quantity}_min"), getattr(lim, f"{quantity}_max")),
        digits,
    )


@pytest.mark.requirement("PH-ENV")
def test_environment_temperature(bench: D1000Bench, check) -> None:
    """bmuTemperatureMin/Max (read as -20.0..60.0 °C) in the climatic chamber, humidity not controlled:
    inside each by the margin no fault; beyond, OVERTEMP / UNDERTEMP (OUR READING: V1.2 has no BMU
    temperature reason) and SAFE; back inside, IDLE on command IDLE."""
    env = _env(bench, "temperature")
    check(
        info(
            "PH-ENV",
            "bmuTemperature range as read",
            env.high - env.low,
            "°C",
            bench.clock.now(),
            notes=f"{env.low:g}..{env.high:g} °C. {bench.config.bmu_temperature_range_note}",
        )
    )
    try:
        _probe_limits(bench, check, env, lambda c: bench.set_air(c).temperature, "the chamber's limits")
    finally:
        bench.ambient_air()


@pytest.mark.requirement("PH-ENV")
def test_environment_humidity(bench: D1000Bench, check) -> None:
    """bmuHumidityMin/Max in the chamber at the ambient temperature: Max from both sides; Min 0 %RH is
    below any chamber's humidity control range, so it is checked from inside at the chamber's floor."""
    env = _env(bench, "humidity")
    ambient = bench.expectations.get("ambient_temperature_c", 25.0)

    def humidity(pct: float) -> float:
        reading = bench.set_air(ambient, pct)
        assert reading.humidity is not None, "the chamber reports no humidity"
        return reading.humidity

    try:
        _probe_limits(bench, check, env, humidity, "the chamber's humidity control floor")
    finally:
        bench.ambient_air()


@pytest.mark.requirement("PH-ENV")
def test_environment_pressure(bench: D1000Bench, check) -> None:
    """bmuPressureMin/Max on the sensor's enclosure: Max from both sides; Min 0 kPa (absolute vacuum) is
    unreachable, so it is checked from inside at the controller's reachable floor."""
    env = _env(bench, "pressure")
    controller = bench.need_pressure()
    try:
        _probe_limits(bench, check, env, bench.set_enclosure, "the controller's vacuum floor")
    finally:
        controller.set_output(False)
        controller.vent()


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
