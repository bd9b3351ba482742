"""The Movicom Main 2.1 / 2R bench on the shared bench base (hil.bench): MovicomBench, the class the
plans use, joining the base (bench_base: instruments, stimuli, hooks, shared primitives) and one
mixin per test section: protections (bench_protections), analog inputs, supply and termination
(bench_analog), relays and discrete I/O (bench_relays).

Observations: the client's Modbus registers and CANopen frames, the DMM on the outputs and relay
contacts, the LED analyser. The constants the plans import are re-exported here.
"""

from __future__ import annotations

from typing import ClassVar

from hil.bench import Stimulus
from hil.duts.movicom_main_2.bench_analog import AnalogMixin
from hil.duts.movicom_main_2.bench_base import SOFTWARE_CONTROL_PHYSICAL
from hil.duts.movicom_main_2.bench_protections import PROTECTION_QUANTITIES, ProtectionsMixin
from hil.duts.movicom_main_2.bench_relays import (
    LOGIC_CELL_ACCURACY_V,
    LOGIC_TEMPERATURE_ACCURACY_C,
    RelaysMixin,
)

__all__ = [
    "LOGIC_CELL_ACCURACY_V",
    "LOGIC_TEMPERATURE_ACCURACY_C",
    "PROTECTION_QUANTITIES",
    "SOFTWARE_CONTROL_PHYSICAL",
    "MovicomBench",
]


class MovicomBench(ProtectionsMixin, AnalogMixin, RelaysMixin):
    """The bench of a Main 2.1 / 2R (see the module docstring)."""

    ACCURACY_NEEDS = (
        ("cell_emulator", "voltage"),
        ("power_supply", "voltage"),
        ("analog_source", "voltage"),
        ("temperature_emulator", "resistance"),  # MM-PROT temperature stimulus
        ("dmm", "voltage"),  # MM-PROT current stimulus (trimmed with the DMM), MM-TS, MM-RLY-RATE, MM-DO
        ("dmm", "current"),
        ("dmm", "resistance"),
        ("electronic_load", "current"),
    )
    STIMULI: ClassVar[dict[str, Stimulus[MovicomBench]]] = {
        "cell_voltage": Stimulus(lambda b, v: b.set_cell(1, 1, v), 3.30),
        "supply_voltage": Stimulus(lambda b, v: b.set_supply(v), 12.0),
        "current": Stimulus(lambda b, a: b.set_current(a), 0.0),
    }
