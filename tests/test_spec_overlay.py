"""A user's own requirement rows beside their own test file: traced, reported, IDs checked."""

from __future__ import annotations

import json
from pathlib import Path

from hilcli import hil

OVERLAY = """\
notes: ["our own acceptance rows for customer X"]
requirements:
  - id: USR-PV-1
    section: "customer X 2"
    title: Pack voltage reading within 1 % at nominal
    kind: accuracy
"""

TEST = """\
import pytest

from hil.measure import within


@pytest.mark.requirement("USR-PV-1")
def test_pack_voltage_within_one_percent(dut_bench, check) -> None:
    dut_bench.set_cells([3.3] * 4)
    dut_bench.clock.sleep(dut_bench.settle_s + 1.0)
    status = dut_bench.dut.status()
    reference = dut_bench.station.dmm.measure_dc_voltage("PACK")
    check(within("USR-PV-1", "pack at 13.2 V", status.pack_v, "V", status.time,
                 low=reference * 0.99, high=reference * 1.01))
"""


def _plan(folder: Path, overlay: str) -> Path:
    folder.mkdir()
    (folder / "spec-overlay.yaml").write_text(overlay, encoding="utf-8")
    test = folder / "test_mine.py"
    test.write_text(TEST, encoding="utf-8")
    return test


def test_overlay_rows_are_traced_and_reported(tmp_path: Path) -> None:
    test = _plan(tmp_path / "myplan", OVERLAY)
    out = tmp_path / "out"
    result = hil(
        "run", "--profile", "eol", "--out", str(out), "--reports", "html", "--requirement", "USR-PV-1",
        "--", str(test),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test_pack_voltage_within_one_percent  PASS" in result.stdout
    entries = [json.loads(line) for line in (out / "record.jsonl").read_text(encoding="utf-8").splitlines()]
    spec = next(e for e in entries if e["type"] == "spec")["data"]
    assert spec["requirements"][-1]["id"] == "USR-PV-1"
    measured = [e for e in entries if e["type"] == "measurement"]
    assert [(m["requirement"], m["verdict"]) for m in measured] == [("USR-PV-1", "pass")]
    assert "USR-PV-1" in (out / "report.html").read_text(encoding="utf-8")


def test_an_overlay_id_already_in_the_spec_is_refused(tmp_path: Path) -> None:
    test = _plan(tmp_path / "myplan", OVERLAY.replace("USR-PV-1", "CV-OVP"))
    result = hil("run", "--out", str(tmp_path / "out"), "--", str(test))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: {tmp_path / 'myplan' / 'spec-overlay.yaml'}: field 'requirements.0.id': "
        "expected an ID not yet used (CV-OVP is already in the spec)"
    )
    assert not (tmp_path / "out").exists()
