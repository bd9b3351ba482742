"""Voltage protections of the 12100 BMS: thresholds, delays and every release alternative.

Rows: CV-OVP, CV-UVP, PV-OVP, PV-UVP, CHG-HV (spec data section "voltage"). EOL profile: two
probes per threshold (go/no-go); full profile: trip and release points by bisection as well.
"""

from __future__ import annotations

import pytest

from hil.duts.bms12100.harness import RELEASE_CASES, Bms12100Bench, ReleaseCase, trip_level
from hil.measure import equals, info, within
from hil.procedures.threshold import expected_probe_count, find_release, find_trip, go_no_go
from hil.procedures.timing import measure_delay
from hil.spec import Requirement

#: bisection resolution, as a fraction of the row's tolerance
RESOLUTION_OF_TOLERANCE = 0.25
#: half-width of the characterisation search, in margins (tolerance + setting uncertainty)
SEARCH_SPAN_OF_MARGIN = 5


def _margin(bench: Bms12100Bench, req: Requirement) -> float:
    """Tolerance of the row plus the uncertainty of setting the stimulus there."""
    assert req.trip is not None and req.tolerance is not None
    return req.tolerance + bench.setting_uncertainty(req, req.trip)


def test_threshold(bench: Bms12100Bench, threshold_row: Requirement, profile: str, check) -> None:
    req = threshold_row
    assert req.trip is not None and req.tolerance is not None and req.unit is not None
    margin = _margin(bench, req)
    bench.precondition(req)
    setup = bench.threshold_setup(req)
    t = bench.clock.now
    result = go_no_go(setup, req.trip, margin)
    check(
        equals(
            req.id,
            "no trip inside the limit",
            result.inside.tripped,
            False,
            result.inside.time,
            method=f"held {result.inside.level:g} {req.unit} for {setup.settle_s:g} s",
            data={"level": result.inside.level},
        )
    )
    check(
        equals(
            req.id,
            "trip beyond the limit",
            result.beyond.tripped,
            True,
            result.beyond.time,
            method=f"held {result.beyond.level:g} {req.unit} for {setup.settle_s:g} s",
            data={"level": result.beyond.level},
        )
    )
    if result.beyond.tripped and req.blocks in ("charge", "discharge") and req.quantity != "charger_voltage":
        check(
            equals(
                req.id, f"{req.blocks} path blocked while tripped", bench.path_blocked(req.blocks), True, t()
            )
        )
    if profile != "full":
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
            t(),
            low=req.trip - margin,
            high=req.trip + margin,
            uncertainty=resolution / 2,
            method=f"bisection, {search.count} probes (log2 bound {expected_probe_count(span, resolution)})",
            notes=search.note,
            data={"probes": [(p.level, p.tripped, p.time) for p in search.probes]},
        )
    )
    alternatives = {a.id for a in req.release_alternatives}
    if req.release is not None and alternatives & {"recovery", "below_threshold"}:
        release_margin = req.tolerance + bench.setting_uncertainty(req, req.release)
        found = find_release(setup, trip_level(req, margin), req.release, 2 * release_margin, resolution)
        check(
            within(
                req.id,
                "release point",
                found.point,
                req.unit,
                t(),
                low=req.release - release_margin,
                high=req.release + release_margin,
                uncertainty=resolution / 2,
                method=f"bisection from the tripped state, {found.count} probes",
                notes=found.note,
                data={"probes": [(p.level, p.tripped, p.time) for p in found.probes]},
            )
        )


def test_trip_delay(bench: Bms12100Bench, threshold_row: Requirement, check) -> None:
    """The seed gives no delay: measure it (flag and power path) and hold it to the station's expectation."""
    req = threshold_row
    assert req.trip is not None
    margin = _margin(bench, req)
    bench.precondition(req)
    responses = {"protocol flag": lambda: bench.active(req.id)}
    if req.blocks in ("charge", "discharge") and req.quantity != "charger_voltage":
        responses["power path"] = lambda: bench.path_blocked(req.blocks or "")
    limit = bench.protection_delay_s
    result = measure_delay(
        bench.clock,
        lambda: bench.apply(req, trip_level(req, 2 * margin)),
        responses,
        limit + 2.0,
        poll_s=0.02,
    )
    for name in responses:
        delay = result.delay(name)
        check(
            within(
                req.id,
                f"trip delay ({name})",
                delay,
                "s",
                bench.clock.now(),
                low=0.0,
                high=limit,
                uncertainty=result.edges[name].resolution,
                method="stimulus edge to first poll that saw it",
                notes="no delay in the seed: characterised, checked against the station expectation",
            )
        )


def test_release(bench: Bms12100Bench, release_case: tuple[Requirement, ReleaseCase], check) -> None:
    """Each release alternative alone releases; the no_release_* cases must not."""
    req, case = release_case
    margin = _margin(bench, req)
    bench.precondition(req)
    bench.apply(req, trip_level(req, 2 * margin))
    tripped = bench.wait_state(req.id, True, bench.protection_delay_s + 1.0)
    check(equals(req.id, "tripped before the release case", tripped, True, bench.clock.now()))
    if not tripped:
        return
    case.action(bench, req)
    wait = bench.protection_delay_s + 1.0
    if case.expect_release:
        released = bench.wait_state(req.id, False, wait)
    else:
        bench.clock.sleep(wait)
        released = not bench.active(req.id)
    name = f"release by {case.name}" if case.expect_release else case.name.replace("_", " ")
    check(equals(req.id, name, released, case.expect_release, bench.clock.now(), method=case.description))


def test_every_alternative_has_a_case(spec_data) -> None:
    """The plan covers every release alternative the spec data lists for these rows."""
    for req_id, cases in RELEASE_CASES.items():
        names = {c.name for c in cases}
        for alt in spec_data.get(req_id).release_alternatives:
            assert alt.id in names, f"{req_id}: release alternative {alt.id} has no case in the plan"


@pytest.mark.requirement("CHG-HV")
def test_charger_overvoltage_stops_charging(bench: Bms12100Bench, spec_data, check) -> None:
    """CHG-HV alone keeps the charge path open: released cell OVP, charger above 18 V, no current."""
    req = spec_data.get("CHG-HV")
    bench.precondition(req)
    bench.hold_charger(18.5)
    check(
        equals(
            "CHG-HV",
            "active with the charger at 18.5 V",
            bench.wait_state("CHG-HV", True, 5.0),
            True,
            bench.clock.now(),
        )
    )
    bench.set_cells([3.30] * 4)  # release the cell over-voltage that opened the path
    bench.wait_state("CV-OVP", False, 5.0)
    check(
        equals(
            "CHG-HV",
            "no charge current while above 18 V",
            bench.path_blocked("charge"),
            True,
            bench.clock.now(),
            data={"charger_current_a": bench.charger_current()},
        )
    )
    bench.hold_charger(17.5)
    bench.wait_state("CHG-HV", False, 5.0)
    current = bench.charger_current()
    check(within("CHG-HV", "charging resumes below 18 V", current, "A", bench.clock.now(), low=1.0))
    info("CHG-HV", "charge current after release", current, "A", bench.clock.now())
