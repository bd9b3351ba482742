"""PH-ENV: the BMU's environment sensors at the bench ambient and each configured limit from
inside and from beyond (climatic chamber for temperature and humidity, pressure controller on the
sensor's enclosure).

EOL profile: the chamber travels once (the order is the plan conftest's `EOL_ORDER`): the
humidity probes run while the air heads for the hot inside level, the tests that do not depend
on the air run while it travels from the hot side to the cold one (it stays inside the BMU's
limits meanwhile), and each "back inside" check is made as the air passes the inside level on
its way on, not at a level of its own. Full profile: each level settled, the air back at ambient
after each test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

import pytest

from fixtures import keys
from hil.dut import DutClient
from hil.duts.prohelion_d1000_gen2.bench import ENV_REASONS, D1000Bench, same
from hil.duts.prohelion_d1000_gen2.protocol.codes import BmsState, InfoBit
from hil.errors import BenchError
from hil.instruments.roles import ChamberReading
from hil.measure import Measurement, Verdict, capable, info, within
from hil.uncertainty import reading, station_uncertainty


@pytest.fixture
def bench_at_start(dut: DutClient, request: pytest.FixtureRequest) -> D1000Bench:
    """The bench prepared for the start's readings. A unit whose own environment limits lie inside
    the air it sits in (a line's chamber left at a side: -18 °C, and this unit's Min is above it)
    shows only environment reasons and cannot reach IDLE: that is PH-ENV's to judge here, not a
    bench error. (`dut`: the BMU powered up first.)"""
    bench = request.config.stash[keys.BENCH]
    assert isinstance(bench, D1000Bench), type(bench)
    try:
        bench.prepare()
    except BenchError:
        reasons = {bit for bit in bench.dut.flags() if bit >= InfoBit.REASON_SELFTESTFAIL}
        if not reasons or not reasons <= ENV_REASONS:
            raise
    return bench


@pytest.mark.requirement("PH-ENV")
def test_environment(bench_at_start: D1000Bench, check) -> None:
    """SensorData1 at the bench's ambient (chamber in standby, enclosure vented), no environment fault.

    The limits themselves: test_environment_temperature / _humidity / _pressure (chamber and
    pressure controller). Here the configured ranges are recorded and the readings checked
    against the station's ambient.

    On a line the chamber may still hold the air where the previous unit left it (EOL: near one
    side's inside level, docs/eol.md): then the temperature and humidity readings are judged
    against the chamber's readback, as at the probes' inside levels, not against the ambient.
    """
    bench = bench_at_start
    req = "PH-ENV"
    cfg = bench.config
    exp = bench.expectations
    bench.wait_fresh(["SensorData1"])
    air = _air_away_from_ambient(bench)
    for signal, key, unit in (
        ("Temperature1", "ambient_temperature", "°C"),
        ("Temperature2", "ambient_temperature", "°C"),
        ("Pressure", "ambient_pressure", "kPa"),
        ("Humidity", "ambient_humidity", "%RH"),
    ):
        suffix = {"°C": "_c", "kPa": "_kpa", "%RH": "_pct"}[unit]
        centre, tol = exp.get(key + suffix), exp.get(f"{key}_tolerance{suffix}")
        label, readback = "at the bench ambient", ""
        if air is not None and unit != "kPa":
            centre = air.temperature if unit == "°C" else air.humidity
            tol = exp.get(f"environment_reading_tolerance{suffix}", 1.0 if unit == "°C" else 4.0)
            label = f"in the chamber's air ({air.mode}; not yet at ambient)"
            readback = f"chamber readback {centre:g} {unit}"
        check(_sensor_reading(bench, req, signal, label, unit, centre, tol, readback))
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
    where = "at ambient" if air is None else f"in the chamber's air ({air.temperature:g} °C)"
    faults = [b.signal for b in ENV_FAULTS if bench.flag(b)]
    check(same(req, f"no environment fault {where}", faults, [], bench.clock.now()))
    check(same(req, f"IDLE {where}", bench.state(), BmsState.IDLE, bench.clock.now()))


def _air_away_from_ambient(bench: D1000Bench) -> ChamberReading | None:
    """The chamber's reading when its air is outside the station's ambient tolerance (a line's
    previous unit left it at a side of the range); None at ambient or without a chamber."""
    chamber = bench.env.chamber
    if chamber is None:
        return None
    exp = bench.expectations
    reading = chamber.monitor()
    ambient = exp.get("ambient_temperature_c", 25.0)
    if abs(reading.temperature - ambient) <= exp.get("ambient_temperature_tolerance_c", 5.0):
        return None
    return reading


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
    notes: str = "",
) -> Measurement:
    """One SensorData1 reading judged against centre ± tolerance (recorded only, without them);
    the name stays the same from unit to unit (trends by name), the readback goes into `notes`.

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
        notes=notes,
    )
    if u is None and (low is not None or high is not None):
        why = f"not judged: no {role} on this station to give the reference's uncertainty"
        result = replace(
            result, verdict=Verdict.INFO, decision_rule="none", notes="; ".join(filter(None, (notes, why)))
        )
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


#: the two ends of each environment range, in the order a full run visits them
SIDES = ("Max", "Min")


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


