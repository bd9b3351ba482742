"""Movicom CANopen dictionary and its DBC export: TPDO1/TPDO2 as the reference recovered them, and a
PDO packed by `canopen` decodes the same through the cantools DBC as through a canopen RemoteNode."""

from __future__ import annotations

from pathlib import Path

import canopen
import cantools
import pytest
from canopen.objectdictionary import ODRecord, ODVariable
from cantools.database.can import Database

from hil.duts.movicom_main_2.protocol import canopen_od, dbc
from hil.duts.movicom_main_2.protocol.canopen_od import TPDOS, build_object_dictionary


def _local(node_id: int = 32) -> canopen.LocalNode:
    """A local node on an unconnected network (reading the PDO maps subscribes to their COB-IDs)."""
    node = canopen.LocalNode(node_id, build_object_dictionary(node_id))
    canopen.Network().add_node(node)
    node.tpdo.read(from_od=True)  # type: ignore[no-untyped-call]
    return node


def _entry(od: canopen.ObjectDictionary, index: int, sub: int | None = None) -> ODVariable:
    obj = od[index]
    if sub is not None:
        assert isinstance(obj, ODRecord)
        obj = obj[sub]
    assert isinstance(obj, ODVariable)
    return obj


def _dbc() -> Database:
    db = cantools.database.load_file(dbc.DEFAULT_DBC_PATH)
    assert isinstance(db, Database)
    return db


def test_dictionary_holds_the_recovered_layout() -> None:
    od = build_object_dictionary()
    assert (od.node_id, od.bitrate) == (32, 250_000)
    assert _entry(od, 0x1800, 1).default == 0x1A0 and _entry(od, 0x1801, 1).default == 0x2A0
    assert _entry(od, 0x1800, 2).default == _entry(od, 0x1801, 2).default == 1  # every SYNC
    assert _entry(od, 0x1A00, 0).default == 6 and _entry(od, 0x1A01, 0).default == 2
    assert _entry(od, 0x1A00, 2).default == 0x4001_0010  # battery current S16 at bytes 1-2
    assert _entry(od, 0x1017).default == 1000
    assert (
        _entry(od, 0x5100, 1).name == "battery_cover" and _entry(od, 0x5100, 20).name == "balancing_request"
    )
    node = _local()
    layout = [(v.name, v.offset, v.length) for v in node.tpdo[1].map]
    assert layout == [
        ("discrete_inputs", 0, 8),
        ("battery_current", 8, 16),
        ("min_cell_temperature", 24, 8),
        ("max_cell_temperature", 32, 8),
        ("soc", 40, 8),
        ("battery_voltage", 48, 16),
    ]
    assert [(v.name, v.offset) for v in node.tpdo[2].map] == [("internal_signals", 0), ("errors_1", 32)]
    assert node.tpdo[1].cob_id == 0x1A0 and node.tpdo[2].cob_id == 0x2A0
    assert [f.provisional for f in TPDOS[1].fields] == [True, False]  # only 0x4020 is a seen index


def test_node_id_moves_the_cob_ids() -> None:
    node = _local(5)
    assert (node.tpdo[1].cob_id, node.tpdo[2].cob_id) == (0x185, 0x285)
    assert {m.frame_id for m in dbc.build_database(5).messages} == {0x185, 0x285}


def test_shipped_dbc_is_the_generated_one_and_loads() -> None:
    assert dbc.DEFAULT_DBC_PATH.read_bytes() == dbc.render_dbc(32).encode(dbc.DBC_ENCODING)
    db = _dbc()
    assert db.get_message_by_name("TPDO1").frame_id == 0x1A0
    assert db.get_message_by_name("TPDO1").get_signal_by_name("max_cell_temperature").unit == "°C"


def test_main_writes_a_dbc(tmp_path: Path) -> None:
    out = tmp_path / "node7.dbc"
    assert dbc.main(["--node-id", "7", "-o", str(out)]) == 0
    db = cantools.database.load_file(out)
    assert isinstance(db, Database) and db.get_message_by_name("TPDO2").frame_id == 0x287
    assert dbc.main(["--node-id", "200", "-o", str(out)]) == 2


def test_a_pdo_decodes_the_same_through_canopen_and_cantools() -> None:
    local = _local()
    tpdo1, tpdo2 = local.tpdo[1], local.tpdo[2]
    tpdo1["discrete_inputs"].raw = 0b1000_0011
    tpdo1["battery_current"].phys = -123.4  # discharging
    tpdo1["min_cell_temperature"].raw = -7
    tpdo1["max_cell_temperature"].raw = 31
    tpdo1["soc"].raw = 64
    tpdo1["battery_voltage"].phys = 52.3
    tpdo2["internal_signals"].raw = 1 << 27
    tpdo2["errors_1"].raw = (1 << 9) | (1 << 19)

    remote = canopen.RemoteNode(32, build_object_dictionary())
    canopen.Network().add_node(remote)
    remote.tpdo.read(from_od=True)  # type: ignore[no-untyped-call]
    db = _dbc()
    for number, local_pdo in ((1, tpdo1), (2, tpdo2)):
        data = bytes(local_pdo.data)
        remote.tpdo[number].on_message(local_pdo.cob_id, data, 0.0)
        via_canopen = {v.name: v.phys for v in remote.tpdo[number].map}
        via_dbc = db.decode_message(local_pdo.cob_id, data, decode_choices=False)
        assert isinstance(via_dbc, dict)
        assert via_canopen.keys() == via_dbc.keys()
        for name, value in via_canopen.items():
            assert via_dbc[name] == pytest.approx(value), name
    assert bytes(tpdo1.data)[1:3] == (-1234).to_bytes(2, "little", signed=True)
    assert remote.tpdo[1]["battery_current"].phys == pytest.approx(-123.4)
    assert remote.tpdo[2]["errors_1"].raw == (1 << 9) | (1 << 19)


def test_eds_export_reads_back_with_the_same_layout(tmp_path: Path) -> None:
    path = tmp_path / "main2.eds"
    assert canopen_od.main(["--node-id", "32", "-o", str(path)]) == 0
    od = canopen.import_od(str(path), node_id=32)
    assert _entry(od, 0x1800, 1).default == 0x1A0 and _entry(od, 0x1801, 1).default == 0x2A0
    built = build_object_dictionary()
    for index in (0x1A00, 0x1A01):
        assert [_entry(od, index, sub).default for sub in range(7 if index == 0x1A00 else 3)] == [
            _entry(built, index, sub).default for sub in range(7 if index == 0x1A00 else 3)
        ]
    assert _entry(od, 0x4001).factor == 0.1 and _entry(od, 0x4001).name == "battery_current"
    assert od.device_information.allowed_baudrates >= {250_000}
    assert canopen_od.main(["--node-id", "0", "-o", str(path)]) == 2
