"""Dissipative cell balancing of the firmware (BAL-START, BAL-END, BAL-CHG, BAL-STBY, BAL-HT, BAL-LT).

A balancing session starts when a cell reads above `start_mv` AND the spread (highest minus
lowest cell) reaches `open_diff_mv`; it bleeds every cell that reads above `start_mv` and at least
`end_diff_mv` above the lowest cell (so the lowest cell never bleeds) with `BLEED_CURRENT_A`; it
ends when the spread falls below `end_diff_mv`, no cell qualifies any more, the context it started
in ends, a temperature ban applies, or the standby time is used up.

Contexts, OUR READING of the seed (§3.7, §6.1, §7.7; spec.yaml BAL-* notes):
- charge: charge mode, or floating = standby with the charger above the charge-mode minimum and a
  charge reading above 0 but below the effective charging current (BAL-CHG, `charge_enabled`);
- standby: standby without floating (BAL-STBY, `standby_enabled`), at most `standby_time_h` of
  balancing per standby period; a period ends when the unit leaves standby (charge, float,
  discharge, shutdown) or boots, which restores the budget;
- never while discharging or shut down.
"Or charging stops" (BAL-END) ends the charge session; a standby session may then start, but only
on the full start condition (spread >= open_diff_mv), so between end and open difference balancing
stops when charging stops.
Temperature ban (BAL-HT, BAL-LT): no balancing while the warmer cell NTC is above `high_temp_ban_c`
or the colder one below `low_temp_ban_c` (cell NTCs, not the ambient one; no hysteresis is given).
The firmware acts on its readings. Balancing is a function, not an alarm: it is not recorded in the
history. `BLEED_CURRENT_A` (50 mA per cell) is OUR ASSUMPTION: the seed gives no bleed current.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

from hil.duts.bms12100 import CELL_COUNT, NTC_NAMES
from hil.duts.bms12100.config import Settings
from hil.duts.bms12100.protocol.snapshot import Mode
from hil.duts.bms12100.sim.twin.frontend import Readings
from hil.duts.bms12100.sim.twin.monitor import MIN_STEP_S

BLEED_CURRENT_A = 0.05
SECONDS_PER_HOUR = 3600.0
_CELL_NTCS = (NTC_NAMES.index("cell1"), NTC_NAMES.index("cell2"))
_EPS = 1e-9


class Context(Enum):
    """Where balancing may run."""

    NONE = "none"
    CHARGE = "charge"
    STANDBY = "standby"


def floating(m: Readings, settings: Settings) -> bool:
    """Standby with a charger holding the pack: P+ above the charge-mode minimum and a small charge."""
    enter = settings.effective_charge_current.enter_ma / 1000.0
    return (
        m.mode is Mode.STANDBY
        and m.charger_v > settings.fixed.charge_mode_min_charger_v
        and 0.0 < m.current_a < enter
    )


def context_of(m: Readings, settings: Settings) -> Context:
    """The balancing context of a sample (regardless of the enable switches)."""
    if m.mode is Mode.CHARGE or floating(m, settings):
        return Context.CHARGE
    if m.mode is Mode.STANDBY:
        return Context.STANDBY
    return Context.NONE


@dataclass
class Balancer:
    """The balancing state: the running session, which cells bleed, the standby budget used."""

    session: Context = Context.NONE
    bleeding: list[bool] = field(default_factory=lambda: [False] * CELL_COUNT)
    standby_used_s: float = 0.0  # balancing time used in the present standby period

    def reset(self) -> None:
        """Boot / shutdown: no session, budget restored."""
        self.session = Context.NONE
        self.bleeding = [False] * CELL_COUNT
        self.standby_used_s = 0.0

    @property
    def active(self) -> bool:
        """A cell is being bled."""
        return True in self.bleeding

    def bleed_currents(self) -> list[float]:
        """Bleed current drawn from each cell (A)."""
        return [BLEED_CURRENT_A if on else 0.0 for on in self.bleeding]

    def update(self, dt: float, m: Readings, settings: Settings) -> None:
        """Decide the bleed for the next interval from the sample `m` (taken at the end of dt)."""
        s = settings.balancing
        context = context_of(m, settings)
        if context is Context.STANDBY:
            if self.session is Context.STANDBY and self.active:
                self.standby_used_s += dt  # bled through the interval just ended
            allowed = s.standby_enabled and not self._standby_time_used(settings)
        else:
            self.standby_used_s = 0.0
            allowed = context is Context.CHARGE and s.charge_enabled
        if not allowed or self._banned(m, settings):
            self._stop()
            return
        if self.session is not Context.NONE and self.session is not context:
            self._stop()  # the context the session started in has ended
        spread = max(m.cell_mv) - min(m.cell_mv)
        if self.session is Context.NONE:
            starts = spread >= s.open_diff_mv and any(mv > s.start_mv for mv in m.cell_mv)
            if not starts:
                return
            self.session = context
        elif spread < s.end_diff_mv:
            self._stop()
            return
        self.bleeding = [mv > s.start_mv and mv - m.min_cell_mv >= s.end_diff_mv for mv in m.cell_mv]
        if not self.active:
            self._stop()

    def step_limit(self, settings: Settings) -> float:
        """Time until the standby budget runs out while standby balancing (inf otherwise)."""
        if self.session is not Context.STANDBY or not self.active:
            return math.inf
        if not settings.behaviour.standby_balancing_time_limit:
            return math.inf
        left = settings.balancing.standby_time_h * SECONDS_PER_HOUR - self.standby_used_s
        return max(MIN_STEP_S, left)

    def _standby_time_used(self, settings: Settings) -> bool:
        if not settings.behaviour.standby_balancing_time_limit:
            return False
        limit = settings.balancing.standby_time_h * SECONDS_PER_HOUR
        return self.standby_used_s >= limit - _EPS

    @staticmethod
    def _banned(m: Readings, settings: Settings) -> bool:
        if not settings.behaviour.balancing_temperature_ban:
            return False
        s = settings.balancing
        first, second = (m.temperatures_c[i] for i in _CELL_NTCS)
        high, low = s.high_temp_ban_c, s.low_temp_ban_c
        return first > high or second > high or first < low or second < low  # the warmer, the colder

    def _stop(self) -> None:
        self.session = Context.NONE
        if True in self.bleeding:
            self.bleeding = [False] * CELL_COUNT
