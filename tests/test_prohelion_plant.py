"""The D1000 Gen2 plant inside the lab: stepping, CAN out, BMSCommands in, instruments and faults.

The lab is built in-process (no sockets): instruments are programmed with their own SCPI, the
plant's CAN frames are captured from its publish hook, commands go in as received frames.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from hil.duts.prohelion_d1000_gen2.client import state_of
from hil.duts.prohelion_d1000_gen2.config import D1000Config
from hil.duts.prohelion_d1000_gen2.protocol.can_codec import D1000CanCodec
from hil.duts.prohelion_d1000_gen2.protocol.dbc import max_node_count, node_frame_id
from hil.duts.prohelion_d1000_gen2.sim.frames import TelemetryEncoder
from hil.duts.prohelion_d1000_gen2.sim.plant import D1000Plant
from hil.duts.prohelion_d1000_gen2.sim.stations import station
from hil.duts.prohelion_d1000_gen2.sim.twin import BmsCommand, BmsState, D1000Twin, InfoBit
from hil.duts.prohelion_d1000_gen2.sim.twin.frontend import Frontend
from hil.duts.prohelion_d1000_gen2.terminals import CellId
from hil.sim.instruments.espec_p300 import SimEspecP300
from hil.sim.instruments.keysight_n6705c import SimKeysightN6705C
from hil.sim.lab import Lab
from hil.station.station import load_station

ROOT = Path(__file__).resolve().parents[1]
STATION = ROOT / "stations" / "sim-prohelion-d1000-gen2.yaml"
CODEC = D1000CanCodec(0x600, 1)
CELL_SIMS = ("cells_a", "cells_b", "cells_c")


class Bench:
    """A lab with the D1000 plant, its frames captured; the instruments driven by SCPI."""

    def __init__(self, settings: dict[str, object] | None = None, listening: bool = True) -> None:
        self.lab = Lab(load_station(STATION), settings, seed=3)
        self.frames: list[tuple[float, int, bytes]] = []
        self.plant.publish = lambda t, can_id, data: self.frames.append((t, can_id, data))
        self.plant.can_listeners = lambda: 1 if listening else 0

    @property
    def plant(self) -> D1000Plant:
        plant = self.lab.plant
        assert isinstance(plant, D1000Plant)
        return plant

    def scpi(self, name: str, *lines: str) -> None:
        sim = self.lab.instruments[name]
        for line in lines:
            sim.execute(line)
        assert sim.execute("SYST:ERR?") == '0,"No error"', name

    def power_up(self, cell_v: float = 3.7) -> None:
        for name in CELL_SIMS:
            self.scpi(name, f"VOLT {cell_v},(@1:4)", "OUTP ON,(@1:4)")
        for address in (5, 6, 7, 8):  # the PRS-202s at 10 kΩ (25 °C)
            ntc = self.lab.instruments["ntc"]
            ntc.execute(f"++addr {address}")
            ntc.execute("SOUR:DATA 0000100000")
        self.scpi("bmu_supply", "VOLT 12", "CURR 1", "OUTP ON")

    def command(self, command: BmsCommand) -> None:
        frame = CODEC.encode("BMSCommands", {"BMSCommand": int(command), "BMSCommandType": 1})
        self.lab.plant.can_received(self.lab.t, frame.arbitration_id, frame.data)

    def advance(self, seconds: float, command: BmsCommand | None = None) -> None:
        """Let time pass, repeating `command` every 0.5 s (the controller's side)."""
        end = self.lab.t + seconds
        while self.lab.t < end - 1e-9:
            if command is not None:
                self.command(command)
            self.lab.advance(min(0.5, end - self.lab.t))

    def latest(self, name: str) -> dict[str, float | int]:
        can_id = CODEC.frame_id(name)
        data = next(d for _, i, d in reversed(self.frames) if i == can_id)
        return CODEC.decode(can_id, data).signals

    def state(self) -> BmsState | None:
        can_id = CODEC.frame_id("BMSInfo")
        data = next(d for _, i, d in reversed(self.frames) if i == can_id)
        return state_of(int.from_bytes(data, "little"))

    def flags(self) -> int:
        can_id = CODEC.frame_id("BMSInfo")
        return int.from_bytes(next(d for _, i, d in reversed(self.frames) if i == can_id), "little")


@pytest.fixture
def bench() -> Bench:
    b = Bench()
    b.power_up()
    b.advance(2.0, BmsCommand.IDLE)
    return b


def test_bmu_boots_from_its_supply_and_sends_nothing_unpowered() -> None:
    b = Bench()
    b.lab.advance(2.0)
    assert b.frames == [] and not b.plant.twin.powered
    b.power_up()
    b.lab.advance(2.0)
    assert b.plant.twin.powered
    assert b.state() is BmsState.SAFE


def test_frames_at_their_periods_and_only_with_listeners() -> None:
    b = Bench(listening=False)
    b.power_up()
    b.lab.advance(3.0)
    assert b.frames == []
    assert b.plant.max_step(b.lab.t) == pytest.approx(1.0)  # quiet SAFE, nobody listening
    b.plant.can_listeners = lambda: 1
    t0 = b.lab.t
    b.lab.advance(2.0)
    times = {
        name: [t for t, i, _ in b.frames if i == CODEC.frame_id(name)] for name in ("BMSInfo", "NodeInfo")
    }
    assert len(times["BMSInfo"]) == 20 and len(times["NodeInfo"]) == 2
    assert times["BMSInfo"][1] - times["BMSInfo"][0] == pytest.approx(0.1)
    assert all(t > t0 for t in times["BMSInfo"])
    assert {i for _, i, _ in b.frames} == set(CODEC.frame_ids) - {CODEC.frame_id("BMSCommands")}


def test_cell_inputs_reach_the_node_messages_and_extremes(bench: Bench) -> None:
    bench.scpi("cells_a", "VOLT 3.9,(@3)")
    bench.scpi("cells_c", "VOLT 3.5,(@2)")
    bench.advance(1.5, BmsCommand.IDLE)
    cells = bench.latest("Node0CellVoltages1")
    assert cells["Node0Cell03"] == pytest.approx(3.9, abs=0.002)
    extremes = bench.latest("NodeCellInfo")
    assert (extremes["MaxCellVoltageNodeID"], extremes["MaxCellVoltageCellID"]) == (0, 3)
    assert (extremes["MinCellVoltageNodeID"], extremes["MinCellVoltageCellID"]) == (0, 10)


def test_commands_drive_the_contactors_and_the_precharge(bench: Bench) -> None:
    assert bench.state() is BmsState.IDLE
    bench.advance(0.5, BmsCommand.CONNECT)
    assert bench.plant.probe("COIL1", "VOLT") == pytest.approx(12.0)
    assert bench.plant.probe("COIL3", "VOLT") == 0.0
    bench.command(BmsCommand.ENABLE)
    bench.lab.advance(0.3)
    assert bench.plant.twin.state is BmsState.PRECHARGE
    assert 0.5 < bench.plant.i_pack < 3.0  # the inrush through 33 Ω
    bench.advance(8.0, BmsCommand.ENABLE)
    assert bench.state() is BmsState.ENABLED
    assert bench.plant.coils() == (True, False, True, False, False)
    assert bench.plant.probe("LINK", "VOLT") == pytest.approx(37.0, abs=0.1)


def test_pack_current_follows_the_load_and_the_charger(bench: Bench) -> None:
    bench.advance(0.5, BmsCommand.CONNECT)
    bench.advance(8.0, BmsCommand.ENABLE)
    bench.scpi("load", "CURR 40", "INP ON")
    bench.advance(1.0, BmsCommand.ENABLE)
    assert bench.latest("BMSCurrentData")["InstantaneousCurrent"] == pytest.approx(40.0, abs=0.2)
    bench.scpi("load", "INP OFF")
    bench.scpi("charger", "VOLT 39", "CURR 25", "OUTP ON")
    bench.advance(1.0, BmsCommand.ENABLE)
    assert bench.latest("BMSCurrentData")["InstantaneousCurrent"] == pytest.approx(-25.0, abs=0.2)


def test_missing_commands_are_a_control_timeout(bench: Bench) -> None:
    t0 = bench.lab.t
    bench.advance(8.0)  # no command for 8 s
    info_id = CODEC.frame_id("BMSInfo")
    words = [(t, int.from_bytes(d, "little")) for t, i, d in bench.frames if i == info_id and t > t0]
    timed_out = [t for t, w in words if w >> int(InfoBit.REASON_CONTROLTIMEOUT) & 1]
    last_command = t0 - 0.5  # the fixture's last command, half a second before it ended
    assert timed_out and timed_out[0] - last_command == pytest.approx(5.0, abs=0.15)
    assert any(state_of(w) in (BmsState.DISCONNECT, BmsState.SAFE) for _, w in words)


def test_fault_relays_reach_the_bmu(bench: Bench) -> None:
    bench.scpi("fiu", "ROUT:CLOS (@1011)")  # HVIL_OPEN
    bench.advance(1.5, BmsCommand.IDLE)
    assert bench.latest("HVILInfo")["HVILFlag_OpenLoop"] == 1
    assert bench.flags() >> int(InfoBit.REASON_HVIL) & 1
    bench.scpi("fiu", "ROUT:OPEN:ALL ALL", "ROUT:CLOS (@1003)")  # C3_WELDED
    bench.advance(1.5, BmsCommand.IDLE)
    assert bench.flags() >> int(InfoBit.CONTACTOR_FAULT_3) & 1
    assert bench.latest("ContactorInfo")["ContactorState_3"] == 1


def test_cmu_break_takes_the_last_node_off_the_bus(bench: Bench) -> None:
    bench.scpi("fiu", "ROUT:CLOS (@1014)")
    bench.advance(1.5, BmsCommand.IDLE)
    assert bench.latest("NodeStats")["TotalConnectedNodes"] == 0
    assert bench.flags() >> int(InfoBit.REASON_NODECOUNT) & 1


def test_settings_round_trip_through_the_control_port_shape() -> None:
    b = Bench({"critCellOverVoltage": 4.25})
    assert b.plant.settings()["critCellOverVoltage"] == 4.25
    b.plant.load_settings(D1000Config().model_dump(mode="json", by_alias=True))
    assert b.plant.twin.config.crit_cell_over_voltage == 4.2


def test_a_colliding_configuration_is_sent_as_the_vendor_lays_it_out() -> None:
    config = D1000Config(num_cmu_nodes=32, node_num_cells=[14], node_num_temp=[4])
    encoder = TelemetryEncoder(config.node_id, config.num_cmu_nodes)
    assert encoder.fitting == max_node_count(0x600) == 27
    snap = D1000Twin(config, 1).snapshot()
    ids = [can_id for can_id, _ in encoder.frames(snap, fast=True, slow=True)]
    assert node_frame_id(0x600, 27, "Diagnostics") == 0x6EF
    assert ids.count(0x6EF) == 2  # HVILInfo and Node27Diagnostics share an ID
    assert node_frame_id(0x600, 31, "Diagnostics") in ids


def test_frames_of_an_encoder_that_sent_before_are_those_of_a_fresh_one() -> None:
    """The encoder re-sends a message's last payload while its values stand: after every kind of
    change (cells, a missing cell, thermistors, an open one, a node off the bus, the BJU), each
    frame is the one an encoder without that history makes."""
    config = D1000Config(num_cmu_nodes=3, node_num_cells=[14], node_num_temp=[4])
    twin = D1000Twin(config, 1, powered=False)
    twin.set_all_cells(3.7)
    twin.set_all_temperatures(25.0)
    twin.power_on(0.0)
    kept = TelemetryEncoder(config.node_id, config.num_cmu_nodes)
    changes: list[Callable[[], None]] = [
        lambda: twin.set_cell_voltage(1, 6, 3.9),
        lambda: twin.set_cell_voltage(2, 14, 3.1),
        lambda: twin.set_cell_voltage(0, 1, 0.0),
        lambda: twin.set_temperature(2, 4, 41.0),
        lambda: twin.set_thermistor(1, 2, None),
        lambda: twin.set_node_connected(2, False),
        lambda: twin.set_bju(current_a=12.5),
        lambda: twin.set_node_connected(2, True),
        lambda: twin.set_all_cells(3.7),
    ]
    moved = 0
    last: list[tuple[int, bytes]] | None = None
    for change in changes:
        change()
        twin.advance(0.1)
        snap = twin.snapshot(nodes=True)
        sent = list(kept.frames(snap, True, True))
        fresh = list(TelemetryEncoder(config.node_id, config.num_cmu_nodes).frames(snap, True, True))
        assert sent == fresh
        moved += last is not None and sent != last
        last = sent
    assert moved == len(changes) - 1  # every change moved some frame


def test_a_programmed_emulator_is_read_reported_and_resampled_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 4 nodes (14 cell emulators), a command to one emulator re-reads and reports only that
    emulator's channels, and the zero-length cycle it causes re-samples only its node."""
    station_file = tmp_path / "station-4x14.yaml"
    station_file.write_text(yaml.safe_dump(station(4, 14, 4)), encoding="utf-8")
    config = D1000Config(num_cmu_nodes=4, node_num_cells=[14], node_num_temp=[4])
    lab = Lab(load_station(station_file), config.model_dump(mode="json", by_alias=True), seed=3)
    plant = lab.plant
    assert isinstance(plant, D1000Plant)
    plant.can_listeners = lambda: 0
    emulators = {id(port): cast(SimKeysightN6705C, port) for port, _ in plant.cells.values()}
    assert len(emulators) == 14  # 56 cells, four channels a mainframe
    for port in emulators.values():
        port.execute("VOLT 3.7,(@1:4)")
        port.execute("OUTP ON,(@1:4)")
    lab.instruments["bmu_supply"].execute("VOLT 12;:CURR 1;:OUTP ON")
    lab.advance(2.0)
    assert plant.twin.powered
    cell_port, channel = plant.cells[CellId(2, 9)]
    port = emulators[id(cell_port)]
    read: list[int] = []
    reported: list[tuple[int, int]] = []
    kept: list[frozenset[int] | None] = []
    for other in emulators.values():
        monkeypatch.setattr(other, "channel_setting", _spy(other.channel_setting, read, id(other)))
        monkeypatch.setattr(other, "report_channel", _spy(other.report_channel, reported, id(other)))
    measure = Frontend.measure

    def spy_measure(self: Frontend, inputs: Any, cfg: Any, rng: Any, keep: Any = None, *more: Any) -> Any:
        kept.append(None if keep is None else frozenset(keep))
        return measure(self, inputs, cfg, rng, keep, *more)

    monkeypatch.setattr(Frontend, "measure", spy_measure)
    port.execute(f"VOLT 3.95,(@{channel})")
    lab.advance(0.001)
    assert set(read) == {id(port)} and len(read) == 4  # its four channels, no other emulator's
    assert {key for key, _ in reported} == {id(port)}
    assert kept[0] == frozenset({0, 1, 3})  # node 2 alone sampled again
    snap = plant.twin.snapshot()
    assert snap.max_cell_voltage == pytest.approx(3.95, abs=0.002)
    assert (snap.max_cell_voltage_node_id, snap.max_cell_voltage_cell_id) == (2, 9)


def _spy(method: Callable[..., Any], calls: list[Any], key: int) -> Callable[..., Any]:
    def wrapper(*args: Any) -> Any:
        calls.append(key if len(args) == 1 else (key, args[0]))
        return method(*args)

    return wrapper


def test_the_chamber_air_and_the_enclosure_pressure_reach_the_bmu_sensors(bench: Bench) -> None:
    """The plant hands the chamber's air (both BMU thermistors, humidity) and the enclosure's pressure
    to the twin; beyond bmuTemperatureMax / bmuPressureMax the BMU faults (OVERTEMP, PRESSURE)."""
    chamber = bench.lab.instruments["chamber"]
    assert isinstance(chamber, SimEspecP300)
    assert chamber.execute("TEMP, S40.0") == "OK: TEMP, S40.0"
    assert chamber.execute("HUMI, S70") == "OK: HUMI, S70"
    assert chamber.execute("MODE, CONSTANT") == "OK: MODE, CONSTANT"
    bench.scpi("pressure", ":UNIT:PRES KPA", ":SOUR:PRES 110", ":OUTP:STAT ON")
    bench.advance(200.0, BmsCommand.IDLE)
    env = bench.plant.twin.inputs.environment
    air_c, air_pct = chamber.air(bench.lab.t)
    assert (env.temperature1_c, env.temperature2_c, env.humidity_pct) == (air_c, air_c, air_pct)
    assert abs(air_c - 40.0) < 0.2 and abs(air_pct - 70.0) < 1.0
    assert env.pressure_kpa == pytest.approx(110.0)
    sensors = bench.latest("SensorData1")
    assert abs(sensors["Temperature1"] - 40.0) < 1.0 and abs(sensors["Pressure"] - 110.0) < 0.5
    assert bench.state() is BmsState.IDLE
    bench.scpi("pressure", ":SOUR:PRES 125")
    bench.advance(3.0, BmsCommand.IDLE)
    assert bench.flags() >> int(InfoBit.REASON_PRESSURE) & 1
    assert chamber.execute("TEMP, S65.0") == "OK: TEMP, S65.0"
    bench.advance(150.0, BmsCommand.IDLE)
    assert bench.flags() >> int(InfoBit.REASON_OVERTEMP) & 1
    assert bench.state() is BmsState.SAFE


def test_without_environment_roles_the_bmu_sees_the_fixed_ambient(bench: Bench) -> None:
    """The chamber in standby and the enclosure vented: the twin's ambient (25 °C, 101.3 kPa, 40 %RH)."""
    bench.advance(5.0, BmsCommand.IDLE)
    env = bench.plant.twin.inputs.environment
    assert (env.temperature1_c, env.pressure_kpa, env.humidity_pct) == (25.0, 101.3, 40.0)


def test_a_replaced_plant_no_longer_hears_the_instruments() -> None:
    """After a power cycle of the lab (a new plant), a command reaches the new plant's listener only."""
    b = Bench()
    old = b.plant
    b.lab.reset()
    assert b.plant is not old
    old._unread.clear()
    b.plant._unread.clear()
    b.scpi("cells_b", "VOLT 3.8,(@2)")
    assert old._unread == set()
    assert len(b.plant._unread) == 1
    assert len(b.lab.instruments["cells_b"].engine.listeners) == 1
