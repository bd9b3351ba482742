"""The decision rule applied is the declared one: probe placement, U rounding, missing accuracy figures."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from hilcli import ROOT, hil

from hil.measure import DecisionRule, Verdict, capable, judge, within
from hil.procedures.placement import place
from hil.procedures.timing import DelayResult, Edge
from hil.report.model import format_measurement, gum_round
from hil.uncertainty import budget, rectangular


def test_simple_acceptance_places_probes_at_the_spec_limits() -> None:
    stimulus = budget(rectangular("cell emulator", 1.0))  # U = 2/√3 ≈ 1.15
    p = place(DecisionRule.parse("simple"), 20.0, stimulus)
    assert p.distance == 20.0  # nominal ∓ tolerance: no widening by the instrument
    assert p.guard_band == 0.0
    assert p.data(3630.0)["level_uncertainty"] == pytest.approx(2 / 3**0.5)
    assert "at the spec's limits" in p.describe("mV")


def test_guarded_acceptance_places_probes_inside_by_the_guard_band() -> None:
    stimulus = budget(rectangular("cell emulator", 1.0))
    p = place(DecisionRule.parse("guarded:2"), 20.0, stimulus)
    assert p.guard_band == pytest.approx(2 * 2 / 3**0.5)
    assert p.distance == pytest.approx(20.0 - p.guard_band)
    assert p.data(0.0)["placement_rule"] == "guarded:2"
    # a guard band wider than the tolerance puts both probes on the nominal value, never past it
    assert place(DecisionRule.parse("guarded:100"), 1.0, stimulus).distance == 0.0


def test_limits_stay_the_specs_and_u_does_not_widen_them() -> None:
    m = within("ACC-T", "reading", -12.95, "°C", 0.0, low=-17.0, high=-13.0, uncertainty=0.02)
    assert (m.low, m.high) == (-17.0, -13.0)
    assert m.verdict is Verdict.FAIL  # 0.05 °C outside: U is reported, not added to the limit


def test_a_result_whose_u_exceeds_its_tolerance_is_characterised_not_passed() -> None:
    m = capable(within("ACC-I", "5 A", -5.02, "A", 0.0, low=-5.1, high=-4.9, uncertainty=0.28))
    assert m.verdict is Verdict.INFO
    assert "exceeds the tolerance" in m.data["not_covered"]
    kept = capable(within("ACC-I", "50 A", 50.1, "A", 0.0, low=49.5, high=50.5, uncertainty=0.2))
    assert kept.verdict is Verdict.PASS


def test_delay_estimate_takes_half_a_poll_off_and_carries_its_u() -> None:
    result = DelayResult(10.0, {"flag": Edge("flag", 11.02, 0.02)})
    assert result.estimate("flag") == pytest.approx(1.01)
    assert result.budget("flag").expanded == pytest.approx(2 * 0.02 / 12**0.5)


@pytest.mark.parametrize(
    ("value", "u", "shown"),
    [
        (53.9213, 0.18, ("53.92", "0.18")),
        (-0.0535375, 0.0123, ("-0.054", "0.012")),
        (3648.3211, 2.5, ("3648.3", "2.5")),
        (1.508, 0.0466, ("1.508", "0.047")),
        (5.0, 9.97, ("5", "10")),
        (12345.6, 123.0, ("12350", "120")),
    ],
)
def test_gum_rounding(value: float, u: float, shown: tuple[str, str]) -> None:
    assert gum_round(value, u) == shown


def test_report_string_rounds_value_to_u() -> None:
    m = within("CV-OVP", "trip point", 3648.3211, "mV", 2.0, low=3630.0, high=3670.0, uncertainty=2.46)
    assert format_measurement(m) == "3648.3 ± 2.5 mV [3630, 3670]"


def test_station_missing_an_accuracy_figure_is_refused_before_the_run(tmp_path: Path) -> None:
    data = yaml.safe_load((ROOT / "stations" / "sim-bms12100.yaml").read_text())
    del data["instruments"]["daq"]["accuracy"]["current"]
    station = tmp_path / "no-daq-current.yaml"
    station.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    result = hil("run", "--station", str(station), "--profile", "eol", "--out", str(out))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {station}: field 'instruments.daq.accuracy.current': expected ")
    assert not (out / "record.jsonl").exists()


def test_a_row_is_partial_when_its_results_cover_only_some_of_what_it_states() -> None:
    from hil.report.model import row_coverage

    spec = {"id": "PM-WAKE", "coverage": ["RS-485 communication", "the button", "charging"]}
    woken = within("PM-WAKE", "woken", 1.0, "", 0.0, low=0.0, high=2.0, uncertainty=0.1)
    woken.data["covers"] = ["RS-485 communication"]
    assert row_coverage(spec, [woken]) == (["RS-485 communication"], ["the button", "charging"])
    weak = capable(within("PM-WAKE", "5 A", 1.0, "A", 0.0, low=0.9, high=1.1, uncertainty=0.5))
    covered, missing = row_coverage({"id": "X"}, [weak])
    assert covered == [] and missing[0].startswith("5 A: not judged")


@pytest.mark.parametrize("limits", [(0.0, 2.0), (None, 2.0), (0.0, None), (1, 1)])
def test_judged_under_simple_acceptance_is_judge_verdict_and_leaves_the_original(
    limits: tuple[float | None, float | None],
) -> None:
    """`judged` takes a shortcut for a float under simple acceptance: each result (at, inside and
    beyond either limit, -0.0, inf, NaN; with and without U) is what `judge` gives, in a copy whose
    record entry differs from the original's only in verdict, rule and guard band."""
    low, high = limits
    simple = DecisionRule.parse("simple")
    for value in (-1.0, -0.0, 0.0, 1.0, 1.5, 2.0, 2.5, math.inf, -math.inf, math.nan):
        for u in (None, 0.3):
            m = within("CV-OVP", "v", value, "V", 1.0, low=low, high=high, uncertainty=u)
            m.verdict = Verdict.FAIL if m.verdict is Verdict.PASS else Verdict.PASS  # to be re-judged
            before = m.to_json()
            got = m.judged(simple)
            expected, w = judge(value, low, high, u, simple)
            assert (got.verdict, got.decision_rule, got.guard_band) == (expected, "simple", w)
            assert got.to_json() == {
                **before,
                "verdict": expected.value,
                "decision_rule": "simple",
                "guard_band": 0.0,
            }
            assert list(got.to_json()) == list(before) and m.to_json() == before


@pytest.mark.parametrize("limits", [(0.0, 2.0), (0.0, None), (None, 2.0), (None, None)])
def test_within_without_u_or_rule_judges_as_judge_does(limits: tuple[float | None, float | None]) -> None:
    """`within` takes a shortcut when neither U, a rule nor extra fields are given: its verdict is
    what `judge` gives (at, inside and beyond each limit, -0.0, ±inf, NaN, None, an int), and the
    measurement is the one the general path builds (the same fields, in the same order)."""
    low, high = limits
    for value in (-1.0, -0.0, 0.0, 1.0, 2.0, 2.5, math.inf, -math.inf, math.nan, None, 1, 3):
        short = within("CV-OVP", "v", value, "V", 1.0, low=low, high=high)
        general = within("CV-OVP", "v", value, "V", 1.0, low=low, high=high, notes="")  # an extra field
        assert short.verdict is judge(value, low, high)[0], value
        assert list(short.to_json()) == list(general.to_json())
        assert str(short.to_json()) == str(general.to_json())  # NaN: compared as text
