"""The run record: durable appends, the hash chain, the end entry, and `hil report --verify`."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
from pathlib import Path

import pytest

from hil import record
from hil.cli import main
from hil.measure import DecisionRule, Measurement, equals, field_values, within
from hil.record import GENESIS, RecordClosedError, Recorder, read_entries, verify

GUARDED = DecisionRule("guarded")


def write_record(folder: Path, end: bool = True, status: str | None = None) -> Path:
    rec = Recorder(folder / "record.jsonl", run_id="run-1")
    rec.write("header", started="2026-01-01T00:00:00+00:00", operator="tester")
    rec.measurement(within("CV-OVP", "trip point", 3655.04, "mV", 41.2, low=3620.0, high=3680.0), "t1")
    rec.measurement(equals("CV-OVP", "trip beyond the limit", True, True, 9.6), "t1")
    rec.write("test", test="t1", phase="call", outcome="passed", requirements=["CV-OVP"])
    if end:
        fields = {"status": status} if status else {}
        rec.write("end", ended="2026-01-01T00:01:00+00:00", **fields)
    rec.close()
    return folder / "record.jsonl"


def test_each_entry_carries_its_hash_and_the_previous_one(tmp_path: Path) -> None:
    record = write_record(tmp_path)
    lines = record.read_bytes().splitlines(keepends=True)
    entries = [json.loads(line) for line in lines]
    assert [e["seq"] for e in entries] == [0, 1, 2, 3, 4]
    assert entries[0]["prev"] == GENESIS
    for before, entry in itertools.pairwise(entries):
        assert entry["prev"] == before["hash"]
    for line, entry in zip(lines, entries):
        # the hash covers the line as written, up to (not including) the hash field
        body = line.rstrip(b"\n")[: line.rindex(b', "hash": ')] + b"}"
        assert entry["hash"] == hashlib.sha256(body).hexdigest()
    end = entries[-1]
    assert end["type"] == "end"
    assert end["entries"] == 4
    assert end["record_sha256"] == hashlib.sha256(b"".join(lines[:-1])).hexdigest()


def test_each_line_is_what_json_writes_for_its_entry(tmp_path: Path) -> None:
    """The recorder's encoder (the standard library's C encoder, made once) writes each entry byte
    for byte as `json.dumps(entry, default=str)` does: escapes, floats, NaN, non-JSON values as text."""
    rec = Recorder(tmp_path / "record.jsonl", run_id="run-1")
    odd = {"µ": 'quote " and\nnewline', "floats": [0.1, -0.0, 1e-7, 2.0**70, float("inf")], "path": tmp_path}
    rec.write("header", started="2026-01-01T00:00:00+00:00", odd=odd, none=None, flag=False)
    m = within("CV-OVP", "trip point ±", 3655.04, "mV", 41.2, low=3620.0, high=3680.0, data={"t": (1, 2)})
    rec.measurement(m, "t1")
    rec.measurement(within("CV-OVP", "nothing measured", float("nan"), "mV", 42.0, low=0.0, high=1.0), "t1")
    rec.close()
    lines = (tmp_path / "record.jsonl").read_bytes().splitlines()
    entries, _ = read_entries(tmp_path / "record.jsonl")
    header = {"seq": 0, "type": "header", "run_id": "run-1", "started": "2026-01-01T00:00:00+00:00"}
    header |= {"odd": odd, "none": None, "flag": False, "prev": GENESIS}
    assert (
        lines[0]
        == json.dumps(header, default=str).encode()[:-1]
        + b', "hash": "'
        + entries[0]["hash"].encode()
        + b'"}'
    )
    for number, measured in ((1, m), (2, None)):
        line = lines[number]
        body = line[: line.rindex(b', "hash": ')] + b"}"
        if measured is not None:
            entry = {"seq": 1, "type": "measurement", "run_id": "run-1", "test": "t1", **measured.to_json()}
            assert body == json.dumps({**entry, "prev": entries[0]["hash"]}, default=str).encode()
        assert body == json.dumps({k: v for k, v in entries[number].items() if k != "hash"}).encode()
    assert entries[2]["value"] != entries[2]["value"]  # NaN, written as JSON's NaN


def test_a_measurement_line_from_the_template_is_what_json_writes(tmp_path: Path) -> None:
    """A measurement entry written from the template (keys and fixed fields written once) is byte
    for byte what `json.dumps(entry, default=str)` writes, for every kind of field value it takes
    and for those it leaves to the encoder (inf, NaN, a container with something in it, a value
    that is not a JSON scalar); kept entries are what a reader decodes; tests change mid-record."""
    assert record._TEMPLATE  # CPython's encoder: the template is in use
    cases = [
        within("CV-OVP", "plain", 3655.04, "mV", 41.2, low=3620.0, high=3680.0),
        within("CV-OVP", "one-sided", -0.0, "mV", 1e-07, high=2.0**70),
        within("CV-OVP", "int", 7, "count", 3, low=0, high=10),
        within("CV-OVP", "none", None, "mV", 4.0, low=0.0, high=1.0),
        within("CV-OVP", 'µ "quoted"\n\ttab', 1.5, "°C", 2.0, low=1.0, high=2.0, notes="ünïcode \x01"),
        within("CV-OVP", "with U", 1.25, "V", 2.0, low=1.0, high=2.0, uncertainty=0.01),
        within("CV-OVP", "guarded", 1.99, "V", 2.0, low=1.0, high=2.0, uncertainty=0.02, rule=GUARDED),
        equals("CV-OVP", "tripped", True, True, 9.6),
        equals("CV-OVP", "state", "CHARGING", "IDLE", 9.7),
        within("CV-OVP", "inf", float("inf"), "mV", 5.0, low=0.0, high=1.0),
        within("CV-OVP", "-inf limit", 0.5, "mV", 5.0, low=float("-inf"), high=1.0),
        within("CV-OVP", "nan", float("nan"), "mV", 5.0, low=0.0),
        within("CV-OVP", "data", 0.5, "mV", 5.0, low=0.0, high=1.0, data={"t": (1, 2)}),
        within("CV-OVP", "path", 0.5, "mV", 5.0, low=0.0, high=1.0, method=tmp_path),
        within("CV-OVP", "inf and -inf", float("inf"), "mV", 5.0, low=float("-inf")),
        within("CV-OVP", "sum overflows", 1.7e308, "mV", 5.0, low=0.0, high=1.7e308),
        equals("CV-OVP", "false", False, False, 9.8),
        within("CV-OVP", "int value, float limits", 3, "count", 1.0, low=0.5, high=2.5e-300),
    ]
    # the template writes the finite ones (also floats whose sum would overflow); inf, NaN and a
    # container with something in it are left to the encoder, which writes them the same
    template = record._measurement_text
    texts = [template(1, '"r"', '"t"', field_values(m.judged(DecisionRule()).__dict__), "0") for m in cases]
    left = {m.name for m, text in zip(cases, texts, strict=True) if text is None}
    assert left == {"inf", "-inf limit", "nan", "data", "path", "inf and -inf"}
    rec = Recorder(tmp_path / "record.jsonl", run_id='run "1"', keep=True)
    rec.write("header")
    for number, m in enumerate(cases):
        rec.measurement(m, f"t{number % 3}")
    rec.write("end", status="completed")
    rec.close()
    lines = (tmp_path / "record.jsonl").read_bytes().splitlines()
    entries, result = read_entries(tmp_path / "record.jsonl")
    assert result.complete and len(entries) == len(cases) + 2
    for number, m in enumerate(cases, start=1):
        entry = {"seq": number, "type": "measurement", "run_id": 'run "1"', "test": f"t{(number - 1) % 3}"}
        entry |= {**m.to_json(), "prev": entries[number - 1]["hash"]}
        body = lines[number][: lines[number].rindex(b', "hash": ')] + b"}"
        assert body == json.dumps(entry, default=str).encode(), m.name
    written = rec.written()
    assert written is not None
    assert json.dumps(written[0]) == json.dumps(entries)  # NaN is not equal to itself: compared as text
    assert written[1] == result


def test_a_measurement_read_from_its_entry_is_the_one_recorded(tmp_path: Path) -> None:
    """`Measurement.from_json` of an entry as the recorder writes it (its fields and the record's
    own keys) gives the measurement recorded, its fields alone and in order; an entry with a key
    of its own, or with another key in place of a record key, still gives the fields alone."""
    rec = Recorder(tmp_path / "record.jsonl", run_id="run-1")
    rec.write("header")
    recorded = [
        within("CV-OVP", "a", 3655.04, "mV", 41.2, low=3620.0, high=3680.0),
        equals("CV-OVP", "b", True, False, 9.6, data={"n": [3]}),
    ]
    for m in recorded:
        rec.measurement(m, "t1")
    rec.close()
    entries, _ = read_entries(tmp_path / "record.jsonl")
    names = [f.name for f in dataclasses.fields(Measurement)]
    renamed = {("station" if k == "run_id" else k): v for k, v in entries[1].items()}  # as many keys
    variants = [entries[1], {**entries[1], "extra": 1}, renamed]
    for entry, m in zip([*variants, entries[2]], [*[recorded[0]] * 3, recorded[1]], strict=True):
        read = Measurement.from_json(entry)
        assert read == m and list(vars(read)) == names and read.verdict is m.verdict


def test_a_measurement_entry_holds_its_fields_in_declaration_order_and_nothing_else(tmp_path: Path) -> None:
    """`to_json` copies the instance's attributes whole when they are exactly the fields in order;
    an attribute added, or deleted and set again (which moves it last), still gives the fields alone,
    in their declared order."""
    rec = Recorder(tmp_path / "record.jsonl", run_id="run-1")
    rec.write("header")
    plain = within("CV-OVP", "a", 3655.04, "mV", 41.2, low=3620.0, high=3680.0)
    added = within("CV-OVP", "b", 3655.04, "mV", 41.2, low=3620.0, high=3680.0)
    added.operator = "not a field"  # type: ignore[attr-defined]
    moved = within("CV-OVP", "c", 3655.04, "mV", 41.2, low=3620.0, high=3680.0)
    unit = moved.unit
    del moved.unit
    moved.unit = unit
    for m in (plain, added, moved):
        rec.measurement(m, "t1")
    rec.close()
    entries, result = read_entries(tmp_path / "record.jsonl")
    names = [f.name for f in dataclasses.fields(Measurement)]
    assert result.ok and len(entries) == 4
    for entry, m in zip(entries[1:], (plain, added, moved), strict=True):
        assert list(entry) == ["seq", "type", "run_id", "test", *names, "prev", "hash"]
        assert entry["name"] == m.name and entry["unit"] == "mV" and entry["verdict"] == "pass"


def test_verify_intact_record(tmp_path: Path) -> None:
    result = verify(write_record(tmp_path))
    assert (result.ok, result.complete, result.entries) == (True, True, 5)
    assert result.sha256 == hashlib.sha256((tmp_path / "record.jsonl").read_bytes()).hexdigest()
    assert result.message == "OK, 5 entries, hash chain intact"


@pytest.mark.parametrize("line_index", [0, 1, 2, 3, 4])
def test_one_changed_character_on_any_line_names_that_line(tmp_path: Path, line_index: int) -> None:
    """Any line, the header and the last (end) entry included, is protected by its own hash."""
    record = write_record(tmp_path)
    lines = record.read_bytes().splitlines(keepends=True)
    line = lines[line_index]
    at = line.index(b'"run-1"') + 5  # the digit of the run id: present on every line
    lines[line_index] = line[:at] + b"2" + line[at + 1 :]
    record.write_bytes(b"".join(lines))
    result = verify(record)
    assert not result.ok
    assert result.bad_line == line_index + 1
    assert result.problem.startswith(f"line {line_index + 1} (seq {line_index}): ")


def test_changed_digit_of_a_value_detected(tmp_path: Path) -> None:
    record = write_record(tmp_path)
    data = record.read_bytes()
    assert data.count(b"3655.04") == 1
    record.write_bytes(data.replace(b"3655.04", b"3655.05"))
    result = verify(record)
    assert not result.ok
    assert result.problem == "line 2 (seq 1): altered: the entry does not match its hash"


def test_recomputed_hash_of_an_altered_entry_still_breaks_the_chain(tmp_path: Path) -> None:
    """Re-sealing one altered entry does not help: the next entry's prev no longer matches."""
    record = write_record(tmp_path)
    lines = record.read_bytes().splitlines(keepends=True)
    entry = json.loads(lines[1])
    entry["value"] = 3600.0
    del entry["hash"]
    body = json.dumps(entry).encode()
    digest = hashlib.sha256(body).hexdigest()
    lines[1] = body[:-1] + b', "hash": "' + digest.encode() + b'"}\n'
    record.write_bytes(b"".join(lines))
    result = verify(record)
    assert not result.ok
    assert result.problem.startswith("line 3 (seq 2): chain broken")


