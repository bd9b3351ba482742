"""Values <-> Modbus registers for the Movicom register map, through pymodbus's own converters.

Numbers go through `ModbusClientMixin.convert_to_registers` / `convert_from_registers` (pymodbus
>= 3.6), which handle the word order; the ambiguous byte order inside each register (references
§2.1) is a swap of each register's two bytes around them. Register orders, A the most significant
byte of a 32-bit value: ABCD (plain Modbus), CDAB (low word first: OUR READING of the vendor's
"words are in the little endian"), BADC, DCBA. U8 and BCD bytes: byte 0 in the low half of its
register (OUR READING), swapped like the rest under BADC/DCBA.

Bitfields travel as sets of bit names; enumerations as their integer; arrays as lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, cast

from pymodbus.client.mixin import ModbusClientMixin

from hil.duts.movicom_main_2.protocol.registers import Register, RegisterMap, Table

RegisterOrder = Literal["ABCD", "CDAB", "BADC", "DCBA"]
Value = float | int | frozenset[str] | tuple[float, ...] | tuple[int, ...]

_DT = ModbusClientMixin.DATATYPE
_DATATYPES: dict[str, ModbusClientMixin.DATATYPE] = {
    "U16": _DT.UINT16,
    "S16": _DT.INT16,
    "U32": _DT.UINT32,
    "S32": _DT.INT32,
    "REAL32": _DT.FLOAT32,
}
_INTEGER_RANGE: dict[str, tuple[int, int]] = {
    "U16": (0, 0xFFFF),
    "S16": (-0x8000, 0x7FFF),
    "U32": (0, 0xFFFF_FFFF),
    "S32": (-0x8000_0000, 0x7FFF_FFFF),
}


class EncodeError(ValueError):
    """A value that does not fit its register (range, type, element count)."""


@dataclass(frozen=True)
class Codec:
    """Encodes and decodes the rows of one map in one register order."""

    register_map: RegisterMap
    order: RegisterOrder = "CDAB"

    @property
    def _word_order(self) -> Literal["big", "little"]:
        return "little" if self.order in ("CDAB", "DCBA") else "big"

    @property
    def _swap_bytes(self) -> bool:
        return self.order in ("BADC", "DCBA")

    def _swap(self, registers: Iterable[int]) -> list[int]:
        regs = list(registers)
        return [((r & 0xFF) << 8) | (r >> 8) for r in regs] if self._swap_bytes else regs

    # --- one row -----------------------------------------------------------------------------
    def encode(self, reg: Register, value: Value) -> list[int]:
        """The registers of `reg` holding `value` (engineering units; a bit-name set for bitfields)."""
        if reg.bits or reg.bits_of:
            return self._numbers(reg, [self._pack_bits(reg, value)])
        if reg.type in ("U8", "BCD"):
            return self._bytes(reg, value)
        if isinstance(value, frozenset | set):
            raise EncodeError(f"{reg.name}: a number (the row has no named bits)")
        items = list(value) if isinstance(value, tuple | list) else [value]
        if len(items) != reg.count:
            raise EncodeError(f"{reg.name}: {reg.count} value(s), got {len(items)}")
        if reg.type == "REAL32":
            return self._numbers(reg, [float(cast(float, v)) / reg.scale for v in items])
        return self._numbers(reg, [round(float(cast(float, v)) / reg.scale) for v in items])

    def decode(self, reg: Register, registers: Sequence[int]) -> Value:
        """The value held in `registers` (exactly `reg.words` of them)."""
        if len(registers) != reg.words:
            raise ValueError(f"{reg.name}: {reg.words} registers, got {len(registers)}")
        if reg.type in ("U8", "BCD"):
            raw = self._swap(registers)
            data = [b for r in raw for b in (r & 0xFF, r >> 8)][: reg.count]
            if reg.type == "BCD":
                return tuple((b >> 4) * 10 + (b & 0xF) for b in data)
            return tuple(data)
        numbers = ModbusClientMixin.convert_from_registers(
            self._swap(registers), _DATATYPES[reg.type], word_order=self._word_order
        )
        items = numbers if isinstance(numbers, list) else [numbers]
        if reg.bits or reg.bits_of:
            raw_bits = int(cast(int, items[0]))
            return frozenset(b.name for b in self.register_map.bits_of(reg) if raw_bits >> b.bit & 1)
        if reg.type == "REAL32":
            scaled = tuple(float(cast(float, v)) * reg.scale for v in items)
        elif reg.scale == 1.0:
            scaled_int = tuple(int(cast(int, v)) for v in items)
            return scaled_int[0] if reg.count == 1 else scaled_int
        else:
            scaled = tuple(int(cast(int, v)) * reg.scale for v in items)
        return scaled[0] if reg.count == 1 else scaled

    def raw_bits(self, reg: Register, registers: Sequence[int]) -> int:
        """A bitfield's integer, unnamed bits included."""
        return int(cast(int, ModbusClientMixin.convert_from_registers(
            self._swap(registers), _DATATYPES[reg.type], word_order=self._word_order
        )))  # fmt: skip

    def _numbers(self, reg: Register, numbers: list[float] | list[int]) -> list[int]:
        if reg.type in _INTEGER_RANGE:
            low, high = _INTEGER_RANGE[reg.type]
            bad = [n for n in numbers if not low <= n <= high]
            if bad:
                raise EncodeError(f"{reg.name}: {reg.type} holds {low}..{high}, got {bad[0]}")
        regs = ModbusClientMixin.convert_to_registers(
            cast(list[float], numbers) if reg.type == "REAL32" else cast(list[int], numbers),
            _DATATYPES[reg.type],
            word_order=self._word_order,
        )
        return self._swap(regs)

    def _pack_bits(self, reg: Register, value: Value) -> int:
        if isinstance(value, int):
            return value
        if not isinstance(value, frozenset | set):
            raise EncodeError(f"{reg.name}: a set of bit names or an integer")
        bits = self.register_map.bits_of(reg)
        unknown = sorted(set(value) - {b.name for b in bits})
        if unknown:
            raise EncodeError(f"{reg.name}: no bit named {', '.join(unknown)}")
        return sum(1 << b.bit for b in bits if b.name in value)

    def _bytes(self, reg: Register, value: Value) -> list[int]:
        items = [int(v) for v in value] if isinstance(value, tuple | list) else []
        if len(items) != reg.count or any(not 0 <= v <= (99 if reg.type == "BCD" else 255) for v in items):
            raise EncodeError(
                f"{reg.name}: {reg.count} byte values ({'0..99' if reg.type == 'BCD' else '0..255'})"
            )
        data = [(v // 10) << 4 | v % 10 for v in items] if reg.type == "BCD" else items
        data += [0] * (2 * reg.words - len(data))
        return self._swap(data[i] | data[i + 1] << 8 for i in range(0, len(data), 2))

    # --- whole tables ------------------------------------------------------------------------
    def image(self, table: Table, values: Mapping[str, Value]) -> dict[int, int]:
        """Every register of `table` (address -> raw), rows without a value given as zeros."""
        out: dict[int, int] = {}
        for reg in self.register_map.table(table):
            regs = self.encode(reg, values[reg.name]) if reg.name in values else [0] * reg.words
            out.update(zip(range(reg.address, reg.end), regs, strict=True))
        return out

    def decode_span(self, table: Table, start: int, registers: Sequence[int]) -> dict[str, Value]:
        """The rows lying wholly inside `registers` read from `start`, by name."""
        end = start + len(registers)
        return {
            reg.name: self.decode(reg, registers[reg.address - start : reg.end - start])
            for reg in self.register_map.table(table)
            if start <= reg.address and reg.end <= end
        }
