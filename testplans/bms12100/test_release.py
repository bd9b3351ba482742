"""EOL read-back: the released firmware and the whole parameter set, read over RS-485 (docs/eol.md).

The design rows (firmware logic the same on every unit) were type-tested on the released set in
the full profile; this proves that this unit runs exactly that set. A parameter that differs fails
every row it governs (the spec rows' `setting`), by name.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hil import registry
from hil.duts.bms12100.bench import Bms12100Bench
from hil.duts.bms12100.config import PARAMETERS
from hil.eol import READBACK_METHOD, compare, load_released
from hil.measure import equals
from hil.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
FAMILY = registry.dut_family("bms12100")
SPEC = load_spec(FAMILY.spec)
assert FAMILY.released is not None, "the 12100 declares its released set"
RELEASED_FILE = FAMILY.released
RELEASED = load_released(RELEASED_FILE)
#: every row the read-back speaks for: the design rows and any row a released parameter governs
ROWS = [r.requirement for r in compare(SPEC, RELEASED, RELEASED.firmware, dict(RELEASED.parameters))]


@pytest.mark.readback
@pytest.mark.requirement(*ROWS)
def test_released_set_read_back(present_bench: Bms12100Bench, check) -> None:
    """Firmware version (0x51) and every parameter (0xD0) equal the released set, row by row.

    Over RS-485 only: the bench is taken as the last test left it (no preparation, no power cycle).
    """
    bench = present_bench
    firmware = str(bench.dut.identity()["firmware"])
    readback = {p.path: bench.dut.read_setting(p.path) for p in PARAMETERS}
    now = bench.clock.now()
    for row in compare(SPEC, RELEASED, firmware, readback):
        check(
            equals(
                row.requirement,
                "unit runs the released firmware and parameters",
                row.as_released,
                True,
                now,
                method=READBACK_METHOD,
                notes="; ".join(
                    ([] if row.firmware_ok else [f"firmware {firmware}, released {RELEASED.firmware}"])
                    + list(row.differences)
                ),
                data={
                    "released_file": str(RELEASED_FILE.relative_to(ROOT)),
                    "firmware": firmware,
                    "released_firmware": RELEASED.firmware,
                    "parameters": list(row.parameters),
                    "differences": list(row.differences),
                },
            )
        )
