"""`hil eol` end to end in a real headless Chromium: a passing unit, a failing one, a stop, a bad serial,
an operator question, and the retest policy."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from eol_panel import SIM_SERIAL, Operator, browser, panel, record_entries, run_folders, write_line
from hilcli import settings_file
from pypdf import PdfReader
from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = pytest.mark.slow


@pytest.fixture
def driver() -> Iterator[WebDriver]:
    d = browser()
    yield d
    d.quit()


def test_a_passing_unit_from_sign_in_to_ticket(tmp_path: Path, driver: WebDriver) -> None:
    line = write_line(tmp_path)
    with panel(line) as (url, _):
        op = Operator(driver, url)
        op.sign_in("Ana Operator")
        op.scan(SIM_SERIAL)
        op.says("card-S1", "close the fixture")
        op.start()
        # live progress: the current test and elapsed time against the expected cycle time
        op.says("test-S1", "CV-OVP", 60)
        op.says("elapsed-S1", "of 30 s expected")
        assert op.verdict() == "PASS"
        assert op.text_now("failed-S1") == ""
        assert op.el("ticket-S1").get_attribute("href").endswith("/files/S1/eol-ticket.pdf")
        # the next unit with the same serial: flagged as already passed (a retest)
        op.el("next-S1").click()
        op.scan(SIM_SERIAL)
        op.says("note-S1", "ALREADY PASSED")
        op.el("stop-S1").click()  # cancel: nothing started
        op.el("serial-S1")
    (folder,) = run_folders(tmp_path)
    header = record_entries(folder)[0]
    assert (header["operator"], header["socket"], header["lot"]) == ("Ana Operator", "S1", "L42")
    assert header["dut"]["expected_serial"] == SIM_SERIAL
    assert record_entries(folder)[-1]["status"] == "completed"
    text = PdfReader(folder / "eol-ticket.pdf").pages[0].extract_text()
    assert SIM_SERIAL in text and "PASS" in text and "Ana Operator" in text
    assert len(PdfReader(folder / "eol-ticket.pdf").pages) == 1
    label = (folder / "label.zpl").read_text()
    assert label.startswith("^XA") and label.rstrip().endswith("^XZ")
    assert f"^FD{SIM_SERIAL}^FS" in label and "^FDPASS^FS" in label


def test_a_failing_unit_shows_fail_and_the_requirement(tmp_path: Path, driver: WebDriver) -> None:
    moved = settings_file(
        tmp_path, "ovp-3700.yaml", "bms12100", {"cell_overvoltage_protection": {"trigger": 3700}}
    )
    line = write_line(tmp_path, socket={"firmware": str(moved)})
    with panel(line) as (url, _):
        op = Operator(driver, url)
        op.sign_in("Ben")
        op.scan(SIM_SERIAL)
        op.start()
        assert op.verdict() == "FAIL"
        assert "CV-OVP" in op.text_now("failed-S1").split()
    (folder,) = run_folders(tmp_path)
    assert "FAIL" in PdfReader(folder / "eol-ticket.pdf").pages[0].extract_text()
    assert "^FDFAIL^FS" in (folder / "label.zpl").read_text()


def test_stop_mid_unit_makes_the_bench_safe_and_seals_the_record(tmp_path: Path, driver: WebDriver) -> None:
    # paced to the wall clock, so the unit is still running when the operator presses STOP
    line = write_line(tmp_path, pytest_args=["--hil-requirement", "CV-OVP", "--hil-pace"])
    with panel(line) as (url, _):
        op = Operator(driver, url)
        op.sign_in("Cy")
        op.scan(SIM_SERIAL)
        op.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the bench is open and a test is under way
            folders = run_folders(tmp_path)
            record = folders[0] / "record.jsonl" if folders else None
            if record and record.exists() and '"type": "station"' in record.read_text():
                break
            time.sleep(0.2)
        else:
            pytest.fail("the unit's bench did not open")
        op.el("stop-S1").click()
        assert op.verdict(timeout=120) == "STOPPED"
        op.says("unit-msg-S1", "bench safe")
        state = json.loads(
            driver.execute_script("return JSON.stringify(await (await fetch('/api/state')).json())")
        )
    assert state["sockets"][0]["exit_code"] == 130
    (folder,) = run_folders(tmp_path)
    entries = record_entries(folder)
    assert entries[-1]["type"] == "end" and entries[-1]["status"] == "interrupted"
    assert entries[-2]["type"] == "safe_state" and entries[-2]["safe"] is True


def test_a_bad_serial_is_refused_and_nothing_starts(tmp_path: Path, driver: WebDriver) -> None:
    line = write_line(tmp_path)
    with panel(line) as (url, _):
        op = Operator(driver, url)
        op.scan("12100A0000001")
        op.says("msg-S1", "sign in first")
        op.sign_in("Dee")
        op.scan("no spaces allowed")
        op.says("msg-S1", "does not match the bms12100 serial pattern")
        op.el("serial-S1")  # still waiting for a serial
    assert run_folders(tmp_path) == []


def test_a_serial_beyond_the_retest_limit_is_refused(tmp_path: Path, driver: WebDriver) -> None:
    line = write_line(tmp_path, max_retests=0)
    with panel(line) as (url, _):
        op = Operator(driver, url)
        op.sign_in("Eve")
        op.scan(SIM_SERIAL)
        op.start()
        assert op.verdict() == "PASS"
        op.el("next-S1").click()
        op.scan(SIM_SERIAL)
        op.says("msg-S1", "the line allows 0 retest(s) per serial")
    assert len(run_folders(tmp_path)) == 1


def test_the_panel_answers_the_plans_operator_questions(tmp_path: Path, driver: WebDriver) -> None:
    plan_step = Path(__file__).parent / "data" / "operator_plan" / "operator_questions.py"
    line = write_line(tmp_path, pytest_args=[str(plan_step), "--hil-requirement", "OPERATOR-DEMO"])
    with panel(line) as (url, _):
        op = Operator(driver, url)
        op.sign_in("Fay")
        op.scan(SIM_SERIAL)
        op.start()
        op.says("prompt-text-S1", "Close the fixture", 60)
        op.el("yes-S1").click()
        op.says("prompt-text-S1", "Colour of the label on the unit?", 30)
        op.el("answer-S1").send_keys("green")
        op.el("send-S1").click()
        assert op.verdict() == "PASS"
    (folder,) = run_folders(tmp_path)
    asked = [e for e in record_entries(folder) if e["type"] == "operator_prompt"]
    assert [(e["prompt"], e["answer"], e["source"]) for e in asked] == [
        ("Close the fixture", "yes", "operator panel"),
        ("Colour of the label on the unit?", "green", "operator panel"),
    ]


def test_a_unit_answering_another_serial_is_an_error_naming_both(tmp_path: Path, driver: WebDriver) -> None:
    line = write_line(tmp_path)
    with panel(line) as (url, _):
        op = Operator(driver, url)
        op.sign_in("Gus")
        op.scan("12100A0000002")  # the label says ...2; the unit in the fixture answers ...1
        op.start()
        assert op.verdict() == "ERROR"
        op.says("unit-msg-S1", "DUT serial '12100A0000001' is not the expected '12100A0000002'")
    (folder,) = run_folders(tmp_path)
    assert "^FDERROR^FS" in (folder / "label.zpl").read_text()


def test_an_operator_who_cannot_confirm_makes_the_unit_an_error_not_a_fail(
    tmp_path: Path, driver: WebDriver
) -> None:
    plan_step = Path(__file__).parent / "data" / "operator_plan" / "operator_questions.py"
    line = write_line(tmp_path, pytest_args=[str(plan_step), "--hil-requirement", "OPERATOR-DEMO"])
    with panel(line) as (url, _):
        op = Operator(driver, url)
        op.sign_in("Hal")
        op.scan(SIM_SERIAL)
        op.start()
        op.says("prompt-text-S1", "Close the fixture", 60)
        op.el("no-S1").click()
        assert op.verdict() == "ERROR"
        op.says("unit-msg-S1", "operator did not confirm 'Close the fixture'")
        assert op.text_now("failed-S1") == ""  # nothing of the unit was judged


def _post(url: str, path: str, body: dict[str, str]) -> dict[str, object]:
    request = urllib.request.Request(
        url + path.lstrip("/"), data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request) as reply:
        answer: dict[str, object] = json.loads(reply.read())
        return answer


def test_ctrl_c_on_hil_eol_stops_the_running_units_the_safe_way(tmp_path: Path) -> None:
    line = write_line(tmp_path, pytest_args=["--hil-requirement", "CV-OVP", "--hil-pace"])
    with panel(line) as (url, proc):
        for path, body in (
            ("api/signin", {"operator": "Ivy"}),
            ("api/serial", {"socket": "S1", "serial": SIM_SERIAL}),
        ):
            assert _post(url, path, body) == {"ok": True}
        assert _post(url, "api/start", {"socket": "S1"}) == {"ok": True}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            folders = run_folders(tmp_path)
            record = folders[0] / "record.jsonl" if folders else None
            if record and record.exists() and '"type": "station"' in record.read_text():
                break
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)  # the operator ends `hil eol` with Ctrl-C
        assert proc.wait(90) == 0
    (folder,) = run_folders(tmp_path)
    entries = record_entries(folder)
    assert entries[-1]["status"] == "interrupted" and entries[-2]["safe"] is True
    assert "^FDSTOPPED^FS" in (folder / "label.zpl").read_text()


def test_two_sockets_run_in_parallel_on_one_panel(tmp_path: Path, driver: WebDriver) -> None:
    plan_step = Path(__file__).parent / "data" / "operator_plan" / "operator_questions.py"
    s2 = {"pytest_args": [str(plan_step), "--hil-requirement", "OPERATOR-DEMO"]}  # asks, needs no serial
    line = write_line(tmp_path, pytest_args=[])
    data = yaml.safe_load(line.read_text())
    data["sockets"] = [
        {**data["sockets"][0], "name": "S1", "pytest_args": ["--hil-requirement", "CV-OVP"]},
        {**data["sockets"][0], "name": "S2", **s2},
    ]
    line.write_text(yaml.safe_dump(data))
    with panel(line) as (url, _):
        op = Operator(driver, url)
        op.sign_in("Jo")
        op.scan(SIM_SERIAL, "S1")
        op.start("S1")
        op.scan("UNIT-0002", "S2")
        op.start("S2")
        op.says("test-S1", "CV-OVP", 60)  # S1 under way while S2 asks its operator
        op.says("prompt-text-S2", "Close the fixture", 60)
        op.el("yes-S2").click()
        op.says("prompt-text-S2", "Colour of the label", 30)
        op.el("answer-S2").send_keys("green")
        op.el("send-S2").click()
        assert (op.verdict("S1"), op.verdict("S2")) == ("PASS", "PASS")
    folders = run_folders(tmp_path)
    spans = {}
    for folder in folders:
        entries = record_entries(folder)
        spans[entries[0]["socket"]] = (entries[0]["started"], entries[-1]["ended"], entries[0]["lot"])
    assert sorted(spans) == ["S1", "S2"]
    (a0, a1, lot1), (b0, b1, lot2) = spans["S1"], spans["S2"]
    assert a0 < b1 and b0 < a1  # the two units' runs overlapped in time
    assert lot1 == lot2 == "L42"
