"""YD/T 1363.3 framing: published frames, checksum corner cases, bad frames, stream resync."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hil.errors import ProtocolError
from hil.protocols.yd1363 import (
    MAX_FRAME_LEN,
    MAX_INFO_BYTES,
    Frame,
    FrameError,
    FrameReader,
    Rtn,
    chksum,
    decode,
    encode,
    lchksum,
    length_field,
)

# Frames published with public Pylontech RS-485 clients; every checksum was recomputed by hand
# (see test_published_checksums_by_hand) and by the decoder.
# - martiby/ess, pylontech.py (docstrings of read_analog_value, read_serial_number,
#   read_alarm_info, read_manufacturer_info): US2000 request/response pairs.
# - fhem 70_PylonLowVoltage.pm (Heiko Maaz, request tables %hrprt, %hrspm, %hrcmi): requests.
PUBLISHED = [
    b"~20024642E00202FD33\r",  # 0x42 get analog values, ADR 2 (martiby/ess, FHEM)
    b"~20024600C06E10020F0C9A0C980C990C980C9A0C9A0C990C9B0C9C0C9A0C9B0C9B0C9B0C9B0C99050B740B55"
    b"0B570B530B630000BD06190F02C3500084E545\r",  # its response (martiby/ess)
    b"~20024644E00202FD31\r",  # 0x44 get alarm info (martiby/ess, FHEM)
    b"~20024600A04210020F000000000000000000000000000000050000000000000000000E00000000F108\r",
    b"~200246510000FDAC\r",  # 0x51 manufacturer info, empty INFO (martiby/ess, FHEM)
    b"~20024600C04055533230303043000000010750796C6F6E2D2D2D2D2D2D2D2D2D2D2D2D2D2D2DEFBD\r",
    b"~20024693E00202FD2D\r",  # 0x93 serial number (martiby/ess, FHEM)
    b"~20024600C0220248505443523033313731313132353930F6D2\r",
    b"~0002464F0000FD9A\r",  # 0x4F protocol version, asked with VER 00 (FHEM)
    b"~20024647E00202FD2E\r",  # 0x47 system parameters (FHEM)
    b"~20024692E00202FD2E\r",  # 0x92 charge management info (FHEM)
]


def _seal(body: bytes) -> bytes:
    """A frame around `body` (header + LENGTH + INFO hex) with its CHKSUM, LENGTH left as given."""
    return b"~" + body + f"{chksum(body):04X}".encode() + b"\r"


@pytest.mark.parametrize("raw", PUBLISHED)
def test_published_frames_decode_and_reencode_byte_exact(raw: bytes) -> None:
    assert encode(decode(raw)) == raw


def test_published_checksums_by_hand() -> None:
    # ~20024642E00202FD33: the ASCII codes of "20024642E00202" sum to 0x2CD; 0x10000 - 0x2CD = 0xFD33.
    assert sum(b"20024642E00202") == 0x2CD
    assert chksum(b"20024642E00202") == 0xFD33
    # LENGTH E002: LENID 0x002, nibble sum 2, 16 - 2 = 0xE.
    assert lchksum(0x002) == 0xE
    # ~200246510000FDAC: LENID 0 gives LENGTH 0000, not 1000 or F000.
    assert length_field(0) == 0x0000
    assert chksum(b"200246510000") == 0xFDAC


def test_published_request_fields() -> None:
    frame = decode(b"~20024642E00202FD33\r")
    assert frame == Frame(ver=0x20, adr=0x02, cid1=0x46, cid2=0x42, info=b"\x02")


@pytest.mark.parametrize(
    ("lenid", "expected"),
    [
        (0x000, 0x0),  # nibble sum 0
        (0x0F1, 0x0),  # 0 + 15 + 1 = 16
        (0x088, 0x0),  # 8 + 8 = 16
        (0x1E1, 0x0),  # 1 + 14 + 1 = 16
        (0x1F0, 0x0),  # 1 + 15 = 16
        (0xFFF, 0x3),  # 45 -> 13 -> 3
        (0x002, 0xE),
        (0x06E, 0xC),  # published 0x42 response LENGTH C06E
        (0x042, 0xA),  # published 0x44 response LENGTH A042
        (0x040, 0xC),  # published 0x51 response LENGTH C040
        (0x022, 0xC),  # published 0x93 response LENGTH C022
    ],
)
def test_lchksum_values_including_zero_sum_corner_case(lenid: int, expected: int) -> None:
    assert lchksum(lenid) == expected


def test_lchksum_is_a_nibble_completing_the_sum_for_every_lenid() -> None:
    for lenid in range(0x1000):
        nibbles = (lenid & 0xF) + (lenid >> 4 & 0xF) + (lenid >> 8)
        value = lchksum(lenid)
        assert 0 <= value <= 0xF
        assert (nibbles + value) % 16 == 0
        assert length_field(lenid) >> 12 == value
        assert length_field(lenid) & 0xFFF == lenid


def test_lchksum_rejects_lenid_beyond_12_bits() -> None:
    with pytest.raises(ValueError, match="LENID"):
        lchksum(0x1000)


@pytest.mark.parametrize(("info_len", "length"), [(0, b"0000"), (0x088 // 2, b"0088"), (0x1F0 // 2, b"01F0")])
def test_encode_writes_zero_lchksum_when_nibble_sum_is_0_mod_16(info_len: int, length: bytes) -> None:
    frame = Frame(0x20, 0x01, 0x46, 0x42, bytes(i % 256 for i in range(info_len)))
    raw = encode(frame)
    assert raw[9:13] == length
    assert decode(raw) == frame


@pytest.mark.parametrize("length", [b"F088", b"1088"])
def test_decode_rejects_non_zero_lchksum_when_nibble_sum_is_0_mod_16(length: bytes) -> None:
    # What clients computing ~sum & 0xF, or 16 - sum cut to a nibble, send for LENID 0x088.
    raw = _seal(b"20014642" + length + b"00" * 0x44)
    with pytest.raises(FrameError, match="LCHKSUM") as err:
        decode(raw)
    assert err.value.rtn is Rtn.LCHKSUM_ERROR


def test_decode_rejects_a_five_character_length_field() -> None:
    # What clients send when they shift an LCHKSUM of 0x10 into the LENGTH field.
    with pytest.raises(FrameError):
        decode(_seal(b"20014642" + b"10088" + b"00" * 0x44))


def test_chksum_of_empty_and_of_sum_multiple_of_65536_is_zero() -> None:
    assert chksum(b"") == 0
    # 463 bytes FF and one 08: the header and INFO characters sum to exactly 0x10000.
    frame = Frame(0x20, 0x01, 0x46, 0x00, b"\xff" * 463 + b"\x08")
    raw = encode(frame)
    assert sum(raw[1:-5]) == 0x10000
    assert raw.endswith(b"0000\r")  # not "10000" and not "FFFF"
    assert decode(raw) == frame


def test_chksum_is_the_16_bit_twos_complement() -> None:
    body = b"20024600C06E"
    assert (chksum(body) + sum(body)) % 0x10000 == 0


def test_encode_uses_upper_case_hex_and_decode_accepts_lower_case() -> None:
    raw = encode(Frame(0x20, 0x0A, 0x46, 0x42, b"\xab\xcd"))
    assert raw == b"~200A4642C004ABCDFC7C\r"
    lower = _seal(b"200a4642c004abcd")
    assert decode(lower) == Frame(0x20, 0x0A, 0x46, 0x42, b"\xab\xcd")


@pytest.mark.parametrize(
    ("raw", "message", "rtn"),
    [
        (b"20024642E00202FD33\r", "missing SOI", Rtn.COMMAND_FORMAT_ERROR),
        (b"~20024642E00202FD33", "missing EOI", Rtn.COMMAND_FORMAT_ERROR),
        (b"~20024642\r", "too short", Rtn.COMMAND_FORMAT_ERROR),
        (b"~20024642E00202FD3G\r", "non-hex character b'G' at offset 18", Rtn.COMMAND_FORMAT_ERROR),
        (b"~2002 4642E00202FD33\r", "non-hex character b' '", Rtn.COMMAND_FORMAT_ERROR),
        (b"~20024642E00202FD330\r", "odd number of hex characters", Rtn.COMMAND_FORMAT_ERROR),
        (b"~20024642E00202FD34\r", "bad CHKSUM: frame says FD34, its characters give FD33", Rtn.CHKSUM_ERROR),
        (_seal(b"20024642D00202"), "bad LCHKSUM: LENGTH D002", Rtn.LCHKSUM_ERROR),
        (
            _seal(b"20024642C004" + b"02"),
            "LENID says 4 INFO characters, frame carries 2",
            Rtn.COMMAND_FORMAT_ERROR,
        ),
        (_seal(b"20024642E002"), "LENID says 2 INFO characters, frame carries 0", Rtn.COMMAND_FORMAT_ERROR),
    ],
)
def test_bad_frames_raise_frame_error_naming_the_fault(raw: bytes, message: str, rtn: Rtn) -> None:
    with pytest.raises(FrameError, match="frame") as err:
        decode(raw)
    assert message in str(err.value)
    assert err.value.rtn is rtn
    assert isinstance(err.value, ProtocolError)


def test_frame_error_keeps_the_address_for_an_error_answer() -> None:
    with pytest.raises(FrameError) as err:
        decode(b"~20054642E00205FD00\r")
    assert err.value.adr == 5
    assert err.value.raw == b"~20054642E00205FD00\r"


def test_frame_validates_its_fields() -> None:
    with pytest.raises(ValueError, match="adr"):
        Frame(0x20, 256, 0x46, 0x42)
    with pytest.raises(ValueError, match="info"):
        Frame(0x20, 1, 0x46, 0x42, bytes(MAX_INFO_BYTES + 1))
    loose: Any = bytearray(b"\x01")
    assert Frame(0x20, 1, 0x46, 0x42, loose).info == b"\x01"


def test_largest_frame_round_trips() -> None:
    frame = Frame(0xFF, 0xFF, 0xFF, 0xFF, bytes(range(256)) * 7 + bytes(range(255)))
    raw = encode(frame)
    assert len(raw) == MAX_FRAME_LEN
    assert raw[9:13] == b"4FFE"  # nibble sum 44, 44 + 4 = 48 = 0 mod 16
    assert decode(raw) == frame


# --- FrameReader ----------------------------------------------------------------------------

A = decode(PUBLISHED[0])
B = decode(PUBLISHED[1])


def test_reader_resynchronises_across_garbage() -> None:
    reader = FrameReader()
    stream = b"\x00\xffnoise\r" + PUBLISHED[0] + b"12\r\n" + PUBLISHED[1] + b"tail"
    assert reader.feed(stream) == [A, B]
    assert reader.bad_frames == 0
    assert reader.discarded_bytes == len(b"\x00\xffnoise\r") + len(b"12\r\n") + len(b"tail")
    assert reader.buffered == 0


def test_reader_assembles_frames_split_into_single_bytes() -> None:
    reader = FrameReader()
    frames = []
    for byte in PUBLISHED[1] + PUBLISHED[0]:
        frames += reader.feed(bytes([byte]))
    assert frames == [B, A]


def test_reader_counts_a_frame_cut_short_by_a_new_soi() -> None:
    reader = FrameReader()
    assert reader.feed(PUBLISHED[1][:40] + PUBLISHED[0]) == [A]
    assert reader.bad_frames == 1
    assert "cut short" in str(reader.last_errors[0])


def test_reader_counts_bad_checksums_and_keeps_going() -> None:
    reader = FrameReader()
    assert reader.feed(b"~20024642E00202FD34\r" + PUBLISHED[0] + b"~20024642E00202FD3\r") == [A]
    assert reader.bad_frames == 2
    assert [e.rtn for e in reader.last_errors] == [Rtn.CHKSUM_ERROR, Rtn.COMMAND_FORMAT_ERROR]


def test_reader_reports_events_in_stream_order() -> None:
    reader = FrameReader()
    events = reader.feed_events(PUBLISHED[0] + b"~20024642E00202FD34\r" + PUBLISHED[0])
    assert events[0] == A
    assert isinstance(events[1], FrameError)
    assert events[2] == A


def test_reader_bounds_its_buffer_and_keeps_only_recent_errors() -> None:
    reader = FrameReader(keep_errors=3)
    reader.feed(b"~" + b"A" * (MAX_FRAME_LEN + 10))
    assert reader.buffered == 0
    assert reader.bad_frames == 1
    assert "no EOI" in str(reader.last_errors[-1])
    for _ in range(5):
        reader.feed(b"~\r")
    assert reader.bad_frames == 6
    assert len(reader.last_errors) == 3
    reader.feed(b"~2002")
    assert reader.buffered == 5
    reader.reset()
    assert reader.buffered == 0


def test_reader_rejects_a_buffer_smaller_than_a_frame() -> None:
    with pytest.raises(ValueError, match="max_buffer"):
        FrameReader(max_buffer=10)


# --- properties -----------------------------------------------------------------------------

frames = st.builds(
    Frame,
    ver=st.integers(0, 255),
    adr=st.integers(0, 255),
    cid1=st.integers(0, 255),
    cid2=st.integers(0, 255),
    info=st.binary(max_size=300),
)


@given(frames)
def test_decode_inverts_encode(frame: Frame) -> None:
    assert decode(encode(frame)) == frame


@given(st.binary(max_size=2000), st.integers(1, 64))
def test_reader_never_raises_on_random_bytes(data: bytes, chunk: int) -> None:
    reader = FrameReader()
    for i in range(0, len(data), chunk):
        reader.feed(data[i : i + chunk])
        assert reader.buffered <= reader.max_buffer


garbage = st.binary(max_size=40).map(lambda b: b.replace(b"~", b""))


@settings(max_examples=50)
@given(st.lists(st.tuples(garbage, frames), max_size=6), garbage, st.integers(1, 50))
def test_reader_recovers_every_frame_between_garbage(
    pieces: list[tuple[bytes, Frame]], tail: bytes, chunk: int
) -> None:
    stream = b"".join(junk + encode(frame) for junk, frame in pieces) + tail
    reader = FrameReader()
    got = []
    for i in range(0, len(stream), chunk):
        got += reader.feed(stream[i : i + chunk])
    assert got == [frame for _, frame in pieces]


@settings(max_examples=50)
@given(st.lists(st.tuples(st.binary(max_size=40), frames), max_size=6))
def test_reader_never_loses_a_frame_after_garbage_with_soi(pieces: list[tuple[bytes, Frame]]) -> None:
    reader = FrameReader()
    got = reader.feed(b"".join(junk + encode(frame) for junk, frame in pieces))
    remaining = iter(got)
    assert all(any(frame == seen for seen in remaining) for _, frame in pieces)
