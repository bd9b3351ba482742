"""SOC and cycle counting of the firmware (SOC-INIT, CYC).

SOC starts from the OCV table at boot and is then coulomb-counted against the rated capacity.
OUR CHOICE: the boot estimate uses the LOWEST cell, not the average — a series string is empty
when its weakest cell is, so this is the conservative reading of "estimation of core voltage".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hil.duts.bms12100.ocv import soc_from_ocv

SECONDS_PER_HOUR = 3600.0


@dataclass
class CoulombCounter:
    """State of charge (%), cycle count and the discharge accumulated towards the next cycle."""

    soc_pct: float = 0.0
    cycles: int = 0
    discharged_ah: float = 0.0

    def init_from_cells(self, cell_mv: Sequence[float]) -> None:
        """SOC-INIT: SOC from the OCV of the lowest measured cell."""
        self.soc_pct = soc_from_ocv(min(cell_mv) / 1000.0)

    def count(self, current_a: float, dt: float, rated_ah: float, cycle_threshold_pct: float) -> None:
        """Integrate the measured current over dt (+ = charge); clamp SOC to 0–100 %."""
        ah = current_a * dt / SECONDS_PER_HOUR
        self.soc_pct = min(100.0, max(0.0, self.soc_pct + 100.0 * ah / rated_ah))
        if ah < 0.0:
            self.discharged_ah -= ah
            per_cycle = rated_ah * cycle_threshold_pct / 100.0
            while self.discharged_ah >= per_cycle:
                self.cycles += 1
                self.discharged_ah -= per_cycle

    def set_remaining(self, ah: float, rated_ah: float) -> None:
        """The host software's "residual capacity" setting."""
        if not 0.0 <= ah <= rated_ah:
            raise ValueError(f"remaining capacity {ah} Ah is outside 0..{rated_ah} Ah")
        self.soc_pct = 100.0 * ah / rated_ah
