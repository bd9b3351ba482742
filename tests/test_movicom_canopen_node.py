"""Movicom CANopen sim node: a plain `canopen.Network` with a RemoteNode (python-can virtual bus) sees
the node's boot-up and heartbeat, receives TPDO1/TPDO2 on SYNC with the twin's values (the same
through the cantools DBC), writes 0x5100 by SDO, and stops it by NMT."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import canopen
import pytest
from canopen.nmt import NmtError
from cantools.database.can import Database

from hil.duts.movicom_main_2.config import InputFunction, MovicomConfig
from hil.duts.movicom_main_2.protocol import dbc
from hil.duts.movicom_main_2.protocol.canopen_od import build_object_dictionary
from hil.duts.movicom_main_2.protocol.registers import load_map
from hil.duts.movicom_main_2.sim.canopen_node import CanopenNode
from hil.duts.movicom_main_2.sim.twin import MovicomTwin

WAIT_S = 5.0


@dataclass
class Rig:
    twin: MovicomTwin
    lock: threading.RLock
    node: CanopenNode
    master: canopen.Network
    remote: canopen.RemoteNode
    frames: dict[int, bytes]
    received: dict[int, threading.Event]


def _connect(channel: str) -> canopen.Network:
    network = canopen.Network()
    network.connect(interface="virtual", channel=channel, receive_own_messages=False)
    return network


@pytest.fixture
def rig() -> Iterator[Rig]:
    channel = f"movicom-{uuid.uuid4().hex}"
    config = MovicomConfig.model_validate({"can": {"heartbeat_ms": 50}})
    twin = MovicomTwin(config, ideal=True)
    twin.step(2.0)
    lock = threading.RLock()
    side = _connect(channel)
    master = _connect(channel)
    remote = master.add_node(32, build_object_dictionary())
    assert isinstance(remote, canopen.RemoteNode)
    remote.tpdo.read(from_od=True)  # type: ignore[no-untyped-call]
    frames: dict[int, bytes] = {}
    received = {1: threading.Event(), 2: threading.Event()}
    for number in (1, 2):

        def seen(pdo: canopen.pdo.PdoMap, number: int = number) -> None:
            assert pdo.cob_id is not None
            frames[pdo.cob_id] = bytes(pdo.data)
            received[number].set()

        remote.tpdo[number].add_callback(seen)
    node = CanopenNode(twin, side, load_map("main-2.x"), lock)
    try:
        yield Rig(twin, lock, node, master, remote, frames, received)
    finally:
        node.close()
        side.disconnect()
        master.disconnect()


def _sync(rig: Rig) -> bool:
    for event in rig.received.values():
        event.clear()
    rig.master.sync.transmit()
    return all(event.wait(WAIT_S) for event in rig.received.values())


def test_boot_up_then_heartbeat_in_operational(rig: Rig) -> None:
    rig.node.poll()
    assert rig.remote.nmt.wait_for_heartbeat(WAIT_S) == "OPERATIONAL"
    assert rig.remote.nmt.wait_for_heartbeat(WAIT_S) == "OPERATIONAL"  # it keeps coming (50 ms)


def test_sync_triggers_both_tpdos_with_the_twin_values(rig: Rig) -> None:
    rig.node.poll()
    assert rig.remote.nmt.wait_for_heartbeat(WAIT_S) == "OPERATIONAL"
    with rig.lock:
        rig.twin.inputs.sensors[0].vcs_v = 2.5 - 42.0 * 0.625 / 200.0  # 42 A discharging
        for board in rig.twin.inputs.boards:
            board.temperature_c[:] = [18.0, 23.0]
        rig.twin.inputs.boards[1].online = False
        rig.twin.inputs_changed()
        rig.twin.advance(1.0)  # Logic offline after its 1 s delay
        rig.twin.inputs.contacts[1] = True  # IN_2 inhibit charging
        rig.twin.inputs_changed()
    assert _sync(rig)
    tpdo1, tpdo2 = rig.remote.tpdo[1], rig.remote.tpdo[2]
    assert tpdo1["battery_current"].phys == pytest.approx(-42.0)
    assert (tpdo1["min_cell_temperature"].raw, tpdo1["max_cell_temperature"].raw) == (18, 23)
    assert tpdo1["soc"].raw == 50
    assert tpdo1["battery_voltage"].phys == pytest.approx(8 * 3.3, abs=0.05)  # board 2 is offline
    assert tpdo1["discrete_inputs"].raw == 1 << 3  # bit 3 inhibit charging
    assert tpdo2["errors_1"].raw == 1 << 9  # Logic offline
    assert tpdo2["internal_signals"].raw & (1 << 25)  # power up
    assert tpdo2["internal_signals"].raw & (1 << 6)  # discharging current present
    db = dbc.build_database(32)
    assert isinstance(db, Database)
    decoded = db.decode_message(0x1A0, rig.frames[0x1A0])
    assert isinstance(decoded, dict) and decoded["battery_current"] == pytest.approx(-42.0)
    assert rig.node.syncs_answered == 1


def test_sdo_write_of_0x5100_forces_an_input_and_sdo_reads_are_live(rig: Rig) -> None:
    rig.node.poll()
    assert rig.twin.relays[0]
    rig.remote.sdo[0x5100][int(InputFunction.INHIBIT_DISCHARGING)].raw = 1
    assert rig.twin.software_control[InputFunction.INHIBIT_DISCHARGING] == 1 and not rig.twin.relays[0]
    rig.remote.sdo[0x5100][int(InputFunction.INHIBIT_DISCHARGING)].raw = 2
    assert rig.twin.relays[0]
    with rig.lock:
        rig.twin.inputs.sensors[0].vcs_v = 2.5 + 10.0 * 0.625 / 200.0
        rig.twin.inputs_changed()
    assert rig.remote.sdo[0x4001].raw == 100  # 10.0 A at 0.1 A/bit
    assert rig.remote.sdo[0x1017].raw == 50


def test_nmt_stop_and_power_loss_silence_the_pdos(rig: Rig) -> None:
    rig.node.poll()
    assert rig.remote.nmt.wait_for_heartbeat(WAIT_S) == "OPERATIONAL"
    rig.remote.nmt.state = "STOPPED"
    assert rig.remote.nmt.wait_for_heartbeat(WAIT_S) == "STOPPED"
    rig.master.sync.transmit()
    assert not rig.received[1].wait(0.3)
    rig.remote.nmt.state = "OPERATIONAL"
    assert _sync(rig)
    with rig.lock:
        rig.twin.inputs.supply_v = 8.0
        rig.twin.inputs_changed()
    rig.node.poll()
    rig.received[1].clear()
    rig.master.sync.transmit()
    assert not rig.received[1].wait(0.3)
    with pytest.raises(NmtError, match="No boot-up or heartbeat"):
        rig.remote.nmt.wait_for_heartbeat(0.3)
