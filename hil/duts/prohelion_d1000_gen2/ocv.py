"""The D1000 Gen2's cell OCV table (SoC ↔ open-circuit voltage) and its interpolation.

The table is the vendor's: the default of the V1.2 configuration parameter `cellSocLookupTable`
(index 0x160, 101 entries in mV, entry i = i % SoC; `references/.../Configuration_Parameters.md`).
It is a configuration parameter, so the twin always reads it from the configuration
(`D1000Config.cell_soc_lookup_table`); this module holds the default and the arithmetic.
OUR READING of a shorter table (`cellSocLookupTableLength` N < 101): its N entries are spaced
evenly from 0 % to 100 % SoC. Between entries the functions interpolate linearly; outside the
table they clamp to its ends.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from hil.models.ocv import interpolate

#: Vendor default of cellSocLookupTable, in mV (entry i is the OCV at i % SoC).
DEFAULT_OCV_TABLE_MV: tuple[int, ...] = (
    2500, 2715, 2826, 2904, 2958, 3005, 3044, 3083, 3105, 3133,
    3180, 3222, 3250, 3281, 3309, 3338, 3363, 3385, 3399, 3412,
    3424, 3434, 3445, 3453, 3463, 3473, 3483, 3494, 3504, 3514,
    3524, 3534, 3543, 3551, 3559, 3567, 3575, 3582, 3589, 3598,
    3604, 3612, 3620, 3627, 3635, 3643, 3652, 3660, 3669, 3679,
    3688, 3699, 3709, 3720, 3731, 3741, 3750, 3760, 3769, 3781,
    3790, 3800, 3808, 3818, 3828, 3836, 3844, 3854, 3861, 3869,
    3877, 3885, 3893, 3901, 3910, 3921, 3931, 3944, 3957, 3971,
    3985, 3998, 4010, 4020, 4033, 4043, 4051, 4056, 4061, 4065,
    4069, 4073, 4077, 4082, 4087, 4092, 4100, 4111, 4126, 4152,
    4200,
)  # fmt: skip

#: The same table in volts, as the configuration holds it.
DEFAULT_OCV_TABLE_V: tuple[float, ...] = tuple(mv / 1000.0 for mv in DEFAULT_OCV_TABLE_MV)


@functools.cache  # asked for each snapshot (every 100 ms of telemetry), always for one table length
def soc_points(length: int) -> tuple[float, ...]:
    """The SoC (%) of each entry of a table of `length` entries (evenly spaced, 0 % to 100 %)."""
    if length < 2:
        raise ValueError(f"an OCV table needs at least 2 entries, got {length}")
    return tuple(100.0 * i / (length - 1) for i in range(length))


def soc_from_ocv(cell_v: float, table_v: Sequence[float] = DEFAULT_OCV_TABLE_V) -> float:
    """SoC (%) of a rested cell whose open-circuit voltage is `cell_v` (V); clamps outside the table."""
    return interpolate(cell_v, table_v, soc_points(len(table_v)))


def ocv_from_soc(soc_pct: float, table_v: Sequence[float] = DEFAULT_OCV_TABLE_V) -> float:
    """Open-circuit voltage (V) of a rested cell at `soc_pct` (%); clamps outside 0–100 %."""
    return interpolate(soc_pct, soc_points(len(table_v)), table_v)
