"""Encode and decode the Prohelion BMS D1000 Gen2 CAN frames of one configuration (base ID, CMU nodes).

`D1000CanCodec` wraps the cantools database that `dbc.build_database` makes for the configuration:
`encode` turns physical values into an (arbitration ID, 8 bytes) frame, `decode` turns any captured
frame into (message name, node index or None, physical values). A frame that is not one of the
configuration's messages raises `UnknownFrameError`, a wrong length `FrameLengthError`; `decode`
raises nothing else for any input. Names are the DBC's: per-node messages and signals carry the node
number (`Node3CellVoltages1`, `Node3Cell01`); `encode_node` and `DecodedFrame.fields` give the same
without it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, NamedTuple, cast

import can
from cantools.database.can import Database, Message

from hil.duts.prohelion_d1000_gen2.protocol.dbc import (
    DEFAULT_BASE_ID,
    DEFAULT_NODE_COUNT,
    DEFAULT_SOURCE,
    NODE_BLOCK_OFFSET,
    NODE_COUNT_MAX,
    NODE_KINDS,
    NODE_STRIDE,
    PlacedMessage,
    build_database,
    layout,
)
from hil.errors import HilError
from hil.protocols.can_errors import CanFrameError, FrameLengthError, UnknownFrameError

Value = float | int


class CanEncodeError(HilError, ValueError):
    """A frame asked for cannot be encoded: unknown message or signal, or a value it cannot hold."""


class EncodedFrame(NamedTuple):
    """An encoded frame, shaped like `can.Message` where it matters (arbitration_id, data)."""

    arbitration_id: int
    data: bytes

    @property
    def is_extended_id(self) -> bool:
        """Always False: the D1000 Gen2 uses 11-bit IDs only."""
        return False

    @property
    def dlc(self) -> int:
        return len(self.data)

    def to_can_message(self, timestamp: float = 0.0) -> can.Message:
        """The frame as a python-can message, ready for `Bus.send`."""
        return can.Message(
            arbitration_id=self.arbitration_id, data=self.data, is_extended_id=False, timestamp=timestamp
        )


class DecodedFrame(NamedTuple):
    """A decoded frame: DBC message name, CMU node index (None for fixed messages), physical values."""

    name: str
    node: int | None
    signals: dict[str, Value]

    @property
    def kind(self) -> str:
        """The message without its node prefix (`CellVoltages1`); a fixed message's own name."""
        return self.name if self.node is None else self.name.removeprefix(f"Node{self.node}")

    @property
    def fields(self) -> dict[str, Value]:
        """The values keyed without the node prefix (`Cell01`); fixed messages as `signals`."""
        if self.node is None:
            return self.signals
        prefix = f"Node{self.node}"
        return {k.removeprefix(prefix): v for k, v in self.signals.items()}


@dataclass(frozen=True)
class _SignalCodec:
    """How one signal maps physical values to raw integers (range and value table)."""

    name: str
    scale: float
    offset: float
    raw_min: int
    raw_max: int
    choices: Mapping[str, int]

    def raw(self, value: Value | str, saturate: bool, where: str) -> int:
        """The raw integer for `value` (a number or a value-table name); out of range raises or saturates."""
        if isinstance(value, str):
            if value not in self.choices:
                known = ", ".join(repr(c) for c in self.choices) or "none"
                raise CanEncodeError(f"{where}.{self.name}: {value!r} is not a value-table name ({known})")
            return self.choices[value]
        if not isinstance(value, int | float) or (isinstance(value, float) and not math.isfinite(value)):
            raise CanEncodeError(f"{where}.{self.name}: cannot encode {value!r}")
        if isinstance(value, int) and self.scale == 1 and self.offset == int(self.offset):
            raw = value - int(self.offset)  # exact: 64-bit integers do not survive a float division
        else:
            raw = round((value - self.offset) / self.scale)
        if self.raw_min <= raw <= self.raw_max:
            return int(raw)
        if saturate:
            return min(max(int(raw), self.raw_min), self.raw_max)
        low = self.raw_min * self.scale + self.offset
        high = self.raw_max * self.scale + self.offset
        raise CanEncodeError(f"{where}.{self.name}: {value!r} outside the representable {low:g}..{high:g}")


