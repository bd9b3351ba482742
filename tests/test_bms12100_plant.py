"""The 12100 bench model (Bms12100Plant) driven as a test plan drives it: the simulated instruments of
the station file programmed with their own SCPI strings (`execute()`, no sockets), readbacks through
their MEASure queries, virtual time through the lab. Checks what only the electrical model shows:
balancing bleed on the cell emulator, precharge on the load path, the supply current in sleep on
the DMM, the short-circuit trip time when the load shorts, the lock cycle, determinism per seed.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, cast

import pytest

from hil.duts.bms12100 import ntc
from hil.duts.bms12100.protocol.snapshot import Mode
from hil.duts.bms12100.sim.plant import Bms12100Plant
from hil.duts.bms12100.sim.twin import (
    AWAKE_SUPPLY_A,
    BLEED_CURRENT_A,
    PRECHARGE_OHM,
    Bms12100Twin,
    HistoryEvent,
)
from hil.duts.bms12100.sim.twin.frontend import CURRENT_RANGE_A
from hil.sim.instruments.base import SimInstrument
from hil.sim.lab import Lab
from hil.station.station import load_station

STATION = Path(__file__).resolve().parents[1] / "stations" / "sim-bms12100.yaml"
NTC_ADDRESSES = {"T_CELL1": 5, "T_CELL2": 6, "T_AMB": 7, "T_MOS": 8}
CELL_V = 3.3
PACK_V = 4 * CELL_V


def ntc_data(temp_c: float) -> str:
    """PRS-202 resistance string (10 digits, 0.1 Ω steps) for the DUT's NTC at `temp_c`."""
    return f"000{round(ntc.resistance_ohm(temp_c) / 0.1):07d}"


class Rig:
    """One simulated bench: the lab, its instruments by role, SCPI helpers."""

    def __init__(self, seed: int = 1, settings: dict[str, Any] | None = None) -> None:
        self.lab = Lab(load_station(STATION), settings=settings, seed=seed)
        named = self.lab.instruments
        self.charger, self.load, self.cells = named["charger"], named["load"], named["cells"]
        self.ntc, self.daq = named["ntc"], named["daq"]
        for address in NTC_ADDRESSES.values():
            self.scpi(self.ntc, f"++addr {address}")
            self.scpi(self.ntc, f"SOURce:DATA {ntc_data(25.0)}")

    def scpi(self, inst: SimInstrument, line: str) -> str | None:
        """Send one command; the instrument must not report an error for it."""
        answer = inst.execute(line)
        if not line.startswith("++"):
            error = inst.execute("SYSTem:ERRor?")
            assert error is not None and error.startswith("0,"), (line, error)
        return answer

    def query(self, inst: SimInstrument, line: str) -> float:
        answer = self.scpi(inst, line)
        assert answer is not None, line
        return float(answer.split(",")[0])

    def set_cells(self, *volts: float) -> None:
        for channel, v in enumerate(volts, start=1):
            self.scpi(self.cells, f"VOLTage {v},(@{channel})")

    def power_up(self, *volts: float) -> float:
        """Cells on; the BMS boots at once (the lab's shortest step). Returns the boot time."""
        self.set_cells(*(volts or (CELL_V,) * 4))
        self.scpi(self.cells, "CURRent:LIMit 3,(@1:4)")
        self.scpi(self.cells, "OUTPut ON,(@1:4)")
        self.advance(1e-6)
        assert self.plant.powered
        return self.lab.t

    def set_ntc(self, terminal: str, temp_c: float) -> None:
        self.scpi(self.ntc, f"++addr {NTC_ADDRESSES[terminal]}")
        self.scpi(self.ntc, f"SOURce:DATA {ntc_data(temp_c)}")

    def load_on(self, amps: float) -> None:
        self.scpi(self.load, f"CURRent {amps}")
        self.scpi(self.load, "INPut ON")

    def charger_on(self, volts: float, amps: float) -> None:
        self.scpi(self.charger, f"VOLTage {volts}")
        self.scpi(self.charger, f"CURRent {amps}")
        self.scpi(self.charger, "OUTPut ON")

    def advance(self, seconds: float) -> None:
        self.lab.advance(seconds)

    def advance_to(self, t: float) -> None:
        self.lab.advance(t - self.lab.t)

    def cell_current(self, channel: int) -> float:
        """Current the cell emulator sources on one channel (positive: out of the emulator)."""
        return self.query(self.cells, f"MEASure:CURRent? (@{channel})")

    def supply_current(self) -> float:
        return self.query(self.daq, "MEASure:CURRent? (@121)")

    def p_voltage(self) -> float:
        return self.query(self.daq, "MEASure:VOLTage? (@102)")

    def events(self, rid: str, kind: str | None = None) -> list[HistoryEvent]:
        return [e for e in self.twin.history if e.rid == rid and (kind is None or e.kind == kind)]

    @property
    def plant(self) -> Bms12100Plant:
        plant = self.lab.plant
        assert isinstance(plant, Bms12100Plant)
        return plant

    @property
    def twin(self) -> Bms12100Twin:
        return self.plant.twin

    def mode(self) -> Mode:
        return self.twin.mode


