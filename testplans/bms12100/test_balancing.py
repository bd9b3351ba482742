"""Dissipative balancing (seed §3.7, §6.1, §7.7): BAL-START, BAL-END, BAL-CHG, BAL-STBY, BAL-HT, BAL-LT.

Balancing is seen where it acts: the bleed current on the balanced cell's emulator channel,
compared with a cell that is not balanced (the pack current is common to both).
"""

from __future__ import annotations

import pytest

from hil.duts.bms12100.harness import NEUTRAL_C, PROBE_CURRENT_A, Bms12100Bench
from hil.duts.bms12100.ntc import resistance_ohm
from hil.measure import equals, info

#: a bleed below this (A) counts as no balancing; channel readback is good to ~0.1 mA
BLEED_SEEN_A = 0.005
HIGH_CELL_V = 3.46
SETTLE_S = 5.0


def _bleed(bench: Bms12100Bench) -> float:
    """Extra current drawn from cell 1's channel compared with cell 2's (A)."""
    cells = bench.station.cells
    return cells.measure_current("CELL1") - cells.measure_current("CELL2")


def _cells(bench: Bms12100Bench, high: float, spread_mv: float) -> None:
    base = high - spread_mv / 1000.0
    bench.set_cells([high, base, base, base])


def _cell_temperatures(bench: Bms12100Bench, celsius: float) -> None:
    for terminal in ("T_CELL1", "T_CELL2"):
        bench.station.ntc.set_temperature(terminal, celsius, resistance_ohm)


@pytest.mark.requirement("BAL-START", "BAL-CHG")
def test_start_conditions_while_charging(bench: Bms12100Bench, check) -> None:
    """Starts only with a cell above 3400 mV AND the spread at 30 mV; runs while charging."""
    bench.charge(PROBE_CURRENT_A)
    cases = (
        ("BAL-START", "no balancing below the start voltage (3.39 V, 50 mV spread)", 3.39, 50.0, False),
        ("BAL-START", "no balancing below the opening spread (3.46 V, 22 mV)", HIGH_CELL_V, 22.0, False),
        ("BAL-CHG", "balancing while charging (3.46 V, 50 mV)", HIGH_CELL_V, 50.0, True),
    )
    for rid, name, high, spread, expected in cases:
        _cells(bench, high, spread)
        bench.clock.sleep(SETTLE_S)
        bleed = _bleed(bench)
        check(equals(rid, name, bleed > BLEED_SEEN_A, expected, bench.clock.now(), data={"bleed_a": bleed}))
    check(info("BAL-CHG", "bleed current", _bleed(bench), "A", bench.clock.now()))


@pytest.mark.requirement("BAL-END")
def test_end_spread(bench: Bms12100Bench, check) -> None:
    """Once running, balancing continues at 25 mV (hysteresis) and ends below the 20 mV end spread."""
    bench.charge(PROBE_CURRENT_A)
    _cells(bench, HIGH_CELL_V, 50.0)
    bench.clock.sleep(SETTLE_S)
    _cells(bench, HIGH_CELL_V, 25.0)
    bench.clock.sleep(SETTLE_S)
    check(equals("BAL-END", "continues at 25 mV", _bleed(bench) > BLEED_SEEN_A, True, bench.clock.now()))
    _cells(bench, HIGH_CELL_V, 15.0)
    bench.clock.sleep(SETTLE_S)
    check(equals("BAL-END", "ends below 20 mV", _bleed(bench) > BLEED_SEEN_A, False, bench.clock.now()))


@pytest.mark.requirement("BAL-HT", "BAL-LT")
@pytest.mark.parametrize(("celsius", "expected"), [(55.0, False), (-3.0, False), (NEUTRAL_C, True)])
def test_temperature_bans(bench: Bms12100Bench, celsius: float, expected: bool, check) -> None:
    """No balancing above 50 °C or below 0 °C on the cell NTCs."""
    rid = "BAL-HT" if celsius > NEUTRAL_C else "BAL-LT" if celsius < NEUTRAL_C else "BAL-CHG"
    _cell_temperatures(bench, celsius)
    bench.charge(PROBE_CURRENT_A)
    _cells(bench, HIGH_CELL_V, 50.0)
    bench.clock.sleep(SETTLE_S)
    check(
        equals(rid, f"balancing at {celsius:g} °C", _bleed(bench) > BLEED_SEEN_A, expected, bench.clock.now())
    )


@pytest.mark.long
@pytest.mark.requirement("BAL-STBY")
def test_standby_balancing_time_limit(bench: Bms12100Bench, spec_data, check) -> None:
    """In standby it balances, for at most the standby balancing time (10 h)."""
    hours = float(spec_data.get("BAL-STBY").value or 10.0)
    bench.idle()
    _cells(bench, HIGH_CELL_V, 50.0)
    bench.clock.sleep(SETTLE_S)
    check(equals("BAL-STBY", "balancing in standby", _bleed(bench) > BLEED_SEEN_A, True, bench.clock.now()))
    bench.clock.sleep(hours * 3600 - 600)
    check(
        equals(
            "BAL-STBY",
            "still balancing 10 min before the limit",
            _bleed(bench) > BLEED_SEEN_A,
            True,
            bench.clock.now(),
        )
    )
    bench.clock.sleep(1200)
    check(
        equals(
            "BAL-STBY",
            "stopped 10 min after the limit",
            _bleed(bench) > BLEED_SEEN_A,
            False,
            bench.clock.now(),
        )
    )
