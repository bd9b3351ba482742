"""Fixtures of the Movicom Main 2.1 / 2R plan (both families run this folder): the bench, prepared.

Limits a test checks come from the unit's configuration (`bench.config`: the run's --dut-config
file, else the variant's defaults) and the variant's hardware data (`bench.hw`, variants.yaml).
"""

from __future__ import annotations

from fixtures.bench import family_spec, plan_fixtures
from hil.duts.movicom_main_2.bench import MovicomBench

SPEC = family_spec("movicom-main-2.1")  # one spec file serves both variants

spec_data, bench, _dwell_total, _eol_selection = plan_fixtures(SPEC, MovicomBench)
