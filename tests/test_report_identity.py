"""What the report says about who tested what, where, when and under which conditions (ISO/IEC 17025
§7.8.2.1 / §7.8.3.1, docs/iso17025-checklist.md), and its layout: links, plots, no glued-up text.

One short EOL run of the 12100 plan on the simulated station (CV-OVP only) with the identity options,
one run whose DUT reports serial "0", and the command line's refusals of bad identity options.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hilcli import ROOT, hil
from pypdf import PdfReader

from fixtures.plugin import _effective_seed
from hil.identity import DEFAULT_SERIAL_PATTERN, describe_environment, operator_environment, serial_problem
from hil.registry import DUTS
from hil.report import load_run
from hil.report.document import build_context, render_html
from hil.report.layout import effective_seed, environment, spec_line
from hil.station.identity import bench_identity, idn_mismatches
from hil.station.station import Station, load_station

STATION = ROOT / "stations" / "sim-bms12100.yaml"
CHECKLIST = ROOT / "docs" / "iso17025-checklist.md"
RUN_TIMEOUT_S = 600
SERIAL = "12100A0000001"  # the simulated 12100's


def records(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "record.jsonl").read_text().splitlines()]


def pdf_text(pdf: Path) -> str:
    return " ".join(" ".join(p.extract_text() for p in PdfReader(pdf).pages).split())


def html_text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace("&#39;", "'").replace("&amp;", "&").split())


# ------------------------------------------------------------------ pure functions
@pytest.mark.parametrize(
    ("serial", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (None, "empty"),
        ("0", "zero"),
        ("0000", "zero"),
        ("ab", "pattern"),
        ("12100 A1", "pattern"),
        ("-12100", "pattern"),
    ],
)
def test_an_unusable_serial_says_why(serial: str | None, why: str) -> None:
    problem = serial_problem(serial, DEFAULT_SERIAL_PATTERN)
    assert problem is not None and why in problem


def test_a_serial_of_the_family_pattern_is_accepted() -> None:
    for family in DUTS.values():
        assert serial_problem(SERIAL, family.serial_pattern) is None
        assert serial_problem("1001", family.serial_pattern) is None
    assert serial_problem("ab1", r"\d{4}") is not None  # a family's own pattern applies


def test_the_environment_option_is_parsed_and_described_with_its_source() -> None:
    env = operator_environment("23 °C, 45 %RH")
    assert (env["temperature_c"], env["humidity_pct"]) == (23.0, 45.0)
    assert describe_environment(env) == "23 °C, 45 %RH (stated by the operator (--environment))"
    assert operator_environment("lab air, 21.5 C")["temperature_c"] == 21.5
    assert describe_environment(None).startswith("not recorded")


def test_the_spec_line_joins_only_the_parts_a_row_has() -> None:
    line = spec_line({"section": "accuracy", "tolerance": 20, "unit": "mV", "tolerance_source": "seed §3.1"})
    assert line == "Section accuracy; tolerance ±20 mV (seed §3.1)"
    assert spec_line({"value": 448, "unit": None}) == "value 448"
    assert spec_line({"section": "4.2", "trip": 3650, "release": 3400, "unit": "mV"}) == (
        "Section 4.2; trip 3650 mV, release 3400 mV"
    )
    assert spec_line({}) == ""


def test_lab_block_loads_and_the_old_one_line_form_still_does(tmp_path: Path) -> None:
    lab = load_station(STATION).lab
    assert lab is not None and lab.name == "HIL framework simulated lab" and lab.address
    bench = load_station(ROOT / "stations" / "bench-bms12100-example.yaml").lab
    assert bench is not None and "Building 4" in bench.address and bench.contact
    old = tmp_path / "old.yaml"
    text = STATION.read_text(encoding="utf-8")
    text = re.sub(r"^lab:.*\n(?:  .*\n)*", "lab: Old Lab, Some Street 1\n", text, count=1, flags=re.M)
    old.write_text(text, encoding="utf-8")
    loaded = load_station(old).lab
    assert loaded is not None and (loaded.name, loaded.address) == ("Old Lab, Some Street 1", "")


def test_idn_mismatches_name_serial_and_model_but_not_option_codes() -> None:
    found = idn_mismatches(
        {
            "ntc": {"serial": "SIMNTC0001", "idn_serial": "SIMNTC000105", "model": "IET Labs PRS-202",
                    "idn": "IET,PRS-202-A-7-100m,SIMNTC000105,1.0"},
            "psu": {"serial": "A1", "idn_serial": "A1", "model": "Keysight N8920A",
                    "idn": "Keysight,N8940A,A1,1"},
            "dmm": {"serial": "MY1", "idn_serial": "MY1", "model": "Keysight DAQ970A",
                    "idn": "Keysight,DAQ970A,MY1,1"},
        }
    )  # fmt: skip
    assert len(found) == 2
    assert "ntc" in found[0] and "SIMNTC0001" in found[0] and "SIMNTC000105" in found[0]
    assert "psu" in found[1] and "N8940A" in found[1]


# ------------------------------------------------------------------ the command line refuses bad identity
@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--serial", "0"], "--serial"),
        (["--serial", ""], "--serial"),
        (["--serial", "x"], "--serial"),
        (["--item-received", "2026-13-01"], "--item-received"),
        (["--item-received", "2999-01-01"], "--item-received"),
        (["--customer", " "], "--customer"),
        (["--environment", ""], "--environment"),
    ],
)
def test_bad_identity_options_stop_the_run_with_one_line_and_exit_2(
    tmp_path: Path, args: list[str], names: str
) -> None:
    result = hil("run", "--out", str(tmp_path / "run"), "--reports", "none", *args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and names in lines[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "run" / "record.jsonl").exists()  # nothing started


# ------------------------------------------------------------------ a run with its identity
@pytest.fixture(scope="module")
def identified(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str]:
    out = tmp_path_factory.mktemp("identity") / "run"
    result = hil(
        "run", "--profile", "eol", "--out", str(out), "--serial", SERIAL,
        "--customer", "ACME Batteries Ltd, qa@acme.invalid", "--item-received", "2026-12-01",
        "--environment", "23 °C, 45 %RH", "--reports", "html,pdf",
        "--", "-k", "CV-OVP or cell_voltage_accuracy",
        timeout=RUN_TIMEOUT_S,
    )  # fmt: skip
    return out, result.returncode, result.stdout + result.stderr


def test_the_header_records_customer_receipt_environment_and_the_seed_used(
    identified: tuple[Path, int, str],
) -> None:
    out, code, output = identified
    assert code == 0, output[-2000:]
    entries = records(out)
    header, station = entries[0], next(e for e in entries if e["type"] == "station")
    assert header["customer"] == "ACME Batteries Ltd, qa@acme.invalid"
    assert header["item_received"] == "2026-12-01"
    assert header["environment"]["temperature_c"] == 23.0 and header["environment"]["humidity_pct"] == 45.0
    assert header["station"]["lab"]["address"]  # the lab block, not a string
    assert header["seed"] == 1 and station["sim_seed"] == 1  # no --seed: the station's, as the lab reports
    assert header["dut"]["expected_serial"] == SERIAL


def test_page_one_shows_identity_findings_and_conditions(identified: tuple[Path, int, str]) -> None:
    out, code, output = identified
    assert code == 0, output[-2000:]
    page1 = " ".join(PdfReader(out / "report.pdf").pages[0].extract_text().split())
    for text in (
        "ACME Batteries Ltd, qa@acme.invalid",
        "Received 2026-12-01",
        "23 °C, 45 %RH (stated by the operator",
        "simulated station on the host that runs it",
        "Sampling: the item as received; no sampling by the laboratory",
        "simulation seed 1",
        # the simulated NTC bank answers *IDN? with its first unit's serial: a finding, on page 1
        "Instrument identity: ntc: the station file gives serial SIMNTC0001",
    ):
        assert text in page1, text


def test_requirement_ids_link_to_their_sections_in_html_and_pdf(identified: tuple[Path, int, str]) -> None:
    out, code, output = identified
    assert code == 0, output[-2000:]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="req-CV-OVP"' in html
    assert html.count('href="#req-CV-OVP"') >= 3  # page 1 grid, key results, matrix
    assert 'href="#req-CV-UVP"' not in html  # not tested: no section to link to
    reader = PdfReader(out / "report.pdf")
    assert "req-CV-OVP" in reader.named_destinations
    dests = [
        str(a.get_object().get("/Dest"))
        for page in reader.pages
        for a in page.get("/Annots") or []
        if a.get_object().get("/Subtype") == "/Link"
    ]
    assert dests.count("req-CV-OVP") >= 3


def test_every_section_with_a_stimulus_has_a_plot_and_no_glued_text(
    identified: tuple[Path, int, str],
) -> None:
    out, code, output = identified
    assert code == 0, output[-2000:]
    html = (out / "report.html").read_text(encoding="utf-8")
    section = html[html.index('id="req-CV-OVP"') :]
    section = section[: section.index("</div>")]
    assert re.search(r'<img class="plot" src="data:image/png;base64,[A-Za-z0-9+/]{1000}', section)
    text = html_text(html) + " " + pdf_text(out / "report.pdf")
    assert "; ," not in text and not re.search(r"(\d|:) None\b", text)  # "value 448 None"
    assert "Seed 1 (the noise seed the simulated lab used)" in text


def test_the_report_carries_every_item_of_the_17025_checklist(identified: tuple[Path, int, str]) -> None:
    out, code, output = identified
    assert code == 0, output[-2000:]
    rows = [line for line in CHECKLIST.read_text(encoding="utf-8").splitlines() if line.startswith("| 7.8.")]
    items = {row.split("|")[1].strip(): re.findall(r"`([^`]+)`", row.split("|")[-2]) for row in rows}
    expected = [f"7.8.2.1 {c}" for c in "abcdefghijklmnop"] + [f"7.8.3.1 {c}" for c in "abcde"]
    assert list(items) == expected
    pdf, html = pdf_text(out / "report.pdf"), html_text((out / "report.html").read_text(encoding="utf-8"))
    run_id = records(out)[0]["run_id"]
    pages = PdfReader(out / "report.pdf").pages
    for n, page in enumerate(pages, 1):  # 7.8.2.1 d: every page says which report it is part of
        words = " ".join(page.extract_text().split())
        assert f"Test report {run_id}" in words and f"Page {n} of {len(pages)}" in words, n
    for item, texts in items.items():
        assert texts, f"{item}: no report text to check"
        for text in texts:
            assert text in pdf, f"{item}: {text!r} not in the PDF"
            assert text in html, f"{item}: {text!r} not in the HTML"


def test_a_finding_set_in_the_station_entry_is_rendered_on_page_one(
    identified: tuple[Path, int, str],
) -> None:
    out, code, output = identified
    assert code == 0, output[-2000:]
    run = load_run(out)
    run.station["identity_findings"] = [
        "chamber: the station file gives serial C1, the instrument answers C2"
    ]
    html = render_html(build_context(run, None, {}), for_pdf=False)
    page1 = html_text(html[: html.index("1 Summary")])
    assert (
        "Instrument identity: chamber: the station file gives serial C1, the instrument answers C2." in page1
    )


# ------------------------------------------------------------------ a DUT that reports serial 0
def test_a_dut_reporting_serial_zero_stops_the_run_before_any_stimulus(tmp_path: Path) -> None:
    data = yaml.safe_load(STATION.read_text(encoding="utf-8"))
    data["sim"]["dut_serial"] = "0"
    station = tmp_path / "zero.yaml"
    station.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "run"
    result = hil(
        "run", "--station", str(station), "--profile", "eol", "--out", str(out), "--reports", "html",
        "--", "-k", "CV-OVP", timeout=RUN_TIMEOUT_S,
    )  # fmt: skip
    assert result.returncode == 3, result.stdout[-2000:] + result.stderr[-2000:]
    entries = records(out)
    kinds = [e["type"] for e in entries]
    assert next(e for e in entries if e["type"] == "dut")["serial"] == "0"
    stopped = next(e for e in entries if e["type"] == "stopped")
    assert "zero" in stopped["message"] and "no stimulus" in stopped["message"]
    assert "measurement" not in kinds and kinds.index("dut") < kinds.index("stopped")
    assert entries[-1]["type"] == "end" and entries[-1]["status"] == "stopped"
    html = html_text((out / "report.html").read_text(encoding="utf-8"))
    assert "NOT PERFORMED" in html and "serial number read from the unit is unusable" in html


# ------------------------------------------------------------------ the station's ambient sensor
def test_a_station_with_a_climatic_chamber_records_its_readback_as_the_environment() -> None:
    station = Station.open(ROOT / "stations" / "sim-prohelion-d1000-gen2.yaml")
    try:
        fields = bench_identity(station, {})
    finally:
        station.close()
    env = fields["environment"]
    assert env["source"].startswith("readback of the climatic chamber 'chamber' at the start")
    assert 15.0 < env["temperature_c"] < 35.0 and 0.0 <= env["humidity_pct"] <= 100.0
    assert fields["sim_seed"] == 1  # the D1000 station's seed, from the lab's endpoints line
    described = describe_environment(env)
    assert "°C" in described and "%RH" in described and "climatic chamber" in described


def test_the_seed_recorded_is_the_one_the_lab_uses() -> None:
    model = load_station(STATION)
    assert model.sim is not None
    assert _effective_seed(model, None) == model.sim.seed  # no --seed: the station's
    assert _effective_seed(model, 7) == 7
    attached = model.model_copy(update={"sim": model.sim.model_copy(update={"attach": "tcp://127.0.0.1:1"})})
    assert _effective_seed(attached, 7) is None  # the running lab's own: from its endpoints line
    real = load_station(ROOT / "stations" / "bench-bms12100-example.yaml")
    assert _effective_seed(real, None) is None


def test_a_measured_environment_wins_over_the_stated_one_and_the_lab_seed_over_the_header(
    identified: tuple[Path, int, str],
) -> None:
    out, code, output = identified
    assert code == 0, output[-2000:]
    run = load_run(out)
    assert environment(run).startswith("23 °C, 45 %RH (stated by the operator")
    run.station["environment"] = {"source": "readback of the climatic chamber 'c'", "temperature_c": 24.5}
    assert environment(run) == "24.5 °C (readback of the climatic chamber 'c')"
    run.station["sim_seed"] = 42
    assert effective_seed(run) == 42
    html = (out / "report.html").read_text(encoding="utf-8")
    assert '<td class="u">±' in html  # U cells never wrap


def test_the_simulated_d1000_reports_a_programmed_serial_unless_the_station_says_otherwise() -> None:
    from hil.duts.prohelion_d1000_gen2.config import D1000Config
    from hil.duts.prohelion_d1000_gen2.sim.plant import SIM_UNIT_SERIAL, _with_unit_serial

    model = load_station(ROOT / "stations" / "sim-prohelion-d1000-gen2.yaml")
    assert model.sim is not None
    unprogrammed = D1000Config()  # the documented default serialNumber is 0
    assert unprogrammed.serial_number == 0
    assert _with_unit_serial(unprogrammed, model).serial_number == SIM_UNIT_SERIAL == 1001
    programmed = D1000Config.model_validate({"serialNumber": 4242})
    assert _with_unit_serial(programmed, model).serial_number == 4242
    zero = model.model_copy(update={"sim": model.sim.model_copy(update={"dut_serial": "0"})})
    assert (
        _with_unit_serial(programmed, zero).serial_number == 0
    )  # a station can simulate an unprogrammed unit
