"""State of charge (PH-SOC): initialised from the OCV table, then coulomb-counted against packCapacity.

The firmware estimates SoC once the cells have been read at start-up (end of INITIALISE): from the
configured `cellSocLookupTable` at the MEAN of the present cells (OUR CHOICE: the documentation
says only "single cell voltages associated with its index as state of charge"; the mean is the
pack-level reading of a series string). From then on it integrates the measured current
(+ = discharge) over packCapacity and clamps to 0–100 %. SoH is not modelled (100 %).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hil.duts.prohelion_d1000_gen2.ocv import ocv_from_soc, soc_from_ocv

SECONDS_PER_HOUR = 3600.0
UNINFORMED_SOC_PCT = 50.0  # the start value of a unit that does not use its OCV table (mutant)


@dataclass
class SocEstimator:
    """The firmware's SoC (%) and whether it has been initialised since boot."""

    soc_pct: float = 0.0
    initialised: bool = False

    def initialise(self, cell_v: Sequence[float], table_v: Sequence[float], from_ocv: bool = True) -> None:
        """Start from the OCV of the mean present cell (or 50 % when the table is not used)."""
        if from_ocv and cell_v:
            self.soc_pct = soc_from_ocv(sum(cell_v) / len(cell_v), table_v)
        else:
            self.soc_pct = UNINFORMED_SOC_PCT
        self.initialised = True

    def count(self, current_a: float, dt: float, capacity_ah: float) -> None:
        """Integrate the measured current over dt (+ = discharge); clamp to 0–100 %."""
        if not self.initialised or dt <= 0.0:
            return
        delta = 100.0 * current_a * dt / SECONDS_PER_HOUR / capacity_ah
        self.soc_pct = min(100.0, max(0.0, self.soc_pct - delta))

    def capacity_ah(self, capacity_ah: float) -> float:
        """Remaining charge (SoCCapacity)."""
        return self.soc_pct * capacity_ah / 100.0

    def ocv_v(self, table_v: Sequence[float]) -> float:
        """The cell OCV the SoC corresponds to (OCV_mV, in V)."""
        return ocv_from_soc(self.soc_pct, table_v)
