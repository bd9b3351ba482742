"""Fixtures of the Movicom Main 2.1 / 2R plan (both families run this folder): the bench, prepared.

Limits a test checks come from the unit's configuration (`bench.config`: the run's --dut-config
file, else the variant's defaults) and the variant's hardware data (`bench.hw`, variants.yaml).
Every result declares the stimulus the bench applied before it (`check` below), so each section
with a stimulus gets its timeline in the report, in every profile.
"""

from __future__ import annotations

import pytest

from fixtures.bench import family_spec, plan_fixtures
from fixtures.checks import Checks
from hil.duts.movicom_main_2.bench import MovicomBench
from hil.measure import Measurement

SPEC = family_spec("movicom-main-2.1")  # one spec file serves both variants

spec_data, bench, _dwell_total, _eol_selection = plan_fixtures(SPEC, MovicomBench)


class StimulusChecks(Checks):
    """`check` that adds to each result what the bench applied before it (`data["stimulus"]`)."""

    def __init__(self, plain: Checks, bench: MovicomBench) -> None:
        super().__init__(plain.recorder, plain.test, plain.rule)
        self.bench = bench

    def __call__(self, m: Measurement) -> Measurement:
        return super().__call__(self.bench.with_stimulus(m))


@pytest.fixture(name="check")
def stimulus_check(check: Checks, bench: MovicomBench) -> StimulusChecks:
    """The plugin's `check`, each result declaring its stimulus; this test's log starts empty (the
    bench was just prepared: nominal)."""
    bench.stimulus_log.restart()
    return StimulusChecks(check, bench)
