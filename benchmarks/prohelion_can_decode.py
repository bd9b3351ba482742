"""Decode rate of the Prohelion BMS D1000 Gen2 CAN codec on a full telemetry cycle.

Encodes one cycle of every message of a configuration (the fixed messages and the eight messages of
each CMU node, with varied values), then decodes it over and over with `D1000CanCodec.decode` for a
few seconds of wall time and prints frames/s, µs per frame and full cycles/s. The default is the
largest configuration the layout allows (27 nodes at base 0x600; from 28 nodes per-node IDs collide
with the fixed messages), and what a 32-node cycle would need is printed for comparison.

    .venv/bin/python benchmarks/prohelion_can_decode.py
    .venv/bin/python benchmarks/prohelion_can_decode.py --nodes 10 --seconds 5
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import time

import cantools

from hil.duts.prohelion_d1000_gen2.protocol.can_codec import D1000CanCodec, EncodedFrame
from hil.duts.prohelion_d1000_gen2.protocol.dbc import (
    DEFAULT_BASE_ID,
    FIXED_MESSAGES,
    NODE_MESSAGES,
    max_node_count,
)


def telemetry_cycle(codec: D1000CanCodec, seed: int) -> list[EncodedFrame]:
    """One frame of every message with random raw values across each signal's whole range."""
    rng = random.Random(seed)
    frames = []
    for placed in codec.messages:
        msg = codec.database.get_message_by_frame_id(placed.frame_id)
        values = {}
        for sig in msg.signals:
            low, high = (
                (-(1 << (sig.length - 1)), (1 << (sig.length - 1)) - 1)
                if sig.is_signed
                else (
                    0,
                    (1 << sig.length) - 1,
                )
            )
            values[sig.name] = rng.randint(low, high) * sig.scale + sig.offset
        frames.append(codec.encode(placed.name, values))
    return frames


def rate(codec: D1000CanCodec, frames: list[EncodedFrame], seconds: float) -> tuple[float, int]:
    """Frames decoded per second over `seconds` of wall time (whole cycles), and the frames decoded."""
    decode = codec.decode
    decoded = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for arbitration_id, data in frames:
            decode(arbitration_id, data)
        decoded += len(frames)
    return decoded / (time.perf_counter() - start), decoded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-id", type=lambda s: int(s, 0), default=DEFAULT_BASE_ID)
    parser.add_argument("--nodes", type=int, default=None, help="CMU nodes (default: the most that fit)")
    parser.add_argument("--seconds", type=float, default=3.0, help="wall time per run (default 3)")
    parser.add_argument("--runs", type=int, default=3, help="runs; the median is reported (default 3)")
    args = parser.parse_args()
    nodes = args.nodes if args.nodes is not None else max_node_count(args.base_id)
    codec = D1000CanCodec(args.base_id, nodes)
    frames = telemetry_cycle(codec, seed=1)
    rates = [rate(codec, frames, args.seconds)[0] for _ in range(args.runs)]
    per_s = statistics.median(rates)
    cycle_32 = len(FIXED_MESSAGES) + 32 * len(NODE_MESSAGES)
    print(
        f"python {platform.python_version()}, cantools {cantools.__version__}, "
        f"base ID 0x{args.base_id:03X}, {nodes} CMU nodes"
    )
    print(f"frames per telemetry cycle: {len(frames)} ({len(FIXED_MESSAGES)} fixed + {nodes} x 8 per node)")
    print(
        f"decode rate: {per_s:,.0f} frames/s (median of {args.runs} x {args.seconds:g} s; "
        f"runs {', '.join(f'{r:,.0f}' for r in rates)})"
    )
    print(f"per frame: {1e6 / per_s:.2f} µs")
    print(
        f"full cycles/s: {per_s / len(frames):,.0f} ({nodes} nodes), "
        f"{per_s / cycle_32:,.0f} for a 32-node cycle of {cycle_32} frames"
    )


if __name__ == "__main__":
    main()