def test_supply_current_awake_and_asleep_through_the_dmm() -> None:
    rig = Rig(settings={"power_management": {"max_standby_h": 1}})
    boot = rig.power_up()
    assert rig.supply_current() == pytest.approx(AWAKE_SUPPLY_A, abs=2e-4)
    assert rig.cell_current(1) == pytest.approx(AWAKE_SUPPLY_A, abs=2e-4)
    rig.advance_to(boot + 3599.0)
    assert rig.mode() is Mode.STANDBY
    rig.advance(2.0)
    assert rig.mode() is Mode.SHUTDOWN
    assert rig.events("PM-SLEEP", "trigger")[0].time == pytest.approx(boot + 3600.0, abs=1e-6)
    sleep_a = rig.supply_current()
    assert 0.0 < sleep_a <= 10e-6  # PM-SLEEP-I
    assert rig.cell_current(3) == pytest.approx(sleep_a, abs=2e-6)
    rig.advance(600.0)  # nothing connected: P+ sits at the pack voltage, no wake-up
    assert rig.mode() is Mode.SHUTDOWN
    rig.charger_on(14.0, 5.0)  # a charger wakes it (PM-WAKE)
    rig.advance(1.0)
    assert rig.mode() is Mode.CHARGE
    assert rig.events("PM-SLEEP", "release")[0].detail == "wake: charger"
    assert rig.supply_current() == pytest.approx(AWAKE_SUPPLY_A, abs=2e-4)


def test_precharge_limits_the_load_current_for_2000_ms() -> None:
    rig = Rig()
    rig.load_on(5.0)
    boot = rig.power_up()
    limited = PACK_V / PRECHARGE_OHM + AWAKE_SUPPLY_A
    for at in (boot + 0.1, boot + 1.0, boot + 1.99):
        rig.advance_to(at)
        assert rig.twin.precharge_active
        assert rig.cell_current(2) == pytest.approx(limited, abs=2e-3)
        assert rig.query(rig.load, "MEASure:CURRent?") < 0.5  # P+ collapsed: the load gets nothing
    rig.advance_to(boot + 2.01)
    assert not rig.twin.precharge_active
    assert rig.cell_current(2) == pytest.approx(5.0 + AWAKE_SUPPLY_A, abs=5e-3)
    assert rig.query(rig.load, "MEASure:CURRent?") == pytest.approx(5.0, abs=0.2)


def test_precharge_shows_on_p_plus_under_a_small_load() -> None:
    rig = Rig()
    rig.load_on(0.3)
    boot = rig.power_up()
    rig.advance_to(boot + 1.9)
    assert rig.p_voltage() == pytest.approx(PACK_V - 0.3 * PRECHARGE_OHM, abs=0.02)
    rig.advance_to(boot + 2.01)
    assert rig.p_voltage() == pytest.approx(PACK_V, abs=0.02)


def test_balancing_bleed_shows_on_the_cell_emulator_channels() -> None:
    rig = Rig()
    rig.power_up(3.45, 3.38, 3.38, 3.38)
    rig.advance(5.0)
    assert rig.twin.telemetry().balancing == [True, False, False, False]
    assert rig.cell_current(1) == pytest.approx(AWAKE_SUPPLY_A + BLEED_CURRENT_A, abs=2e-4)
    for channel in (2, 3, 4):
        assert rig.cell_current(channel) == pytest.approx(AWAKE_SUPPLY_A, abs=2e-4)
    rig.set_ntc("T_CELL2", 55.0)  # BAL-HT: no balancing above 50 °C on a cell NTC
    rig.advance(1.0)
    assert rig.cell_current(1) == pytest.approx(AWAKE_SUPPLY_A, abs=2e-4)
    rig.set_ntc("T_CELL2", 25.0)
    rig.advance(1.0)
    assert rig.cell_current(1) == pytest.approx(AWAKE_SUPPLY_A + BLEED_CURRENT_A, abs=2e-4)


