"""The line file, the audit sampling, the unit history and the operator's answer sources, without a browser
(the panel itself: test_eol_panel.py)."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from hilcli import hil

from hil.production.history import RecordHistory
from hil.production.line import check_serial, load_line
from hil.production.runner import LotCounter, SocketRunner, Unit

ROOT = Path(__file__).resolve().parents[1]
BAD_LINES = Path(__file__).parent / "data" / "bad_lines"
PLAN_STEP = Path(__file__).parent / "data" / "operator_plan" / "operator_questions.py"

#: bad line file -> the field its one-line message names
LINE_FIELDS = {
    "unknown_key.yaml": "socket",
    "unknown_dut.yaml": "dut",
    "no_sockets.yaml": "sockets",
    "duplicate_socket.yaml": "sockets",
    "missing_station.yaml": "sockets.1.station",
    "other_dut_station.yaml": "sockets.0.station",
    "firmware_on_real_bench.yaml": "sockets.0.firmware",
    "negative_audit.yaml": "audit_every",
    "bad_profile.yaml": "profile",
}


def test_every_bad_line_file_has_a_case() -> None:
    assert sorted(p.name for p in BAD_LINES.glob("*.yaml")) == sorted(LINE_FIELDS)


@pytest.mark.parametrize("name", sorted(LINE_FIELDS))
def test_a_bad_line_file_is_refused_in_one_line_naming_the_field(name: str) -> None:
    result = hil("eol", "--line", str(BAD_LINES / name), "--port", "0")
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith(f"error: {BAD_LINES / name}: field '{LINE_FIELDS[name]}': expected ")
    assert result.stdout == ""  # no panel was served


def test_the_shipped_line_has_four_simulated_sockets() -> None:
    line = load_line(ROOT / "stations" / "line-sim-bms12100.yaml")
    assert [s.name for s in line.sockets] == ["S1", "S2", "S3", "S4"]
    assert (line.dut, line.profile, line.audit_every, line.max_retests) == ("bms12100", "eol", 10, 2)


def test_serials_are_checked_against_the_familys_pattern() -> None:
    assert check_serial("bms12100", "12100A0000001") is None
    assert "does not match" in str(check_serial("bms12100", "has space"))
    assert "does not match" in str(check_serial("bms12100", "ab"))  # too short
    assert check_serial("bms12100", "") == "no serial number given"


def test_every_nth_unit_of_the_lot_runs_the_audit_profile(tmp_path: Path) -> None:
    line = load_line(ROOT / "stations" / "line-sim-bms12100.yaml").model_copy(update={"audit_every": 3})
    runner = SocketRunner(
        line, ROOT / "stations", line.sockets[1], tmp_path, RecordHistory(tmp_path), LotCounter(4)
    )
    chosen = []
    for _ in range(4):  # units 5, 6, 7, 8 of the lot
        unit = Unit(serial="12100A0000001", operator="Ana")
        runner.choose_profile(unit)
        chosen.append((unit.profile, unit.sampling))
    assert [p for p, _ in chosen] == ["eol", "audit", "eol", "eol"]
    assert chosen[1][1] == "audit: every 3th unit of lot L0001 (unit 6)"
    unit = Unit(serial="12100A0000001", operator="Ana", profile="audit", sampling=chosen[1][1])
    cmd = runner.command(unit, tmp_path / "u")
    assert cmd[cmd.index("--profile") + 1] == "audit" and cmd[cmd.index("--sampling") + 1] == chosen[1][1]
    for option, value in (
        ("--socket", "S2"),
        ("--lot", "L0001"),
        ("--operator", "Ana"),
        ("--reports", "junit"),
    ):
        assert cmd[cmd.index(option) + 1] == value


def _run_with_answers(
    tmp_path: Path, *extra: str
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    out = tmp_path / "out"
    result = hil("run", "--out", str(out), "--reports", "junit", "--", str(PLAN_STEP),
                 "--hil-requirement", "OPERATOR-DEMO", *extra)  # fmt: skip
    entries = (
        [json.loads(line) for line in (out / "record.jsonl").read_text().splitlines()]
        if (out / "record.jsonl").exists()
        else []
    )
    return result, entries


def test_a_scripted_answers_file_answers_the_operator_questions(tmp_path: Path) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text('Close the fixture: yes\n"Colour of the label on the unit?": green\n')
    result, entries = _run_with_answers(tmp_path, "--hil-answers", str(answers))
    assert result.returncode == 0, result.stdout + result.stderr
    asked = [(e["question"], e["prompt"], e["answer"]) for e in entries if e["type"] == "operator_prompt"]
    assert asked == [
        ("confirm", "Close the fixture", "true"),
        ("ask", "Colour of the label on the unit?", "green"),
    ]


def test_a_wrong_scripted_answer_fails_the_test_that_asked(tmp_path: Path) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text('Close the fixture: yes\n"Colour of the label on the unit?": red\n')
    result, entries = _run_with_answers(tmp_path, "--hil-answers", str(answers))
    assert result.returncode == 1
    (test,) = [e for e in entries if e["type"] == "test"]
    assert test["outcome"] == "failed" and "label colour 'red'" in test["message"] and "error" not in test


def test_no_answer_source_is_a_bench_error_naming_the_question(tmp_path: Path) -> None:
    result, entries = _run_with_answers(tmp_path)  # stdin is not a terminal, no panel, no answers file
    assert result.returncode != 0
    (test,) = [e for e in entries if e["type"] == "test"]
    assert test["error"] == "bench"
    assert "'Close the fixture': nobody to answer it" in test["bench_error"]["message"]


def test_a_question_missing_from_the_answers_file_is_a_bench_error(tmp_path: Path) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text("Close the fixture: yes\n")
    _, entries = _run_with_answers(tmp_path, "--hil-answers", str(answers))
    (test,) = [e for e in entries if e["type"] == "test"]
    assert test["error"] == "bench" and "no answer in" in test["bench_error"]["message"]


def test_a_bad_answers_file_is_refused_naming_it(tmp_path: Path) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text("- a list, not prompt: answer\n")
    result, _ = _run_with_answers(tmp_path, "--hil-answers", str(answers))
    assert result.returncode == 2
    assert f"{answers}: field '(top level)': expected" in result.stderr + result.stdout


def test_history_reads_attempts_and_lot_units_from_the_run_folders(tmp_path: Path) -> None:
    out = tmp_path / "runs" / "u1"
    unit = [
        "--serial",
        "12100A0000001",
        "--lot",
        "L7",
        "--socket",
        "S1",
        "--operator",
        "Ana",
        "--profile",
        "eol",
    ]
    result = hil("run", "--out", str(out), "--reports", "junit", *unit, "--", "--hil-requirement", "CV-OVP")
    assert result.returncode == 0, result.stdout + result.stderr
    shutil.copytree(out, tmp_path / "runs" / "u2")  # a second attempt of the same serial, same verdict
    history = RecordHistory(tmp_path / "runs")
    attempts = history.attempts("12100A0000001")
    assert [a.status for a in attempts] == ["pass", "pass"]
    assert history.attempts("OTHER-SERIAL") == []
    assert (history.lot_units("L7"), history.lot_units("L8")) == (2, 0)


def test_one_station_serves_a_one_socket_panel_with_nothing_from_elsewhere(tmp_path: Path) -> None:
    station = ROOT / "stations" / "sim-bms12100.yaml"
    cmd = [
        sys.executable,
        "-m",
        "hil",
        "eol",
        "--station",
        str(station),
        "--lot",
        "L9",
        "--out",
        str(tmp_path),
    ]
    proc = subprocess.Popen(
        [*cmd, "--port", "0"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split(" ", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:")  # loopback unless --host says otherwise
        with urllib.request.urlopen(url + "api/state") as reply:
            state = json.loads(reply.read())
        assert (state["lot"], [s["name"] for s in state["sockets"]]) == ("L9", ["S1"])
        assert state["sockets"][0]["state"] == "idle" and state["operator"] == ""
        with urllib.request.urlopen(url) as reply:
            page = reply.read().decode()
        assert "<script>" in page and "<style>" in page  # inline
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # no asset from elsewhere
        port = url.rsplit(":", 1)[1].strip("/")
        busy = hil("eol", "--station", str(station), "--port", port)
        assert busy.returncode == 2 and busy.stderr.startswith(
            f"error: --port: cannot listen on 127.0.0.1:{port}"
        )
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
