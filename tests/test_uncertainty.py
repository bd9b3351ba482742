"""Uncertainty budgets from the station's accuracy figures, and the decision rules (ILAC-G8)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from fixtures.plugin import Checks
from hil.measure import DecisionRule, Measurement, Verdict, equals, info, judge, within
from hil.record import Recorder
from hil.station.model import StationModel
from hil.uncertainty import (
    Budget,
    budget,
    dut_accuracy,
    normal,
    rectangular,
    resolution,
    standard,
    station_uncertainty,
)


def station() -> StationModel:
    cells = {
        "role": "cell_emulator",
        "driver": "keysight-n6705c",
        "model": "Keysight N6705C + 4x N6781A",
        "resource": "TCPIP0::127.0.0.1::5027::SOCKET",
        "channels": {"CELL1": "1"},
        "accuracy": {"voltage": {"gain": 0.00025, "offset": 0.0006, "resolution": 0.0001}},
        "asset_id": "A-1",
        "calibration_due": "2030-01-01",
    }
    return StationModel.model_validate(
        {
            "name": "unit",
            "simulated": False,
            "dut": {"name": "bms12100"},
            "buses": {},
            "instruments": {"cells": cells},
        }
    )


def test_distributions_reduce_to_standard_uncertainties() -> None:
    assert rectangular("a", 3.0).standard == pytest.approx(3.0 / math.sqrt(3))
    assert resolution("q", 1.0).standard == pytest.approx(1.0 / math.sqrt(12))
    assert normal("cert", 4.0).standard == pytest.approx(2.0)
    assert normal("cert", 3.0, k=3).standard == pytest.approx(1.0)
    assert standard("type A", -0.5).standard == 0.5
    assert dut_accuracy("ACC-CV ±20 mV", 20.0).standard == pytest.approx(20.0 / math.sqrt(3))


def test_budget_is_root_sum_of_squares_times_k() -> None:
    b = budget(standard("x", 3.0), standard("y", 4.0))
    assert b.combined == pytest.approx(5.0)
    assert b.expanded == pytest.approx(10.0)
    assert b.k == 2.0
    assert Budget((standard("x", 3.0),), k=3.0).expanded == pytest.approx(9.0)
    more = b.plus(standard("z", 12.0), budget(standard("w", 0.0)))
    assert more.combined == pytest.approx(13.0)
    assert len(more.contributions) == 4
    assert len(b.contributions) == 2  # budgets are values


def test_station_uncertainty_of_a_cell_voltage_setting() -> None:
    """N6781A voltage at 3.65 V: ±(0.025 % · 3.65 V + 0.6 mV) and 0.1 mV resolution, in mV."""
    b = station_uncertainty(station(), "cells", "voltage", 3.65, scale=1000.0, unit="mV")
    accuracy, step = b.contributions
    assert accuracy.kind == "rectangular"
    assert accuracy.figure == pytest.approx(1.5125)  # mV
    assert accuracy.standard == pytest.approx(1.5125 / math.sqrt(3))
    assert step.kind == "resolution"
    assert step.figure == pytest.approx(0.1)
    assert b.combined == pytest.approx(math.sqrt(1.5125**2 / 3 + 0.1**2 / 12))
    assert b.expanded == pytest.approx(2 * math.sqrt(1.5125**2 / 3 + 0.1**2 / 12))
    assert b.expanded == pytest.approx(1.7474, abs=1e-4)
    assert b.unit == "mV"
    # by role as well as by name; negative values use |x|
    assert station_uncertainty(
        station(), "cell_emulator", "voltage", -3.65, 1000.0
    ).expanded == pytest.approx(b.expanded)


def test_station_uncertainty_names_the_missing_figure() -> None:
    with pytest.raises(KeyError, match=r"instruments\.cells\.accuracy has no 'current' \(it has: voltage\)"):
        station_uncertainty(station(), "cells", "current", 1.0)
    with pytest.raises(KeyError, match="no instrument or role named 'load'"):
        station_uncertainty(station(), "load", "current", 1.0)


def test_decision_rule_parsing() -> None:
    assert DecisionRule.parse("simple") == DecisionRule("simple")
    assert DecisionRule.parse("guarded") == DecisionRule("guarded", 1.0)
    assert DecisionRule.parse("guarded:0.5").guard_factor == 0.5
    assert DecisionRule.parse("guarded:0.5").name == "guarded:0.5"
    for bad in ("strict", "simple:1", "guarded:x", "guarded:-1"):
        with pytest.raises(ValueError):
            DecisionRule.parse(bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (100.0, Verdict.PASS),  # middle of [90, 110]
        (108.0, Verdict.PASS),  # acceptance zone ends at 110 - 2 = 108
        (109.0, Verdict.CONDITIONAL_PASS),  # inside the limit, inside the guard band
        (110.0, Verdict.CONDITIONAL_PASS),
        (111.0, Verdict.CONDITIONAL_FAIL),  # outside by less than w
        (112.0, Verdict.CONDITIONAL_FAIL),
        (112.5, Verdict.FAIL),
        (91.0, Verdict.CONDITIONAL_PASS),  # the lower limit has its guard band too
        (88.5, Verdict.CONDITIONAL_FAIL),
        (87.0, Verdict.FAIL),
    ],
)
def test_guarded_acceptance_zones(value: float, expected: Verdict) -> None:
    verdict, w = judge(value, 90.0, 110.0, 2.0, DecisionRule("guarded"))
    assert (verdict, w) == (expected, 2.0)


def test_simple_acceptance_ignores_the_uncertainty() -> None:
    assert judge(109.9, 90.0, 110.0, 5.0) == (Verdict.PASS, 0.0)
    assert judge(110.1, 90.0, 110.0, 5.0) == (Verdict.FAIL, 0.0)
    assert judge(None, 90.0, 110.0, 5.0)[0] == Verdict.FAIL
    assert judge(math.nan, None, None)[0] == Verdict.FAIL
    # guarded with no stated uncertainty has no guard band
    assert judge(109.9, 90.0, 110.0, None, DecisionRule("guarded")) == (Verdict.PASS, 0.0)
    # a guard band factor scales w
    assert judge(109.0, 90.0, 110.0, 2.0, DecisionRule("guarded", 0.25)) == (Verdict.PASS, 0.5)


def test_plan_call_sites_keep_working() -> None:
    """The signatures the plans use: positional requirement, name, value, unit, time; limits by keyword."""
    m = within("CV-OVP", "trip point", 3650.0, "mV", 1.0, low=3628.0, high=3672.0, uncertainty=2.5)
    assert (m.verdict, m.uncertainty, m.decision_rule, m.budget) == (Verdict.PASS, 2.5, "", [])
    m = within(
        "CV-OVP", "trip point", 3650.0, "mV", 1.0, low=3628.0, high=3672.0, method="bisection", notes="n"
    )
    assert (m.method, m.notes, m.uncertainty) == ("bisection", "n", None)
    assert equals("CV-OVP", "tripped", True, True, 1.0, method="held", data={"level": 1.0}).passed
    assert not equals("CV-OVP", "tripped", False, True, 1.0).passed
    assert info("CHG-HV", "current", 5.0, "A", 1.0).verdict == Verdict.INFO
    assert not within("X", "n", None, "V", 0.0, low=1.0).passed


def test_within_with_a_budget_and_a_rule() -> None:
    b = station_uncertainty(station(), "cells", "voltage", 3.65, scale=1000.0, unit="mV")
    m = within("CV-OVP", "trip point", 3671.0, "mV", 1.0, low=3628.0, high=3672.0, uncertainty=b)
    assert m.verdict == Verdict.PASS  # simple acceptance until the run's rule judges it
    assert m.uncertainty == pytest.approx(b.expanded)
    assert m.coverage_factor == 2.0
    assert [c["kind"] for c in m.budget] == ["rectangular", "resolution"]
    m = within(
        "CV-OVP",
        "trip point",
        3671.0,
        "mV",
        1.0,
        low=3628.0,
        high=3672.0,
        uncertainty=b,
        rule=DecisionRule("guarded"),
    )
    assert m.verdict == Verdict.CONDITIONAL_PASS
    assert not m.passed
    assert m.guard_band == pytest.approx(b.expanded)
    assert m.decision_rule == "guarded:1"
    assert "CONDITIONAL-PASS" in m.describe() and "guard band" in m.describe()


def test_check_applies_the_run_rule_and_records_it(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "record.jsonl")
    checks = Checks(rec, "test_x", DecisionRule("guarded"))
    near = checks(within("CV-UVP", "trip point", 2779.0, "mV", 8.0, low=2778.0, high=2822.0, uncertainty=2.0))
    fine = checks(
        within("CV-UVP", "release point", 3100.0, "mV", 9.0, low=3078.0, high=3122.0, uncertainty=2.0)
    )
    fixed = checks(
        within(
            "CV-UVP",
            "own rule",
            2779.0,
            "mV",
            9.0,
            low=2778.0,
            high=2822.0,
            uncertainty=2.0,
            rule=DecisionRule(),
        )
    )
    seen = checks(equals("CV-UVP", "tripped", True, True, 9.0))
    rec.close()
    assert (near.verdict, fine.verdict, fixed.verdict, seen.verdict) == (
        Verdict.CONDITIONAL_PASS,
        Verdict.PASS,
        Verdict.PASS,  # a rule the plan chose is kept
        Verdict.PASS,
    )
    assert checks.failed == [near]
    entries = [json.loads(line) for line in (tmp_path / "record.jsonl").read_text().splitlines()]
    assert [(e["verdict"], e["decision_rule"], e["guard_band"]) for e in entries] == [
        ("conditional-pass", "guarded:1", 2.0),
        ("pass", "guarded:1", 2.0),
        ("pass", "simple", 0.0),
        ("pass", "guarded:1", None),
    ]
    assert Measurement.from_json(entries[0]) == near
