"""Every configured protection limit of the D1000 Gen2, on every cell and thermistor of every node.

One generic procedure serves every row (cell voltage warnings and critical limits, cell
temperatures, charge and discharge current): the harness maps the row's quantity to a stimulus,
its `setting` to the configured limit and to the flag that shows the trip. Cell and temperature
rows are checked at every configured position: go/no-go there, and the position the extremes
message (NodeCellInfo / NodeTempInfo) names must be the one stimulated. EOL profile: the
go/no-go probes; full profile: also the trip point by bisection at the first and last position,
where charging/discharging is allowed again for the warnings, and the trip delay.
"""

from __future__ import annotations

import pytest

from hil.duts.prohelion_d1000_gen2.bench import D1000Bench, position_name, same
from hil.duts.prohelion_d1000_gen2.terminals import CellId, SensorId
from hil.measure import info, within
from hil.procedures.placement import place
from hil.procedures.threshold import expected_probe_count, find_release, find_trip, go_no_go
from hil.procedures.timing import measure_delay
from hil.spec import Requirement
from hil.uncertainty import resolution as quantisation

#: bisection resolution, as a fraction of the row's tolerance
RESOLUTION_OF_TOLERANCE = 0.25
#: half-width of the characterisation search, in margins (tolerance + setting uncertainty)
SEARCH_SPAN_OF_MARGIN = 4


def _where(position: CellId | SensorId) -> tuple[int, int]:
    return (
        (position.node, position.cell) if isinstance(position, CellId) else (position.node, position.sensor)
    )


def test_limit(bench: D1000Bench, threshold_row: Requirement, check) -> None:
    """Go/no-go at the configured limit at every position, with the reported extreme's position."""
    req = threshold_row
    limit = bench.limit(req)
    tolerance, source = bench.tolerance(req)
    check(
        info(
            req.id,
            f"configured limit {req.setting}",
            limit,
            req.unit or "",
            bench.clock.now(),
            notes=f"spec default {req.trip:g} {req.unit}; tolerance {tolerance:g} ({source})",
        )
    )
    bench.precondition(req)
    setup = bench.threshold_setup(req)
    positions = bench.positions(req) or [None]
    for position in positions:
        where = "" if position is None else f" at {position_name(position)}"
        if position is not None:
            bench.target(position)
        placement = place(check.rule, tolerance, bench.setting_budget(req, limit))
        result = go_no_go(setup, limit, placement.distance)
        reported = bench.extremes_at(req) if position is not None and result.beyond.tripped else None
        problems = []
        if result.inside.tripped:
            problems.append(f"tripped at {result.inside.level:g} {req.unit}")
        if not result.beyond.tripped:
            problems.append(f"no trip at {result.beyond.level:g} {req.unit}")
        if position is not None and result.beyond.tripped and reported != _where(position):
            problems.append(f"extremes message names node/index {reported}, stimulated {_where(position)}")
        check(
            same(
                req.id,
                f"go/no-go{where}",
                "; ".join(problems) or "ok",
                "ok",
                result.beyond.time,
                method=(
                    f"held {result.inside.level:.6g} then {result.beyond.level:.6g} {req.unit} for "
                    f"{setup.settle_s:g} s each; " + placement.describe(req.unit or "")
                ),
                data={
                    **placement.data(limit),
                    "inside": result.inside.level,
                    "beyond": result.beyond.level,
                    "reported": reported,
                },
            )
        )


@pytest.mark.not_eol  # EOL: the go/no-go probes of test_limit; the search is a further point
def test_trip_point(bench: D1000Bench, threshold_row: Requirement, profile: str, check) -> None:
    """Full profile: the trip point by bisection (first and last position), release of the warnings."""
    req = threshold_row
    if profile != "full":
        check(
            info(req.id, "trip point search", None, req.unit or "", bench.clock.now(), notes="EOL: not run")
        )
        return
    limit = bench.limit(req)
    tolerance, source = bench.tolerance(req)
    bench.precondition(req)
    setup = bench.threshold_setup(req)
    positions = bench.positions(req)
    ends = [positions[0], positions[-1]] if len(positions) > 1 else positions or [None]
    resolution = tolerance * RESOLUTION_OF_TOLERANCE
    for position in ends:
        where = "" if position is None else f" at {position_name(position)}"
        if position is not None:
            bench.target(position)
        margin = bench.margin(req)
        span = SEARCH_SPAN_OF_MARGIN * margin
        search = find_trip(setup, limit, span, resolution)
        level = search.point if search.point is not None else limit
        check(
            within(
                req.id,
                f"trip point{where}",
                search.point,
                req.unit or "",
                bench.clock.now(),
                low=limit - tolerance,
                high=limit + tolerance,
                uncertainty=bench.setting_budget(req, level).plus(
                    quantisation(f"bisection resolution {resolution:g} {req.unit}", resolution)
                ),
                method=f"bisection, {search.count} probes (bound {expected_probe_count(span, resolution)})",
                notes=f"configured {req.setting} {limit:g}; tolerance {tolerance:g} ({source}). "
                + search.note,
                data={"probes": [(p.level, p.tripped, p.time) for p in search.probes]},
            )
        )
        if bench.disconnects(req) or position is None or search.point is None:
            continue
        found = find_release(
            setup, limit + (1 if req.direction == "above" else -1) * 2 * margin, limit, span, resolution
        )
        check(
            info(
                req.id,
                f"release point{where}",
                found.point,
                req.unit or "",
                bench.clock.now(),
                uncertainty=bench.setting_budget(req, found.point or limit).plus(
                    quantisation(f"bisection resolution {resolution:g} {req.unit}", resolution)
                ),
                method=f"bisection from the tripped state, {found.count} probes",
                notes="no release value or hysteresis documented: characterised. " + found.note,
            )
        )


@pytest.mark.not_eol  # no delay documented: characterised (full and audit profiles), as on the 12100
def test_trip_delay(bench: D1000Bench, threshold_row: Requirement, check) -> None:
    """Time from the stimulus edge to the trip, from CAN timestamps (no delay documented)."""
    req = threshold_row
    limit = bench.limit(req)
    margin = bench.margin(req)
    bench.precondition(req)
    tripped = bench.tripped_signal(req)
    beyond = limit + 2 * margin if req.direction == "above" else limit - 2 * margin
    expected = bench.expectations.get("protection_delay_max_s", 1.0)
    result = measure_delay(
        bench.clock, lambda: bench.apply(req, beyond), {"trip": tripped}, expected + 2.0, 0.05
    )
    check(
        within(
            req.id,
            "trip delay",
            result.estimate("trip"),
            "s",
            bench.clock.now(),
            low=0.0,
            high=expected,
            uncertainty=result.budget("trip"),
            method=(
                f"stimulus {beyond:.6g} {req.unit} to the first poll that saw the trip (polled 50 ms), "
                "less half a poll"
            ),
            notes="no delay documented: characterised, checked against the station's protection_delay_max_s",
        )
    )
