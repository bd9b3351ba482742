"""Typed INFO fields: one declarative description of a layout drives both its encoder and decoder.

A `Layout` is a tuple of fields over a value type; `encode` walks it writing the value's
attributes, `decode` walks the same tuple reading them back, so the two directions cannot drift.
Out-of-range values raise ValueError naming the field; short, long or bad INFO raises InfoError.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Generic, TypeVar

from hil.duts.bms12100.protocol.codes import TEMPERATURE_OFFSET, InfoError
from hil.protocols.yd1363 import Frame, Rtn

T = TypeVar("T")
V = TypeVar("V")
E = TypeVar("E", bound=IntEnum)


class Writer:
    """Builds an INFO field big-endian; out-of-range values raise ValueError naming the field."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._buf = bytearray()

    def uint(self, value: int, size: int, name: str) -> Writer:
        if not 0 <= value < 1 << (8 * size):
            raise ValueError(f"{self._what}: {name} = {value} does not fit {size} unsigned byte(s)")
        self._buf += value.to_bytes(size, "big")
        return self

    def sint(self, value: int, size: int, name: str) -> Writer:
        limit = 1 << (8 * size - 1)
        if not -limit <= value < limit:
            raise ValueError(f"{self._what}: {name} = {value} does not fit {size} signed byte(s)")
        self._buf += value.to_bytes(size, "big", signed=True)
        return self

    def text(self, value: str, size: int, name: str, pad: bytes) -> Writer:
        if not (value.isascii() and value.isprintable()) or len(value) > size:
            raise ValueError(f"{self._what}: {name} must be printable ASCII, at most {size} chars: {value!r}")
        if value != value.rstrip(pad.decode("ascii")):
            raise ValueError(f"{self._what}: {name} must not end in its padding character: {value!r}")
        self._buf += value.encode("ascii").ljust(size, pad)
        return self

    def raw(self, data: bytes) -> Writer:
        self._buf += data
        return self

    def done(self) -> bytes:
        return bytes(self._buf)


class Reader:
    """Walks an INFO field; running short, left-over bytes or bad text raise InfoError."""

    def __init__(self, frame: Frame, what: str) -> None:
        self._info = frame.info
        self._adr = frame.adr
        self._what = what
        self._pos = 0

    def error(self, detail: str, rtn: Rtn = Rtn.COMMAND_FORMAT_ERROR) -> InfoError:
        return InfoError(f"{self._what}: {detail}", rtn, adr=self._adr)

    def left(self) -> int:
        """Bytes not read yet."""
        return len(self._info) - self._pos

    def take(self, size: int, name: str) -> bytes:
        if self._pos + size > len(self._info):
            raise self.error(
                f"INFO ends before {name} (needs {size} byte(s) at offset {self._pos}, "
                f"INFO has {len(self._info)})"
            )
        data = self._info[self._pos : self._pos + size]
        self._pos += size
        return data

    def uint(self, size: int, name: str) -> int:
        return int.from_bytes(self.take(size, name), "big")

    def sint(self, size: int, name: str) -> int:
        return int.from_bytes(self.take(size, name), "big", signed=True)

    def text(self, size: int, name: str, pad: bytes) -> str:
        data = self.take(size, name).rstrip(pad)
        if not data.isascii() or not data.decode("ascii").isprintable():
            raise self.error(f"{name} is not printable ASCII: {data!r}")
        return data.decode("ascii")

    def end(self) -> None:
        if self._pos != len(self._info):
            raise self.error(f"{len(self._info) - self._pos} unexpected byte(s) after offset {self._pos}")


# ---------------------------------------------------------------------------------------------
# Codecs: how one value sits on the wire.


class Codec(ABC, Generic[V]):
    """One value's wire form, both ways."""

    @abstractmethod
    def put(self, w: Writer, value: V, name: str) -> None: ...

    @abstractmethod
    def get(self, r: Reader, name: str) -> V: ...


@dataclass(frozen=True)
class Int(Codec[int]):
    """An integer of `size` bytes."""

    size: int
    signed: bool = False

    def put(self, w: Writer, value: int, name: str) -> None:
        (w.sint if self.signed else w.uint)(value, self.size, name)

    def get(self, r: Reader, name: str) -> int:
        return (r.sint if self.signed else r.uint)(self.size, name)


