"""MM-PROT: every threshold protection of the unit's configuration (config.Protections) against that
configuration: over/under-voltage on a Logic cell, the four temperature limits on a Logic thermistor,
charge and discharge over-current on the Hall-sensor inputs.

EOL and full profiles: the trip threshold by go/no-go at the configured `set`, probes placed by the
run's decision rule (hil.procedures.placement); the trip delay and which relays open (the unit's
Modbus `relays` and the contacts on the DAQ's RLYn channels, against the relay functions the
configuration gives each protection); no release just short of the configured `tolerant` level,
then the release just beyond it (both placed by the decision rule) and the clear delay, both delays
from timestamps; a lock the configuration does not declare shows as no release. MM-PROT is a design
row the unit cannot read back (docs/eol.md), so EOL tests all of it. Full profile only (`not_eol`):
the trip point by bisection with its U (a characterisation the go/no-go already decides).
No tolerance is documented for a threshold or a
delay: the bench's (bench.protection_tolerance) and DELAY_TOLERANCE are OUR READING, stated in each
result. Temperature levels are the unit's own reading (the thermistor trimmed by its reading error),
so a threshold moved by less than the Logic's ±2 °C still shows; MM-MODBUS judges that error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest

from hil.clock import TIME_EPSILON
from hil.duts.movicom_main_2.bench import PROTECTION_QUANTITIES, MovicomBench
from hil.measure import Measurement, capable, equals, info, within
from hil.procedures.placement import place
from hil.procedures.threshold import expected_probe_count, find_trip, go_no_go
from hil.procedures.timing import DelayResult, measure_delay
from hil.uncertainty import resolution as quantisation

ROW = "MM-PROT"
SECTIONS = list(PROTECTION_QUANTITIES)
#: bisection resolution, as a fraction of the trip tolerance
RESOLUTION_OF_TOLERANCE = 0.25
#: half-width of the trip-point search, in margins (tolerance + the stimulus's U)
SEARCH_SPAN_OF_MARGIN = 2
#: "clearly beyond" a level, in margins: where the delays are measured from
CLEARLY = 2
#: delay acceptance: ± this fraction of the configured delay, unless the station's
#: `protection_delay_tolerance` says otherwise (OUR READING: the vendor gives no delay tolerance)
DELAY_TOLERANCE = 0.1
#: polls per configured delay (the polling period is the timing resolution, in U)
POLLS_PER_DELAY = 20
#: a delay is polled from this share of its acceptance's low end on (no edge may come before that)
QUIET_SHARE = 0.9

pytestmark = [pytest.mark.requirement(ROW), pytest.mark.parametrize("section", SECTIONS)]


def _margin(bench: MovicomBench, section: str, level: float) -> float:
    """Tolerance plus the stimulus's U at `level`: a level this far from a threshold is clearly past it."""
    return bench.protection_tolerance(section)[0] + bench.protection_budget(section, level).expanded


def _poll(delay_s: float) -> float:
    return min(0.1, max(0.01, delay_s / POLLS_PER_DELAY))


def _states(closed: frozenset[int], relays: Iterable[int]) -> str:
    """Relay states as text: `1 closed, 2 open, 3 open`."""
    return ", ".join(f"{n} {'closed' if n in closed else 'open'}" for n in sorted(relays))


def _timed(
    bench: MovicomBench,
    stimulus: Callable[[], None],
    edge: str,
    response: Callable[[], bool],
    configured: float,
    fraction: float,
) -> tuple[DelayResult, float]:
    """Apply the stimulus; wait unpolled up to QUIET_SHARE of the acceptance's low end (an edge
    before it fails anyway, seen at the first poll), then poll for the response. Returns the result
    (from the stimulus edge) and the unpolled wait: each RTU read costs tens of ms of wall time."""
    stimulus()
    start = bench.clock.now()
    quiet = configured * (1 - fraction) * QUIET_SHARE
    bench.clock.sleep(quiet)
    polled = measure_delay(
        bench.clock,
        lambda: None,
        {edge: response},
        configured * (1 + fraction) - quiet + bench.settle_s + 1.0,
        _poll(configured),
    )
    return DelayResult(start, polled.edges), quiet


