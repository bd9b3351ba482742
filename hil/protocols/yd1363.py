"""YD/T 1363.3 ASCII-hex framing, as battery packs of the Pylontech family use it on RS-485.

A frame is ``~`` (SOI), then VER, ADR, CID1, CID2 as two ASCII-hex characters each, LENGTH as
four (LCHKSUM nibble + 12-bit LENID, the number of ASCII characters of INFO), INFO as ASCII hex,
CHKSUM as four, and ``\\r`` (EOI). In a response CID2 carries the return code (RTN).

The checksum rules follow our reading of the Pylontech RS-485 protocol (v3.3 as published) and of
public clients; the 12100 BMS's own protocol file is still to be checked against them (see
docs/protocols/bms12100-rs485.md). This module knows nothing about commands: see
`hil.duts.bms12100.protocol.rs485` for the 12100 command set built on top of it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import IntEnum

from hil.errors import ProtocolError

SOI = b"~"
EOI = b"\r"
HEADER_CHARS = 12  # VER, ADR, CID1, CID2 (2 chars each) + LENGTH (4)
CHKSUM_CHARS = 4
MAX_LENID = 0xFFF
MAX_INFO_BYTES = MAX_LENID // 2  # LENID counts hex characters, two per byte
MIN_FRAME_LEN = 1 + HEADER_CHARS + CHKSUM_CHARS + 1
MAX_FRAME_LEN = MIN_FRAME_LEN + 2 * MAX_INFO_BYTES
_HEX_DIGITS = frozenset(b"0123456789ABCDEFabcdef")
_HEX_BYTES = bytes(sorted(_HEX_DIGITS))  # for `bytes.translate`: a frame's body checked in one call
_SNIPPET = 48  # bytes of a bad frame quoted in error messages


class Rtn(IntEnum):
    """Return codes a responder puts in CID2 (YD/T 1363.3 plus the Pylontech extras 0x90/0x91)."""

    NORMAL = 0x00
    VER_ERROR = 0x01
    CHKSUM_ERROR = 0x02
    LCHKSUM_ERROR = 0x03
    CID2_INVALID = 0x04
    COMMAND_FORMAT_ERROR = 0x05
    INVALID_DATA = 0x06
    ADR_ERROR = 0x90
    COMMUNICATION_ERROR = 0x91


class FrameError(ProtocolError):
    """Bytes that are not a valid frame; `rtn` is the code a responder would answer with.

    `adr` is the frame's address when the header could still be read (so a responder can address
    its error answer), else None.
    """

    def __init__(
        self, message: str, rtn: Rtn = Rtn.COMMAND_FORMAT_ERROR, raw: bytes = b"", adr: int | None = None
    ) -> None:
        self.rtn = rtn
        self.raw = raw
        self.adr = adr
        if raw:
            shown = raw if len(raw) <= _SNIPPET else raw[:_SNIPPET] + b"..."
            message = f"{message} (frame {shown!r})"
        super().__init__(message)


@dataclass(frozen=True)
class Frame:
    """One frame, decoded: header bytes and the INFO payload as raw bytes (not ASCII hex)."""

    ver: int
    adr: int
    cid1: int
    cid2: int
    info: bytes = b""

    def __post_init__(self) -> None:
        if type(self.info) is not bytes:
            object.__setattr__(self, "info", bytes(self.info))
        if not (
            0 <= self.ver <= 0xFF
            and 0 <= self.adr <= 0xFF
            and 0 <= self.cid1 <= 0xFF
            and 0 <= self.cid2 <= 0xFF
        ):
            self._refuse_header()
        if len(self.info) > MAX_INFO_BYTES:
            raise ValueError(f"Frame.info holds at most {MAX_INFO_BYTES} bytes, got {len(self.info)}")

    def _refuse_header(self) -> None:
        """ValueError naming the first header field that is not a byte."""
        for name in ("ver", "adr", "cid1", "cid2"):
            value = getattr(self, name)
            if not 0 <= value <= 0xFF:
                raise ValueError(f"Frame.{name} must be a byte (0..255), got {value}")


def lchksum(lenid: int) -> int:
    """LCHKSUM nibble for a LENID: the 4-bit two's complement of the sum of its three nibbles.

    A nibble sum of 0 mod 16 (LENID 0x000, 0x0F1, 0x088, ...) gives 0, never 16 or 0xF.
    """
    if not 0 <= lenid <= MAX_LENID:
        raise ValueError(f"LENID must be 0..{MAX_LENID:#x}, got {lenid}")
    nibble_sum = (lenid & 0xF) + ((lenid >> 4) & 0xF) + ((lenid >> 8) & 0xF)
    return (~nibble_sum + 1) & 0xF


def length_field(lenid: int) -> int:
    """The 16-bit LENGTH field for a LENID: LCHKSUM in the top nibble, LENID below."""
    return (lchksum(lenid) << 12) | lenid


def chksum(ascii_body: bytes) -> int:
    """CHKSUM of the characters between SOI and CHKSUM: 16-bit two's complement of their sum.

    A sum of 0 mod 65536 gives 0x0000, never 0x10000.
    """
    return (~sum(ascii_body) + 1) & 0xFFFF


def encode(frame: Frame) -> bytes:
    """The bytes on the wire for a frame, hex in upper case."""
    info_hex = frame.info.hex().upper().encode("ascii")
    body = (
        f"{frame.ver:02X}{frame.adr:02X}{frame.cid1:02X}{frame.cid2:02X}{length_field(len(info_hex)):04X}"
    ).encode("ascii") + info_hex
    return SOI + body + f"{chksum(body):04X}".encode("ascii") + EOI


def _header_adr(body: bytes) -> int | None:
    """ADR of a body whose header is readable hex, for addressing an error answer."""
    adr_hex = body[2:4]
    if len(adr_hex) == 2 and all(c in _HEX_DIGITS for c in adr_hex):
        return int(adr_hex, 16)
    return None


def decode(raw: bytes) -> Frame:
    """Parse one complete frame (SOI to EOI); raises FrameError naming what is wrong.

    Hex digits are accepted in either case; the checksum covers the characters as received.
    """
    raw = bytes(raw)
    if not raw.startswith(SOI):
        raise FrameError("missing SOI '~' at the start", raw=raw)
    if not raw.endswith(EOI):
        raise FrameError("missing EOI '\\r' at the end", raw=raw)
    body = raw[1:-1]
    adr = _header_adr(body)
    if len(raw) < MIN_FRAME_LEN:
        raise FrameError(f"frame too short: {len(raw)} bytes, at least {MIN_FRAME_LEN}", raw=raw, adr=adr)
    if body.translate(None, _HEX_BYTES):  # something besides hex digits: name the first
        pos, char = next((pos, c) for pos, c in enumerate(body, start=1) if c not in _HEX_DIGITS)
        raise FrameError(f"non-hex character {bytes([char])!r} at offset {pos}", raw=raw, adr=adr)
    if len(body) % 2:
        raise FrameError(f"odd number of hex characters between SOI and EOI ({len(body)})", raw=raw, adr=adr)
    checked, received = body[:-CHKSUM_CHARS], int(body[-CHKSUM_CHARS:], 16)
    expected = chksum(checked)
    if received != expected:
        raise FrameError(
            f"bad CHKSUM: frame says {received:04X}, its characters give {expected:04X}",
            Rtn.CHKSUM_ERROR,
            raw,
            adr,
        )
    length = int(body[8:12], 16)
    lenid = length & MAX_LENID
    if length >> 12 != lchksum(lenid):
        raise FrameError(
            f"bad LCHKSUM: LENGTH {length:04X} has {length >> 12:X}, "
            f"LENID {lenid:03X} needs {lchksum(lenid):X}",
            Rtn.LCHKSUM_ERROR,
            raw,
            adr,
        )
    info_hex = checked[HEADER_CHARS:]
    if lenid != len(info_hex):
        raise FrameError(
            f"LENID says {lenid} INFO characters, frame carries {len(info_hex)}", raw=raw, adr=adr
        )
    return Frame(
        ver=int(body[0:2], 16),
        adr=int(body[2:4], 16),
        cid1=int(body[4:6], 16),
        cid2=int(body[6:8], 16),
        info=bytes.fromhex(info_hex.decode("ascii")),
    )


class FrameReader:
    """Incremental parser of a byte stream into frames; never raises on garbage.

    It resynchronises on every SOI: bytes outside frames are dropped (`discarded_bytes`), a frame
    cut short by a new SOI, one without EOI within `max_buffer` bytes, or one that fails `decode`
    counts in `bad_frames` and its error is kept in `last_errors` (the most recent `keep_errors`).
    At most `max_buffer` bytes stay buffered between calls.
    """

    def __init__(self, max_buffer: int = MAX_FRAME_LEN, keep_errors: int = 16) -> None:
        if max_buffer < MIN_FRAME_LEN:
            raise ValueError(f"max_buffer must be at least {MIN_FRAME_LEN}, got {max_buffer}")
        self.max_buffer = max_buffer
        self.bad_frames = 0
        self.discarded_bytes = 0
        self._errors: deque[FrameError] = deque(maxlen=keep_errors)
        self._buf = bytearray()

    @property
    def last_errors(self) -> list[FrameError]:
        """The most recent decoding errors, oldest first."""
        return list(self._errors)

    @property
    def buffered(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return len(self._buf)

    def reset(self) -> None:
        """Forget buffered bytes (counters and errors are kept)."""
        self._buf.clear()

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes; return the frames they complete, in order."""
        return [event for event in self.feed_events(data) if isinstance(event, Frame)]

    def feed_events(self, data: bytes) -> list[Frame | FrameError]:
        """Like `feed`, but bad frames appear as their FrameError in stream order (for responders)."""
        self._buf += data
        events: list[Frame | FrameError] = []
        buf = self._buf
        while buf:
            soi = buf.find(SOI)
            if soi < 0:
                self.discarded_bytes += len(buf)
                buf.clear()
                break
            if soi:
                self.discarded_bytes += soi
                del buf[:soi]
            eoi = buf.find(EOI, 1)
            next_soi = buf.find(SOI, 1)
            if next_soi >= 0 and (eoi < 0 or next_soi < eoi):
                cut = FrameError("frame cut short: new SOI before EOI", raw=bytes(buf[:next_soi]))
                events.append(self._bad(cut))
                del buf[:next_soi]
                continue
            if eoi < 0:
                if len(buf) > self.max_buffer:
                    overlong = FrameError(f"no EOI within {self.max_buffer} bytes", raw=bytes(buf))
                    events.append(self._bad(overlong))
                    buf.clear()
                break
            candidate = bytes(buf[: eoi + 1])
            del buf[: eoi + 1]
            try:
                events.append(decode(candidate))
            except FrameError as err:
                events.append(self._bad(err))
        return events

    def _bad(self, err: FrameError) -> FrameError:
        self.bad_frames += 1
        self._errors.append(err)
        return err
