"""Kept for importers of the old place: the interrupt machinery is `hil.interrupts` (core, below
the station, so instruments and the record may use it)."""

from __future__ import annotations

from hil.interrupts import (
    SIGNALS,
    install,
    installed,
    last_signal,
    safe_state_section,
    shielded,
    stopping,
    uninstall,
)

__all__ = [
    "SIGNALS",
    "install",
    "installed",
    "last_signal",
    "safe_state_section",
    "shielded",
    "stopping",
    "uninstall",
]
