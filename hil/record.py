"""The run record: `record.jsonl`, one JSON object per line, written and made durable as it happens.

Append-only and hash-chained. Every entry carries

- `seq`: its position (0, 1, 2, ...) and `run_id`;
- `prev`: the `hash` of the entry before it (64 zeros for the first);
- `hash`: the SHA-256 of the entry's own line up to, not including, the `hash` field (the bytes
  `{... "prev": "..."}` exactly as written), so every entry, the last one included, is protected
  by its own hash and by the next entry's `prev`.

The first entry is the `header`; the last one of a finished run is `end`, which also carries the
number of entries before it and the SHA-256 of every byte before it. A record without an `end`
entry is incomplete (the run was interrupted or the process died): its entries still verify up to
the last complete line, and reports made from it say it is incomplete.

Durability (group commit): each entry is flushed to the operating system before `write()` returns,
so a process that is killed (even by SIGKILL) loses nothing it reported as recorded; the fsync that
makes entries survive a power loss is shared by the entries of a few ms (`SYNC_INTERVAL_S`, a
background thread), and is immediate for the entries that close a stage (`SYNC_KINDS`: header, a
test's end, the safe state, the seal), before any instrument command that follows
(`hil.durability.barrier`) and on `sync()`/`close()`.

Every run that opened its station has a `safe_state` entry (SAFE_STATE) just before `end`: how
each instrument was made safe, in order, and its outputs as read back (or why they could not be).
It is written the moment the bench is safe, so an interrupted run that dies before its `end`
still ends with it. A write cannot be cut in half by a signal (it waits until the line is
durable), so the chain survives Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from operator import call, itemgetter
from pathlib import Path
from typing import Any

from hil import durability, interrupts
from hil.measure import MEASUREMENT_FIELDS, Measurement, Verdict, field_values

GENESIS = "0" * 64
#: the kind of a safe-state entry: `scope` "run" (the final one, before `end`) or "test" (a failure)
SAFE_STATE = "safe_state"
_HASH_TAIL = re.compile(rb', "hash": "([0-9a-f]{64})"\}$')
#: longest time an entry stays flushed but not fsync'ed (group commit)
SYNC_INTERVAL_S = 0.005
#: entry kinds made durable before write() returns: the ones that close a stage of the run
SYNC_KINDS = frozenset({"header", "test", "safe_state", "end", "stopped"})
#: entries a recorder keeps at most for `written()` (about 1 kB each, so about 50 MB): a longer
#: run is read back and verified instead
KEEP_MAX_ENTRIES = 50_000


#: one encoder for every entry (`json.dumps` with an option builds a new one per call)
_ENCODER = json.JSONEncoder(default=str)
_DECODE = json.JSONDecoder().decode


def _entry_encoder() -> Callable[[dict[str, Any]], str]:
    """`_ENCODER.encode`, without the C encoder it makes anew for every call: the standard library's
    own C encoder with `_ENCODER`'s options, made once, without the check for circular references
    (an entry is a tree; a cycle fails with RecursionError instead, before anything is written).
    The pure-Python encoder where there is no C encoder, or where this one would not write what
    `_ENCODER` writes."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _ENCODER.encode
    c_encode = make(None, str, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False, True)

    def encode(entry: dict[str, Any]) -> str:
        return "".join(c_encode(entry, 0))

    sample: dict[str, Any] = {
        "s": 'µ"\n',
        "f": [1.5, -0.0, 1e-7, 2.0**70, math.inf],
        "n": None,
        "b": True,
        "d": {"k": [(1,)]},
        "o": b"written with str()",
    }
    try:
        same = encode(sample) == _ENCODER.encode(sample)
    except Exception:  # another Python's C encoder takes other arguments
        same = False
    return encode if same else _ENCODER.encode


_ENCODE = _entry_encoder()
#: JSON's text of a string (the C function the C encoder calls for every string)
_STRING = json.encoder.encode_basestring_ascii


class _NotFlat(Exception):
    """A measurement field holds a non-empty container: its entry takes the general path."""


