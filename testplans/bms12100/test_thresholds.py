"""Every alarm and protection threshold of the 12100 BMS, its delay and its ways out.

One procedure serves every row (voltage, temperature, current, cell spread, SOC): the harness
maps the row's quantity to a stimulus. EOL profile: two probes per threshold (go/no-go);
full profile: trip and release points by bisection as well, every release case and delay.
Disabled-by-default rows are first shown silent, then switched on through the settings
interface for the check, and switched back.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable

import pytest

from hil import registry
from hil.duts.bms12100.bench import DELAY_GUARD_S, Bms12100Bench, ReleaseCase, trip_level
from hil.eol import load_released
from hil.measure import equals, within
from hil.procedures.placement import place
from hil.procedures.threshold import expected_probe_count, find_release, find_trip, go_no_go
from hil.procedures.timing import measure_delay
from hil.spec import Requirement
from hil.uncertainty import Budget
from hil.uncertainty import resolution as quantisation

#: bisection resolution, as a fraction of the row's tolerance
RESOLUTION_OF_TOLERANCE = 0.25
#: half-width of the characterisation search, in margins (tolerance + setting uncertainty)
SEARCH_SPAN_OF_MARGIN = 4
#: trip-delay acceptance where the spec gives a delay: ± this fraction (the polling period goes into U)
DELAY_TOLERANCE = 0.1
#: a trip delay is polled this many times across its pass band: a resolution of 5 % of the band
#: (u = poll/√12 in its budget), instead of a fixed 20 ms that cost up to 500 polls per row
POLLS_PER_DELAY_BAND = 20
#: a release case's verdict is whether the state is reached within its window, not when: a few
#: polls see it as surely as twenty (the last one falls on the window's end either way)
RELEASE_CASE_POLLS = 5

_RELEASED = registry.dut_family("bms12100").released
#: the released parameter set: at EOL it gives each row's trip delay (read back on the unit by test_release)
RELEASED = load_released(_RELEASED).parameters if _RELEASED is not None else {}


def eol_settle_s(bench: Bms12100Bench, req: Requirement) -> float:
    """EOL probe hold: the row's released trip delay + the guard, not the station's worst case.

    The delay is a parameter the read-back proves equal to the released one; a unit slower than
    that fails the beyond probe here as well as the read-back.
    """
    delay_ms = RELEASED.get(f"{req.setting}.delay_ms") if req.setting else None
    if req.delay_s is None and isinstance(delay_ms, int | float) and not isinstance(delay_ms, bool):
        return float(delay_ms) / 1000.0 + DELAY_GUARD_S
    return bench.settle(req)


def _margin(bench: Bms12100Bench, req: Requirement, value: float | None = None) -> float:
    """Tolerance of the row plus the uncertainty of setting the stimulus there."""
    assert req.trip is not None and req.tolerance is not None
    return req.tolerance + bench.setting_uncertainty(req, req.trip if value is None else value)


def _search_budget(bench: Bms12100Bench, req: Requirement, point: float | None, step: float) -> Budget:
    """A searched point's uncertainty: the stimulus instrument's accuracy there and the search's final step.

    The limits stay the spec's (value ± tolerance); the run's decision rule decides what the
    uncertainty does to the verdict.
    """
    search = quantisation(f"bisection resolution {step:g} {req.unit}", step)
    level = point if point is not None else req.trip  # nothing found: the budget at the nominal level
    assert level is not None
    return bench.setting_budget(req, level).plus(search)


def _switched_on(bench: Bms12100Bench, req: Requirement) -> contextlib.AbstractContextManager[None]:
    return bench.enabled(req) if req.default_enabled is False else contextlib.nullcontext()


def _blocks_observable(req: Requirement) -> str | None:
    if req.quantity == "charger_voltage" or req.blocks not in ("charge", "discharge", "both"):
        return None
    return "charge" if req.blocks == "both" else req.blocks


def _collapse(blocked: Callable[[], bool]) -> Callable[[], bool]:
    """The power path's response edge: blocked after it was seen carrying current."""
    seen_flowing = False

    def responded() -> bool:
        nonlocal seen_flowing
        now_blocked = blocked()
        if not now_blocked:
            seen_flowing = True
        return seen_flowing and now_blocked

    return responded


