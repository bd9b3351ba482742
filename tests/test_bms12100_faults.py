"""Fault insertion on the simulated 12100 bench, at the plant: each relay of the station's switch role
(the simulated 34980A, programmed with its own SCPI) and what the BMS twin sees through it; the lab's
control-port command `fault_insert`; the switch's place in the safe order.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from hil.clock import WallClock
from hil.duts.bms12100 import ntc
from hil.duts.bms12100.protocol.rs485 import GetAnalogValues
from hil.duts.bms12100.protocol.snapshot import Mode
from hil.duts.bms12100.sim.plant import NTC_SHORT_OHM, Bms12100Plant
from hil.duts.bms12100.sim.twin import Bms12100Twin, HistoryEvent
from hil.duts.bms12100.sim.twin.frontend import NTC_MAX_C, NTC_MIN_C, Frontend, TerminalInputs
from hil.protocols.yd1363 import encode
from hil.sim.instruments.base import SimInstrument
from hil.sim.lab import Lab
from hil.sim.serve import LabServer, ServeOptions
from hil.station.station import Station, load_station

STATION = Path(__file__).resolve().parents[1] / "stations" / "sim-bms12100.yaml"
NTC_ADDRESSES = {"T_CELL1": 5, "T_CELL2": 6, "T_AMB": 7, "T_MOS": 8}
#: the fault points of the shipped station and their 34937A channels
RELAYS = {
    "BUTTON": 1029,
    "CELL1_SENSE_OPEN": 1001,
    "CELL2_SENSE_OPEN": 1002,
    "T_CELL1_OPEN": 1003,
    "T_CELL1_SHORT": 1004,
    "T_AMB_OPEN": 1005,
    "CAN_OPEN": 1006,
    "RS485_OPEN": 1007,
}
CELL_V = 3.3
#: the twin's cell readings stay within this of the true value (its error budget, frontend.py)
CELL_READING_MV = 12
#: below CV-UVP's 2800 mV trip, and above its 3100 mV release
UVP_CELL_V = 2.7
RECOVERED_CELL_V = 3.2


class Rig:
    """One simulated bench: the lab, its instruments, SCPI helpers, the fault relays."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.lab = Lab(load_station(STATION), settings=settings, seed=1)
        named = self.lab.instruments
        self.cells, self.ntc, self.daq, self.fiu = named["cells"], named["ntc"], named["daq"], named["fiu"]
        self.frames: list[tuple[float, int]] = []
        self.plant.can_listeners = lambda: 1  # as if a CAN client were connected
        self.plant.publish = lambda t, can_id, data: self.frames.append((t, can_id))
        for address in NTC_ADDRESSES.values():
            self.scpi(self.ntc, f"++addr {address}")
            self.scpi(self.ntc, f"SOURce:DATA 000{round(ntc.resistance_ohm(25.0) / 0.1):07d}")

    def scpi(self, inst: SimInstrument, line: str) -> str | None:
        """Send one command; the instrument must not report an error for it."""
        answer = inst.execute(line)
        if not line.startswith("++"):
            error = inst.execute("SYSTem:ERRor?")
            assert error is not None and error.startswith("0,"), (line, error)
        return answer

    def power_up(self, *volts: float) -> None:
        for channel, v in enumerate(volts or (CELL_V,) * 4, start=1):
            self.scpi(self.cells, f"VOLTage {v},(@{channel})")
        self.scpi(self.cells, "CURRent:LIMit 3,(@1:4)")
        self.scpi(self.cells, "OUTPut ON,(@1:4)")
        self.advance(1e-6)
        assert self.plant.powered

    def set_cell(self, channel: int, volts: float) -> None:
        self.scpi(self.cells, f"VOLTage {volts},(@{channel})")

    def relay(self, point: str, closed: bool) -> None:
        """Close (insert the fault) or open the relay of `point`, as the 34980A driver does."""
        self.scpi(self.fiu, f"ROUTe:{'CLOSe' if closed else 'OPEN'} (@{RELAYS[point]})")

    def advance(self, seconds: float) -> None:
        self.lab.advance(seconds)

    def trip_uvp(self) -> None:
        """CV-UVP tripped with cell 1 low, then cell 1 back above the release value (no charge)."""
        self.set_cell(1, UVP_CELL_V)
        self.advance(2.0)
        assert "CV-UVP" in self.twin.active_ids()
        self.set_cell(1, RECOVERED_CELL_V)
        self.advance(3.0)
        assert "CV-UVP" in self.twin.active_ids()  # a voltage alone does not release it

    def events(self, rid: str, kind: str) -> list[HistoryEvent]:
        return [e for e in self.twin.history if e.rid == rid and e.kind == kind]

    @property
    def plant(self) -> Bms12100Plant:
        plant = self.lab.plant
        assert isinstance(plant, Bms12100Plant)
        return plant

    @property
    def twin(self) -> Bms12100Twin:
        return self.plant.twin

    def cell_mv(self) -> list[float]:
        return list(self.twin.telemetry().cell_mv)

    def temperatures(self) -> list[float]:
        return list(self.twin.telemetry().temperatures_c)


