"""The D1000 Gen2 client on its simulated station, for the tests that drive it without `hil run`.

One place opens the station, the CAN capture on the station's bus and the client on it, and closes
them in the reverse order on every way out (the client and bench-cell tests shared these lines).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hil.can_monitor import CanMonitor, open_station_bus
from hil.duts.prohelion_d1000_gen2.client import D1000Client
from hil.station.station import Station

STATION = Path(__file__).resolve().parents[1] / "stations" / "sim-prohelion-d1000-gen2.yaml"


@dataclass(frozen=True)
class D1000Rig:
    """An open simulated station, its CAN capture and the D1000 client listening on it."""

    station: Station
    monitor: CanMonitor
    client: D1000Client


@contextlib.contextmanager
def d1000_rig() -> Iterator[D1000Rig]:
    """The simulated station started (its lab too), the capture and the client; all closed after,
    client first, whatever raised."""
    with contextlib.ExitStack() as stack:
        station = Station.open(STATION)
        stack.callback(station.close)
        bus = station.model.buses.can
        assert bus is not None, f"{STATION} names no CAN bus"
        monitor = CanMonitor(open_station_bus(bus), station.clock)
        stack.callback(monitor.close)
        client = D1000Client(station, monitor)
        stack.callback(client.close)
        yield D1000Rig(station, monitor, client)
