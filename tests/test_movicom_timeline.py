"""Issue 14 on the Movicom plan: each result declares the stimulus the bench applied before it, so every
requirement section with a stimulus gets its timeline, in the EOL profile too.

The log's rules (levels in effect, events once, nothing across a return to nominal) on their own; then
one short EOL run of the 2.1 (supply range, external temperature inputs, discrete inputs, and the relay
LEDs, a read-back) rendered as HTML: the stimulated sections carry a plot and their results the levels
and contacts the bench set; the read-back carries neither.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hil.duts.movicom_main_2.stimulus_log import StimulusLog

ROOT = Path(__file__).resolve().parents[1]
#: the representative plan tests of the short run (pytest -k)
SELECTION = "supply_range or external_temperature or input_function or relay_leds"


def test_a_result_declares_the_levels_in_effect_before_it_and_each_event_once() -> None:
    log = StimulusLog()
    log.level(1.0, "supply [V]", 9.0)
    log.event(1.0, "IN_1", "closed")
    assert log.before(1.0) == {}  # taken at the instant of the stimulus: not after it
    assert log.before(2.0) == {"supply [V]": 9.0, "IN_1": "closed"}
    assert log.before(3.0) == {"supply [V]": 9.0}  # the event was declared once
    log.level(4.0, "supply [V]", 30.0)
    assert log.before(5.0) == {"supply [V]": 30.0}


def test_an_earlier_result_gets_what_was_applied_before_it_not_after() -> None:
    """A procedure records its probes after both were taken: each declares its own level."""
    log = StimulusLog()
    log.level(1.0, "Logic thermistors [°C]", 1.5)
    log.nominal(2.0)
    log.level(3.0, "Logic thermistors [°C]", -1.5)
    assert log.before(1.5) == {"Logic thermistors [°C]": 1.5}
    assert log.before(3.5) == {"Logic thermistors [°C]": -1.5}


def test_a_return_to_nominal_ends_every_level_and_pending_event() -> None:
    log = StimulusLog()
    log.level(1.0, "current [A]", 20.0)
    log.event(1.0, "jumper P21", "not fitted")
    log.nominal(2.0)
    assert log.before(3.0) == {}
    log.restart()
    log.level(0.5, "current [A]", -20.0)
    assert log.before(1.0) == {"current [A]": -20.0}


def test_a_level_earlier_results_of_the_requirement_declared_comes_back_at_its_nominal() -> None:
    """Between two tests of a section the plot's step series returns to nominal, not holding the level
    of the last test until the next one; another requirement's results do not declare it."""
    log = StimulusLog()
    log.level(1.0, "Logic thermistors [°C]", -20.0, nominal=25.0)
    assert log.before(2.0, "MM-RLY-DSG") == {"Logic thermistors [°C]": -20.0}
    log.restart()
    log.level(3.5, "supply [V]", 9.0)  # no nominal given: never declared at nominal
    assert log.before(4.0, "MM-RLY-DSG") == {"supply [V]": 9.0, "Logic thermistors [°C]": 25.0}
    assert log.before(4.0, "MM-SUP-V") == {"supply [V]": 9.0}
    log.nominal(5.0)
    assert log.before(6.0, "MM-RLY-DSG") == {"Logic thermistors [°C]": 25.0}
    assert log.before(6.0, "MM-SUP-V") == {}


def _measurements(out: Path) -> list[dict[str, Any]]:
    lines = (out / "record.jsonl").read_text(encoding="utf-8").splitlines()
    return [e for e in map(json.loads, lines) if e["type"] == "measurement"]


@pytest.mark.slow
def test_stimulated_movicom_sections_carry_a_timeline_in_the_eol_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "hil", "run", "--dut", "movicom-main-2.1", "--profile", "eol"]
    cmd += ["--reports", "html", "--out", str(out), "--", "-k", SELECTION]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    html = (out / "report.html").read_text(encoding="utf-8")
    for rid in ("MM-SUP-V", "MM-TS", "MM-DI"):
        assert html.count(f'alt="plot of {rid}"') == 1, rid
    assert 'alt="plot of MM-LED"' not in html  # a read-back at nominal: nothing to plot against

    found = {(m["requirement"], m["name"]): m["data"].get("stimulus") for m in _measurements(out)}
    assert found[("MM-SUP-V", "answers on Modbus RTU at 9 V (minimum)")] == {"supply [V]": 9.0}
    assert found[("MM-SUP-V", "answers on Modbus RTU at 8.5 V (below minimum)")] == {"supply [V]": 8.5}
    vts = found[("MM-TS", "Vts temperature at 50 °C")]
    assert vts is not None and vts["VTS [V]"] == pytest.approx(1.0)
    assert found[("MM-DI", "input 3 contact open: inhibit_discharging inactive")] is None
    assert found[("MM-DI", "input 3 contact closed: inhibit_discharging active")] == {"IN_3": "closed"}
    assert all(s is None for (rid, _), s in found.items() if rid == "MM-LED")