# --- BUTTON -----------------------------------------------------------------------------------------
def test_button_press_reboots_and_rechecks_uvp_against_its_release_value() -> None:
    rig = Rig()
    rig.power_up()
    rig.trip_uvp()
    rig.relay("BUTTON", True)
    rig.advance(0.3)
    assert "CV-UVP" not in rig.twin.active_ids()
    assert rig.events("CV-UVP", "release")[-1].detail == "reboot re-check"
    rig.relay("BUTTON", False)
    rig.advance(1.0)
    assert rig.twin.mode is not Mode.SHUTDOWN  # opening the contact again does nothing


def test_button_press_below_the_release_value_keeps_uvp() -> None:
    rig = Rig()
    rig.power_up()
    rig.trip_uvp()
    rig.set_cell(1, 3.05)  # between trip (2800 mV) and release (3100 mV)
    rig.advance(2.0)
    rig.relay("BUTTON", True)
    rig.advance(2.0)
    assert "CV-UVP" in rig.twin.active_ids()
    assert not rig.events("CV-UVP", "release")


def test_a_held_button_presses_once() -> None:
    """Only the closing edge presses: a contact held closed does not reboot the BMS again."""
    rig = Rig()
    rig.power_up()
    rig.relay("BUTTON", True)
    rig.advance(0.5)
    rig.trip_uvp()  # tripped after the press, recovered voltage, button still held
    rig.advance(10.0)
    assert "CV-UVP" in rig.twin.active_ids()


def test_button_wakes_the_bms_from_shutdown() -> None:
    rig = Rig()
    rig.power_up()
    rig.set_cell(1, UVP_CELL_V)
    rig.advance(65.0)  # UVP, then the shutdown a minute later (PM-UVSD)
    assert rig.twin.mode is Mode.SHUTDOWN
    rig.frames.clear()
    rig.advance(5.0)
    assert rig.frames == []
    rig.relay("BUTTON", True)
    rig.advance(0.3)
    rig.relay("BUTTON", False)
    rig.advance(2.0)
    assert rig.twin.mode is not Mode.SHUTDOWN
    assert rig.events("PM-UVSD", "release")[-1].detail == "wake: button"
    assert rig.frames  # talking on CAN again


def test_button_does_not_wake_a_unit_without_button_wake_up() -> None:
    rig = Rig(settings={"behaviour": {"wake_on_button": False}})
    rig.power_up()
    rig.set_cell(1, UVP_CELL_V)
    rig.advance(65.0)
    rig.relay("BUTTON", True)
    rig.advance(2.0)
    assert rig.twin.mode is Mode.SHUTDOWN


