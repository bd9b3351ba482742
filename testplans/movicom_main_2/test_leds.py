"""The LEDs as the LED analyser sees them: DS3 at 25 Hz once the Logic link is up (MM-LOGIC), the run
LED blinking, the power LED lit (2.1) and each relay LED lit exactly while its relay is closed (MM-LED)."""

from __future__ import annotations

import pytest

from hil.duts.movicom_main_2.bench import MovicomBench
from hil.measure import equals, within
from hil.spec import SpecFile
from testplans.movicom_main_2.coverage import items

#: the blink frequency's tolerance: OUR READING (the seed gives 2 Hz / 25 Hz without one)
BLINK_TOLERANCE = 0.1


@pytest.mark.requirement("MM-LOGIC")
def test_link_led_blinks_25_hz_once_established(bench: MovicomBench, check) -> None:
    hz = bench.config.fixed.link_up_blink_hz
    blink = bench.leds[bench.hw.leds.link].blink(bench.hw.leds.link, 1.0)
    value = blink.frequency_hz
    check(
        within(
            "MM-LOGIC",
            f"{bench.hw.leds.link} blink once the link is established",
            value,
            "Hz",
            bench.clock.now(),
            low=hz * (1 - BLINK_TOLERANCE),
            high=hz * (1 + BLINK_TOLERANCE),
            data={"covers": ["established 25 Hz"]},
        )
    )


@pytest.mark.requirement("MM-LOGIC")
def test_link_led_blinks_2_hz_while_initialising(bench: MovicomBench, check) -> None:
    hz = bench.config.fixed.link_init_blink_hz
    bench.supply_off()
    bench.clock.sleep(bench.settle_s)
    bench.set_supply(bench.hw.supply.nominal_v)
    bench.clock.sleep(0.1)
    blink = bench.leds[bench.hw.leds.link].blink(bench.hw.leds.link, 1.5)
    check(
        within(
            "MM-LOGIC",
            f"{bench.hw.leds.link} blink while the link initialises",
            blink.frequency_hz,
            "Hz",
            bench.clock.now(),
            low=hz * (1 - BLINK_TOLERANCE),
            high=hz * (1 + BLINK_TOLERANCE),
            data={"covers": ["initialising 2 Hz"]},
        )
    )


@pytest.mark.requirement("MM-LED")
def test_relay_leds_follow_their_relays(bench: MovicomBench, spec_data: SpecFile, check) -> None:
    relays = bench.dut.value("relays")
    assert isinstance(relays, frozenset)
    relay_leds = items(spec_data, "MM-LED", bench, bench.hw.relays[0].led)
    for relay in bench.hw.relays:
        closed = f"relay_{relay.number}" in relays
        reading = bench.leds[relay.led].measure(relay.led)
        check(
            equals(
                "MM-LED",
                f"{relay.led} lit while relay {relay.number} is {'closed' if closed else 'open'}",
                reading.lit,
                closed,
                bench.clock.now(),
                data={"covers": relay_leds},
            )
        )
    run = bench.leds[bench.hw.leds.run].blink(bench.hw.leds.run, 2.5)
    check(
        equals(
            "MM-LED",
            f"{bench.hw.leds.run} blinks while the firmware runs",
            not run.steady,
            True,
            bench.clock.now(),
            data={"covers": [bench.hw.leds.run]},
        )
    )
    if bench.hw.leds.power:
        power = bench.leds[bench.hw.leds.power].measure(bench.hw.leds.power)
        check(
            equals(
                "MM-LED",
                f"{bench.hw.leds.power} lit while powered",
                power.lit,
                True,
                bench.clock.now(),
                data={"covers": items(spec_data, "MM-LED", bench, bench.hw.leds.power)},
            )
        )
