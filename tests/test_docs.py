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


def _section(text: str, heading: str) -> str:
    return text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]


def _blocks(text: str, lang: str = "") -> list[str]:
    """The fenced code blocks of `text` whose fence names `lang` ("" for a bare fence)."""
    blocks: list[tuple[str, str]] = []
    fence: str | None = None
    body: list[str] = []
    for line in text.splitlines(keepends=True):
        if not line.startswith("```"):
            body.append(line)
        elif fence is None:
            fence, body = line.strip().removeprefix("```"), []
        else:
            blocks.append((fence, "".join(body)))
            fence = None
    return [code for name, code in blocks if name == lang]


def _shape(line: str) -> str:
    """A line of `hil run` output with its numbers (counts, durations) left out."""
    import re

    return re.sub(r"\d+(?:\.\d+)?", "N", line.strip())


def test_the_worked_example_of_writing_tests_runs_as_the_doc_says(tmp_path: Path) -> None:
    """docs/writing-tests.md's example, saved where it says and run with its command, on the sim."""
    import shlex
    import uuid

    example = _section((ROOT / "docs" / "writing-tests.md").read_text(encoding="utf-8"), "A worked example")
    code, commands, printed = _blocks(example, "python")[0], *_blocks(example)[:2]
    where = ROOT / code.splitlines()[0].removeprefix("# ").strip()
    assert where.parent == ROOT / "testplans" / "bms12100" and not where.exists()
    # the doc's folder under a name of this run's own: nothing a user saved there is touched
    saved = where.with_name(f"{where.stem}_{uuid.uuid4().hex[:8]}.py")
    command = shlex.split(commands.splitlines()[0])
    assert command[:2] == ["hil", "run"]
    cut = command.index("--")
    out = tmp_path / "out"
    saved.write_text(code, encoding="utf-8")
    try:
        result = hil(*command[1:cut], "--reports", "none", "--out", str(out), *command[cut:], timeout=300)
    finally:
        saved.unlink()
    assert result.returncode == 0, result.stdout + result.stderr  # the doc: exits 0
    said = [_shape(line.replace(where.name, saved.name)) for line in printed.splitlines()]
    shown = [_shape(line) for line in result.stdout.splitlines()]
    assert shown[: len(said)] == said, result.stdout  # the lines the doc shows, verdict PASS included
    import json

    entries = [json.loads(line) for line in (out / "record.jsonl").read_text(encoding="utf-8").splitlines()]
    (result_entry,) = [e for e in entries if e["type"] == "measurement"]
    assert (result_entry["requirement"], result_entry["name"], result_entry["verdict"]) == (
        "ACC-PV",
        "pack at 13.2 V",
        "pass",
    )
    assert result_entry["low"] < result_entry["value"] < result_entry["high"]
    assert entries[-1]["type"] == "end" and entries[-1]["status"] == "completed"


@pytest.mark.parametrize("page", GUIDE, ids=lambda p: str(p.relative_to(ROOT)))
def test_seed_means_only_the_noise_seed_in_the_guide(page: Path) -> None:
    """One meaning per word: the source document is "the supplier specification"."""
    import re

    text = page.read_text(encoding="utf-8")
    other = re.findall(r"(?<!noise )(?<!--)(?<!`)\bseed\b(?!`)(?!s/)", text, re.I)
    assert not other, f"{page.name}: 'seed' for something other than the lab's noise seed"