# --- cell sense leads -----------------------------------------------------------------------------
def test_open_sense_lead_reads_zero_and_the_cell_above_reads_both() -> None:
    rig = Rig()
    rig.power_up(3.30, 3.31, 3.32, 3.33)
    rig.relay("CELL1_SENSE_OPEN", True)
    rig.advance(0.5)
    cells = rig.cell_mv()
    assert cells[0] <= CELL_READING_MV  # a unipolar ADC: never below 0
    assert cells[1] == pytest.approx(6610, abs=CELL_READING_MV)
    assert cells[2:] == pytest.approx([3320, 3330], abs=CELL_READING_MV)
    assert rig.twin.telemetry().pack_v == pytest.approx(13.26, abs=0.05)  # the pack is unchanged
    assert float(rig.scpi(rig.daq, "MEASure:VOLTage? (@103)") or 0) == pytest.approx(3.30, abs=1e-3)
    rig.advance(2.0)
    assert {"CV-UVP", "CV-OVP", "CELL-FAIL"} <= rig.twin.active_ids()
    rig.relay("CELL1_SENSE_OPEN", False)
    rig.advance(0.5)
    assert rig.cell_mv() == pytest.approx([3300, 3310, 3320, 3330], abs=CELL_READING_MV)


def test_two_open_sense_leads_float_together() -> None:
    rig = Rig()
    rig.power_up()
    rig.relay("CELL1_SENSE_OPEN", True)
    rig.relay("CELL2_SENSE_OPEN", True)
    rig.advance(0.5)
    cells = rig.cell_mv()
    assert max(cells[:2]) <= CELL_READING_MV
    assert cells[2] == pytest.approx(9900, abs=CELL_READING_MV)


# --- NTC inputs -----------------------------------------------------------------------------------
def test_ntc_open_reads_the_bottom_and_short_the_top_of_the_range() -> None:
    rig = Rig()
    rig.power_up()
    rig.relay("T_CELL1_OPEN", True)
    rig.advance(0.5)
    assert rig.temperatures()[0] == NTC_MIN_C
    assert rig.plant.probe("T_CELL1", "RES") == float("inf")
    rig.relay("T_CELL1_SHORT", True)  # both closed: the short across the input wins
    rig.advance(0.5)
    assert rig.temperatures()[0] == NTC_MAX_C
    assert rig.plant.probe("T_CELL1", "RES") == NTC_SHORT_OHM
    rig.relay("T_CELL1_OPEN", False)
    rig.relay("T_CELL1_SHORT", False)
    rig.advance(0.5)
    assert rig.temperatures()[0] == pytest.approx(25.0, abs=1.5)


def test_ambient_ntc_open_touches_only_the_ambient_input() -> None:
    rig = Rig()
    rig.power_up()
    rig.relay("T_AMB_OPEN", True)
    rig.advance(3.0)
    temps = rig.temperatures()
    assert temps[2] == NTC_MIN_C
    assert [temps[0], temps[1], temps[3]] == pytest.approx([25.0] * 3, abs=1.5)
    assert {"TE-UTP", "TE-LA"} <= rig.twin.active_ids()


@pytest.mark.parametrize("ohms", [0.0, 0.01, 0.05, NTC_SHORT_OHM, 300.0])
def test_a_shorted_ntc_reads_the_top_of_the_range(ohms: float) -> None:
    """Down to 0 Ω (the Beta equation has no temperature below ~0.1 Ω) a short reads hot, never cold."""
    inputs = TerminalInputs(cell_v=[CELL_V] * 4, ntc_ohm=[ohms, None, 10_000.0, 10_000.0], current_a=0.0,
                            charger_v=4 * CELL_V)  # fmt: skip
    reading = Frontend.ideal().measure(0.0, inputs, random.Random(1))
    assert reading.temperatures_c == (NTC_MAX_C, NTC_MIN_C, 25.0, 25.0)