def test_short_circuit_trips_within_its_delay_when_the_load_shorts() -> None:
    rig = Rig()
    rig.power_up()
    rig.load_on(5.0)
    rig.advance(3.0)
    assert rig.twin.discharge_path_closed and not rig.twin.precharge_active
    rig.scpi(rig.load, "INPut:SHORt ON")
    shorted = rig.lab.t
    rig.advance(0.01)
    [scp] = rig.events("SCP", "trigger")
    assert scp.time - shorted == pytest.approx(300e-6, abs=1e-9)
    assert scp.snapshot.current_a == -CURRENT_RANGE_A  # the ADC saturates; SCP is a comparator
    assert "ID-TOCP" not in rig.twin.active_ids()
    assert not rig.twin.discharge_path_closed
    assert rig.cell_current(1) == pytest.approx(AWAKE_SUPPLY_A, abs=2e-4)


def test_short_circuit_lock_after_5_shorts_until_a_charger_is_connected() -> None:
    rig = Rig()
    rig.power_up()
    rig.advance(3.0)
    rig.load_on(5.0)
    rig.scpi(rig.load, "INPut:SHORt ON")
    rig.advance(5 * 62.1)
    times = [e.time for e in rig.events("SCP", "trigger")]
    assert len(times) == 5
    for before, after in itertools.pairwise(times):  # automatic release, 2 s precharge, short again
        assert after - before == pytest.approx(60.0 + 2.0 + 300e-6, abs=1e-6)
    assert "SCP-LOCK" in rig.twin.active_ids()
    rig.advance(600.0)
    assert len(rig.events("SCP", "trigger")) == 5  # locked: the output stays off
    rig.scpi(rig.load, "INPut:SHORt OFF")
    rig.scpi(rig.load, "INPut OFF")
    rig.advance(60.0)
    assert "SCP-LOCK" in rig.twin.active_ids()
    rig.charger_on(14.0, 10.0)
    rig.advance(1.0)
    assert "SCP-LOCK" not in rig.twin.active_ids()
    assert rig.events("SCP-LOCK", "release")[0].detail == "charger connected"
    assert rig.twin.discharge_path_closed


def test_transient_pulse_trips_id_tocp_after_100_ms() -> None:
    rig = Rig()
    rig.power_up()
    rig.advance(3.0)
    for line in (
        "CURRent:TRANsient:MODE PULSe",
        "CURRent:TRANsient:ALEVel 0",
        "CURRent:TRANsient:BLEVel 230",
        "CURRent:TRANsient:BWIDth 0.5",
        "TRANsient ON",
        "TRIGger:SOURce BUS",
        "INPut ON",
        "*TRG",
    ):
        rig.scpi(rig.load, line)
    pulse = rig.lab.t
    rig.advance(1.0)
    [tocp] = rig.events("ID-TOCP", "trigger")
    assert tocp.time - pulse == pytest.approx(0.1, abs=1e-6)
    assert not rig.events("SCP")


def test_charge_overcurrent_blocks_charging_and_re_checks_after_60_s() -> None:
    rig = Rig()
    rig.power_up()
    rig.advance(3.0)
    rig.charger_on(14.3, 120.0)  # (14.3 V - 13.2 V) / 10 mΩ = 110 A
    start = rig.lab.t
    rig.advance(85.0)
    times = [(round(e.time - start, 6), e.kind) for e in rig.events("IC-OCP")]
    assert times == [(10.0, "trigger"), (70.0, "release"), (80.0, "trigger")]
    assert rig.query(rig.charger, "MEASure:CURRent?") == pytest.approx(0.0, abs=0.2)


def scenario(seed: int) -> tuple[list[tuple[float, str, str, str]], list[float]]:
    rig = Rig(seed=seed)
    rig.power_up(3.45, 3.38, 3.39, 3.38)
    readings = []
    rig.load_on(20.0)
    rig.advance(5.0)
    readings += [rig.cell_current(1), rig.p_voltage(), rig.query(rig.load, "MEASure:CURRent?")]
    rig.scpi(rig.load, "INPut:SHORt ON")
    rig.advance(70.0)
    rig.scpi(rig.load, "INPut OFF")
    rig.charger_on(13.9, 20.0)
    rig.set_ntc("T_AMB", 61.0)
    rig.advance(10.0)
    readings += [rig.cell_current(1), rig.supply_current(), rig.query(rig.charger, "MEASure:CURRent?")]
    history = [(e.time, e.kind, e.rid, e.detail) for e in rig.twin.history]
    return history, readings