def _empty_container(value: dict[Any, Any] | list[Any]) -> str:
    if value:
        raise _NotFlat
    return "{}" if type(value) is dict else "[]"


#: how each kind of field value is written (what the C encoder writes for it; a float's text is
#: checked afterwards for inf and NaN, which JSON writes as Infinity and NaN); containers only empty
_TEXT: dict[type, Callable[[Any], str]] = {
    str: _STRING,
    Verdict: _STRING,  # a str: its value
    float: repr,
    int: repr,
    bool: {True: "true", False: "false"}.__getitem__,
    type(None): {None: "null"}.__getitem__,
    dict: _empty_container,
    list: _empty_container,
}
#: a measurement entry's line as text pieces, the keys and fixed values, each followed by a slot
#: for a value: `seq`, `run_id`, `test`, the fields in `Measurement.to_json`'s order, `prev`
_PIECES: list[str | None] = []
for _key in ('{"seq": ', ', "type": "measurement", "run_id": ', ', "test": '):
    _PIECES += [_key, None]
for _key in MEASUREMENT_FIELDS:
    _PIECES += [f", {_STRING(_key)}: ", None]
_PIECES += [', "prev": "', None, '"}']


@dataclass(frozen=True)
class _Plan:
    """How the fields of measurements whose values have one combination of types are written:
    a function per field, and which of them are floats (to check for inf and NaN)."""

    texts: tuple[Callable[[Any], str], ...]
    floats: Callable[[list[str]], Any] | None


#: a plan per combination of field types (None: a type the template does not write)
_PLANS: dict[tuple[type, ...], _Plan | None] = {}


def _plan(types: tuple[type, ...]) -> _Plan | None:
    """The plan for measurements whose field values have these types (made once per combination)."""
    if types in _PLANS:
        return _PLANS[types]
    plan: _Plan | None = None
    if all(t in _TEXT for t in types) and types[MEASUREMENT_FIELDS.index("verdict")] is Verdict:
        where = [i for i, t in enumerate(types) if t is float]
        plan = _Plan(tuple(_TEXT[t] for t in types), itemgetter(*where, *where) if where else None)
    if len(_PLANS) < 256:
        _PLANS[types] = plan
    return plan


def _measurement_text(seq: int, run_id: str, test: str, values: tuple[Any, ...], prev: str) -> str | None:
    """A measurement entry's text without its hash, from the pieces (about half the C encoder's
    cost: the keys and the fixed fields are written once); `run_id` and `test` as JSON text. None
    where the pieces cannot hold exactly what the encoder writes (a field that is not a JSON
    scalar or an empty container, a float that is inf or NaN): the entry takes the general path."""
    types = tuple(map(type, values))
    plan = _PLANS[types] if types in _PLANS else _plan(types)
    if plan is None:
        return None
    try:
        parts = [str(seq), run_id, test, *map(call, plan.texts, values), prev]
    except _NotFlat:
        return None
    if plan.floats is not None:
        floats = "".join(plan.floats(parts[3:]))
        if "n" in floats or "f" in floats:  # inf, -inf, nan: a finite float's repr has neither
            return None
    pieces = _PIECES.copy()
    pieces[1::2] = parts
    return "".join(pieces)  # type: ignore[arg-type]  # every slot filled


def _template_writes_as_the_encoder() -> bool:
    """Whether the template writes a sample measurement entry exactly as `_ENCODE` does (checked
    once, at import: otherwise every measurement takes the general path)."""
    sample = Measurement("R-1", 'µ "x"\n', -0.0, "mV", Verdict.PASS, 1e-07, low=None, high=2.0**70)
    sample.notes, sample.expected, sample.guard_band = "ünits", True, 0.1
    values = field_values(sample.__dict__)
    text = _measurement_text(3, _STRING("run"), _STRING("t::x"), values, GENESIS)
    entry = {"seq": 3, "type": "measurement", "run_id": "run", "test": "t::x", **sample.to_json()}
    return text == _ENCODE({**entry, "prev": GENESIS})


