"""The supply range of the variant (MM-SUP-V): running at its minimum, nominal and maximum, not
running 0.5 V below the minimum (observed as no Modbus answer)."""

from __future__ import annotations

import pytest

from hil.duts.movicom_main_2.bench import MovicomBench
from hil.measure import equals
from testplans.movicom_main_2.coverage import short

#: OUR READING (spec MM-SUP-V notes): "does not run" is checked this far below the minimum
BELOW_MIN_V = 0.5
LEVELS = ["minimum", "nominal", "maximum", "below minimum"]


@pytest.mark.requirement("MM-SUP-V")
@pytest.mark.parametrize("level", LEVELS)
def test_runs_across_its_supply_range(bench: MovicomBench, level: str, check) -> None:
    supply = bench.hw.supply
    volts = {
        "minimum": supply.min_v,
        "nominal": supply.nominal_v,
        "maximum": supply.max_v,
        "below minimum": supply.min_v - BELOW_MIN_V,
    }[level]
    running = level != "below minimum"
    bench.set_supply(volts)
    bench.clock.sleep(bench.config.fixed.logic_init_s + bench.settle_s)
    check(
        equals(
            "MM-SUP-V",
            f"answers on Modbus RTU at {volts:g} V ({level})",
            bench.dut.answers(),
            running,
            bench.clock.now(),
            method=f"{bench.hw.title}: supply range {supply.min_v:g}-{supply.max_v:g} V (variants.yaml)",
            data={"covers": [f"{short(bench)}: {supply.min_v:g}-{supply.max_v:g} V", level]},
        )
    )
