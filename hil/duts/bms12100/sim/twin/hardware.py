"""SIM-ONLY per-unit hardware faults (settings section `hardware`): what they do to the twin.

A good unit has none. Each models one defect an EOL test must catch on the unit: a measurement
channel's extra gain/offset error (ACC-CV, ACC-I, ACC-T), a MOSFET that does not open (CV-OVP,
CV-UVP, SCP), the short-circuit comparator's level (SCP), the sleep current (PM-SLEEP-I), an open
bleed resistor (BAL-CHG); the power path's extra resistance (EL-RDS) acts in the plant.
"""

from __future__ import annotations

from dataclasses import replace

from hil.duts.bms12100.config import Hardware, Settings
from hil.duts.bms12100.sim.twin.frontend import Frontend
from hil.models.channel import ChannelError


def _worse(ch: ChannelError, gain: float, offset: float) -> ChannelError:
    return replace(ch, gain=ch.gain + gain, offset=ch.offset + offset)


def frontend(base: Frontend, hw: Hardware) -> Frontend:
    """The unit's front end with the faulted channels' extra errors (unchanged for a good unit)."""
    cells = list(base.cells)
    if hw.cell_channel:
        i = hw.cell_channel - 1
        cells[i] = _worse(cells[i], hw.cell_gain, hw.cell_offset_mv / 1000.0)
    temps = list(base.temperatures)
    if hw.ntc_channel:
        i = hw.ntc_channel - 1
        temps[i] = _worse(temps[i], 0.0, hw.ntc_offset_c)
    return replace(
        base,
        cells=tuple(cells),
        current=_worse(base.current, hw.current_gain, hw.current_offset_a),
        temperatures=tuple(temps),
    )


def firmware_view(settings: Settings) -> Settings:
    """The settings the firmware acts on: the comparator's level replaces `fixed.short_circuit_a`."""
    level = settings.hardware.short_circuit_level_a
    if level is None or level == settings.fixed.short_circuit_a:
        return settings
    out = settings.model_copy(deep=True)
    out.fixed.short_circuit_a = level
    return out


def bleed(currents: list[float], hw: Hardware) -> list[float]:
    """The bleed currents with an open bleed resistor's cell at zero."""
    if not hw.open_bleed_cell:
        return currents
    return [0.0 if i == hw.open_bleed_cell - 1 else a for i, a in enumerate(currents)]