#: the keys a kept measurement entry takes from what was written, in the entry's order
_KEPT_KEYS = ("seq", "test", *MEASUREMENT_FIELDS, "prev", "hash")
#: measurement entries are written from the template (else all by the encoder)
_TEMPLATE = _template_writes_as_the_encoder()


def _seal(entry: dict[str, Any]) -> tuple[bytes, str]:
    """The line for an entry (without `hash`) and its hash."""
    body = _ENCODE(entry).encode()
    digest = hashlib.sha256(body).hexdigest()
    return body[:-1] + b', "hash": "' + digest.encode() + b'"}\n', digest


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class RecordClosedError(RuntimeError):
    """An entry was written after the record's `end` entry or after close()."""


class _GroupSync(threading.Thread):
    """fsyncs a record's file at most every `interval` s while entries are pending."""

    def __init__(self, fd: int, interval: float) -> None:
        super().__init__(name="record-fsync", daemon=True)
        self.fd = fd
        self.interval = interval
        self._wake = threading.Condition()
        self._pending = False
        self._stopping = False
        self._stopped = threading.Event()
        self._sync_lock = threading.Lock()

    def mark(self) -> None:
        if self._pending:  # already due: the coming fsync covers every entry flushed before it
            return
        with self._wake:
            if not self._pending:
                self._pending = True
                self._wake.notify()

    def sync(self) -> None:
        """fsync now if anything is pending (or being written): returns once it is durable."""
        with self._wake:
            self._pending = False
        with self._sync_lock:
            os.fsync(self.fd)

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._stopped.set()
        self.join()

    def run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
            self._stopped.wait(self.interval)  # gather the entries of the next few ms into one fsync
            with self._wake:
                if not self._pending:
                    continue
                self._pending = False
            with self._sync_lock, contextlib.suppress(OSError):
                os.fsync(self.fd)


