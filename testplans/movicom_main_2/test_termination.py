"""The termination jumpers (MM-TERM-CAN: 2.1 P21, 2R J3 CAN1 and J1 CAN2; MM-TERM-485: 2.1 P22, 2R J2):
about 120 Ω across the bus pair with the jumper fitted (1-2), open without it (2-3). The DMM reads
2-wire ohms, the switch routing it to the pair (and away from the bench's bus adapter, whose own
terminator would be in parallel) for the reading only.

Both positions are tested where a fixture relay replaces the jumper (switch terminal `JMP_<jumper>`);
otherwise only the position the station declares (expectation `termination_<jumper>_fitted`), and
the other is reported as not covered, so the row is PARTIAL and names it."""

from __future__ import annotations

import pytest

from hil.duts.movicom_main_2.bench import MovicomBench
from hil.duts.movicom_main_2.terminals import terminations
from hil.measure import Measurement, Verdict, equals, within
from hil.spec import SpecFile

#: the spec's nominal terminator (both rows)
TERMINATION_OHM = 120.0
#: the station expectation's default (station_needs.yaml): OUR READING
TOLERANCE_OHM = 2.0
#: OUR READING: "open" is a reading above this (a CAN or RS-485 node's input resistance is tens of kΩ,
#: a terminator 120 Ω); an open pair reads as the DMM's overload
OPEN_MIN_OHM = 10_000.0
#: a DMM reading at or above this is its overload indication (an open pair), not a resistance
OVERLOAD_OHM = 9.9e37
ROWS = {"MM-TERM-CAN": "CAN", "MM-TERM-485": "RS-485"}


def _item(spec_data: SpecFile, rid: str, bench: MovicomBench, jumper: str) -> list[str]:
    """The row's coverage item naming this variant's `jumper` (e.g. "Main 2R: J3 (CAN1)")."""
    prefix = f"{bench.hw.title.removeprefix('Movicom BMS ')}: {jumper}"
    return [i for i in spec_data.get(rid).coverage_names() if i == prefix or i.startswith(prefix + " ")]


def _not_covered(rid: str, name: str, why: str, now: float) -> Measurement:
    return Measurement(rid, name, None, "", Verdict.INFO, now, notes=why, data={"not_covered": why})


def _judge(
    bench: MovicomBench, rid: str, jumper: str, bus: str, fitted: bool, covers: list[str]
) -> Measurement:
    ohm = bench.termination_ohm(jumper)
    position = "fitted (1-2)" if fitted else "not fitted (2-3)"
    method = f"DMM 2-wire ohms across the {bus} pair, routed by the switch; jumper {jumper} {position}"
    data = {"covers": [*covers, "fitted" if fitted else "not fitted"]}
    if not fitted:
        return equals(
            rid,
            f"{jumper} ({bus}) open with the jumper not fitted",
            ohm >= OPEN_MIN_OHM,
            True,
            bench.clock.now(),
            method=f"{method}: {ohm:.6g} Ω (open: above {OPEN_MIN_OHM:g} Ω, OUR READING)",
            data=data,
        )
    tolerance = bench.expectations.get("termination_tolerance_ohm", TOLERANCE_OHM)
    overload = ohm >= OVERLOAD_OHM
    return within(
        rid,
        f"{jumper} ({bus}) termination with the jumper fitted",
        None if overload else ohm,
        "Ω",
        bench.clock.now(),
        low=TERMINATION_OHM - tolerance,
        high=TERMINATION_OHM + tolerance,
        uncertainty=None if overload else bench.dmm_budget("resistance", ohm),
        method=f"{method}; limit ±{tolerance:g} Ω: the station's termination_tolerance_ohm (OUR READING: "
        "no tolerance is documented)",
        notes="the DMM read overload: the pair is open" if overload else "",
        data=data,
    )


@pytest.mark.parametrize("rid", [pytest.param(r, marks=pytest.mark.requirement(r), id=r) for r in ROWS])
def test_termination_jumpers(bench: MovicomBench, spec_data: SpecFile, rid: str, check) -> None:
    for jumper, bus in terminations(bench.hw):
        if (bus == "RS-485") != (ROWS[rid] == "RS-485"):
            continue
        covers = _item(spec_data, rid, bench, jumper)
        if bench.jumper_settable(jumper):
            for fitted in (True, False):
                bench.set_jumper(jumper, fitted)
                check(_judge(bench, rid, jumper, bus, fitted, covers))
            bench.set_jumper(jumper, True)
            continue
        declared = bench.jumper_declared(jumper)
        now = bench.clock.now()
        if declared is None:
            why = (
                f"jumper {jumper}: its position is unknown (no fixture relay JMP_{jumper} and no station "
                f"expectation termination_{jumper}_fitted)"
            )
            check(_not_covered(rid, f"{jumper} ({bus}) termination", why, now))
            continue
        check(_judge(bench, rid, jumper, bus, declared, covers))
        other = "not fitted" if declared else "fitted"
        why = f"jumper {jumper} {other}: this bench cannot move the jumper (no fixture relay JMP_{jumper})"
        check(_not_covered(rid, f"{jumper} ({bus}) {other}", why, now))
