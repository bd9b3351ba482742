"""The twin's CANopen side: a `canopen.LocalNode` (node 32 by default) on a python-can bus.

What the node does, all through the `canopen` library (nothing hand-packed):
- boot-up message, then heartbeat at the 0x1017 producer time (the library's NMT slave);
- OUR READING: it enters OPERATIONAL by itself after boot-up (chargers and displays read its TPDOs
  without an NMT master); an NMT master can still stop or start it;
- on every SYNC (COB-ID 0x80) while OPERATIONAL and the twin runs: TPDO1 and TPDO2 with the twin's
  values (transmission type 1);
- SDO reads of the mapped objects answer the twin's current values; SDO writes to 0x5100 sub n force
  input signal n (0 reset, 1 set, >= 2 the physical input), as Modbus 0x5100 + n - 1 does.

The heartbeat is the library's periodic send: python-can's periodic task (wall time) on a real bus, the
plant's `VirtualTask` (sim/canbus.py, virtual time) on the simulated lab; the TPDOs follow SYNC, so
their timing is whatever clock produces the SYNC.
"""

from __future__ import annotations

import struct
from contextlib import AbstractContextManager, nullcontext, suppress
from typing import Any

import canopen
from canopen.objectdictionary import ODVariable
from canopen.sdo.base import SdoVariable

from hil.duts.movicom_main_2.config import InputFunction
from hil.duts.movicom_main_2.protocol.canopen_od import SYNC_COB_ID, TPDOS, build_object_dictionary
from hil.duts.movicom_main_2.protocol.modbus_codec import Value
from hil.duts.movicom_main_2.protocol.registers import RegisterMap
from hil.duts.movicom_main_2.sim.twin.twin import MovicomTwin
from hil.duts.movicom_main_2.sim.twin.values import pdo_values

NMT_START = 0x01
NMT_LENGTH = 2
SDO_LENGTH = 8
NMT_RESET_NODE = 0x81
#: bitfield fields of the PDOs and the register whose bit names they carry (same firmware source)
BITFIELD_REGISTERS = {
    "discrete_inputs": "discrete_inputs_1",
    "internal_signals": "internal_signals",
    "errors_1": "errors_1",
}
_SOFTWARE_CONTROL = 0x5100


class CanopenNode:
    """The twin as CANopen node on `network` (a connected `canopen.Network`)."""

    def __init__(
        self,
        twin: MovicomTwin,
        network: canopen.Network,
        register_map: RegisterMap,
        lock: AbstractContextManager[object] | None = None,
    ) -> None:
        cfg = twin.config.can
        self.twin = twin
        self.register_map = register_map
        self._lock: AbstractContextManager[object] = lock if lock is not None else nullcontext()
        od = build_object_dictionary(cfg.node_id, cfg.bitrate_kbps * 1000, cfg.heartbeat_ms)
        self.node = canopen.LocalNode(cfg.node_id, od)
        network.add_node(self.node)
        self.node.tpdo.read(from_od=True)  # type: ignore[no-untyped-call]
        self.node.add_read_callback(self._on_read)  # type: ignore[no-untyped-call]
        self.node.add_write_callback(self._on_write)  # type: ignore[no-untyped-call]
        self.network = network
        self._fields = {f.index: (pdo.number, f.name) for pdo in TPDOS for f in pdo.fields}
        self._booted = False
        self.syncs_answered = 0
        network.subscribe(SYNC_COB_ID, self._on_sync)

    # --- life cycle -----------------------------------------------------------------------------
    def poll(self) -> None:
        """Follow the twin's power: boot when it starts running, fall silent when it stops."""
        running = self.twin.running
        if running and not self._booted:
            self.node.nmt.send_command(NMT_RESET_NODE)  # boot-up message
            self.node.nmt.send_command(NMT_START)  # straight on (OUR READING), so every heartbeat says 5
            heartbeat = self.node.sdo[0x1017]  # the producer time, as an SDO client may have set it
            assert isinstance(heartbeat, SdoVariable)
            self.node.nmt.start_heartbeat(int(heartbeat.raw))
            self._booted = True
        elif not running and self._booted:
            self.node.nmt.stop_heartbeat()  # type: ignore[no-untyped-call]
            self.node.nmt.state = "INITIALISING"
            self._booted = False

    def receive(self, can_id: int, data: bytes, timestamp: float) -> None:
        """A frame from the bus. CiA 301 fixes the length of an NMT command (2) and an SDO request
        (8): a frame of another length is dropped, as a node does (canopen's handlers unpack them
        unchecked). A segment request with no transfer open is dropped too: canopen's server cannot
        abort it (it packs the abort with no index)."""
        if can_id == 0 and len(data) != NMT_LENGTH:
            return
        if can_id == 0x600 + self.twin.config.can.node_id:
            if len(data) != SDO_LENGTH:
                return
            with suppress(struct.error):
                self.network.notify(can_id, bytearray(data), timestamp)
            return
        self.network.notify(can_id, bytearray(data), timestamp)

    def close(self) -> None:
        """Stop the heartbeat and leave the network."""
        self.node.nmt.stop_heartbeat()  # type: ignore[no-untyped-call]
        self.network.unsubscribe(SYNC_COB_ID, self._on_sync)
        self.node.remove_network()

    # --- PDOs -----------------------------------------------------------------------------------
    def _raw(self, name: str, value: Value) -> int:
        if name in BITFIELD_REGISTERS:
            reg = self.register_map.get(BITFIELD_REGISTERS[name])
            names = value if isinstance(value, frozenset) else frozenset()
            return sum(1 << reg.bit(n) for n in names if n in {b.name for b in reg.bits})
        raise KeyError(name)

    def _load(self) -> None:
        """Put the twin's values into the TPDO maps (clamped to each field's range)."""
        values = pdo_values(self.twin)
        for number, pdo in ((1, TPDOS[0]), (2, TPDOS[1])):
            pdo_map = self.node.tpdo[number]
            for f in pdo.fields:
                var = pdo_map[f.name]
                if f.name in BITFIELD_REGISTERS:
                    var.raw = self._raw(f.name, values[f.name])
                    continue
                raw = round(float(values[f.name]) / f.factor)  # type: ignore[arg-type]
                low, high = (
                    (-(1 << (f.bits - 1)), (1 << (f.bits - 1)) - 1) if f.signed else (0, (1 << f.bits) - 1)
                )
                var.raw = min(high, max(low, raw))

    def _on_sync(self, can_id: int, data: bytearray, timestamp: float) -> None:
        with self._lock:
            if not (self.twin.running and self._booted and self.node.nmt.state == "OPERATIONAL"):
                return
            self._load()
        self.node.tpdo[1].transmit()
        self.node.tpdo[2].transmit()
        self.syncs_answered += 1

    # --- SDO ------------------------------------------------------------------------------------
    def _on_read(self, index: int, subindex: int, od: ODVariable, **_: Any) -> int | None:
        if index not in self._fields:
            return None
        with self._lock:
            self._load()
            number, name = self._fields[index]
            return int(self.node.tpdo[number][name].raw)

    def _on_write(self, index: int, subindex: int, od: ODVariable, data: bytes, **_: Any) -> None:
        if index != _SOFTWARE_CONTROL or subindex == 0:
            return
        value = od.decode_raw(data)
        with self._lock:
            self.twin.set_software_control(InputFunction(subindex), int(value))