class Recorder:
    """Writes the record of one run; each entry is flushed before write() returns, fsync'ed in groups."""

    def __init__(
        self,
        path: Path,
        run_id: str | None = None,
        resume: bool = False,
        keep: bool = False,
        keep_max: int = KEEP_MAX_ENTRIES,
    ) -> None:
        """A new chain at `path`; with `resume`, continue the open chain already there (it must
        verify and have no end entry: used for chains that grow over time, e.g. authorisations).
        With `keep`, the first `keep_max` entries are also kept as written, for `written()` (the
        results database indexes the run from them instead of reading the record back); a longer
        run keeps none, so memory stays bounded, and is read back."""
        self.path = path
        self._kept: list[dict[str, Any]] | None = [] if keep and not resume else None
        self._keep_max = keep_max
        self.run_id = run_id or uuid.uuid4().hex
        path.parent.mkdir(parents=True, exist_ok=True)
        self._prev = GENESIS
        self._seq = 0
        self._sha = hashlib.sha256()
        if resume and path.exists() and path.stat().st_size > 0:
            entries, result = read_entries(path)
            if not result.ok or result.torn_tail or result.status:
                raise RecordClosedError(f"{path}: cannot continue the chain: {result.message}")
            self.run_id = str(entries[0].get("run_id"))
            self._prev, self._seq = str(entries[-1]["hash"]), len(entries)
            self._sha.update(path.read_bytes())
        elif path.exists() and path.stat().st_size > 0:
            raise FileExistsError(f"{path} already holds a record; a record is never appended to")
        self._run_id_text = _STRING(self.run_id)  # as JSON text, for the measurement template
        self._test, self._test_text = "", _STRING("")
        #: a kept measurement entry's keys in their order, the fixed values set (`_keep_measurement`)
        self._kept_entry: dict[str, Any] = dict.fromkeys(("seq", "type", "run_id", *_KEPT_KEYS[1:]))
        self._kept_entry |= {"type": "measurement", "run_id": self.run_id}
        self._file = path.open("ab", buffering=0)  # each entry goes to the OS in one write()
        _fsync_dir(path.parent)
        self._lock = threading.Lock()
        self._ended = False
        self.last_type = ""  # the kind of the last entry written
        self._group = _GroupSync(self._file.fileno(), SYNC_INTERVAL_S)
        self._group.start()
        durability.register(id(self), self.sync)

    @property
    def entries(self) -> int:
        return self._seq

    @property
    def ended(self) -> bool:
        return self._ended

    def write(self, kind: str, **fields: Any) -> str:
        """Append one entry and make it durable before returning; returns its hash.

        An `end` entry gets `entries` (how many came before it) and `record_sha256` (of every byte
        before it); nothing can be written after it.
        """
        return self._append(kind, fields)

    def _append(self, kind: str, fields: dict[str, Any]) -> str:
        """`write`, with the fields as one dict (not copied into keyword arguments first)."""
        with interrupts.shielded(strict=True), self._lock:
            self._check_open()
            entry: dict[str, Any] = {"seq": self._seq, "type": kind, "run_id": self.run_id, **fields}
            if kind == "end":
                entry["entries"] = self._seq
                entry["record_sha256"] = self._sha.hexdigest()
            return self._commit(kind, entry)

    def _check_open(self) -> None:
        if self._ended or self._file.closed:
            raise RecordClosedError(f"{self.path}: the record is closed")

    def _commit(self, kind: str, entry: dict[str, Any]) -> str:
        """Chain, write and account for `entry` (its `seq`, `type` and `run_id` set); under the lock."""
        entry["prev"] = self._prev
        line, digest = _seal(entry)
        self._write(line)  # in the OS from here on: a killed process loses nothing
        if kind in SYNC_KINDS:
            self._group.sync()
        else:
            self._group.mark()
            durability.pending = True
        self._sha.update(line)
        if self._kept is not None:
            self._keep(entry, digest, line)
        self._prev = digest
        self._seq += 1
        self.last_type = kind
        if kind == "end":
            self._ended = True
        return digest

    def _write(self, line: bytes, written: int = 0) -> None:
        """All of `line` from `written` on to the file, each call one write() to the OS (the file is
        unbuffered; a regular file takes it whole, a short write is continued)."""
        while written < len(line):
            written += self._file.write(line[written:]) or 0

    def _keep(self, entry: dict[str, Any], digest: str, line: bytes) -> None:
        """Keep the entry as a reader of the record would decode it: itself when its fields are
        plain JSON scalars, else its line decoded (a tuple, a value written with str() or a nested
        object the writer still holds would read back as something else)."""
        assert self._kept is not None
        if len(self._kept) >= self._keep_max:
            self._kept = None  # too long a run to hold: `written()` says so, the record is read back
            return
        if _flat(entry):
            entry["hash"] = digest
        else:
            entry = _DECODE(line.decode())
        self._kept.append(entry)

    def written(self) -> tuple[list[dict[str, Any]], VerifyResult] | None:
        """The entries kept as written and what `read_entries` would find, without reading them
        back: only after close(), and only when the file holds exactly the bytes written (its
        SHA-256 is compared); None otherwise (then the record must be read and verified).

        The entries are handed over: the recorder lets go of them, so a later call gives None.
        Held until the process ends, a long run's entries (two objects the garbage collector
        tracks per entry) made the collections at interpreter exit cost 6-7 µs per measurement."""
        kept, self._kept = self._kept, None
        if kept is None or not self._file.closed:
            self._kept = kept  # still open: not handed over yet
            return None
        try:
            on_disk = file_sha256(self.path)
        except OSError:
            return None
        if on_disk != self._sha.hexdigest() or not kept:
            return None
        return kept, _result(kept, on_disk)

    def measurement(self, m: Measurement, test: str = "") -> None:
        """Record one measurement (kept in memory only with `keep`: the record is where it is read back).
        It runs for every measurement: the line is written from a template (`_measurement_text`)
        where it can be, else the entry is built as one dict in `write`'s field order."""
        with interrupts.shielded(strict=True), self._lock:
            self._check_open()
            seq = self._seq
            try:
                values = field_values(m.__dict__)
            except KeyError:  # a field deleted: `to_json` says which
                values = None
            if test != self._test:
                self._test, self._test_text = test, _STRING(test)
            text = None
            if values is not None and _TEMPLATE:
                text = _measurement_text(seq, self._run_id_text, self._test_text, values, self._prev)
            if text is None:
                entry = {"seq": seq, "type": "measurement", "run_id": self.run_id, "test": test}
                self._commit("measurement", m.to_json(entry))
                return
            assert values is not None
            body = text.encode()
            digest = hashlib.sha256(body).hexdigest()
            line = body[:-1] + b', "hash": "' + digest.encode() + b'"}\n'
            written = self._file.write(line) or 0  # a regular file takes the line in one write()
            if written < len(line):
                self._write(line, written)
            # in the OS from here on: a killed process loses nothing
            self._group.mark()
            durability.pending = True
            self._sha.update(line)
            if self._kept is not None:
                self._keep_measurement(test, values, digest)
            self._prev = digest
            self._seq = seq + 1
            self.last_type = "measurement"

    def _keep_measurement(self, test: str, values: tuple[Any, ...], digest: str) -> None:
        """Keep a measurement entry written from the template as a reader decodes it: its fields are
        JSON scalars (kept as they are, the verdict as its text) and empty containers (new ones)."""
        assert self._kept is not None
        if len(self._kept) >= self._keep_max:
            self._kept = None
            return
        entry = self._kept_entry.copy()  # every key in place: filled without growing the dict
        entry.update(zip(_KEPT_KEYS, (self._seq, test, *values, self._prev, digest)))
        entry["verdict"] = entry["verdict"]._value_
        entry["data"] = {}
        entry["budget"] = []
        self._kept.append(entry)

    def sync(self) -> None:
        """Make every entry written so far durable (fsync) before returning."""
        with self._lock:
            if not self._file.closed:
                self._group.sync()

    def close(self) -> None:
        durability.unregister(id(self))
        with self._lock:
            if not self._file.closed:
                self._group.stop()
                self._group.sync()
                self._file.close()


