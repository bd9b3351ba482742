"""Charge control of the Main 2.x firmware (S8 "3.5.1 Charge control"): Ton, Toff and the EV level.

Two relays serve charging: the charging relay (contactor) and the allow-charging relay (signal to the
charger). With the charger signal (or in mode "always") both close after Ton; when the signal goes,
or on a power-down request, allow-charging opens at once and the charging relay after Toff. A cell
above EV during charge opens allow-charging only; OUR READING: it stays open until the charger signal
goes (the documentation does not say what re-closes it). A charge-inhibiting error opens both at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from hil.duts.movicom_main_2.config import ChargeControl

_EPS = 1e-9


@dataclass
class ChargeTimers:
    """The state of charge control between firmware cycles."""

    charger_since: float | None = None  # charger signal present since
    lost_at: float | None = None  # charger signal lost while charging (Toff runs)
    was_charging: bool = False
    ev_latched: bool = False

    def update(
        self,
        t: float,
        cc: ChargeControl,
        charger: bool,
        charge_ok: bool,
        max_cell_v: float | None,
        ev_enabled: bool,
        scale: float,
    ) -> tuple[bool, bool]:
        """(allow-charging, charging) relay demands at time `t`; `scale` 0 removes the delays (a mutant)."""
        if charger:
            self.charger_since = t if self.charger_since is None else self.charger_since
            self.lost_at = None
        else:
            if self.charger_since is not None and self.was_charging:
                self.lost_at = t
            self.charger_since = None
            self.ev_latched = False
        on = self.charger_since is not None and t - self.charger_since >= cc.ton_s * scale - _EPS
        in_toff = self.lost_at is not None and t - self.lost_at < cc.toff_s * scale - _EPS
        if on and charge_ok and ev_enabled and max_cell_v is not None and max_cell_v > cc.ev_cell_v:
            self.ev_latched = True
        charging = charge_ok and (on or in_toff)
        self.was_charging = (charging and on) or (self.was_charging and in_toff)
        return charge_ok and on and not self.ev_latched, charging

    def deadlines(self, cc: ChargeControl, scale: float) -> list[float]:
        """When Ton or Toff next expires (past ones included; the caller keeps the future ones)."""
        out = []
        if self.charger_since is not None:
            out.append(self.charger_since + cc.ton_s * scale)
        if self.lost_at is not None:
            out.append(self.lost_at + cc.toff_s * scale)
        return out
