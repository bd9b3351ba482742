"""Working mode of the firmware (seed §6.2; MODE-CHG, MODE-DSG, MODE-STBY, I-EFF-C, I-EFF-D).

Charge mode is entered when the charger voltage exceeds `fixed.charge_mode_min_charger_v` and the
charge current reaches the effective charging current (`enter_ma`); it is left when the current
falls below the exit current (`exit_ma`). Discharge mode likewise with the (negative) effective
discharge currents. Otherwise standby. Shutdown is decided by the twin, not here.
"""

from __future__ import annotations

from dataclasses import dataclass

from hil.duts.bms12100.config import Settings
from hil.duts.bms12100.protocol.snapshot import Mode


@dataclass
class ModeTracker:
    """Charge / discharge / standby with enter/exit hysteresis on the measured current."""

    mode: Mode = Mode.STANDBY

    def update(self, current_a: float, charger_v: float, settings: Settings) -> Mode:
        """The mode for this sample."""
        chg, dsg = settings.effective_charge_current, settings.effective_discharge_current
        if self.mode is Mode.CHARGE and current_a >= chg.exit_ma / 1000.0:
            return self.mode
        if self.mode is Mode.DISCHARGE and current_a <= dsg.exit_ma / 1000.0:
            return self.mode
        if charger_v > settings.fixed.charge_mode_min_charger_v and current_a >= chg.enter_ma / 1000.0:
            self.mode = Mode.CHARGE
        elif current_a <= dsg.enter_ma / 1000.0:
            self.mode = Mode.DISCHARGE
        else:
            self.mode = Mode.STANDBY
        return self.mode