# --- communication lines ------------------------------------------------------------------------------
def test_can_open_silences_the_bms_until_reconnected() -> None:
    rig = Rig()
    rig.power_up()
    rig.advance(3.0)
    assert rig.frames
    rig.relay("CAN_OPEN", True)
    rig.frames.clear()
    rig.advance(5.0)
    assert rig.frames == []
    assert rig.twin.mode is Mode.STANDBY  # the BMS runs on
    rig.relay("CAN_OPEN", False)
    rig.advance(1.5)
    assert len({can_id for _, can_id in rig.frames}) == 6  # its six telemetry frames again


def test_rs485_open_gets_no_answer_and_no_wake_up() -> None:
    rig = Rig()
    rig.power_up()
    request = encode(GetAnalogValues.request(1))
    assert rig.lab.serial(request).startswith(b"~")
    rig.relay("RS485_OPEN", True)
    assert rig.lab.serial(request) == b""
    rig.set_cell(1, UVP_CELL_V)
    rig.advance(65.0)
    assert rig.twin.mode is Mode.SHUTDOWN
    assert rig.lab.serial(request) == b""
    rig.advance(1.0)
    assert rig.twin.mode is Mode.SHUTDOWN  # the request never reached it: no RS-485 wake-up
    rig.relay("RS485_OPEN", False)
    rig.lab.serial(request)  # wakes it (PM-WAKE); it answers
    assert rig.twin.mode is not Mode.SHUTDOWN
    assert rig.lab.serial(request).startswith(b"~")


# --- the control port -----------------------------------------------------------------------------
def test_control_port_fault_insert_sets_the_relay() -> None:
    rig = Rig()
    rig.power_up()
    server = LabServer(rig.lab, ServeOptions(pace=False))
    reply = server._handle({"cmd": "fault_insert", "point": "T_CELL1_OPEN", "on": True})
    assert reply["fault_insert"] == {
        "point": "T_CELL1_OPEN",
        "instrument": "fiu",
        "channel": "1003",
        "inserted": ["T_CELL1_OPEN"],
    }
    assert rig.scpi(rig.fiu, "ROUTe:CLOSe? (@1003)") == "1"  # the relay itself, as SCPI sees it
    assert rig.fiu.outputs() == {"closed": [1003]}
    rig.advance(0.5)
    assert rig.temperatures()[0] == NTC_MIN_C
    reply = server._handle({"cmd": "fault_insert", "point": "T_CELL1_OPEN", "on": False})
    assert reply["fault_insert"]["inserted"] == []
    assert rig.plant.faults() == []


def test_control_port_fault_insert_works_while_the_switch_does_not_answer() -> None:
    rig = Rig()
    server = LabServer(rig.lab, ServeOptions(pace=False))
    rig.fiu.inject_fault("timeout")
    server._handle({"cmd": "fault_insert", "point": "CAN_OPEN", "on": True})
    assert rig.plant.fault("CAN_OPEN")


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"point": "NO_SUCH_POINT", "on": True}, "known: BUTTON, CAN_OPEN"),
        ({"point": "CAN_OPEN", "on": "yes"}, "'on': true"),
        ({"point": "CAN_OPEN"}, "'on': true"),
    ],
)
def test_control_port_fault_insert_refuses_bad_requests(request_: dict[str, Any], message: str) -> None:
    rig = Rig()
    server = LabServer(rig.lab, ServeOptions(pace=False))
    with pytest.raises(ValueError, match=message):
        server._handle({"cmd": "fault_insert", **request_})
    assert rig.plant.faults() == []


# --- safety ---------------------------------------------------------------------------------------
def test_the_switch_is_made_safe_after_the_temperature_emulator_and_before_the_dmm() -> None:
    model = load_station(STATION)
    station = Station(model, STATION, WallClock())
    assert station._in_safe_order(list(model.instruments)) == [
        "load",
        "charger",
        "cells",
        "ntc",
        "fiu",
        "daq",
    ]


def test_reset_opens_every_relay() -> None:
    rig = Rig()
    rig.relay("BUTTON", True)
    rig.relay("T_CELL1_SHORT", True)
    rig.lab.reset()
    assert rig.lab.instruments["fiu"].outputs() == {"closed": []}