def test_same_seed_same_run() -> None:
    first, second, other = scenario(7), scenario(7), scenario(8)
    assert first == second
    assert {"SCP", "TE-OTP"} <= {rid for _, _, rid, _ in first[0]}
    assert first[1] != other[1]


class CountingPlant(Bms12100Plant):
    """The plant as it runs, counting the steps the lab makes it take."""

    steps = 0

    def step(self, t: float, dt: float) -> float:
        self.steps += 1
        return super().step(t, dt)


class EveryStepPlant(CountingPlant):
    """The reference: never settled, so the lab steps it one twin cycle at a time (no held steps)."""

    def _state(self) -> tuple[object, ...]:
        return (object(),)


def held_scenario(
    plant_class: type[Bms12100Plant], listening: bool = False
) -> tuple[list[object], list[HistoryEvent], int]:
    """Discharge, an over-voltage trip while charging, the automatic sleep and a charger wake-up, in
    long and short advances; what the bench and the DUT show after each, and the plant's steps.
    `listening`: a CAN client is connected, so the BMS broadcasts its telemetry every second, and
    what is shown after each advance includes the frames that advance put on the bus, in order."""
    rig = Rig(seed=3, settings={"power_management": {"max_standby_h": 1}})
    rig.lab.plant.__class__ = plant_class  # the same plant object, stepped as that class steps
    shown: list[object] = []
    frames: list[tuple[float, int, bytes, bool]] = []
    if listening:
        rig.plant.can_listeners = lambda: 1
        rig.lab.hub.publish = lambda *frame: frames.append(frame)  # type: ignore[method-assign]

    def look() -> None:
        tel = rig.twin.telemetry()
        shown.append(
            (rig.lab.t, tel, rig.plant.state(), rig.cell_current(2), rig.supply_current(), rig.p_voltage())
        )
        shown.append(list(frames))  # this advance's frames, with their timestamps
        frames.clear()

    rig.power_up()
    rig.load_on(5.0)
    for seconds in (0.3, 2.5, 100.0, 0.05, 250.0):
        rig.advance(seconds)
        look()
    rig.scpi(rig.load, "INPut OFF")
    rig.charger_on(14.6, 10.0)
    rig.advance(30.0)
    look()
    rig.set_cells(3.70, 3.30, 3.30, 3.30)  # CV-OVP trips inside the next advance: the paths change
    for seconds in (0.5, 40.0, 5.0):
        rig.advance(seconds)
        look()
    rig.scpi(rig.charger, "OUTPut OFF")
    rig.set_cells(3.30, 3.30, 3.30, 3.30)
    rig.advance(3700.0)  # standby past max_standby_h: PM-SLEEP shuts it down inside the advance
    look()
    rig.advance(600.0)
    look()
    rig.charger_on(14.6, 10.0)  # the charger wakes it
    for seconds in (0.2, 90.0):
        rig.advance(seconds)
        look()
    plant = rig.lab.plant
    assert isinstance(plant, CountingPlant)
    return shown, list(rig.twin.history), plant.steps


def test_held_steps_give_exactly_what_stepping_every_cycle_gives() -> None:
    held, held_history, held_steps = held_scenario(CountingPlant)
    every, every_history, every_steps = held_scenario(EveryStepPlant)
    assert held == every
    assert held_history == every_history  # times, readings and details of every trip and release
    assert {"CV-OVP", "PM-SLEEP"} <= {e.rid for e in held_history}  # paths and mode changed inside
    assert held_steps < every_steps / 10  # and the held steps did hold


def test_held_steps_with_a_can_listener_give_the_same_frames_at_the_same_times() -> None:
    held, held_history, held_steps = held_scenario(CountingPlant, listening=True)
    every, every_history, every_steps = held_scenario(EveryStepPlant, listening=True)
    assert held == every  # the bench, the DUT, and each advance's frames, timestamps and order
    assert held_history == every_history
    assert {"CV-OVP", "PM-SLEEP"} <= {e.rid for e in held_history}
    frames = [frame for batch in held[1::2] for frame in cast(list[Any], batch)]
    assert len(frames) > 20_000  # a frame set every second while awake, from inside the held steps
    assert held_steps < every_steps / 10
