"""`hil sim serve --power-on`: the lab's DUT powered as a run powers it, then left on for a user's client.

A freshly started lab has every output off, as a real bench does. This does what a run's first
test does through the same drivers and the DUT family's bench helpers (cells at nominal, NTCs
neutral, the DUT woken and identified), then closes its connections without the safe state, so the
outputs stay on for whatever the user points at the lab.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hil import registry
from hil.can_monitor import CanMonitor, open_station_bus
from hil.sim.client import ControlClient
from hil.sim.clock import SimClock
from hil.station.model import StationModel
from hil.station.station import Station, bind_endpoints


def power_on(model: StationModel, file: Path, endpoints: dict[str, Any], paced: bool) -> dict[str, Any]:
    """Power the DUT of a running lab; returns its identity (as the DUT client reads it)."""
    bound = bind_endpoints(model, endpoints)
    control = ControlClient(endpoints["control"])
    family = registry.dut_family(model.dut.name)
    station = Station(bound, file, SimClock(control, paced=paced))
    monitor: CanMonitor | None = None
    client: Any = None
    try:
        can_bus = bound.buses.can
        if can_bus is not None and "can" in family.buses:
            monitor = CanMonitor(open_station_bus(can_bus), station.clock)
        client = family.load("client")(station, monitor)
        family.load("bench")(station, client).power_up()
        identity: dict[str, Any] = client.identity()
        return identity
    finally:
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
        if monitor is not None:
            with contextlib.suppress(Exception):
                monitor.close()
        for inst in station.opened.values():  # closed, not made safe: the outputs stay on
            with contextlib.suppress(Exception):
                inst.close()
        control.close()


def powered_note(model: StationModel, file: Path, paced: bool) -> Callable[[dict[str, Any]], str]:
    """The `after_start` of `hil sim serve --power-on`: powers the DUT, says so for the endpoints line."""

    def run(endpoints: dict[str, Any]) -> str:
        identity = power_on(model, file, endpoints, paced)
        serial = identity.get("serial", "")
        return f"on: cells at nominal, NTCs neutral, the DUT booted and talking (serial {serial})"

    return run
