"""The Modbus register map of the Movicom Main 2.x / Main 3 firmware, as validated data.

The maps live in `maps/*.yaml` (one per firmware family). A map may `inherits` another, `drop` some
of its rows by name and add or replace rows (by name). Every row says how sure we are of it: rows
that are not seen for this firmware (confidence M3, I or P) must be `provisional` with a `source`
note, so that a user with the vendor's document corrects the data, not the code.
"""

from __future__ import annotations

from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hil.config import load_model
from hil.errors import ConfigError

MAPS_DIR = Path(__file__).with_name("maps")
RegisterType = Literal["U8", "BCD", "U16", "S16", "U32", "S32", "REAL32"]
Table = Literal["input", "holding"]
Confidence = Literal["C", "X", "M3", "I", "P"]
#: registers per element of each type (U8/BCD: two elements share a register)
WORDS: dict[str, int] = {"U16": 1, "S16": 1, "U32": 2, "S32": 2, "REAL32": 2}
_UNSURE: frozenset[str] = frozenset({"M3", "I", "P"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bit(_Strict):
    """One named bit of a bitfield register."""

    bit: int = Field(ge=0, le=31)
    name: str = Field(pattern=r"^[a-z0-9_]+$")
    provisional: bool = False


class Register(_Strict):
    """One row of the map: a value at an address of one table."""

    name: str = Field(pattern=r"^[a-z0-9_]+$")
    table: Table
    address: int = Field(ge=0, le=0xFFFF)
    type: RegisterType
    count: int = Field(default=1, ge=1, le=128)
    scale: float = 1.0
    unit: str | None = None
    access: Literal["r", "rw"] = "r"
    confidence: Confidence
    provisional: bool = False
    source: str = Field(min_length=1)
    bits: tuple[Bit, ...] = ()
    #: the row whose bit layout this one shares (acknowledge_errors: one bit per error of errors_1)
    bits_of: str | None = Field(default=None, pattern=r"^[a-z0-9_]+$")
    values: dict[int, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Register:
        if self.confidence in _UNSURE and not self.provisional:
            raise ValueError(f"provisional: true, as confidence {self.confidence} is not a seen fact")
        if self.bits:
            width = 16 * WORDS.get(self.type, 0)
            if self.type not in ("U16", "U32") or self.count != 1:
                raise ValueError("bits: only on a single U16 or U32")
            if any(b.bit >= width for b in self.bits):
                raise ValueError(f"bits: below {width} for {self.type}")
            names = [b.name for b in self.bits]
            if len(set(names)) != len(names) or len({b.bit for b in self.bits}) != len(names):
                raise ValueError("bits: each bit and each name once")
        if self.bits_of and (self.bits or self.type not in ("U16", "U32") or self.count != 1):
            raise ValueError("bits_of: only on a single U16 or U32 without bits of its own")
        if self.access == "rw" and self.table != "holding":
            raise ValueError("access: r, as input registers are read-only")
        if self.address + self.words > 0x10000:
            raise ValueError("address: the register must end at or below 0xFFFF")
        return self

    @property
    def words(self) -> int:
        """How many 16-bit registers the row occupies."""
        if self.type in ("U8", "BCD"):
            return (self.count + 1) // 2
        return WORDS[self.type] * self.count

    @property
    def end(self) -> int:
        """The first address after the row."""
        return self.address + self.words

    def bit(self, name: str) -> int:
        """The position of the named bit."""
        for b in self.bits:
            if b.name == name:
                return b.bit
        raise KeyError(f"{self.name} has no bit {name!r}")


class MapFile(_Strict):
    """A map file as written: possibly a difference to the map it inherits."""

    map: str
    title: str
    inherits: str | None = None
    drop: tuple[str, ...] = ()
    registers: tuple[Register, ...]


class RegisterMap(_Strict):
    """A complete map: rows of both tables, names unique, no two rows sharing an address."""

    map: str
    title: str
    registers: tuple[Register, ...]

    @model_validator(mode="after")
    def _no_overlap(self) -> RegisterMap:
        names = [r.name for r in self.registers]
        if len(set(names)) != len(names):
            raise ValueError("registers: each name once")
        for table in ("input", "holding"):
            rows = sorted((r for r in self.registers if r.table == table), key=lambda r: r.address)
            for a, b in pairwise(rows):
                if b.address < a.end:
                    raise ValueError(f"registers: {a.name} and {b.name} overlap at 0x{b.address:04X}")
        for r in self.registers:
            if r.bits_of and not any(o.name == r.bits_of and o.bits for o in self.registers):
                raise ValueError(f"registers: {r.name}'s bits_of names a row with bits (not {r.bits_of!r})")
        return self

    def bits_of(self, reg: Register) -> tuple[Bit, ...]:
        """The named bits of `reg`: its own, or those of the row whose layout it shares."""
        return self.get(reg.bits_of).bits if reg.bits_of else reg.bits

    def get(self, name: str) -> Register:
        """A row by name."""
        for r in self.registers:
            if r.name == name:
                return r
        raise KeyError(f"map {self.map} has no register {name!r}")

    def __contains__(self, name: object) -> bool:
        return any(r.name == name for r in self.registers)

    def table(self, table: Table) -> tuple[Register, ...]:
        """The rows of one table in address order."""
        return tuple(sorted((r for r in self.registers if r.table == table), key=lambda r: r.address))

    def at(self, table: Table, address: int) -> Register | None:
        """The row that covers `address` in `table`, if any."""
        for r in self.registers:
            if r.table == table and r.address <= address < r.end:
                return r
        return None

    def provisional(self) -> tuple[Register, ...]:
        """Rows, or rows with bits, not confirmed for this firmware."""
        return tuple(r for r in self.registers if r.provisional or any(b.provisional for b in r.bits))


def _load(path: Path, seen: tuple[str, ...]) -> RegisterMap:
    file = load_model(path, MapFile)
    if file.inherits is None:
        rows = list(file.registers)
    else:
        if file.inherits in seen:
            raise ConfigError(str(path), "inherits", f"no cycle ({' -> '.join((*seen, file.inherits))})")
        base = _load(MAPS_DIR / f"{file.inherits}.yaml", (*seen, file.map))
        unknown = [n for n in file.drop if n not in base]
        if unknown:
            raise ConfigError(str(path), "drop", f"names of {file.inherits} (unknown: {', '.join(unknown)})")
        replaced = {r.name for r in file.registers}
        rows = [r for r in base.registers if r.name not in file.drop and r.name not in replaced]
        rows += list(file.registers)
    try:
        return RegisterMap(map=file.map, title=file.title, registers=tuple(rows))
    except ValueError as exc:
        raise ConfigError(str(path), "registers", str(exc).splitlines()[-1]) from None


@cache
def load_map(name: str) -> RegisterMap:
    """The complete map `name` (`main-2.x` or `main-3`) with its inheritance resolved."""
    path = MAPS_DIR / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in MAPS_DIR.glob("*.yaml")))
        raise ConfigError(str(path), "map", f"one of {known}")
    return _load(path, ())
