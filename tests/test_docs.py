"""User documentation that is generated or checked: docs/station-file.md, the shipped stations."""

from __future__ import annotations

from pathlib import Path

import pytest
from hilcli import ROOT, hil

from hil.station import doc


def test_station_file_doc_is_up_to_date() -> None:
    written = (ROOT / "docs" / "station-file.md").read_text(encoding="utf-8")
    assert written == doc.render(), "regenerate: python -m hil.station.doc > docs/station-file.md"


def test_station_file_doc_names_every_field_and_family_need() -> None:
    text = doc.render()
    for phrase in ("`visa_library`", "`calibration_due`", "| cell_emulator | CELL1, CELL2, CELL3, CELL4 |"):
        assert phrase in text
    assert "`settle_s` | s | 0.2 |" in text and "interface: socketcan" in text and "interface: pcan" in text


@pytest.mark.parametrize("station", sorted((ROOT / "stations").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_station_passes_the_check(station: Path) -> None:
    result = hil("station", "check", "--no-probe", str(station))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{station}: ok (")
