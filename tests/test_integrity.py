"""`hil report --verify` and `hil report` against edited artefacts, re-chained records with verdicts
their numbers do not give, records cut short by a full disk, and runs started on a full disk."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hilcli import hil

from hil.record import Recorder, read_entries

#: two quick EOL tests: EL-RDS (a resistance against [0, 2] mΩ) and the CV-OVP go/no-go
SELECTION = "discharge_path_resistance or CV-OVP"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("integrity") / "run"
    result = hil(
        "run", "--profile", "eol", "--reports", "none", "--out", str(out), "--", "-k", SELECTION, timeout=300
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return out


@pytest.fixture
def copy(run_dir: Path, tmp_path: Path) -> Path:
    """A fresh copy of the run folder for a test to damage."""
    target = tmp_path / "run"
    shutil.copytree(run_dir, target)
    return target


def rechain(record: Path, edit: dict[int, dict[str, Any]]) -> None:
    """Rewrite the record with some entries' fields changed and every hash recomputed, as a forger
    with the hil source would (the Recorder itself seals it)."""
    entries, result = read_entries(record)
    assert result.complete
    record.unlink()
    rec = Recorder(record, run_id=entries[0]["run_id"])
    for entry in entries:
        fields = {k: v for k, v in entry.items() if k not in ("seq", "type", "run_id", "prev", "hash")}
        if entry["type"] == "end":
            fields = {k: v for k, v in fields.items() if k not in ("entries", "record_sha256")}
        fields.update(edit.get(entry["seq"], {}))
        rec.write(entry["type"], **fields)
    rec.close()


def test_the_run_verifies_with_its_artefacts(run_dir: Path) -> None:
    result = hil("report", str(run_dir), "--verify")
    assert result.returncode == 0, result.stderr
    assert "artefacts can.asc, sim.log: SHA-256 as recorded in the end entry" in result.stdout


def test_one_changed_byte_in_can_asc_is_caught(copy: Path) -> None:
    can = copy / "can.asc"
    data = bytearray(can.read_bytes())
    data[len(data) // 2] ^= 0x01
    can.write_bytes(bytes(data))
    result = hil("report", str(copy), "--verify")
    assert result.returncode == 1
    assert f"{can}: ALTERED" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_sim_log_is_caught(copy: Path) -> None:
    (copy / "sim.log").unlink()
    result = hil("report", str(copy), "--verify")
    assert result.returncode == 1
    assert f"{copy / 'sim.log'}: artefact listed by the end entry is missing" in result.stderr


def test_rechained_record_with_a_verdict_its_numbers_do_not_give(copy: Path) -> None:
    record = copy / "record.jsonl"
    entries, _ = read_entries(record)
    rds = next(e for e in entries if e.get("requirement") == "EL-RDS" and e["type"] == "measurement")
    assert (rds["low"], rds["high"], rds["verdict"]) == (0.0, 2.0, "pass")
    rechain(record, {rds["seq"]: {"value": 2.5, "verdict": "pass"}})
    assert read_entries(record)[1].complete  # the chain itself is flawless
    verify = hil("report", str(copy), "--verify")
    assert verify.returncode == 1
    assert (
        f"entry seq {rds['seq']} (EL-RDS discharge path resistance): recorded verdict pass" in verify.stderr
    )
    assert "gives fail" in verify.stderr
    report = hil("report", str(copy), "--format", "html,allure")
    assert report.returncode == 1
    lines = report.stderr.strip().splitlines()
    assert len(lines) == 1 and f"entry seq {rds['seq']} (EL-RDS" in lines[0] and "Traceback" not in lines[0]
    assert not (copy / "report.html").exists() and not (copy / "allure-results").exists()


def test_rechained_record_with_honest_verdict_renders(copy: Path) -> None:
    """The same edit with the verdict its numbers give is a consistent record: re-judging accepts it
    (the hash chain, not re-judging, is what protects the numbers)."""
    record = copy / "record.jsonl"
    entries, _ = read_entries(record)
    rds = next(e for e in entries if e.get("requirement") == "EL-RDS" and e["type"] == "measurement")
    rechain(record, {rds["seq"]: {"value": 2.5, "verdict": "fail"}})
    report = hil("report", str(copy), "--format", "junit")
    assert report.returncode == 0, report.stderr
    assert "result: FAIL" in report.stdout


def test_torn_last_line_is_incomplete_not_altered(copy: Path) -> None:
    record = copy / "record.jsonl"
    data = record.read_bytes()
    record.write_bytes(data[:-30])  # the end entry cut short while it was written
    n = data.count(b"\n")
    result = hil("report", str(copy), "--verify")
    assert result.returncode == 3, result.stderr
    assert (
        f"up to its last complete entry ({n - 1} entries), INCOMPLETE: line {n}: incomplete" in result.stderr
    )
    assert "ALTERED" not in result.stderr
    report = hil("report", str(copy), "--format", "junit")
    assert report.returncode == 3 and "INCOMPLETE" in report.stdout


def test_nul_padding_after_the_last_complete_line_is_incomplete(copy: Path) -> None:
    record = copy / "record.jsonl"
    lines = record.read_bytes().splitlines(keepends=True)
    record.write_bytes(b"".join(lines[:-2]) + b"\0" * 4096)  # what a file system may leave after a crash
    result = hil("report", str(copy), "--verify")
    assert result.returncode == 3 and "no end entry" in result.stderr


def test_torn_line_in_the_middle_is_altered(copy: Path) -> None:
    record = copy / "record.jsonl"
    lines = record.read_bytes().splitlines(keepends=True)
    lines[5] = lines[5][:40] + b"\n"
    record.write_bytes(b"".join(lines))
    result = hil("report", str(copy), "--verify")
    assert result.returncode == 1
    assert "ALTERED or damaged: line 6: not JSON" in result.stderr


@contextlib.contextmanager
def tiny_disk(folder: Path, size: str) -> Iterator[bool]:
    """A tmpfs of `size` mounted on `folder` (root); yields False where mounting is not allowed."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = os.geteuid() == 0 and (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=False
        ).returncode
        == 0
    )
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=True)


