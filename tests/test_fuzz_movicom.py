"""Property-based fuzzing of the Movicom's Modbus and CANopen parsers, both sides (hypothesis).

The targets, builders and mutations are benchmarks/fuzz_movicom.py's (run 100,000 times each by
benchmarks/fuzz.py); each may raise only what that module documents. The crashes fuzzing found are
kept below as explicit regressions.
"""

from __future__ import annotations

import contextlib
import importlib.util
import random
import sys
from types import ModuleType
from typing import Any

import pytest
from hilcli import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymodbus.framer import FramerRTU
from pymodbus.pdu import DecodePDU
from pymodbus.pdu.register_message import ReadInputRegistersRequest, ReadInputRegistersResponse

from hil.duts.movicom_main_2.client import answer_value, decode_tpdo
from hil.errors import DutError


def _load(name: str) -> ModuleType:
    """A benchmarks/ script as a module (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        f"bench_{name}_movicom_test", ROOT / "benchmarks" / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


fuzz: Any = _load("fuzz")
TARGETS: dict[str, Any] = {t.name: t for t in fuzz.targets() if t.name.startswith("movicom ")}
family: Any = sys.modules["bench_fuzz_movicom"]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STATION_21 = "sim-movicom-main-2.1.yaml"


def test_both_sides_of_modbus_and_canopen_are_fuzzed() -> None:
    assert set(TARGETS) == {
        "movicom Codec.decode (registers)",
        "movicom client answer (RTU)",
        "movicom client answer (TCP)",
        "movicom client decode_tpdo",
        "movicom 2.1 plant Modbus RTU (server)",
        "movicom 2.1 plant Modbus TCP (server)",
        "movicom 2.1 plant CANopen node",
        "movicom 2R plant Modbus RTU (server)",
        "movicom 2R plant CANopen node",
    }
    assert TARGETS["movicom client decode_tpdo"].declared == (DutError,)
    assert TARGETS["movicom 2R plant CANopen node"].declared == ()


@pytest.mark.parametrize("name", sorted(TARGETS))
@FUZZ
@given(rng=st.randoms(use_true_random=False))
def test_each_parser_raises_only_what_it_documents(name: str, rng: random.Random) -> None:
    target = TARGETS[name]
    with contextlib.suppress(*target.declared):
        target.run(target.make(rng))


# --- regressions: what the 100,000-input run found ---------------------------------------------


def _read_request() -> bytes:
    framer = FramerRTU(DecodePDU(is_server=False))
    return bytes(framer.buildFrame(ReadInputRegistersRequest(address=0x0001, count=2, dev_id=32)))


def test_a_frame_pymodbus_cannot_decode_is_dropped_and_the_line_keeps_answering() -> None:
    lab = family.powered_lab(STATION_21)
    plant, t = lab.plant, lab.t
    unknown = family.reseal_rtu(b"\x20\x63\x00\x00\x00\x00")  # good CRC, no such function code
    assert plant.serial(t, unknown) == b""  # raised ModbusIOException, and stayed in the buffer
    answer = plant.serial(t, _read_request())
    _, pdu = FramerRTU(DecodePDU(is_server=False)).handleFrame(answer, 0, 0)
    assert pdu is not None and list(pdu.registers) == [0x0000, 0x0002]  # firmware 2.0.0: patch, minor | major
    assert plant.modbus_tcp(t, b"\x00\x01\x00\x00\x00\x02\x20\x63") == b""


def test_short_nmt_and_sdo_frames_and_a_stray_segment_are_dropped() -> None:
    lab = family.powered_lab(STATION_21)
    plant, t = lab.plant, lab.t
    before = plant.node.syncs_answered
    for can_id, data in ((0x000, b"\x02"), (0x620, b""), (0x620, b"\x60\x30\x40\x0f\xaa\x8d\x84\x8e")):
        plant.can_received(t, can_id, data)  # raised struct.error out of canopen's handlers
    plant.can_received(t, 0x080, b"")
    assert plant.node.syncs_answered == before + 1  # the node still answers a SYNC


def test_an_answer_with_another_register_count_is_a_dut_error() -> None:
    codec = family.codec("main-2.x", "CDAB")
    short = ReadInputRegistersResponse(registers=[1], dev_id=32)
    with pytest.raises(DutError, match="battery_current is 2 register"):
        answer_value(codec, "battery_current", short)  # was a ValueError from the codec


def test_a_short_tpdo_is_a_dut_error() -> None:
    with pytest.raises(DutError, match="TPDO1 frame 0102 does not decode"):
        decode_tpdo(family.DBC, 1, b"\x01\x02")  # was cantools' DecodeError
