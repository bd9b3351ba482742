"""What the 12100 BMS reports about itself: one snapshot type shared by twin, codecs and client."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Mode(StrEnum):
    """Working mode (seed §6.2)."""

    STANDBY = "standby"
    CHARGE = "charge"
    DISCHARGE = "discharge"
    SHUTDOWN = "shutdown"


@dataclass
class Telemetry:
    """One consistent set of the BMS's own measurements and states.

    `active` holds the requirement IDs (e.g. "CV-OVP", "PV-LA") of the alarms and protections
    that are active now; the protocol codecs map each ID to its flag bits.
    """

    cell_mv: list[int]
    temperatures_c: list[float]  # cell1, cell2, ambient, power (0.1 °C resolution)
    pack_v: float  # 10 mV resolution
    current_a: float  # + charge, - discharge; 10 mA resolution
    soc_pct: float
    soh_pct: float
    remaining_ah: float
    full_ah: float
    cycles: int
    mode: Mode
    charge_fet: bool
    discharge_fet: bool
    active: frozenset[str] = frozenset()
    balancing: list[bool] = field(default_factory=lambda: [False] * 4)
    charge_voltage_limit_v: float = 14.2
    charge_current_limit_a: float = 100.0
    discharge_current_limit_a: float = 100.0
    discharge_voltage_limit_v: float = 11.2
    time_s: float = 0.0  # the BMS's own time of this snapshot (virtual or wall)
