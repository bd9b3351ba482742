"""EOL read-back: the released firmware version and the readable parameters, over Modbus (docs/eol.md).

What the public map lets us read (hil/duts/movicom_main_2/protocol/readback.py): the firmware
version and the battery parameters. The settings of the design rows (protections, charge control,
heater) are not readable: those rows keep their tests in the EOL profile (`not_read_back` of the
variant's released file), and this test adds only the firmware comparison to them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hil import registry
from hil.duts.movicom_main_2.bench import MovicomBench
from hil.duts.movicom_main_2.protocol.readback import read_back
from hil.eol import READBACK_METHOD, compare, load_released
from hil.measure import equals
from hil.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
FAMILY = registry.dut_family("movicom-main-2.1")
SPEC = load_spec(FAMILY.spec)
assert FAMILY.released is not None, "the Main 2.1 declares its released set"
_SHAPE = load_released(FAMILY.released)  # both variants' files name the same parameters
#: every row the read-back speaks for: the design rows and the interface row of the parameters
ROWS = [r.requirement for r in compare(SPEC, _SHAPE, _SHAPE.firmware, dict(_SHAPE.parameters))]
FIRMWARE_ONLY_METHOD = (
    "released firmware version read back; the settings cannot be: the row keeps its EOL tests"
)


@pytest.mark.readback
@pytest.mark.requirement(*ROWS)
def test_released_set_read_back(bench: MovicomBench, check) -> None:
    """Firmware version (input 0x0001) and the battery parameters (0x2420-0x2429) equal the
    released set of this variant, row by row, over Modbus RTU."""
    family = registry.dut_family(bench.station.model.dut.name)
    assert family.released is not None, f"{family.name} declares its released set"
    released = load_released(family.released)
    firmware, readback = read_back(bench.dut)
    now = bench.clock.now()
    for row in compare(SPEC, released, firmware, readback):
        firmware_only = not row.parameters and row.requirement in released.not_read_back
        check(
            equals(
                row.requirement,
                "unit runs the released firmware"
                if firmware_only
                else "unit runs the released firmware and parameters",
                row.as_released,
                True,
                now,
                method=FIRMWARE_ONLY_METHOD if firmware_only else READBACK_METHOD,
                notes="; ".join(
                    ([] if row.firmware_ok else [f"firmware {firmware}, released {released.firmware}"])
                    + list(row.differences)
                    + ([released.not_read_back[row.requirement]] if firmware_only else [])
                ),
                data={
                    "released_file": str(family.released.relative_to(ROOT)),
                    "firmware": firmware,
                    "released_firmware": released.firmware,
                    "parameters": list(row.parameters),
                    "differences": list(row.differences),
                },
            )
        )
