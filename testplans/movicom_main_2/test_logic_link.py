"""MM-LOGIC: losing a BMS Logic board raises 'Logic offline' (Errors 1 bit 9) and DS4 blinks red;
with the board back the error clears after its clear delay and DS4 goes dark.

The board is lost by unpowering it (bench_logic.lose_board: its cells below the board's minimum).
The delays and the DS4 blink rate are configuration (protections.logic_offline, fixed.error_blink_hz:
OUR READING, not documented); the blink tolerance is OUR READING as for DS3 (test_leds.py).
"""

from __future__ import annotations

import pytest

from hil.duts.movicom_main_2 import bench_logic
from hil.duts.movicom_main_2.bench import MovicomBench
from hil.instruments.roles.signals import blink_from
from hil.measure import equals, within
from hil.uncertainty import budget, resolution
from testplans.movicom_main_2.test_leds import BLINK_TOLERANCE

ROW = "MM-LOGIC"
#: the LED analyser's window for DS4's blink (s): several periods of the configured rate
BLINK_WINDOW_S = 2.0


@pytest.mark.requirement(ROW)
def test_lost_logic_board_raises_logic_offline_and_ds4_blinks_red(bench: MovicomBench, check) -> None:
    lo, hz = bench.config.protections.logic_offline, bench.config.fixed.error_blink_hz
    board = bench.config.logic.boards  # the last board: the first stays, so the link itself is up
    ds4 = bench.hw.leds.error
    analyser = bench.leds[ds4]
    now = bench.clock.now
    try:
        method = bench_logic.lose_board(bench, board)
        bench.clock.sleep(lo.set_delay_s + bench.settle_s)
        check(
            equals(
                ROW,
                "logic_offline reported with a board lost",
                "logic_offline" in bench.errors(),
                True,
                now(),
                method=f"{method}; held the configured set delay {lo.set_delay_s:g} s + settle; "
                "Modbus errors_1 bit 9",
                data={"covers": ["Logic offline error"]},
            )
        )
        reading = analyser.measure(ds4)
        check(equals(ROW, f"{ds4} colour with a board lost", reading.colour, "red", now(), method=method))
        samples, period = analyser.sequence(ds4, BLINK_WINDOW_S)
        blink = blink_from(samples, period)
        rising = [i for i in range(1, len(samples)) if samples[i] and not samples[i - 1]]
        span = (rising[-1] - rising[0]) * period if len(rising) > 1 else BLINK_WINDOW_S
        f = blink.frequency_hz or hz
        check(
            within(
                ROW,
                f"{ds4} blink with a board lost",
                blink.frequency_hz,
                "Hz",
                now(),
                low=hz * (1 - BLINK_TOLERANCE),
                high=hz * (1 + BLINK_TOLERANCE),
                # the first and last rising edges are each known to one sampling period
                uncertainty=budget(
                    resolution(f"LED analyser sampling {period:g} s at the first edge", f * period / span),
                    resolution(f"LED analyser sampling {period:g} s at the last edge", f * period / span),
                    unit="Hz",
                ),
                method=f"{method}; LED analyser over {blink.window_s:g} s, frequency from the first to "
                "the last rising edge",
                notes=f"configured {hz:g} Hz ± {BLINK_TOLERANCE:.0%} (OUR READING: neither is documented)",
                data={"covers": ["DS4 red blink"]},
            )
        )
    finally:
        bench_logic.restore_board(bench, board)
    bench.clock.sleep(lo.clear_delay_s + bench.settle_s)
    restored = (
        f"Logic board {board} powered again at {bench.NOMINAL_CELL_V} V per cell; held the clear delay "
        f"{lo.clear_delay_s:g} s + settle"
    )
    check(
        equals(
            ROW,
            "logic_offline cleared with the board back",
            "logic_offline" in bench.errors(),
            False,
            now(),
            method=restored,
        )
    )
    check(
        equals(
            ROW,
            f"{ds4} dark with the board back",
            analyser.blink(ds4, BLINK_WINDOW_S).lit,
            False,
            now(),
            method=restored,
        )
    )
    bench.prepare()