@dataclass
class VerifyResult:
    """What `verify` found.

    ok: every complete line verifies and no line is torn; complete: ok, the last entry is `end` and
    it says the run completed (an interrupted or stopped run is closed properly but incomplete).
    """

    ok: bool
    entries: int
    problem: str = ""
    complete: bool = False
    bad_line: int | None = None
    sha256: str = ""
    status: str = ""  # the end entry's status, when there is one
    torn_tail: bool = False  # the only problem is a last line cut short (a crash while writing it)

    @property
    def message(self) -> str:
        if not self.ok:
            return f"ALTERED or damaged: {self.problem}"
        if self.torn_tail:
            return (
                f"hash chain intact up to its last complete entry ({self.entries} entries), "
                f"INCOMPLETE: {self.problem}"
            )
        if not self.complete:
            return f"hash chain intact, {self.entries} entries, INCOMPLETE: {self.problem}"
        return f"OK, {self.entries} entries, hash chain intact"


def read_entries(path: Path) -> tuple[list[dict[str, Any]], VerifyResult]:
    """Every entry that verifies, in order, and the verification result.

    Reading stops at the first entry that does not verify. A torn last line (the process died or
    the disk filled up while it was written; NUL bytes a file system may leave after it included)
    is left out: the entries before it verify and the record is INCOMPLETE, not altered. A torn
    line anywhere else is damage.
    """
    data = path.read_bytes()
    sha_all = hashlib.sha256(data).hexdigest()
    entries: list[dict[str, Any]] = []
    running = hashlib.sha256()
    prev = GENESIS
    run_id: str | None = None
    ended = False
    lines = [part + b"\n" for part in data.split(b"\n")]
    lines[-1] = lines[-1][:-1]  # what follows the last newline: b"" or a torn line
    if lines[-1].strip(b"\0") == b"" and len(lines) > 1:
        lines[-1] = b""  # only NUL padding after the last complete line: nothing was written there
    if not lines[-1]:
        lines.pop()

    def bad(number: int, problem: str) -> tuple[list[dict[str, Any]], VerifyResult]:
        return entries, VerifyResult(False, len(entries), problem, bad_line=number, sha256=sha_all)

    for number, line in enumerate(lines, start=1):
        if not line.endswith(b"\n"):
            if ended:  # nothing is ever written after the end entry
                return bad(number, f"line {number}: bytes after the end entry")
            problem = f"line {number}: incomplete last line (cut short while it was written)"
            return entries, VerifyResult(True, len(entries), problem, sha256=sha_all, torn_tail=True)
        try:
            entry = _DECODE(line.decode())  # json.loads(bytes) would sniff the encoding per line
        except (json.JSONDecodeError, UnicodeDecodeError):
            return bad(number, f"line {number}: not JSON")
        if not isinstance(entry, dict):
            return bad(number, f"line {number}: not a record entry")
        seq = entry.get("seq")
        where = f"line {number} (seq {seq})"
        if ended:
            return bad(number, f"{where}: entry after the end entry")
        if seq != len(entries):
            return bad(number, f"{where}: chain broken: expected seq {len(entries)}")
        if entry.get("prev") != prev:
            return bad(number, f"{where}: chain broken: prev is not the hash of the entry before")
        tail = _HASH_TAIL.search(line.rstrip(b"\n"))
        if tail is None:
            return bad(number, f"{where}: chain broken: no hash field at the end of the entry")
        body = line.rstrip(b"\n")[: tail.start()] + b"}"
        digest = hashlib.sha256(body).hexdigest()
        if digest != tail.group(1).decode() or entry.get("hash") != digest:
            return bad(number, f"{where}: altered: the entry does not match its hash")
        if number == 1 and entry.get("type") != "header":
            return bad(number, f"{where}: the first entry is not a header")
        if run_id is None:
            run_id = entry.get("run_id")
        elif entry.get("run_id") != run_id:
            return bad(number, f"{where}: run_id {entry.get('run_id')!r} is not this record's {run_id!r}")
        if entry.get("type") == "end":
            if entry.get("entries") != len(entries) or entry.get("record_sha256") != running.hexdigest():
                return bad(number, f"{where}: the end entry does not match the entries before it")
            ended = True
        running.update(line)
        prev = digest
        entries.append(entry)
    return entries, _result(entries, sha_all)


