"""SIM-ONLY per-unit hardware faults of the D1000 (configuration section `hardware`) on the front end.

A good unit has none. The supply-current fault acts in `D1000Twin.supply_current_a`.
"""

from __future__ import annotations

from dataclasses import replace

from hil.duts.prohelion_d1000_gen2.config import Hardware
from hil.duts.prohelion_d1000_gen2.sim.twin.frontend import Frontend


def with_hardware(base: Frontend, hw: Hardware) -> Frontend:
    """The unit's front end with the faulted channels' extra offsets (unchanged for a good unit)."""
    if not hw.cell_offset_v and not hw.current_offset_a:
        return base
    first = base.cells[0]
    cell = replace(first[0], offset=first[0].offset + hw.cell_offset_v)
    cells = ((cell, *first[1:]), *base.cells[1:])
    current = replace(base.current, offset=base.current.offset + hw.current_offset_a)
    return replace(base, cells=cells, current=current)
