"""RS-485 line faults on YD/T 1363 answers: the 12100 plant's `corrupt_answer` hook.

The generic lab (hil.sim.lab) asks the plant how a fault mode spoils the DUT's answer; this is
the 12100's answer, frame-aware so the client's checks are each exercised on their own.
"""

from __future__ import annotations

import random

from hil.protocols import yd1363
from hil.sim.plant import corrupt_bytes


def corrupt_answer(mode: str, answer: bytes, rng: random.Random) -> bytes:
    """The DUT's answer bytes as a fault of `mode` delivers them (b"" for silent).

    checksum: one CHKSUM digit changed; length: LENGTH says two INFO characters more (LCHKSUM
    and CHKSUM recomputed, so only the length is wrong); truncate: the first half, no EOI;
    garbage: line noise of the same length without SOI, then CR; address: the same answer from
    the next address, valid in itself. An answer that is not a YD/T 1363 frame is spoilt as any
    byte stream is (hil.sim.plant.corrupt_bytes).
    """
    if mode == "garbage":
        noise = bytes(rng.choice([b for b in range(256) if b not in b"~\r"]) for _ in range(len(answer) - 1))
        return noise + b"\r"
    framed = answer.startswith(yd1363.SOI) and answer.endswith(yd1363.EOI)
    if mode in ("silent", "truncate") or not framed or len(answer) < yd1363.MIN_FRAME_LEN:
        return corrupt_bytes(mode, answer, rng)
    body = answer[1 : -1 - yd1363.CHKSUM_CHARS]
    if mode == "checksum":
        pos = len(answer) - 2  # the last CHKSUM digit
        digit = b"0" if answer[pos : pos + 1] != b"0" else b"1"
        return answer[:pos] + digit + answer[pos + 1 :]
    if mode == "length":
        lenid = (int(body[8:12], 16) + 2) & yd1363.MAX_LENID
        body = body[:8] + f"{yd1363.length_field(lenid):04X}".encode("ascii") + body[12:]
    elif mode == "address":
        adr = (int(body[2:4], 16) + 1) & 0xFF
        body = body[:2] + f"{adr:02X}".encode("ascii") + body[4:]
    else:
        return answer
    return yd1363.SOI + body + f"{yd1363.chksum(body):04X}".encode("ascii") + yd1363.EOI