@dataclass(frozen=True)
class Scaled(Codec[float]):
    """A quantity sent as round(value * scale) counts (mV for V: scale 1000)."""

    size: int
    scale: int
    signed: bool = False

    def put(self, w: Writer, value: float, name: str) -> None:
        (w.sint if self.signed else w.uint)(round(value * self.scale), self.size, name)

    def get(self, r: Reader, name: str) -> float:
        return (r.sint if self.signed else r.uint)(self.size, name) / self.scale


@dataclass(frozen=True)
class Kelvin(Codec[float]):
    """A temperature in °C sent as 0.1 K in two bytes: wire = round(°C * 10) + 2731."""

    def put(self, w: Writer, value: float, name: str) -> None:
        w.uint(round(value * 10) + TEMPERATURE_OFFSET, 2, name)

    def get(self, r: Reader, name: str) -> float:
        return (r.uint(2, name) - TEMPERATURE_OFFSET) / 10


@dataclass(frozen=True)
class Ascii(Codec[str]):
    """Printable ASCII padded with `pad` to `size` characters."""

    size: int
    pad: bytes

    def put(self, w: Writer, value: str, name: str) -> None:
        w.text(value, self.size, name, self.pad)

    def get(self, r: Reader, name: str) -> str:
        return r.text(self.size, name, self.pad)


@dataclass(frozen=True)
class Enumerated(Codec[E]):
    """One byte of an IntEnum/IntFlag; a byte that is no member raises InfoError with `refusal`.

    `refusal` is formatted with `name` and `raw` (the byte).
    """

    kind: type[E]
    refusal: str = "{name} = {raw:#04x} is not a known value"

    def put(self, w: Writer, value: E, name: str) -> None:
        w.uint(int(value), 1, name)

    def get(self, r: Reader, name: str) -> E:
        raw = r.uint(1, name)
        try:
            return self.kind(raw)
        except ValueError:
            raise r.error(self.refusal.format(name=name, raw=raw)) from None


# ---------------------------------------------------------------------------------------------
# Fields: codecs applied to a value's attributes.


class Field(ABC):
    """A run of INFO bytes standing for one or more attributes of the layout's value."""

    @abstractmethod
    def write(self, w: Writer, obj: Any) -> None: ...

    @abstractmethod
    def read(self, r: Reader, out: dict[str, Any]) -> None: ...


SELF = ""  # `attr` of a field that stands for the whole value (a layout of one number)


def _value(obj: Any, attr: str) -> Any:
    return obj if attr == SELF else getattr(obj, attr)


@dataclass(frozen=True)
class One(Field):
    """One attribute, one codec; `name` (default: the attribute) is what errors call it."""

    attr: str
    codec: Codec[Any]
    name: str = ""

    def write(self, w: Writer, obj: Any) -> None:
        self.codec.put(w, _value(obj, self.attr), self.name or self.attr)

    def read(self, r: Reader, out: dict[str, Any]) -> None:
        out[self.attr or "value"] = self.codec.get(r, self.name or self.attr)


@dataclass(frozen=True)
class Counted(Field):
    """A one-byte count, then that many values of one codec (item names format `{i}`, from 1)."""

    attr: str
    codec: Codec[Any]
    count: str
    item: str

    def write(self, w: Writer, obj: Any) -> None:
        values = getattr(obj, self.attr)
        w.uint(len(values), 1, self.count)
        for i, value in enumerate(values, start=1):
            self.codec.put(w, value, self.item.format(i=i))

    def read(self, r: Reader, out: dict[str, Any]) -> None:
        n = r.uint(1, self.count)
        out[self.attr] = tuple(self.codec.get(r, self.item.format(i=i)) for i in range(1, n + 1))