def test_threshold(bench: Bms12100Bench, threshold_row: Requirement, profile: str, check) -> None:
    req = threshold_row
    assert req.trip is not None and req.tolerance is not None and req.unit is not None
    margin = _margin(bench, req)  # "clearly beyond": search span, delays, release cases
    placement = place(check.rule, req.tolerance, bench.setting_budget(req, req.trip))
    with _switched_on(bench, req):
        bench.precondition(req)
        setup = bench.threshold_setup(req)
        if profile == "eol":
            setup = dataclasses.replace(setup, settle_s=eol_settle_s(bench, req))
        result = go_no_go(setup, req.trip, placement.distance)
        for probe, expected, name in (
            (result.inside, False, "no trip inside the limit"),
            (result.beyond, True, "trip beyond the limit"),
        ):
            check(
                equals(
                    req.id,
                    name,
                    probe.tripped,
                    expected,
                    probe.time,
                    method=f"held {probe.level:g} {req.unit} for {setup.settle_s:g} s; "
                    + placement.describe(req.unit),
                    data=placement.data(probe.level),
                )
            )
        blocks = _blocks_observable(req)
        if result.beyond.tripped and blocks:
            check(
                equals(
                    req.id,
                    f"{blocks} path blocked while tripped",
                    bench.path_blocked(blocks),
                    True,
                    bench.clock.now(),
                )
            )
        if profile != "full":
            if result.beyond.tripped and "recovery" in {a.id for a in req.release_alternatives}:
                # leave it released by its normal way out: the next test then needs no power cycle
                bench.apply(req, bench.nominal_level(req))
                bench.wait_state(req.id, False, setup.settle_s + 1.0)
            return
        resolution = req.tolerance * RESOLUTION_OF_TOLERANCE
        span = SEARCH_SPAN_OF_MARGIN * margin  # wide enough to find a non-conforming unit's trip point
        search = find_trip(setup, req.trip, span, resolution)
        check(
            within(
                req.id,
                "trip point",
                search.point,
                req.unit,
                bench.clock.now(),
                low=req.trip - req.tolerance,
                high=req.trip + req.tolerance,
                uncertainty=_search_budget(bench, req, search.point, resolution),
                method=f"bisection, {search.count} probes (bound {expected_probe_count(span, resolution)})",
                notes=search.note,
                data={"probes": [(p.level, p.tripped, p.time) for p in search.probes]},
            )
        )
        alternatives = {a.id for a in req.release_alternatives}
        if req.release is not None and (
            req.kind == "alarm" or alternatives & {"recovery", "below_threshold"}
        ):
            release_margin = _margin(bench, req, req.release)
            found = find_release(
                setup,
                trip_level(req, margin),
                req.release,
                SEARCH_SPAN_OF_MARGIN * release_margin,
                resolution,
            )
            check(
                within(
                    req.id,
                    "release point",
                    found.point,
                    req.unit,
                    bench.clock.now(),
                    low=req.release - req.tolerance,
                    high=req.release + req.tolerance,
                    uncertainty=_search_budget(bench, req, found.point, resolution),
                    method=f"bisection from the tripped state, {found.count} probes",
                    notes=found.note,
                    data={"probes": [(p.level, p.tripped, p.time) for p in found.probes]},
                )
            )


