"""Power management of the firmware: precharge (PRE), automatic sleep (PM-SLEEP), supply current
(PM-SLEEP-I) and the wake-up comparator (PM-WAKE).

OUR ASSUMPTIONS where the seed is silent:
- Precharge runs for `precharge.time_ms` from every boot (power-on, wake) and every time the
  discharge path turns on again (a release of a discharge-blocking protection); while it runs the
  main discharge MOSFET is open and the discharge current flows through a precharge resistor of
  `PRECHARGE_OHM` (20 Ω), which the electrical model applies. A protection that opens the
  discharge path aborts it.
- PM-SLEEP: "no charger and no effective current" = standby mode (no effective current in either
  direction, I-EFF-C/I-EFF-D) and not floating (no charge reading with the charger above the
  charge-mode minimum). After `max_standby_h` of that without interruption the BMS shuts down.
- Supply current drawn from the cells: `AWAKE_SUPPLY_A` (12 mA) awake, `SLEEP_SUPPLY_A` (8 µA) shut
  down (the seed's "dormancy power consumption" reads <= 10 µA, spec PM-SLEEP-I). Balancing bleed
  currents come on top (balancing.py).
- Wake comparator (hardware, on the true terminal values): a charger pulls P+ above both the
  charge-mode minimum and the pack voltage by `CHARGER_WAKE_MARGIN_V`, or a charge current of at
  least the effective charging current flows. With both MOSFETs open and nothing connected P+
  sits at the pack voltage (no wake-up).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hil.duts.bms12100.sim.twin.monitor import MIN_STEP_S

PRECHARGE_OHM = 20.0
AWAKE_SUPPLY_A = 0.012
SLEEP_SUPPLY_A = 8e-6
CHARGER_WAKE_MARGIN_V = 0.2
SECONDS_PER_HOUR = 3600.0
_EPS = 1e-9


@dataclass
class Precharge:
    """The precharge phase: active from its start until `until`."""

    until: float = -math.inf

    def start(self, t: float, seconds: float) -> None:
        """Begin a precharge of `seconds` at t (0 s: none)."""
        self.until = t + seconds

    def abort(self) -> None:
        """End it now (the discharge path opened)."""
        self.until = -math.inf

    def active(self, t: float) -> bool:
        """Whether precharge is still running at t."""
        return t < self.until - _EPS

    def step_limit(self, t: float) -> float:
        """Time to the end of the precharge (inf when none runs)."""
        return max(MIN_STEP_S, self.until - t) if self.active(t) else math.inf


@dataclass
class IdleTimer:
    """Time spent without interruption in the sleep condition (PM-SLEEP)."""

    idle_s: float = 0.0
    idle: bool = False

    def reset(self) -> None:
        """Boot / wake: the standby time starts again."""
        self.idle_s, self.idle = 0.0, False

    def update(self, dt: float, idle: bool) -> None:
        """Accumulate the step when the sleep condition held over it."""
        self.idle_s = self.idle_s + dt if idle and self.idle else (dt if idle else 0.0)
        self.idle = idle

    def step_limit(self, limit_s: float) -> float:
        """Time until `limit_s` of idle is reached (inf when not idle)."""
        return max(MIN_STEP_S, limit_s - self.idle_s) if self.idle else math.inf