@dataclass(frozen=True)
class _MessageCodec:
    """Everything `encode`/`decode` need about one message, looked up once."""

    placed: PlacedMessage
    message: Message
    signals: Mapping[str, _SignalCodec]
    rounded: tuple[tuple[str, int], ...]  # scaled signals and the decimals of their resolution


def _hex(can_id: int) -> str:
    """An ID as the vendor writes it (0x6EF)."""
    return f"0x{can_id:03X}"


def _decimals(scale: float) -> int:
    """Decimal places of a resolution, to strip float noise (0.1 -> 1, 0.001 -> 3, 1 -> 0)."""
    return max(0, round(-math.log10(scale))) if scale < 1 else 0


def _signal_codec(sig: Any) -> _SignalCodec:
    length = int(sig.length)
    raw_min, raw_max = (
        (-(1 << (length - 1)), (1 << (length - 1)) - 1) if sig.is_signed else (0, (1 << length) - 1)
    )
    choices = {str(name): int(value) for value, name in (sig.choices or {}).items()}
    return _SignalCodec(sig.name, float(sig.scale), float(sig.offset), raw_min, raw_max, choices)


@cache
def _shared_database(base_id: int, node_count: int) -> Database:
    """One database per configuration for all codecs (read-only use; `build_database` for a private one)."""
    return build_database(base_id, node_count)


