"""LFP open-circuit voltage of one cell versus state of charge, for SOC-INIT.

The seed gives no OCV curve. OUR ASSUMPTION: a generic LiFePO4 curve at 25 °C after rest — steep
below ~3.2 V (2.50 V = 0 %, ~3.00 V ≈ 5 %), a flat plateau from 3.26 V to 3.33 V that holds most
of the capacity, and a steep top (~3.38 V ≈ 96 %, 3.45 V = 100 %). Both columns are strictly
increasing, so the table inverts exactly; between points the functions interpolate linearly and
outside the table they clamp to its ends.
"""

from __future__ import annotations

from hil.models.ocv import interpolate

# (cell volts, SOC %), strictly increasing in both columns.
OCV_TABLE: tuple[tuple[float, float], ...] = (
    (2.50, 0.0),
    (2.80, 1.0),
    (2.90, 2.5),
    (3.00, 5.0),
    (3.10, 8.0),
    (3.20, 13.0),
    (3.23, 18.0),
    (3.26, 25.0),
    (3.28, 40.0),
    (3.29, 50.0),
    (3.30, 62.0),
    (3.31, 72.0),
    (3.32, 80.0),
    (3.33, 88.0),
    (3.35, 93.0),
    (3.38, 96.0),
    (3.40, 97.5),
    (3.45, 100.0),
)

_VOLTS = tuple(v for v, _ in OCV_TABLE)
_SOCS = tuple(s for _, s in OCV_TABLE)


def soc_from_ocv(cell_v: float) -> float:
    """SOC (%) of a rested cell whose open-circuit voltage is `cell_v` (V); clamps outside the table."""
    return interpolate(cell_v, _VOLTS, _SOCS)


def ocv_from_soc(soc_pct: float) -> float:
    """Open-circuit voltage (V) of a rested cell at `soc_pct` (%); clamps outside 0–100 %."""
    return interpolate(soc_pct, _SOCS, _VOLTS)