def _delay(
    section: str, name: str, timed: tuple[DelayResult, float], configured: float, fraction: float
) -> Measurement:
    """One delay from timestamps against the configured delay ± `fraction`, U from the polling; an
    edge already there at the first poll is only known to be at most the unpolled wait: it fails."""
    result, quiet = timed
    edge = next(iter(result.edges))
    seen = result.delay(edge)
    early = quiet > 0 and seen is not None and seen <= quiet + TIME_EPSILON
    return capable(
        within(
            ROW,
            f"{section}: {name}",
            None if early else result.estimate(edge),
            "s",
            result.stimulus_time,
            low=configured * (1 - fraction),
            high=configured * (1 + fraction),
            uncertainty=result.budget(edge),
            method=f"stimulus edge to the first poll that saw '{edge}' (polled every "
            f"{result.edges[edge].resolution:g} s from {quiet:.3g} s on), less half a poll",
            notes=(f"already at the first poll: at most {quiet:.3g} s. " if early else "")
            + f"configured {configured:g} s ± {fraction:.0%} (OUR READING: no delay tolerance is "
            "documented; station expectation protection_delay_tolerance)",
            data={"covers": [section]},
        )
    )


def test_trip_go_no_go(bench: MovicomBench, section: str, check) -> None:
    """No error inside the configured threshold, the protection's error beyond it."""
    p, unit = bench.protection(section), bench.protection_unit(section)
    tolerance, source = bench.protection_tolerance(section)
    placement = place(check.rule, tolerance, bench.protection_budget(section, p.set))
    setup = bench.protection_setup(section)
    result = go_no_go(setup, p.set, placement.distance)
    for probe, expected, name in (
        (result.inside, False, "no trip inside the set threshold"),
        (result.beyond, True, "trip beyond the set threshold"),
    ):
        check(
            equals(
                ROW,
                f"{section}: {name}",
                probe.tripped,
                expected,
                probe.time,
                method=f"held {probe.level:.6g} {unit} for {setup.settle_s:g} s (set delay + settle); "
                f"configured set {p.set:g} {unit}; " + placement.describe(unit),
                notes=f"tolerance {tolerance:g} {unit}: {source}." + bench.stimulus_note(section),
                data={**placement.data(probe.level), "covers": [section]},
            )
        )
    bench.rearm_protection(section)


@pytest.mark.not_eol
def test_trip_point(bench: MovicomBench, section: str, check) -> None:
    """The trip point by bisection, within the configured set ± tolerance."""
    p, unit = bench.protection(section), bench.protection_unit(section)
    tolerance, source = bench.protection_tolerance(section)
    step = tolerance * RESOLUTION_OF_TOLERANCE
    span = SEARCH_SPAN_OF_MARGIN * _margin(bench, section, p.set)
    search = find_trip(bench.protection_setup(section), p.set, span, step)
    level = search.point if search.point is not None else p.set
    check(
        capable(
            within(
                ROW,
                f"{section}: trip point",
                search.point,
                unit,
                bench.clock.now(),
                low=p.set - tolerance,
                high=p.set + tolerance,
                uncertainty=bench.protection_budget(section, level).plus(
                    quantisation(f"bisection resolution {step:g} {unit}", step)
                ),
                method=f"bisection over {p.set:g} ± {span:.3g} {unit}, {search.count} probes "
                f"(bound {expected_probe_count(span, step)}), each re-armed by the clear delay",
                notes=f"configured set {p.set:g} {unit}; tolerance {tolerance:g} ({source}). {search.note}"
                + bench.stimulus_note(section),
                data={"covers": [section], "probes": [(x.level, x.tripped, x.time) for x in search.probes]},
            )
        )
    )
    bench.rearm_protection(section)


