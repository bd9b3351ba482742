"""Property-based fuzzing of every parser of bytes from the DUT and the bench (hypothesis).

Valid frames with random content, then bit flips, byte changes, truncation, extension,
insertion, deletion, duplication, checksum- and LENGTH-corrected mutations, mutated INFO fields
re-encoded as well-formed frames, random headers and random bytes. Each parser may only raise
its declared error (the targets, builders and mutations are benchmarks/fuzz.py's, which runs the same
parsers 100,000 times each). Crashes found by fuzzing are kept below as explicit regressions.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hil.duts.bms12100.config import PARAMETERS_BY_PID, from_wire
from hil.duts.bms12100.protocol import can_codec, rs485
from hil.errors import InstrumentError
from hil.protocols import yd1363
from hil.protocols.yd1363 import Frame, FrameError, FrameReader

ROOT = Path(__file__).resolve().parents[1]


def _load_bench() -> ModuleType:
    """benchmarks/fuzz.py as a module (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("bench_fuzz", ROOT / "benchmarks" / "fuzz.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


fuzz: Any = _load_bench()
TARGETS: dict[str, Any] = {t.name: t for t in fuzz.targets()}
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- strategies --------------------------------------------------------------------------------

operations = st.lists(
    st.tuples(st.sampled_from(fuzz.OPS), st.integers(0, 2**16), st.binary(max_size=6)), min_size=1, max_size=3
)


def _mutated(data: bytes, ops: list[tuple[str, int, bytes]]) -> bytes:
    for op, pos, extra in ops:
        data = fuzz.apply_op(op, data, pos, extra)
    return data


@st.composite
def wire_frames(draw: st.DrawFn, builders: list[Any]) -> bytes:
    """Wire bytes of a valid frame from one of `builders`, or of a mutated/random variant."""
    frame: Frame = draw(st.sampled_from(builders))(draw(st.randoms(use_true_random=False)))
    how = draw(st.sampled_from(["valid", "wire", "wire+chksum", "wire+length", "info", "header", "random"]))
    if how == "valid":
        return bytes(yd1363.encode(frame))
    if how == "random":
        return bytes(draw(st.binary(max_size=80)))
    if how == "header":
        ver, adr, cid1, cid2 = (draw(st.integers(0, 255)) for _ in range(4))
        return bytes(yd1363.encode(Frame(ver, adr, cid1, cid2, frame.info)))
    ops = draw(operations)
    if how == "info":
        info = _mutated(frame.info, ops)[: yd1363.MAX_INFO_BYTES]
        return bytes(yd1363.encode(dataclasses.replace(frame, info=info)))
    raw = _mutated(yd1363.encode(frame), ops)
    if how == "wire":
        return raw
    return bytes(fuzz.reseal(raw, relength=how == "wire+length"))


RESPONSE_BUILDERS = list(fuzz.RESPONSES.values())
REQUEST_BUILDERS = list(fuzz.REQUESTS.values())


@st.composite
def can_frames(draw: st.DrawFn) -> tuple[int, bytes, bool]:
    """A valid, mutated or random CAN frame (ID, data, extended)."""
    rng = draw(st.randoms(use_true_random=False))
    frame_id, data = rng.choice(can_codec.encode_telemetry(fuzz.random_telemetry(rng)))
    how = draw(st.sampled_from(["valid", "mutated", "random", "other-id", "extended"]))
    extended = False
    if how == "mutated":
        data = _mutated(data, draw(operations))
    elif how == "random":
        data = draw(st.binary(max_size=9))
    elif how == "other-id":
        frame_id = draw(st.integers(0, 0x7FF))
    elif how == "extended":
        frame_id, extended = draw(st.integers(0, 2**29 - 1)), True
    return frame_id, data, extended


scpi_answers = st.one_of(
    st.sampled_from(fuzz.SCPI_SEEDS),
    st.builds(
        lambda seed, ops: _mutated(seed.encode(), ops).decode("latin-1"),
        st.sampled_from(fuzz.SCPI_SEEDS),
        operations,
    ),
    st.text(max_size=30),
)


def _only_declared(name: str, item: object) -> None:
    """Parse `item` with target `name`; its declared error is fine, anything else fails the test."""
    target = TARGETS[name]
    with contextlib.suppress(target.declared):
        target.run(item)


# --- YD/T 1363.3 framing ------------------------------------------------------------------------


@FUZZ
@given(wire_frames(RESPONSE_BUILDERS + REQUEST_BUILDERS))
@example(b"~\r")
@example(b"~" + b"0" * 16 + b"\r")
def test_decode_raises_only_frame_error_and_round_trips(raw: bytes) -> None:
    try:
        frame = yd1363.decode(raw)
    except FrameError:
        return
    assert yd1363.decode(yd1363.encode(frame)) == frame


@FUZZ
@given(st.lists(wire_frames(RESPONSE_BUILDERS), min_size=1, max_size=4), st.integers(1, 40))
def test_frame_reader_never_raises_and_bounds_its_buffer(frames: list[bytes], chunk: int) -> None:
    stream = b"".join(frames)
    reader = FrameReader()
    for start in range(0, len(stream), chunk):
        for event in reader.feed_events(stream[start : start + chunk]):
            assert isinstance(event, Frame | FrameError)
        assert reader.buffered <= reader.max_buffer
    # whatever came before, a valid frame after it is read
    good = fuzz.RESPONSES[rs485.GetHistoryCount](random.Random(0))
    assert good in reader.feed(yd1363.encode(good))


# --- RS-485 command set: client side (responses) and twin side (requests) -----------------------


@pytest.mark.parametrize("command", list(fuzz.RESPONSES), ids=lambda c: c.__name__)
@FUZZ
@given(data=st.data())
def test_parse_response_raises_only_protocol_errors(
    command: rs485.Command[Any, Any], data: st.DataObject
) -> None:
    """parse_response and what the client derives from it: InfoError, RtnError or FrameError only."""
    raw = data.draw(wire_frames([fuzz.RESPONSES[command]]))
    _only_declared(f"rs485.{command.__name__}.parse_response", raw)


@FUZZ
@given(wire_frames(REQUEST_BUILDERS))
def test_twin_parse_request_raises_only_info_errors(raw: bytes) -> None:
    try:
        request = rs485.parse_request(yd1363.decode(raw))
    except FrameError as exc:  # InfoError is a FrameError; each carries the code to answer with
        assert isinstance(exc.rtn, yd1363.Rtn)
        return
    assert request.command in set(rs485.Cid2)


def test_unknown_parameter_number_in_an_answer_is_a_protocol_error() -> None:
    """Regression (benchmarks/fuzz.py): a 0xD0 answer naming an unknown parameter raised KeyError."""
    raw = b"~20074600400C417EB29F69A2FAE0\r"
    value = rs485.ReadParameter.parse_response(yd1363.decode(raw))
    assert value.pid == 0x417E
    with pytest.raises(rs485.InfoError, match="0x417e is not a parameter"):
        _ = value.value
    assert rs485.ParameterValue(0x0100, 1).value == from_wire(PARAMETERS_BY_PID[0x0100], 1)


# --- CAN ----------------------------------------------------------------------------------------


@FUZZ
@given(can_frames())
def test_decode_frame_raises_only_can_frame_errors(frame: tuple[int, bytes, bool]) -> None:
    _only_declared("can_codec.decode_frame", frame)


@FUZZ
@given(can_frames())
def test_inverter_view_refuses_bad_frames_without_changing(frame: tuple[int, bytes, bool]) -> None:
    _only_declared("can_codec.InverterView.update", frame)  # also checks the view is unchanged


# --- SCPI answers from the instruments ----------------------------------------------------------

SCPI_TARGETS = [name for name, target in TARGETS.items() if target.declared == (InstrumentError,)]


def test_every_scpi_parser_is_fuzzed() -> None:
    assert len(SCPI_TARGETS) == 6


@pytest.mark.parametrize("name", SCPI_TARGETS)
@FUZZ
@given(answer=scpi_answers)
@example(answer="²²²²²²²²²²")  # isdigit() but not int(): the PRS-202 string check
@example(answer="nan")
def test_scpi_answer_parsers_raise_only_instrument_errors(name: str, answer: str) -> None:
    _only_declared(name, answer)


def test_non_ascii_byte_from_an_instrument_is_an_instrument_error() -> None:
    from hil.instruments.transport import VisaTransport

    with fuzz.scripted_instrument(iter([b"\xff1.0", b"+1.0"])) as resource:
        transport = VisaTransport("fuzz", resource, timeout_s=2.0)
        try:
            with pytest.raises(InstrumentError):
                transport.query("MEAS:VOLT?")
        finally:
            transport.close()
