"""CANopen (CiA 301) object dictionary of the Movicom Main 2.x, built from the PDO layout data.

What the reference recovered (S12, S13): 250 kbit/s default, node-ID 32, heartbeat producer, every
TPDO sent on each SYNC (transmission type 1), little-endian; TPDO1 (0x180 + node) = discrete inputs
U8, battery current S16 0.1 A (positive = charging), min and max cell temperature S8 1 °C, SOC U8
1 %, battery voltage U16 0.1 V; TPDO2 (0x280 + node) = internal signals U32, Errors register 1 U32.

The indexes of the objects the PDOs map are NOT public except 0x4020 (errors, S10): the others are
OUR PLACEHOLDERS (`Field.provisional`), chosen in the manufacturer range; 0x4030 follows the Main 3
naming of the input status. The byte layout of each PDO is what matters on the bus and is the
recovered one. Object 0x5100 sub n: software control of input signal n (0 reset, 1 set, >= 2 the
physical input; sub-index = assignment code, OUR READING beyond the anchors 0x01 and 0x14).

The dictionary can be written as an EDS for users' CANopen tools (canopen's own exporter):

    python -m hil.duts.movicom_main_2.protocol.canopen_od --node-id 32 -o movicom_main_2.eds
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from canopen import ObjectDictionary
from canopen.objectdictionary import ODRecord, ODVariable, datatypes, export_od

from hil.duts.movicom_main_2.config import InputFunction

DEFAULT_NODE_ID: Final = 32
DEFAULT_BITRATE: Final = 250_000
BITRATES: Final = frozenset({125_000, 250_000, 500_000, 1_000_000})
DEFAULT_HEARTBEAT_MS: Final = 1000  # OUR ASSUMPTION: the producer time default is not public
SYNC_COB_ID: Final = 0x80
TRANSMISSION_SYNC: Final = 1  # synchronous, every SYNC


@dataclass(frozen=True)
class Field:
    """One mapped object: where it is in the dictionary and in its PDO."""

    name: str  # also the DBC signal name and the twin's value name
    index: int
    data_type: int
    factor: float = 1.0
    unit: str = ""
    provisional: bool = True
    note: str = "index not public: OUR PLACEHOLDER"

    @property
    def bits(self) -> int:
        return ODVariable.STRUCT_TYPES[self.data_type].size * 8

    @property
    def signed(self) -> bool:
        return self.data_type in datatypes.SIGNED_TYPES


@dataclass(frozen=True)
class Tpdo:
    """One transmit PDO: number (1-based), COB-ID base and its fields in byte order."""

    number: int
    cob_base: int
    fields: tuple[Field, ...]

    def cob_id(self, node_id: int) -> int:
        return self.cob_base + node_id


TPDOS: Final = (
    Tpdo(
        1,
        0x180,
        (
            Field("discrete_inputs", 0x4030, datatypes.UNSIGNED8, note="Main 3 naming of 0x4030 (M3)"),
            Field("battery_current", 0x4001, datatypes.INTEGER16, 0.1, "A"),
            Field("min_cell_temperature", 0x4002, datatypes.INTEGER8, 1.0, "°C"),
            Field("max_cell_temperature", 0x4003, datatypes.INTEGER8, 1.0, "°C"),
            Field("soc", 0x4004, datatypes.UNSIGNED8, 1.0, "%"),
            Field("battery_voltage", 0x4005, datatypes.UNSIGNED16, 0.1, "V"),
        ),
    ),
    Tpdo(
        2,
        0x280,
        (
            Field("internal_signals", 0x4010, datatypes.UNSIGNED32),
            Field("errors_1", 0x4020, datatypes.UNSIGNED32, provisional=False, note="S10: 0x4020 sub 0"),
        ),
    ),
)


def _var(
    name: str, index: int, subindex: int, data_type: int, default: int, access: str = "ro"
) -> ODVariable:
    var = ODVariable(name, index, subindex)
    var.data_type = data_type
    var.access_type = access
    var.default = default
    return var


def _record(name: str, index: int, members: list[ODVariable]) -> ODRecord:
    record = ODRecord(name, index)
    for member in members:
        record.add_member(member)
    return record


def build_object_dictionary(
    node_id: int = DEFAULT_NODE_ID,
    bitrate: int = DEFAULT_BITRATE,
    heartbeat_ms: int = DEFAULT_HEARTBEAT_MS,
) -> ObjectDictionary:
    """The node's dictionary: communication objects, the TPDO1/TPDO2 layout and 0x5100."""
    od = ObjectDictionary()  # type: ignore[no-untyped-call]
    od.node_id = node_id
    od.bitrate = bitrate
    od.device_information.product_name = "BMS Main 2.x (Movicom Electric)"
    od.device_information.vendor_name = "Movicom Electric"
    od.device_information.allowed_baudrates = set(BITRATES)
    od.add_object(_var("Device type", 0x1000, 0, datatypes.UNSIGNED32, 0))
    od.add_object(_var("Error register", 0x1001, 0, datatypes.UNSIGNED8, 0))
    od.add_object(_var("Producer heartbeat time", 0x1017, 0, datatypes.UNSIGNED16, heartbeat_ms, "rw"))
    identity = [_var("Number of entries", 0x1018, 0, datatypes.UNSIGNED8, 4)]
    for sub, label in enumerate(("Vendor-ID", "Product code", "Revision number", "Serial number"), 1):
        identity.append(_var(label, 0x1018, sub, datatypes.UNSIGNED32, 0))
    od.add_object(_record("Identity object", 0x1018, identity))
    for pdo in TPDOS:
        comm = 0x1800 + pdo.number - 1
        od.add_object(
            _record(
                f"TPDO{pdo.number} communication parameter",
                comm,
                [
                    _var("Highest sub-index supported", comm, 0, datatypes.UNSIGNED8, 5),
                    _var("COB-ID", comm, 1, datatypes.UNSIGNED32, pdo.cob_id(node_id), "rw"),
                    _var("Transmission type", comm, 2, datatypes.UNSIGNED8, TRANSMISSION_SYNC, "rw"),
                    _var("Inhibit time", comm, 3, datatypes.UNSIGNED16, 0, "rw"),
                    _var("Event timer", comm, 5, datatypes.UNSIGNED16, 0, "rw"),
                ],
            )
        )
        mapping = 0x1A00 + pdo.number - 1
        entries = [_var("Number of mapped objects", mapping, 0, datatypes.UNSIGNED8, len(pdo.fields), "rw")]
        for sub, f in enumerate(pdo.fields, 1):
            entries.append(
                _var(f"Mapped object {sub}", mapping, sub, datatypes.UNSIGNED32, f.index << 16 | f.bits, "rw")
            )
        od.add_object(_record(f"TPDO{pdo.number} mapping parameter", mapping, entries))
        for f in pdo.fields:
            var = _var(f.name, f.index, 0, f.data_type, 0)
            var.factor = f.factor
            var.unit = f.unit
            var.pdo_mappable = True
            var.description = f.note
            od.add_object(var)
    control = [_var("Highest sub-index supported", 0x5100, 0, datatypes.UNSIGNED8, max(InputFunction))]
    for function in InputFunction:
        if function is not InputFunction.NONE:
            control.append(_var(function.name.lower(), 0x5100, int(function), datatypes.UNSIGNED16, 2, "rw"))
    od.add_object(_record("Software control of input signals", 0x5100, control))
    return od


def field(name: str) -> tuple[Tpdo, Field]:
    """A mapped field by name, with its PDO."""
    for pdo in TPDOS:
        for f in pdo.fields:
            if f.name == name:
                return pdo, f
    raise KeyError(name)


def write_eds(path: Path, node_id: int = DEFAULT_NODE_ID) -> None:
    """The dictionary as an EDS file (its FileInfo carries the export time)."""
    with path.open("w", encoding="utf-8") as out:
        export_od(build_object_dictionary(node_id), out, doc_type="eds")


def main(argv: Sequence[str] | None = None) -> int:
    """Write the EDS of one node id."""
    parser = argparse.ArgumentParser(description="Write the Movicom Main 2.x object dictionary as EDS")
    parser.add_argument("--node-id", type=lambda s: int(s, 0), default=DEFAULT_NODE_ID)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args(argv)
    if not 1 <= args.node_id <= 127:
        print(f"--node-id: 1..127, got {args.node_id}", file=sys.stderr)
        return 2
    write_eds(args.output, args.node_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