def test_delays_relays_and_release(bench: MovicomBench, section: str, check) -> None:
    """Trip delay and the relays that open; no release short of `tolerant`, release beyond it after
    the clear delay (from timestamps)."""
    p, unit = bench.protection(section), bench.protection_unit(section)
    tolerance = bench.protection_tolerance(section)[0]
    fraction = bench.expectations.get("protection_delay_tolerance", DELAY_TOLERANCE)
    setup = bench.protection_setup(section)
    beyond = setup.beyond(p.set, CLEARLY * _margin(bench, section, p.set))
    relays = bench.protection_relays()
    expected_open = bench.relays_opened_at(section, beyond)
    covers = {"covers": [section]}
    ready = bench.connect_charger()
    check(
        equals(
            ROW,
            f"{section}: protection relays closed before the trip",
            ready,
            True,
            bench.clock.now(),
            method="charger-connected input active for Ton; relays " + ", ".join(map(str, sorted(relays))),
            data=covers,
        )
    )
    if not ready:
        return

    # --- trip: delay, then which relays are open (read after the settle time)
    trip = _timed(
        bench,
        lambda: bench.set_protection_level(section, beyond),
        "error",
        lambda: bench.protection_tripped(section),
        p.set_delay_s,
        fraction,
    )
    check(_delay(section, "trip delay", trip, p.set_delay_s, fraction))
    bench.clock.sleep(bench.settle_s)
    wanted = _states(frozenset(relays) - expected_open, relays)
    modbus = bench.relays_closed()
    check(
        equals(
            ROW,
            f"{section}: relays closed while tripped (Modbus)",
            _states(modbus, relays),
            wanted,
            bench.clock.now(),
            method=f"Modbus `relays` at {beyond:.6g} {unit}; relays by number",
            notes="open: the relays of every protection whose configured condition holds there",
            data=covers,
        )
    )
    contacts = bench.contacts_closed()
    if contacts is None:
        why = "the station wires no DMM channel RLYn to every protection relay"
        check(
            info(
                ROW,
                f"{section}: relay contacts while tripped",
                None,
                "",
                bench.clock.now(),
                data={"not_covered": why},
            )
        )
    else:
        check(
            equals(
                ROW,
                f"{section}: relay contacts closed while tripped (DAQ RLYn)",
                _states(contacts, relays),
                wanted,
                bench.clock.now(),
                method="2-wire resistance V+ to NO on the DAQ's RLYn channels (closed below 10 Ω)",
                data=covers,
            )
        )

    # --- release through the hysteresis, then the clear delay
    placement = place(check.rule, tolerance, bench.protection_budget(section, p.tolerant))
    short = setup.beyond(p.tolerant, placement.distance)  # just short of `tolerant`: the trip side
    past = setup.inside(p.tolerant, placement.distance)  # just beyond it
    bench.set_protection_level(section, short)
    bench.clock.sleep(p.clear_delay_s + bench.settle_s)
    held = bench.protection_tripped(section)
    check(
        equals(
            ROW,
            f"{section}: no release short of the tolerant threshold",
            held,
            True,
            bench.clock.now(),
            method=f"held {short:.6g} {unit} for the clear delay + settle "
            f"({p.clear_delay_s + bench.settle_s:g} s); configured tolerant {p.tolerant:g} {unit}; "
            + placement.describe(unit),
            data={**placement.data(short), **covers},
        )
    )
    if not held:  # released early: trip again, so the clear delay below is measured from its own edge
        bench.set_protection_level(section, beyond)
        bench.clock.sleep(p.set_delay_s + bench.settle_s)
    locked = False  # locked: no release beyond `tolerant` until acknowledged; the clear delay from then
    if p.lock:
        bench.set_protection_level(section, past)
        bench.clock.sleep(p.clear_delay_s + bench.settle_s)
        locked = bench.protection_tripped(section)
        check(
            equals(
                ROW,
                f"{section}: locked, no release until acknowledged",
                locked,
                True,
                bench.clock.now(),
                method=f"held {past:.6g} {unit} for the clear delay + settle; configured lock: true",
                data=covers,
            )
        )
        if not locked:  # released without one: trip again, the clear delay from the level below
            bench.set_protection_level(section, beyond)
            bench.clock.sleep(p.set_delay_s + bench.settle_s)
        elif not bench.acknowledgeable(section):
            why = "its error has no bit in the acknowledge register's layout (errors_1): not released"
            check(info(ROW, f"{section}: release", None, "", bench.clock.now(), data={"not_covered": why}))
            return
    release = _timed(
        bench,
        lambda: (
            bench.acknowledge_protection(section) if locked else bench.set_protection_level(section, past)
        ),
        "error cleared",
        lambda: not bench.protection_tripped(section),
        p.clear_delay_s,
        fraction,
    )
    released = release[0].edges["error cleared"].time is not None
    check(
        equals(
            ROW,
            f"{section}: release beyond the tolerant threshold",
            released,
            True,
            bench.clock.now(),
            method=f"{past:.6g} {unit} held up to the clear delay + {fraction:.0%} + 1 s; configured "
            f"tolerant {p.tolerant:g} {unit}, lock {str(p.lock).lower()}; " + placement.describe(unit),
            data={**placement.data(past), **covers},
        )
    )
    check(_delay(section, "clear delay", release, p.clear_delay_s, fraction))
    bench.rearm_protection(section)