@dataclass(frozen=True)
class Series(Field):
    """A fixed number of values of one codec, one name each (a tuple attribute)."""

    attr: str
    codec: Codec[Any]
    names: tuple[str, ...]

    def write(self, w: Writer, obj: Any) -> None:
        values = getattr(obj, self.attr)
        if len(values) != len(self.names):
            raise ValueError(f"{self.attr} must hold {len(self.names)} values, got {len(values)}")
        for name, value in zip(self.names, values, strict=True):
            self.codec.put(w, value, name)

    def read(self, r: Reader, out: dict[str, Any]) -> None:
        out[self.attr] = tuple(self.codec.get(r, name) for name in self.names)


@dataclass(frozen=True)
class Octets(Field):
    """An integer attribute split into single bytes, least significant first, one name each."""

    attr: str
    names: tuple[str, ...]

    def write(self, w: Writer, obj: Any) -> None:
        value = int(getattr(obj, self.attr))
        for k, name in enumerate(self.names):
            part = value >> (8 * k)
            w.uint(part if k == len(self.names) - 1 else part & 0xFF, 1, name)

    def read(self, r: Reader, out: dict[str, Any]) -> None:
        out[self.attr] = sum(r.uint(1, name) << (8 * k) for k, name in enumerate(self.names))


@dataclass(frozen=True)
class Blob(Field):
    """A one-byte count, then that many raw bytes (a bytes attribute)."""

    attr: str
    count: str
    name: str

    def write(self, w: Writer, obj: Any) -> None:
        data = bytes(getattr(obj, self.attr))
        w.uint(len(data), 1, self.count).raw(data)

    def read(self, r: Reader, out: dict[str, Any]) -> None:
        out[self.attr] = r.take(r.uint(1, self.count), self.name)


@dataclass(frozen=True)
class Bits(Field):
    """Boolean attributes packed in one byte (attribute -> bit); a set reserved bit raises InfoError."""

    name: str
    bits: Mapping[str, int]

    def write(self, w: Writer, obj: Any) -> None:
        w.uint(sum(bit for attr, bit in self.bits.items() if getattr(obj, attr)), 1, self.name)

    def read(self, r: Reader, out: dict[str, Any]) -> None:
        raw = r.uint(1, self.name)
        reserved = raw & ~sum(self.bits.values()) & 0xFF
        if reserved:
            raise r.error(f"reserved {self.name} bits {reserved:#04x} are set")
        out.update({attr: bool(raw & bit) for attr, bit in self.bits.items()})


@dataclass(frozen=True)
class Trailer(Field):
    """An optional last byte that is read and ignored (a host's extra, never sent by us)."""

    name: str

    def write(self, w: Writer, obj: Any) -> None:
        return None

    def read(self, r: Reader, out: dict[str, Any]) -> None:
        if r.left() == 1:
            r.uint(1, self.name)


#: INFOs whose decoded values a layout keeps (a host polls the same answer while it waits)
DECODED_KEPT = 8


@dataclass(frozen=True)
class Layout(Generic[T]):
    """The INFO of one message: `fields` over values of type T, built by `make(**attributes)`.

    Every value type is immutable, so a decoded value is kept by its INFO (the last
    `DECODED_KEPT`) and the same INFO decodes to that value again without walking the fields.
    """

    what: str  # e.g. "GET_ANALOG_VALUES response", the start of every error message
    make: Callable[..., T]
    fields: tuple[Field, ...] = ()
    _decoded: dict[tuple[Any, ...], T] = field(default_factory=dict, init=False, repr=False, compare=False)

    def encode(self, value: T) -> bytes:
        w = Writer(self.what)
        for f in self.fields:
            f.write(w, value)
        return w.done()

    def decode(self, frame: Frame, **known: Any) -> T:
        """The value in `frame`'s INFO; `known` adds attributes from outside INFO (adr, ver)."""
        key = (frame.info, frame.adr, *known.items())
        kept = self._decoded.get(key)
        if kept is not None:
            return kept
        r = Reader(frame, self.what)
        out: dict[str, Any] = dict(known)
        for f in self.fields:
            f.read(r, out)
        r.end()
        value = self.make(**out)
        if len(self._decoded) >= DECODED_KEPT:
            del self._decoded[next(iter(self._decoded))]  # the oldest
        self._decoded[key] = value
        return value


def itself(value: T) -> T:
    """`make` of a layout whose value is one number (its field has attr SELF)."""
    return value