def test_record_cut_short_by_a_full_disk_is_incomplete(tmp_path: Path) -> None:
    """The Recorder writing until the disk is full: what is on disk verifies as INCOMPLETE."""
    disk = tmp_path / "disk"
    with tiny_disk(disk, "64k") as mounted:
        rec = Recorder(disk / "record.jsonl")
        rec.write("header", title="full disk")
        written = 1
        with pytest.raises(OSError):  # ENOSPC on the real tmpfs
            for i in range(100_000):
                rec.write("measurement", requirement="X", name=f"m{i}", value=1.0, padding="x" * 300)
                written += 1
                if not mounted and written == 50:  # no tmpfs allowed: cut the file as a full disk does
                    rec.close()
                    data = (disk / "record.jsonl").read_bytes()
                    (disk / "record.jsonl").write_bytes(data[:-123])
                    raise OSError(28, "No space left on device (simulated by truncation)")
        with contextlib.suppress(OSError):
            rec.close()
        entries, result = read_entries(disk / "record.jsonl")
        assert result.ok and not result.complete
        assert len(entries) >= written - 1
        assert "INCOMPLETE" in result.message and "ALTERED" not in result.message


def test_run_refuses_to_start_on_a_full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "small"
    with tiny_disk(out, "1m") as mounted:
        if not mounted:  # the same check, with a need no disk here meets
            monkeypatch.setenv("HIL_MIN_FREE_MB", "1e12")
        result = hil("run", "--profile", "eol", "--reports", "none", "--out", str(out / "run"))
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert str(out / "run") in lines[0] and "MB free, the eol profile needs" in lines[0]
        assert not (out / "run" / "record.jsonl").exists()


def test_free_space_need_can_be_lowered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """HIL_MIN_FREE_MB overrides the profile's estimate (here: a need any disk meets)."""
    from hil.diskspace import check_free_space, needed_bytes

    assert needed_bytes("eol") > 10 * 2_700_000  # well above a measured EOL folder with every report
    monkeypatch.setenv("HIL_MIN_FREE_MB", "0.5")
    assert needed_bytes("full") == 500_000
    check_free_space(tmp_path, "full")  # does not raise
    monkeypatch.setenv("HIL_MIN_FREE_MB", "lots")
    result = hil("run", "--profile", "eol", "--out", str(tmp_path / "run"))
    assert result.returncode == 2 and result.stderr.strip() == (
        "error: HIL_MIN_FREE_MB='lots': expected a number of megabytes"
    )


def test_each_altered_artefact_is_named_on_its_own_line(copy: Path) -> None:
    (copy / "can.asc").write_text("changed\n")
    (copy / "sim.log").write_text("changed\n")
    result = hil("report", str(copy), "--verify")
    assert result.returncode == 1
    assert [line.split(": ")[0] for line in result.stderr.strip().splitlines()] == [
        str(copy / "can.asc"),
        str(copy / "sim.log"),
    ]


def test_rejudge_uses_the_recorded_rule_and_expected_states() -> None:
    """Guarded results are re-judged under their own rule; observations against their expected state."""
    from hil.measure import DecisionRule, equals, within
    from hil.report.integrity import rejudge

    guarded = DecisionRule.parse("guarded")
    near = within("CV-OVP", "trip point", 3678.0, "mV", 1.0, low=3620.0, high=3680.0, uncertainty=5.0)
    entries = [
        {"type": "measurement", "seq": 1, **near.judged(guarded).to_json()},  # conditional-pass: honest
        {"type": "measurement", "seq": 2, **{**near.judged(guarded).to_json(), "verdict": "pass"}},
        {"type": "measurement", "seq": 3, **equals("CV-OVP", "tripped", True, True, 2.0).to_json()},
        {"type": "measurement", "seq": 4, **{**equals("CV-OVP", "tripped", False, True, 2.0).to_json()},
         "verdict": "pass"},
    ]  # fmt: skip
    found = rejudge(entries)
    assert [(d.seq, d.recorded, d.derived) for d in found] == [
        (2, "pass", "conditional-pass"),
        (4, "pass", "fail"),
    ]
    assert "under the guarded:1 rule" in found[0].describe()
