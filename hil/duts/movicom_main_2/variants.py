"""The two hardware variants of the Movicom BMS Main 2 family (2.1 and 2R) as validated data.

One implementation serves both: everything that differs (supply range, relay ratings, header and
LED names, the number of current sensors, CAN2, the register map) is a row of `variants.yaml`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal, cast, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hil.config import load_model
from hil.errors import UsageError
from hil.registry import dut_family

VARIANTS_PATH = Path(__file__).with_name("variants.yaml")
VariantId = Literal["main-2.1", "main-2r"]
RelayFunctionName = Literal["none", "discharge", "allow_charging", "charge", "heater"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Supply(_Strict):
    """The supply range the variant runs on (MM-SUP-V) and its current limit (MM-SUP-I)."""

    min_v: float = Field(gt=0)
    max_v: float = Field(gt=0)
    nominal_v: float = Field(gt=0)
    max_current_ma: float | None = Field(default=None, gt=0)
    header: str


class RelayHardware(_Strict):
    """One relay output: its header, contact rating (MM-RLY-RATE) and indicator LED."""

    number: int = Field(ge=1, le=4)
    header: str
    max_v: float = Field(gt=0)
    max_a: float = Field(gt=0)
    led: str
    default_function: RelayFunctionName


class CurrentSensorHeader(_Strict):
    """A Hall-sensor input: header and the names of its output and reference pins."""

    header: str
    signal: str
    reference: str


class CanBus(_Strict):
    """A CAN interface and the jumper that fits its 120 Ω terminator."""

    name: str
    header: str
    termination_jumper: str
    external: bool


class Leds(_Strict):
    """Indicator names by role (None: the variant has no such LED)."""

    power: str | None
    run: str
    link: str
    error: str


class Variant(_Strict):
    """One hardware variant."""

    id: VariantId
    title: str
    supply: Supply
    relays: tuple[RelayHardware, ...] = Field(min_length=4, max_length=4)
    inputs: tuple[str, ...] = Field(min_length=4, max_length=4)
    outputs: tuple[str, ...] = Field(min_length=4, max_length=4)
    io_header: str
    current_sensors: tuple[CurrentSensorHeader, ...] = Field(min_length=1, max_length=2)
    temperature_inputs: tuple[str, ...] = Field(min_length=1, max_length=2)
    humidity_input: str | None
    sensor_header: str
    can_buses: tuple[CanBus, ...] = Field(min_length=1)
    rs485_termination_jumper: str
    logic_header: str
    leds: Leds
    register_map: Literal["main-2.x", "main-3"]
    modbus_tcp: bool
    notes: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Variant:
        if not self.supply.min_v < self.supply.nominal_v <= self.supply.max_v:
            raise ValueError("supply: min_v < nominal_v <= max_v")
        if [r.number for r in self.relays] != [1, 2, 3, 4]:
            raise ValueError("relays: numbered 1, 2, 3, 4 in that order")
        return self

    def relay_leds(self) -> tuple[str, ...]:
        """The relay LEDs in relay order 1..4."""
        return tuple(r.led for r in self.relays)


class VariantsFile(_Strict):
    """The file: one row per variant, each id once."""

    variants: tuple[Variant, ...]

    @model_validator(mode="after")
    def _unique(self) -> VariantsFile:
        ids = [v.id for v in self.variants]
        if len(set(ids)) != len(ids):
            raise ValueError("variants: each id once")
        return self


@cache
def load_variants(path: Path = VARIANTS_PATH) -> dict[str, Variant]:
    """The variants by id (a problem raises ConfigError naming file and field)."""
    return {v.id: v for v in load_model(path, VariantsFile).variants}


def family_variant(family: str) -> VariantId:
    """The variant a declared DUT family is (its `DutFamily.variant`, family.py): what a station's
    `dut.name` says the unit is, read from the family registry so no table repeats it."""
    declared = dut_family(family).variant
    if declared not in get_args(VariantId):
        known = ", ".join(get_args(VariantId))
        raise UsageError(
            f"DUT family {family!r} declares variant {declared!r}; a Movicom Main 2 is one of {known}"
        )
    return cast(VariantId, declared)


def variant(variant_id: str) -> Variant:
    """One variant by id (`main-2.1` or `main-2r`)."""
    variants = load_variants()
    if variant_id not in variants:
        raise KeyError(f"unknown variant {variant_id!r}; known: {', '.join(sorted(variants))}")
    return variants[variant_id]
