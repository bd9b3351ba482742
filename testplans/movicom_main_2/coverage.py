"""The spec's coverage items a Movicom test names in its results (`data["covers"]`).

Items of one variant read "<variant>: <part> ..." (spec.yaml, e.g. "Main 2R: X13 CAN1"); a test finds
its own by the part it exercised, so the names stay the spec's and a renamed item shows as a gap.
"""

from __future__ import annotations

from hil.duts.movicom_main_2.bench import MovicomBench
from hil.spec import SpecFile


def short(bench: MovicomBench) -> str:
    """The variant as the spec's coverage items name it ("Main 2.1", "Main 2R")."""
    return bench.hw.title.removeprefix("Movicom BMS ")


def items(spec: SpecFile, rid: str, bench: MovicomBench, part: str) -> list[str]:
    """Row `rid`'s items of this unit's variant that name `part` (a header, jumper or LED) first."""
    prefix = f"{short(bench)}: {part}"
    names = spec.get(rid).coverage_names(bench.hw.id)
    return [i for i in names if i == prefix or (i.startswith(prefix) and i[len(prefix)] in " ,-(")]
