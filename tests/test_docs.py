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


#: the shipped station files (line files, `line-*.yaml`, name stations; tests/test_line.py checks them)
STATIONS = sorted(p for p in (ROOT / "stations").glob("*.yaml") if not p.name.startswith("line-"))


@pytest.mark.parametrize("station", STATIONS, ids=lambda p: p.name)
def test_every_shipped_station_passes_the_check(station: Path) -> None:
    result = hil("station", "check", "--no-probe", str(station))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{station}: ok (")


def test_readme_is_a_users_guide_whose_links_exist() -> None:
    import re

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, re.M)
    for wanted in (
        "Install",
        "Run on the simulated lab",
        "Bring up a bench",
        "Write a test",
        "CI",
        "Reports and evidence",
        "Production line",
    ):
        assert wanted in headings
    assert "Exit codes of `hil run`" in headings
    for code in ("| 0 |", "| 1 |", "| 2 |", "| 3 |", "| 128+n |"):
        assert code in text
    for link in re.findall(r"\]\(([^)#]+)\)", text):
        assert (ROOT / link).exists(), link
    assert len(text.splitlines()) < 120  # short: the detail is in docs/


#: the user documentation: the README and docs/ (docs/families.md included)
GUIDE = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]


@pytest.mark.parametrize("page", GUIDE, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_of_the_guide_exists(page: Path) -> None:
    import re

    text = page.read_text(encoding="utf-8")
    for link in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" not in link:
            assert (page.parent / link).exists(), f"{page.name}: {link}"


#: what development figures look like: a commit hash, a mutation score, a session's or VM's timing
DEVELOPMENT = "|".join(
    (
        r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{7,40}\b",
        r"\d+/\d+ (?:mutants )?caught",
        r"this VM|this session|[Ll]ast run \(",
    )
)


@pytest.mark.parametrize("page", GUIDE, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_guide_carries_no_development_figures(page: Path) -> None:
    """Measured figures and their history are benchmarks/README.md's (and the commit log's)."""
    import re

    found = re.findall(DEVELOPMENT, page.read_text(encoding="utf-8"))
    assert not found, f"{page.name}: {found} belongs in benchmarks/README.md"
    assert re.search(DEVELOPMENT, (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8"))
