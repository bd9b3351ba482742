"""The shared models (hil.models) and the bench base's arithmetic (hil.bench), family-free."""

from __future__ import annotations

import random

import pytest

from fixtures.bench import family_spec
from hil.bench import UNIT_SCALE, DutBench, limit_of_error
from hil.models.channel import NOISE_SIGMAS, ChannelError, ErrorBudget
from hil.models.ntc import KELVIN_OFFSET, BetaNtc
from hil.models.ocv import interpolate
from hil.spec import Requirement
from hil.station.model import AccuracyModel


def test_beta_ntc_is_its_own_inverse_and_has_r_ref_at_t_ref() -> None:
    ntc = BetaNtc(r_ref_ohm=10_000.0, beta_k=3435.0)
    assert ntc.resistance_ohm(25.0) == pytest.approx(10_000.0)
    for celsius in (-40.0, 0.0, 25.0, 60.0, 120.0):
        assert ntc.temperature_c(ntc.resistance_ohm(celsius)) == pytest.approx(celsius, abs=1e-9)
    assert ntc.resistance_ohm(0.0) > ntc.resistance_ohm(50.0)  # negative temperature coefficient


def test_beta_ntc_sensitivity_is_beta_over_t_squared() -> None:
    ntc = BetaNtc(r_ref_ohm=10_000.0, beta_k=3380.0)
    t_k = 25.0 + KELVIN_OFFSET
    assert ntc.sensitivity(25.0) == pytest.approx(3380.0 / t_k**2, rel=1e-3)


def test_beta_ntc_refuses_impossible_inputs() -> None:
    ntc = BetaNtc(r_ref_ohm=10_000.0, beta_k=3380.0)
    with pytest.raises(ValueError, match="absolute zero"):
        ntc.resistance_ohm(-300.0)
    with pytest.raises(ValueError, match="positive"):
        ntc.temperature_c(0.0)


def test_interpolate_is_linear_between_points_and_clamps_outside() -> None:
    xs, ys = (1.0, 2.0, 4.0), (10.0, 20.0, 0.0)
    assert interpolate(1.5, xs, ys) == pytest.approx(15.0)
    assert interpolate(3.0, xs, ys) == pytest.approx(10.0)
    assert interpolate(2.0, xs, ys) == 20.0
    assert interpolate(0.0, xs, ys) == 10.0
    assert interpolate(9.0, xs, ys) == 0.0


def test_channel_noise_is_truncated_and_the_budget_bounds_the_drawn_errors() -> None:
    rng = random.Random(7)
    budget = ErrorBudget(gain=0.01, offset=0.5, noise_sigma=0.2)
    for _ in range(200):
        channel = budget.draw(rng)
        assert abs(channel.gain) <= 0.01 and abs(channel.offset) <= 0.5
        reading = channel.apply(10.0, rng)
        noise = reading - (10.0 * (1.0 + channel.gain) + channel.offset)
        assert abs(noise) <= NOISE_SIGMAS * 0.2 + 1e-12
    exact = ChannelError(gain=0.02, offset=-0.1)
    assert exact.true_for(exact.apply(3.0, rng)) == pytest.approx(3.0)


def test_limit_of_error_is_gain_times_magnitude_plus_offset() -> None:
    acc = AccuracyModel(gain=0.001, offset=0.002)
    assert limit_of_error(acc, -5.0) == pytest.approx(0.007)
    assert limit_of_error(None, 5.0) == 0.0


def test_the_bench_scales_a_rows_unit_to_the_stimulus_unit_and_refuses_others() -> None:
    first = family_spec("bms12100").requirements[0]

    def row(unit: str) -> Requirement:
        return first.model_copy(update={"unit": unit})

    assert DutBench.scale(row("mV")) == UNIT_SCALE["mV"] == 1e-3
    assert DutBench.scale(row("%")) == 0.01
    with pytest.raises(ValueError, match="no stimulus scale for unit 'Ah'"):
        DutBench.scale(row("Ah"))