def test_removed_and_reordered_lines_detected(tmp_path: Path) -> None:
    record = write_record(tmp_path)
    lines = record.read_bytes().splitlines(keepends=True)
    record.write_bytes(b"".join(lines[:2] + lines[3:]))
    assert verify(record).problem.startswith("line 3 (seq 3): chain broken")
    record.write_bytes(b"".join([lines[0], lines[2], lines[1], *lines[3:]]))
    assert verify(record).problem.startswith("line 2 (seq 2): chain broken")


def test_entry_appended_after_the_end_detected(tmp_path: Path) -> None:
    record = write_record(tmp_path)
    lines = record.read_bytes().splitlines(keepends=True)
    extra = json.loads(lines[-1])
    forged = {"seq": 5, "type": "measurement", "run_id": "run-1", "prev": extra["hash"]}
    body = json.dumps(forged).encode()
    line = body[:-1] + b', "hash": "' + hashlib.sha256(body).hexdigest().encode() + b'"}\n'
    record.write_bytes(record.read_bytes() + line)
    assert verify(record).problem == "line 6 (seq 5): entry after the end entry"


def test_cut_after_a_complete_line_is_intact_but_incomplete(tmp_path: Path) -> None:
    """A run that died between two entries: everything up to then verifies; no end entry."""
    record = write_record(tmp_path, end=False)
    entries, result = read_entries(record)
    assert (result.ok, result.complete, len(entries)) == (True, False, 4)
    assert "no end entry" in result.problem


