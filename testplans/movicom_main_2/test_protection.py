"""Cell over- and under-voltage protections by go/no-go at the unit's configured thresholds (MM-PROT):
no error a margin inside the limit, the protection's error a margin beyond it."""

from __future__ import annotations

import pytest

from hil.duts.movicom_main_2.bench import LOGIC_CELL_ACCURACY_V, MovicomBench
from hil.measure import equals
from hil.procedures.threshold import go_no_go


@pytest.mark.requirement("MM-PROT")
@pytest.mark.parametrize("section", ["overvoltage", "undervoltage"])
def test_cell_voltage_protection_go_no_go(bench: MovicomBench, section: str, check) -> None:
    limit = bench.protection(section).set  # the unit's configuration, not the spec's example
    _, setting = bench.cell_error(limit)
    margin = 2 * (LOGIC_CELL_ACCURACY_V + setting)  # clearly beyond the Logic's error and the emulator's
    setup = bench.protection_setup(section)  # type: ignore[arg-type]
    result = go_no_go(setup, limit, margin)
    for probe, expected, name in (
        (result.inside, False, f"{section}: no error inside the limit"),
        (result.beyond, True, f"{section}: error beyond the limit"),
    ):
        check(
            equals(
                "MM-PROT",
                name,
                probe.tripped,
                expected,
                probe.time,
                method=f"cell L1C01 held at {probe.level:.3f} V for {setup.settle_s:g} s; "
                f"configured set {limit:g} V, margin {margin:.3f} V",
            )
        )
    bench.prepare()
