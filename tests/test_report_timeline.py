"""A section whose results are yes/no after a declared stimulus gets a stimulus/response timeline,
in the HTML and in the PDF; a read-back section (no stimulus) gets none."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from pypdf import PdfReader

from hil.measure import Measurement, Verdict, equals, info
from hil.report.figures import plot_job
from hil.report.timeline import stimuli, timeline, timeline_figure, unit_of

HIL = str(Path(sys.executable).parent / "hil")

#: a plan of recorded results (no lab): PM-WAKE yes/no after stimuli, PARAM a read-back only
PLAN = """
import pytest

from hil.measure import equals


@pytest.mark.requirement("PM-WAKE")
def test_wake(check):
    check(equals("PM-WAKE", "woken by RS-485", True, True, 10.0,
                 data={"stimulus": {"RS-485": "status request"}}))
    check(equals("PM-WAKE", "woken by a charger", True, True, 80.0,
                 data={"stimulus": {"charge current [A]": 2.0}}))


@pytest.mark.requirement("PARAM")
def test_read_back(check):
    check(equals("PARAM", "parameters as released", True, True, 5.0))
"""


def _wake(name: str, at: float, stimulus: dict[str, object], value: bool = True) -> Measurement:
    return equals("PM-WAKE", name, value, True, at, data={"stimulus": stimulus})


def test_stimuli_are_levels_by_name_and_events_in_time_order() -> None:
    found = stimuli(
        [
            _wake("charger", 80.0, {"charge current [A]": 2.0, "RS-485": "idle"}),
            _wake("rs-485", 10.0, {"RS-485": "status request", "charge current [A]": 0.0}),
            info("PM-WAKE", "no stimulus declared", 1.0, "", 5.0),
        ]
    )
    assert found.levels == {"charge current [A]": [(10.0, 0.0), (80.0, 2.0)]}
    assert found.events == [(10.0, "RS-485: status request"), (80.0, "RS-485: idle")]
    assert unit_of("charge current [A]") == "A" and unit_of("RS-485") == ""


def test_yes_no_section_with_a_stimulus_gets_one_timeline_and_a_read_back_none() -> None:
    wake = [
        _wake("woken by RS-485", 10.0, {"RS-485": "status request"}),
        _wake("charger", 80.0, {"I [A]": 2.0}),
    ]
    rid, images = plot_job(("PM-WAKE", wake, {}))
    assert rid == "PM-WAKE" and len(images) == 1 and images[0].startswith(b"\x89PNG")
    assert images[0] == timeline("PM-WAKE", wake)
    read_back = [equals("PARAM", "parameters as released", True, True, 5.0)]
    assert plot_job(("PARAM", read_back, {})) == ("PARAM", [])


def test_a_failed_result_is_drawn_too() -> None:
    failed = _wake("woken by the button", 40.0, {"button": "0.5 s press"}, value=False)
    assert failed.verdict is Verdict.FAIL
    assert timeline("PM-WAKE", [failed]) is not None


def _drawn(fig: Figure) -> dict[str, str]:
    """Each stimulus series drawn (step lines carry their name as label) and its axis's y label."""
    return {
        str(line.get_label()): a.get_ylabel()
        for a in fig.axes
        for line in a.get_lines()
        if not str(line.get_label()).startswith("_")
    }


def test_every_stimulus_unit_is_drawn_with_three_units_on_stacked_panels() -> None:
    """MM-RLY-DSG's stimulus has voltage, temperature and current: none of them is left out."""
    stimulus: dict[str, object] = {"cell L1C01 [V]": 3.3, "thermistor T1 [°C]": 25.0, "current [A]": -20.0}
    later: dict[str, object] = {"cell L1C01 [V]": 2.4, "thermistor T1 [°C]": 25.0, "current [A]": -20.0}
    fig = timeline_figure(
        "MM-RLY-DSG", [_wake("relay closed", 5.0, stimulus), _wake("relay open", 9.0, later)]
    )
    assert fig is not None
    assert _drawn(fig) == {
        "cell L1C01 [V]": "stimulus [V]",
        "thermistor T1 [°C]": "stimulus [°C]",
        "current [A]": "stimulus [A]",
    }
    legend = fig.axes[0].get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == list(stimulus)
    assert len(fig.axes) == 4  # three stimulus panels and the response panel
    series = [line for a in fig.axes for line in a.get_lines() if line.get_label() == "current [A]"]
    assert np.asarray(series[0].get_ydata()).tolist() == [-20.0, -20.0]


def test_two_units_share_one_panel_left_and_right() -> None:
    fig = timeline_figure("PM-WAKE", [_wake("woken", 5.0, {"supply [V]": 9.6, "charge current [A]": 2.0})])
    assert fig is not None
    assert _drawn(fig) == {"supply [V]": "stimulus [V]", "charge current [A]": "stimulus [A]"}
    assert len(fig.axes) == 3  # the stimulus panel, its right-hand axis, the response panel


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plan above recorded on the default (simulated 12100) station, rendered as HTML and PDF."""
    base = tmp_path_factory.mktemp("timeline")
    plan = base / "plan" / "test_plan.py"
    plan.parent.mkdir()
    plan.write_text(PLAN)
    out = base / "run"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(plan),
            f"--rootdir={plan.parent}",
            f"--hil-out={out}",
            "--hil-reports=none",
            "-p",
            "no:cacheprovider",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=plan.parent,
        env=dict(os.environ),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = subprocess.run(
        [HIL, "report", str(out), "--format", "html,pdf"], capture_output=True, text=True, timeout=300
    )
    assert report.returncode == 0, report.stdout + report.stderr
    return out


def test_html_and_pdf_sections_carry_the_timeline(rendered: Path) -> None:
    html = (rendered / "report.html").read_text()
    assert html.count('alt="plot of PM-WAKE"') == 1 and 'alt="plot of PARAM"' not in html
    pages = PdfReader(rendered / "report.pdf").pages
    with_images = [" ".join(p.extract_text().split()) for p in pages if p.images]
    assert any("woken by a charger" in text for text in with_images)


def test_instrument_table_names_an_unconfirmed_accuracy_figure_our_reading(rendered: Path) -> None:
    """The DAQ970A DC current figure is not from a data sheet: the instrument table says so."""
    html = (rendered / "report.html").read_text()
    assert "(OUR READING: DAQ970A DC current, 100 µA range, 1 year:" in html
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(rendered / "report.pdf").pages).split())
    assert "OUR READING: DAQ970A DC current, 100 µA range" in text