def test_disabled_by_default(bench: Bms12100Bench, disabled_row: Requirement, check) -> None:
    """A function that is off by default stays silent beyond its threshold until switched on."""
    req = disabled_row
    path = f"{(req.setting or '').split('.')[0]}.enabled"
    check(equals(req.id, "disabled by default", bool(bench.dut.read_setting(path)), False, bench.clock.now()))
    bench.precondition(req)
    bench.apply(req, trip_level(req, 2 * _margin(bench, req)))
    bench.clock.sleep(bench.settle(req))
    check(
        equals(
            req.id,
            "silent beyond the threshold while disabled",
            bench.active(req.id),
            False,
            bench.clock.now(),
        )
    )


@pytest.mark.not_eol  # the delay is the row's delay_ms parameter (read back at EOL); firmware timing
def test_trip_delay(bench: Bms12100Bench, threshold_row: Requirement, check) -> None:
    """Time from the stimulus edge to the flag and to the power path's response, from timestamps."""
    req = threshold_row
    margin = _margin(bench, req)
    with _switched_on(bench, req):
        bench.precondition(req)
        responses = {"protocol flag": lambda: bench.active(req.id)}
        blocks = _blocks_observable(req)
        if blocks:
            responses["power path"] = _collapse(lambda: bench.path_blocked(blocks))
        expected = bench.expected_delay(req)
        low, high = _delay_band(req, expected)
        result = measure_delay(
            bench.clock,
            lambda: bench.apply(req, trip_level(req, 2 * margin)),
            responses,
            expected + 2.0,
            poll_s=(high - low) / POLLS_PER_DELAY_BAND if high > low else 0.01,
        )
    if req.delay_s is not None:
        note = (
            f"spec delay {req.delay_s:g} s ± {DELAY_TOLERANCE:.0%} "
            "(OUR READING: the seed gives no delay tolerance)"
        )
    else:
        note = "no delay in the seed: characterised, checked against the station expectation"
    for name in responses:
        delay = result.estimate(name)
        check(
            within(
                req.id,
                f"trip delay ({name})",
                delay,
                "s",
                bench.clock.now(),
                low=low,
                high=high,
                uncertainty=result.budget(name),
                method="stimulus edge to the first poll that saw the response, less half a poll",
                notes=note,
            )
        )


def _delay_band(req: Requirement, expected: float) -> tuple[float, float]:
    """The trip delay's pass band: the spec's delay ± DELAY_TOLERANCE, else 0 to the station's expectation."""
    if req.delay_s is not None:
        return req.delay_s * (1 - DELAY_TOLERANCE), req.delay_s * (1 + DELAY_TOLERANCE)
    return 0.0, expected


def test_release(bench: Bms12100Bench, release_case: tuple[Requirement, ReleaseCase], check) -> None:
    """Each release alternative alone releases; the no_release_* cases must not."""
    req, case = release_case
    margin = _margin(bench, req)
    with _switched_on(bench, req):
        bench.precondition(req)
        bench.apply(req, trip_level(req, 2 * margin))
        tripped = bench.wait_state(req.id, True, bench.settle(req) + 1.0, polls=RELEASE_CASE_POLLS)
        check(equals(req.id, "tripped before the release case", tripped, True, bench.clock.now()))
        if not tripped:
            return
        case.action(bench, req)
        wait = case.wait_s if case.wait_s is not None else bench.settle(req) + 1.0
        if case.expect_release:
            released = bench.wait_state(req.id, False, wait, polls=RELEASE_CASE_POLLS)
        else:
            bench.clock.sleep(wait)
            released = not bench.active(req.id)
        name = f"release by {case.name}" if case.expect_release else case.name.replace("_", " ")
        check(equals(req.id, name, released, case.expect_release, bench.clock.now(), method=case.description))


def test_every_alternative_has_a_case(spec_data) -> None:
    """The plan covers every release alternative the spec data lists for the threshold rows."""
    from hil.duts.bms12100.bench import release_cases

    for req in spec_data.requirements:
        if req.trip is None:
            continue
        names = {c.name for c in release_cases(req)}
        for alt in req.release_alternatives:
            assert alt.id in names, f"{req.id}: release alternative {alt.id} has no case in the plan"