def _levels(env: EnvLimit, sides: tuple[str, ...] = SIDES) -> list[tuple[str, float, InfoBit | None, str]]:
    """(label, level, the reason expected or None, note) in the order visited: the sides in the
    order `sides` gives them.

    A level beyond what the station can reach is left out with a note; an inside level the
    station cannot reach is moved to its reachable end (still inside the limit).
    """
    floor, ceiling = env.reachable
    levels: list[tuple[str, float, InfoBit | None, str]] = []
    ends = {"Max": (env.high, 1.0, env.above), "Min": (env.low, -1.0, env.below)}
    for side in sides:
        limit, sign, bit = ends[side]
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
    bench: D1000Bench,
    check,
    env: EnvLimit,
    stimulate: Callable[[float], float],
    reason: str,
    sides: tuple[str, ...] = SIDES,
    passing: Callable[[float], float] | None = None,
) -> None:
    """Each side of one quantity's range: inside by the margin no fault and SensorData1 within
    tolerance of the stimulus's readback; beyond by the margin its reason and SAFE; back inside,
    IDLE on command IDLE with the reason cleared. A side the station cannot reach is recorded.

    `passing`: the back-inside check is made as the stimulus passes the inside level on its way
    on (EOL: the air travels on to the next test's level) instead of settling there."""
    req = "PH-ENV"
    delay = bench.expectations.get("protection_delay_max_s", 1.0) + bench.settle_s
    for label, level, bit, note in _levels(env, sides):
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
        on_the_way = note == "clears" and passing is not None
        readback = passing(level) if passing is not None and on_the_way else stimulate(level)
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
                        notes=f"passed on the way on (air {readback:g} {env.unit})" if on_the_way else "",
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
                label, note = f"at {level:g} {env.unit}", f"stimulus readback {readback:g} {env.unit}"
                check(_sensor_reading(bench, req, signal, label, env.unit, readback, env.tolerance, note))
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
    stimulus = bench.env.need_pressure() if quantity == "pressure" else bench.env.need_chamber()
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


def _inside(env: EnvLimit, side: str) -> float:
    """The inside level of one side of the range (where that side's probes start)."""
    return next(level for label, level, _, _ in _levels(env, (side,)) if label.startswith("inside"))


@pytest.mark.requirement("PH-ENV")
@pytest.mark.parametrize("side", SIDES)
def test_environment_temperature(
    bench: D1000Bench, side: str, profile: str, first_side_of_travel: str, check
) -> None:
    """bmuTemperatureMin/Max (read as -20.0..60.0 °C) in the climatic chamber, humidity not controlled:
    inside the side's limit by the margin no fault; beyond, OVERTEMP / UNDERTEMP (OUR READING: V1.2
    has no BMU temperature reason) and SAFE; back inside, IDLE on command IDLE.

    EOL: back inside as the air passes the inside level, heading on (the side the travel starts
    from, nearer the air at the run's start: to the other side's inside level, while the tests
    between run; the other side: to the ambient); full: settled there, then ambient."""
    env = _env(bench, "temperature")
    eol = profile != "full"
    if side == first_side_of_travel:
        start = f" EOL: the chamber's travel starts from the {side} side, nearer its air at the run's start."
        check(
            info(
                "PH-ENV",
                "bmuTemperature range as read",
                env.high - env.low,
                "°C",
                bench.clock.now(),
                notes=f"{env.low:g}..{env.high:g} °C. {bench.config.bmu_temperature_range_note}"
                + (start if eol else ""),
            )
        )
    ambient = bench.expectations.get("ambient_temperature_c", 25.0)
    other = "Min" if side == "Max" else "Max"
    onward = _inside(env, other) if side == first_side_of_travel else ambient
    try:
        _probe_limits(
            bench,
            check,
            env,
            lambda c: bench.env.set_air(c).temperature,
            "the chamber's limits",
            sides=(side,),
            passing=partial(bench.env.pass_air, onward=onward) if eol else None,
        )
    finally:
        if eol:
            bench.env.head_air(onward)
        else:
            bench.env.ambient_air()


@pytest.mark.requirement("PH-ENV")
def test_environment_humidity(bench: D1000Bench, profile: str, check) -> None:
    """bmuHumidityMin/Max in the chamber: Max from both sides; Min 0 %RH is below any chamber's
    humidity control range, so it is checked from inside at the chamber's floor. Full: at the
    ambient temperature; EOL: while the air travels (inside every limit: the humidity is settled
    at each level, the temperature travels on) towards bmuTemperatureMax's inside level, or, where
    the Max side came first (the air started hot), on from it towards the cold side."""
    env = _env(bench, "humidity")
    eol = profile != "full"
    hot = _inside(_env(bench, "temperature"), "Max")
    ambient = bench.expectations.get("ambient_temperature_c", 25.0)

    def humidity(pct: float) -> float:
        reading = bench.env.set_humidity(pct) if eol else bench.env.set_air(ambient, pct)
        assert reading.humidity is not None, "the chamber reports no humidity"
        return reading.humidity

    heading = bench.env.air_heading if bench.env.air_heading is not None else hot
    if eol:
        bench.env.head_air(heading)
    try:
        # EOL: the Min side (at the chamber's floor, 20 %RH) first, from the ambient 40 %RH, then the
        # Max side: 40 > 20 > 87 > 93 > 87, 99 %RH of travel instead of 40 > 87 > 93 > 87 > 20, 126
        sides = ("Min", "Max") if eol else SIDES
        _probe_limits(bench, check, env, humidity, "the chamber's humidity control floor", sides)
    finally:
        if eol:
            bench.env.head_air(heading)  # humidity no longer controlled; the air travels on
        else:
            bench.env.ambient_air()


@pytest.mark.requirement("PH-ENV")
def test_environment_pressure(bench: D1000Bench, check) -> None:
    """bmuPressureMin/Max on the sensor's enclosure: Max from both sides; Min 0 kPa (absolute vacuum) is
    unreachable, so it is checked from inside at the controller's reachable floor."""
    env = _env(bench, "pressure")
    controller = bench.env.need_pressure()
    try:
        _probe_limits(bench, check, env, bench.env.set_enclosure, "the controller's vacuum floor")
    finally:
        controller.set_output(False)
        controller.vent()