def _result(entries: list[dict[str, Any]], sha_all: str) -> VerifyResult:
    """The verification result of a chain whose entries all verified (`sha_all`: of the file)."""
    ended = bool(entries) and entries[-1].get("type") == "end"
    if not entries:
        return VerifyResult(False, 0, "the record is empty", bad_line=1, sha256=sha_all)
    if not ended:
        result = VerifyResult(True, len(entries), "no end entry (the run was interrupted or cut short)")
        result.sha256 = sha_all
        return result
    end = entries[-1]
    status = str(end.get("status", "completed"))  # an end entry without a status: a finished run
    if status != "completed":
        said = {"interrupted": "was interrupted", "stopped": "was stopped"}.get(status, f"ended {status}")
        problem = f"the run {said}" + (f" ({end['reason']})" if end.get("reason") else "")
        return VerifyResult(True, len(entries), problem, sha256=sha_all, status=status)
    return VerifyResult(True, len(entries), "", complete=True, sha256=sha_all, status=status)


def verify(path: Path) -> VerifyResult:
    """Check the hash chain; report the first entry that was altered, removed or added."""
    return read_entries(path)[1]


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _flat(entry: dict[str, Any]) -> bool:
    """Whether every field of `entry` is one of JSON's own scalars or an empty list or dict, so the
    entry reads back equal; empty containers are replaced by new ones (the writer's own, e.g. a
    measurement's `data`, may still change after the entry was written)."""
    for key, value in entry.items():
        kind = type(value)
        if kind in _SCALARS:
            continue
        if (kind is not dict and kind is not list) or value:
            return False
        entry[key] = kind()  # a key's value replaced: the dict's size stays, so iterating it goes on
    return True


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