class D1000CanCodec:
    """The CAN codec of one D1000 Gen2 configuration; refuses (CanIdConfigError) one that cannot fit."""

    def __init__(
        self,
        base_id: int = DEFAULT_BASE_ID,
        node_count: int = DEFAULT_NODE_COUNT,
        *,
        source: str = DEFAULT_SOURCE,
    ) -> None:
        placed = layout(base_id, node_count, source=source)  # validates before anything is cached
        self.base_id = base_id
        self.node_count = node_count
        self._db = _shared_database(base_id, node_count)
        self._by_id: dict[int, _MessageCodec] = {}
        self._by_name: dict[str, _MessageCodec] = {}
        for p in placed:
            msg = self._db.get_message_by_frame_id(p.frame_id)
            sigs = {s.name: _signal_codec(s) for s in msg.signals}
            rounded = tuple((s.name, _decimals(float(s.scale))) for s in msg.signals if s.scale != 1)
            entry = _MessageCodec(p, msg, sigs, rounded)
            self._by_id[p.frame_id] = entry
            self._by_name[p.name] = entry

    @property
    def database(self) -> Database:
        """The cantools database (shared between codecs of the same configuration: do not modify)."""
        return self._db

    @property
    def frame_ids(self) -> tuple[int, ...]:
        """Every arbitration ID of the configuration, ascending."""
        return tuple(self._by_id)

    @property
    def message_names(self) -> tuple[str, ...]:
        """Every DBC message name, in ID order."""
        return tuple(e.placed.name for e in self._by_id.values())

    @property
    def messages(self) -> tuple[PlacedMessage, ...]:
        """Every message of the configuration at its ID, ascending."""
        return tuple(e.placed for e in self._by_id.values())

    def frame_id(self, message_name: str) -> int:
        """The arbitration ID of a DBC message name; KeyError for an unknown name."""
        return self._by_name[message_name].placed.frame_id

    def node_message_name(self, kind: str, node: int) -> str:
        """The DBC name of node `node`'s message `kind` ("CellVoltages1", 3 -> "Node3CellVoltages1")."""
        if kind not in NODE_KINDS:
            raise CanEncodeError(f"no per-node message {kind!r}; known: {', '.join(NODE_KINDS)}")
        if not 0 <= node < self.node_count:
            raise CanEncodeError(f"node {node} outside this configuration's 0..{self.node_count - 1}")
        return f"Node{node}{kind}"

    def choice_name(self, message_name: str, signal_name: str, value: Value) -> str | None:
        """The value-table name of a decoded value (e.g. BMSCommand 4 -> "Enable"), None if it has none."""
        sig = self._by_name[message_name].signals[signal_name]
        return next((name for name, v in sig.choices.items() if v == value), None)

    def encode(
        self, message_name: str, signals: Mapping[str, Value | str] | None = None, *, saturate: bool = False
    ) -> EncodedFrame:
        """One frame from physical values (or value-table names); signals left out are raw 0.

        Raises `CanEncodeError` for an unknown message or signal, a non-finite value or one the
        signal cannot hold (unless `saturate`, which clamps to the signal's raw range).
        """
        entry = self._by_name.get(message_name)
        if entry is None:
            raise CanEncodeError(f"{message_name!r} is not a message of this configuration")
        raw: dict[str, int] = dict.fromkeys(entry.signals, 0)
        for name, value in (signals or {}).items():
            sig = entry.signals.get(name)
            if sig is None:
                raise CanEncodeError(f"{message_name} has no signal {name!r}")
            raw[name] = sig.raw(value, saturate, message_name)
        data = entry.message.encode(raw, scaling=False, padding=False, strict=True)
        return EncodedFrame(entry.placed.frame_id, bytes(data))

    def encode_node(
        self,
        kind: str,
        node: int,
        signals: Mapping[str, Value | str] | None = None,
        *,
        saturate: bool = False,
    ) -> EncodedFrame:
        """Like `encode` for node `node`'s message `kind`, signal names without the node prefix (`Cell01`)."""
        name = self.node_message_name(kind, node)
        prefix = f"Node{node}"
        return self.encode(name, {prefix + k: v for k, v in (signals or {}).items()}, saturate=saturate)

    def decode(
        self, arbitration_id: int, data: bytes | bytearray | memoryview, is_extended_id: bool = False
    ) -> DecodedFrame:
        """(message name, node index or None, physical values) of one captured frame.

        Raises `UnknownFrameError` for an extended or unknown ID, `FrameLengthError` for a payload
        that is not 8 bytes, `CanFrameError` for data that is not bytes; nothing else for any input.
        """
        entry = self._entry(arbitration_id, data, is_extended_id)
        payload = bytes(data)
        msg = entry.message
        try:
            values = msg.decode(payload, decode_choices=False, scaling=True)
        except Exception as exc:  # pragma: no cover - the length is checked; guard the promise anyway
            raise CanFrameError(f"{_hex(arbitration_id)} {entry.placed.name}: {exc}") from exc
        if not isinstance(values, dict):  # pragma: no cover - no container messages in the layout
            raise CanFrameError(f"{_hex(arbitration_id)} {entry.placed.name}: not a signal message")
        out = cast(dict[str, Value], values)  # numbers only: value tables are not applied
        for name, decimals in entry.rounded:
            out[name] = round(out[name], decimals)
        return DecodedFrame(entry.placed.name, entry.placed.node, out)

    def check(
        self, arbitration_id: int, data: bytes | bytearray | memoryview, is_extended_id: bool = False
    ) -> str:
        """The message name of a frame `decode` would accept, raising what `decode` raises, without
        decoding its signals: a capture is checked frame by frame and decoded when read."""
        return self._entry(arbitration_id, data, is_extended_id).placed.name

    def _entry(self, arbitration_id: int, data: object, is_extended_id: bool) -> _MessageCodec:
        entry = self._by_id.get(arbitration_id) if type(arbitration_id) is int else None
        if entry is None or is_extended_id:
            raise UnknownFrameError(self._unknown(arbitration_id, is_extended_id))
        if not isinstance(data, bytes | bytearray | memoryview):
            raise CanFrameError(f"{entry.placed.name}: payload must be bytes, got {type(data).__name__}")
        if len(data) != entry.message.length:
            raise FrameLengthError(
                f"{_hex(arbitration_id)} {entry.placed.name}: {len(data)} data bytes, the layout "
                f"defines {entry.message.length}"
            )
        return entry

    def _unknown(self, arbitration_id: object, is_extended_id: bool) -> str:
        """Why an ID is not one of ours, with a hint when it is a node beyond the configured count."""
        if type(arbitration_id) is not int:
            return f"arbitration ID {arbitration_id!r} is not an integer"
        kind = "extended" if is_extended_id else "standard"
        text = (
            f"CAN {kind} ID {arbitration_id:#x} is not a D1000 Gen2 message with base ID {_hex(self.base_id)}"
        )
        first = self.base_id + NODE_BLOCK_OFFSET
        if not is_extended_id and first <= arbitration_id < first + NODE_STRIDE * NODE_COUNT_MAX:
            node, index = divmod(arbitration_id - first, NODE_STRIDE)
            text += (
                f" (it would be node {node}'s {NODE_KINDS[index]}, but numCMUNodes is "
                f"{self.node_count}: nodes 0..{self.node_count - 1})"
            )
        return text
