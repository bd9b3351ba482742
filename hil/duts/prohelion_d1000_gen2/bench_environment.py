"""The D1000 bench's BMU environment (PH-ENV): a climatic chamber around the BMU (terminal AIR) and
a pressure controller on its sensor's enclosure (terminal ENCLOSURE), set and waited for on the
station's clock. Both are optional on a station: a test that needs one gets a bench error naming it.

The EOL profile sends the chamber's air towards its next level (`head_air`) and lets other tests
run meanwhile; `air_heading` tells the bench to keep the chamber running between them. On a line
the chamber keeps the air where the last unit left it: `air_at_start` reads it before the run is
ordered and `first_side` picks the side the travel starts from, `already_hot` where the humidity probes
go (docs/eol.md).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from pathlib import Path

from hil.clock import Clock
from hil.duts.prohelion_d1000_gen2.terminals import AIR, ENCLOSURE
from hil.errors import BenchError
from hil.instruments.bank import TerminalBank
from hil.instruments.roles import ChamberReading, ClimaticChamber, PressureController
from hil.station.station import Station, load_station

#: the longest single wait of a poll (the bench's MAX_WAIT_S: its BMS commands keep coming)
POLL_S = 1.0
#: the ambient the air returns to when the station file gives none (°C, %RH)
AMBIENT_C = 25.0
AMBIENT_PCT = 40.0


def air_at_start(station_file: Path) -> float | None:
    """The chamber's air temperature (°C) before the run, read from the chamber (MON?, nothing set).

    None where nothing is there to read: a station without a chamber, a simulated station whose
    run starts a lab of its own (its chamber powers on with the air at the lab's ambient), or a
    chamber that does not answer (the run's own checks then report it)."""
    model = load_station(station_file)
    name = next((n for n, inst in model.instruments.items() if inst.role == "climatic_chamber"), None)
    if name is None or (model.simulated and not (model.sim and model.sim.attach)):
        return None
    try:
        station = Station.open(station_file)
    except Exception:
        return None
    try:
        chamber = station.named(name, ClimaticChamber)
        return chamber.monitor().temperature
    except Exception:
        return None
    finally:  # only read: nothing to make safe; close the chamber and the lab connection
        for inst in station.opened.values():
            with contextlib.suppress(Exception):
                inst.close()
        if station.sim is not None:
            with contextlib.suppress(Exception):
                station.sim.stop()


def first_side(air_c: float | None, cold_inside: float, hot_inside: float) -> str:
    """The side of the temperature range the chamber's travel starts from: "Min" when the air is
    nearer the cold inside level than the hot one, else "Max" (also when the air is unknown: a
    fresh chamber at ambient)."""
    if air_c is not None and abs(air_c - cold_inside) < abs(air_c - hot_inside):
        return "Min"
    return "Max"


def already_hot(air_c: float | None, hot_inside: float, ambient_c: float) -> bool:
    """True when the air starts nearer the hot inside level than the ambient (a line's previous unit
    left it there): the heating no longer gives the humidity probes a travel to ride on, so the EOL
    runs them after the Max side, while the air cools towards the cold side."""
    return air_c is not None and abs(air_c - hot_inside) < abs(air_c - ambient_c)


class BmuEnvironment:
    """The chamber and the pressure controller around the BMU, as the PH-ENV tests drive them."""

    def __init__(self, station: Station, wait: Callable[[float], None]) -> None:
        """`wait`: the bench's wait (in pieces, so the BMS commands keep coming)."""
        self.station_name = station.model.name
        self.clock: Clock = station.clock
        self.expectations = station.model.expectations
        self.wait = wait
        self.chamber = TerminalBank(station, "climatic_chamber", ClimaticChamber).get(AIR)
        self.pressure = TerminalBank(station, "pressure_controller", PressureController).get(ENCLOSURE)
        #: where the chamber's air is heading while no test waits for it (head_air), None: standby
        self.air_heading: float | None = None

    def need_chamber(self) -> ClimaticChamber:
        """The climatic chamber around the BMU; a station without one cannot run the test (bench error)."""
        if self.chamber is None:
            raise BenchError(
                f"station {self.station_name} has no climatic chamber around the BMU (role "
                f"climatic_chamber, terminal {AIR}): the BMU temperature/humidity limits are not tested"
            )
        return self.chamber

    def need_pressure(self) -> PressureController:
        """The pressure controller on the BMU's sensor enclosure; without one the test cannot run."""
        if self.pressure is None:
            raise BenchError(
                f"station {self.station_name} has no pressure controller on the BMU's sensor "
                f"enclosure (role pressure_controller, terminal {ENCLOSURE}): the pressure limits are "
                "not tested"
            )
        return self.pressure

    def set_air(self, celsius: float, percent: float | None = None) -> ChamberReading:
        """The chamber to `celsius` (and `percent` %RH, None: humidity not controlled), waited until
        settled (the station's band and soak); returns the chamber's monitor then."""
        chamber = self.need_chamber()
        chamber.set_humidity(percent)
        chamber.set_temperature(celsius)
        chamber.run()
        self.air_heading = None
        return self._settled(chamber, self.expectations.get("chamber_band_c", 0.5))

    def set_humidity(self, percent: float) -> ChamberReading:
        """The chamber's humidity to `percent` %RH, waited until it settled; the temperature keeps
        heading where `head_air` sent it (its travel goes on, not waited for)."""
        chamber = self.need_chamber()
        chamber.set_humidity(percent)
        chamber.run()
        return self._settled(chamber, math.inf)

    def _settled(self, chamber: ClimaticChamber, band_c: float) -> ChamberReading:
        exp = self.expectations
        done = chamber.wait_settled(
            self.clock,
            band_c,
            exp.get("chamber_band_pct", 2.0),
            exp.get("chamber_soak_s", 60.0),
            exp.get("chamber_timeout_s", 3600.0),
            poll_s=POLL_S,
        )
        if not done.settled:
            raise BenchError(done.detail)
        return chamber.monitor()

    def head_air(self, celsius: float) -> None:
        """Send the chamber's air towards `celsius` (humidity not controlled) without waiting: it
        travels while other tests run (EOL: they do not depend on the air inside the BMU's limits),
        and the chamber is kept running between tests until a test settles or ends it."""
        chamber = self.need_chamber()
        chamber.set_humidity(None)
        chamber.set_temperature(celsius)
        chamber.run()
        self.air_heading = celsius

    def pass_air(self, celsius: float, onward: float) -> float:
        """Head the air for `onward` and wait until it has passed `celsius` on the way, then the
        station's soak (the travel goes on); the chamber's air temperature then."""
        chamber = self.need_chamber()
        exp = self.expectations
        self.head_air(onward)
        sign = 1.0 if onward >= celsius else -1.0
        passed, _ = self.clock.wait_until(
            lambda: (chamber.monitor().temperature - celsius) * sign >= 0.0,
            exp.get("chamber_timeout_s", 3600.0),
            POLL_S,
        )
        if not passed:
            raise BenchError(
                f"{chamber.name}: the air did not pass {celsius:g} °C on its way to {onward:g} °C"
            )
        self.wait(exp.get("chamber_soak_s", 60.0))
        return chamber.monitor().temperature

    def set_enclosure(self, kpa: float) -> float:
        """The enclosure to `kpa` absolute, waited until the controller is in limits; returns its reading."""
        pressure = self.need_pressure()
        exp = self.expectations
        pressure.set_in_limits(exp.get("pressure_inlimits_pct_fs", 0.05), exp.get("pressure_inlimits_s", 2.0))
        pressure.set_pressure(kpa)
        pressure.set_output(True)
        done = pressure.wait_settled(self.clock, exp.get("pressure_timeout_s", 120.0), poll_s=POLL_S)
        if not done.settled:
            raise BenchError(done.detail)
        return pressure.measure_pressure()

    def ambient_air(self) -> None:
        """The chamber back to the station's ambient (settled), then standby."""
        exp = self.expectations
        celsius = exp.get("ambient_temperature_c", AMBIENT_C)
        self.set_air(celsius, exp.get("ambient_humidity_pct", AMBIENT_PCT))
        self.need_chamber().standby()

    def air_note(self) -> str:
        """Where the chamber's air is, for a message about a BMU that will not leave SAFE: in EOL
        the air travels between tests, so an environment limit inside the probes' levels shows
        as a fault there ("" without a chamber)."""
        if self.chamber is None:
            return ""
        reading = self.chamber.monitor()
        return f"; the chamber's air at {reading.temperature:g} °C, {reading.humidity} %RH ({reading.mode})"