def test_torn_last_line_is_incomplete_and_the_rest_still_reads(tmp_path: Path) -> None:
    """A last line cut short (a full disk, a crash mid-write): INCOMPLETE, not altered."""
    record = write_record(tmp_path)
    record.write_bytes(record.read_bytes()[:-20])
    entries, result = read_entries(record)
    assert result.ok and result.torn_tail and not result.complete
    assert result.problem == "line 5: incomplete last line (cut short while it was written)"
    assert [e["type"] for e in entries] == ["header", "measurement", "measurement", "test"]


def test_interrupted_run_is_closed_but_incomplete(tmp_path: Path) -> None:
    result = verify(write_record(tmp_path, status="interrupted"))
    assert (result.ok, result.complete, result.status) == (True, False, "interrupted")
    assert result.message == "hash chain intact, 5 entries, INCOMPLETE: the run was interrupted"


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every os.fsync call of the test, by file descriptor."""
    synced: list[int] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return synced


def test_every_entry_is_in_the_file_when_write_returns(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "record.jsonl")
    rec.write("header")
    for i in range(5):
        rec.measurement(within("CV-OVP", f"m{i}", 1.0, "V", 0.0, low=0.0, high=2.0), "t1")
        # flushed to the operating system: another reader sees it while the record is open
        assert (tmp_path / "record.jsonl").read_bytes().count(b"\n") == i + 2
    rec.close()


def test_stage_entries_are_fsynced_before_write_returns(tmp_path: Path, fsyncs: list[int]) -> None:
    rec = Recorder(tmp_path / "record.jsonl")
    fd = rec._file.fileno()
    for kind in ("header", "test", "safe_state", "end"):
        before = fsyncs.count(fd)
        rec.write(kind)
        assert fsyncs.count(fd) > before, kind
    rec.close()


def test_measurements_are_fsynced_in_groups_within_the_interval(tmp_path: Path, fsyncs: list[int]) -> None:
    import time

    from hil.record import SYNC_INTERVAL_S

    rec = Recorder(tmp_path / "record.jsonl")
    fd = rec._file.fileno()
    rec.write("header")
    after_header = fsyncs.count(fd)
    for i in range(200):
        rec.measurement(within("CV-OVP", f"m{i}", 1.0, "V", 0.0, low=0.0, high=2.0), "t1")
    deadline = time.monotonic() + 2.0
    while fsyncs.count(fd) == after_header and time.monotonic() < deadline:
        time.sleep(SYNC_INTERVAL_S)
    grouped = fsyncs.count(fd) - after_header
    assert 1 <= grouped < 200  # made durable, and not once per entry
    rec.close()


def test_the_durability_barrier_fsyncs_pending_entries(tmp_path: Path, fsyncs: list[int]) -> None:
    from hil import durability

    rec = Recorder(tmp_path / "record.jsonl")
    fd = rec._file.fileno()
    rec.write("header")
    rec.measurement(within("CV-OVP", "m", 1.0, "V", 0.0, low=0.0, high=2.0), "t1")
    before = fsyncs.count(fd)
    durability.barrier()  # what an instrument command does before it is sent
    assert fsyncs.count(fd) == before + 1 or not durability.pending
    rec.close()
    assert fsyncs.count(fd) > before


_WRITER = """
import sys
from pathlib import Path
from hil.measure import within
from hil.record import Recorder

