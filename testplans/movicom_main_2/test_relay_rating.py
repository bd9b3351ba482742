"""Each relay's contact at its rated current (MM-RLY-RATE): the relays closed by their configured
functions (the charger signal forced by software control, Modbus 0x5101, as each result says; the
Logic temperatures below the heater's on level), one electronic load per relay draws the variant's
rated current (variants.yaml: 2.1 relays 1-2 2 A, 3-4 8 A; 2R 3 A) from the bench's contact source
through V+ and NO, and the DMM reads the drop across the contact.

The vendor gives no drop limit. OUR READING: the drop at rated current is at most the station's
`contact_resistance_max_ohm` (default 0.1 Ω, the initial contact resistance power-relay data sheets
state) times the rating. U: the DMM's voltage accuracy and the load's current error carried through the
measured contact resistance."""

from __future__ import annotations

import pytest

from hil.duts.movicom_main_2.bench import MovicomBench
from hil.duts.movicom_main_2.terminals import relay_terminal
from hil.measure import Measurement, Verdict, within
from hil.uncertainty import rectangular

#: the station expectation's default (station_needs.yaml): OUR READING
CONTACT_RESISTANCE_MAX_OHM = 0.1


def _covers(bench: MovicomBench, number: int) -> list[str]:
    """The spec's coverage item this relay falls under."""
    if bench.hw.id == "main-2r":
        return ["Main 2R relays 1-4 (55 V, 3 A)"]
    return ["Main 2.1 relays 1-2 (55 V, 2 A)" if number <= 2 else "Main 2.1 relays 3-4 (55 V, 8 A)"]


@pytest.mark.requirement("MM-RLY-RATE")
def test_contact_drop_at_rated_current(bench: MovicomBench, check) -> None:
    r_max = bench.expectations.get("contact_resistance_max_ohm", CONTACT_RESISTANCE_MAX_OHM)
    bench.close_relay_functions()
    try:
        closed = bench.relays_closed()
        for relay in bench.hw.relays:
            function = bench.config.relays[relay.number - 1].function
            if relay.number not in closed:
                why = f"relay {relay.number} ({function}) did not close, so no current could be passed"
                check(
                    Measurement(
                        "MM-RLY-RATE",
                        f"relay {relay.number} closed for the load",
                        False,
                        "",
                        Verdict.INFO,
                        bench.clock.now(),
                        notes=why,
                        data={"not_covered": why},
                    )
                )
                continue
            drop, current = bench.contact_drop(relay.number, relay.max_a)
            load = bench.relay_loads[relay_terminal(relay.number)]
            ohm = drop / current if current > 0 else 0.0
            _, load_error = bench.instrument_error(load.name, "current", relay.max_a)
            u = bench.dmm_budget("voltage", drop).plus(
                rectangular(f"{bench.instrument_label(load.name)}: current × {ohm:.4f} Ω", load_error * ohm)
            )
            check(
                within(
                    "MM-RLY-RATE",
                    f"relay {relay.number} ({relay.header}) contact drop at {relay.max_a:g} A",
                    drop,
                    "V",
                    bench.clock.now(),
                    low=0.0,
                    high=r_max * relay.max_a,
                    uncertainty=u,
                    method=f"relay closed by its function ({function}: the charger signal forced by software "
                    "control, Modbus 0x5101, provisional; Logic temperatures below the heater's on level); "
                    f"{load.name} at {relay.max_a:g} A "
                    f"(read back {current:.3f} A); DMM across V+ and NO. Limit: OUR READING, "
                    f"{r_max:g} Ω (station contact_resistance_max_ohm) x the rating {relay.max_a:g} A "
                    "(variants.yaml); the vendor gives no drop",
                    data={"covers": _covers(bench, relay.number), "contact_ohm": ohm},
                )
            )
    finally:
        bench.release_relay_functions()