rec = Recorder(Path(sys.argv[1]), keep=sys.argv[2] == "keep")  # keep: as `hil run` with a database
rec.write("header")
print(0, flush=True)
i = 0
while True:
    i += 1
    rec.measurement(within("CV-OVP", f"m{i}", 1.0 + i, "V", 0.0, low=0.0, high=1e9), "t")
    print(i, flush=True)  # reported as measured once write() returned
"""


@pytest.mark.parametrize("keep", ["keep", "no-keep"])
@pytest.mark.parametrize("after", [1, 37, 400])
def test_a_killed_run_keeps_every_entry_reported_as_written(tmp_path: Path, after: int, keep: str) -> None:
    import signal
    import subprocess
    import sys

    record = tmp_path / "record.jsonl"
    cmd = [sys.executable, "-c", _WRITER, str(record), keep]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    reported = -1
    for line in proc.stdout:
        reported = int(line)
        if reported >= after:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    entries, result = read_entries(record)
    assert result.ok or result.torn_tail  # verifies up to its last complete entry
    assert len(entries) >= reported + 1  # nothing reported as written was lost
    assert entries[-1]["seq"] == len(entries) - 1


def test_a_record_is_never_appended_to_and_nothing_follows_the_end(tmp_path: Path) -> None:
    record = write_record(tmp_path)
    with pytest.raises(FileExistsError):
        Recorder(record)
    rec = Recorder(tmp_path / "other" / "record.jsonl")
    rec.write("header")
    rec.write("end")
    with pytest.raises(RecordClosedError):
        rec.write("measurement")
    rec.close()


def test_cli_verify_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, partial, bad = tmp_path / "good", tmp_path / "partial", tmp_path / "bad"
    write_record(good)
    write_record(partial, end=False)
    record = write_record(bad)
    record.write_bytes(record.read_bytes().replace(b"3655.04", b"3655.05"))
    assert main(["report", "--verify", str(good)]) == 0
    assert capsys.readouterr().out.strip() == f"{good / 'record.jsonl'}: OK, 5 entries, hash chain intact"
    assert main(["report", "--verify", str(partial)]) == 3
    assert "INCOMPLETE: no end entry" in capsys.readouterr().err
    assert main(["report", "--verify", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (
        f"{record}: ALTERED or damaged: line 2 (seq 1): altered: the entry does not match its hash"
    )


def test_resume_continues_an_open_chain_and_refuses_a_closed_or_damaged_one(tmp_path: Path) -> None:
    """The chain of a file that grows over time (authorisations.jsonl): each writer continues it."""
    path = tmp_path / "chain.jsonl"
    first = Recorder(path, run_id="run-1", resume=True)
    first.write("header", purpose="test")
    first.close()
    second = Recorder(path, resume=True)
    assert (second.run_id, second.entries) == ("run-1", 1)
    second.write("authorisation", revision=1)
    second.close()
    entries, result = read_entries(path)
    assert result.ok and [e["seq"] for e in entries] == [0, 1]
    path.write_bytes(path.read_bytes().replace(b'"revision": 1', b'"revision": 2'))
    with pytest.raises(RecordClosedError, match="cannot continue the chain: ALTERED"):
        Recorder(path, resume=True)
    with pytest.raises(
        RecordClosedError, match=r"cannot continue the chain: .*INCOMPLETE: the run was interrupted"
    ):
        Recorder(write_record(tmp_path / "ended", status="interrupted"), resume=True)


def test_kept_entries_are_what_a_reader_of_the_file_decodes(tmp_path: Path) -> None:
    """With `keep`, the recorder hands over its entries as `read_entries` would decode them (a
    tuple or a nested object as JSON reads it back, a measurement's `data` as it was when written),
    only once closed, only while the file holds exactly the bytes it wrote, and only once."""
    path = tmp_path / "record.jsonl"
    rec = Recorder(path, run_id="run-1", keep=True)
    rec.write("header", started="2026-01-01T00:00:00+00:00", station={"name": "s", "ids": (1, 2)})
    m = within("CV-OVP", "trip point", 3655.04, "mV", 41.2, low=3620.0, high=3680.0)
    rec.measurement(m, "t1")
    m.data["later"] = 1  # changed after it was recorded: the kept entry must not follow
    rec.measurement(equals("CV-OVP", "trip beyond the limit", True, True, 9.6, data={"n": (3,)}), "t1")
    rec.write("test", test="t1", phase="call", outcome="passed", requirements=["CV-OVP"])
    assert rec.written() is None  # still open
    rec.write("end", ended="2026-01-01T00:01:00+00:00", status="interrupted", reason="Ctrl-C")
    rec.close()
    written = rec.written()
    assert written is not None
    assert written == read_entries(path)
    assert written[0][1]["data"] == {} and written[0][2]["data"] == {"n": [3]}
    assert (
        written[1].status == "interrupted"
        and written[1].sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    )
    assert rec.written() is None  # handed over: the recorder no longer holds them
    altered = Recorder(tmp_path / "altered.jsonl", keep=True)
    altered.write("header")
    altered.write("end", status="completed")
    altered.close()
    with altered.path.open("ab") as fh:
        fh.write(b"\n")  # the file is no longer what was written: it must be read and verified
    assert altered.written() is None
    assert Recorder(tmp_path / "other.jsonl").written() is None  # nothing kept without `keep`
    bounded = Recorder(tmp_path / "long.jsonl", keep=True, keep_max=3)
    for kind in ("header", "note", "note", "note", "end"):
        bounded.write(kind)
    bounded.close()
    assert bounded.written() is None  # more entries than it may hold: the record is read back
    assert verify(tmp_path / "long.jsonl").complete
