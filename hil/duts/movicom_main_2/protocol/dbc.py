"""DBC export of the Movicom Main 2.x TPDO1/TPDO2 layout, generated with cantools for users' tools.

The same `TPDOS` table the CANopen object dictionary is built from (canopen_od.py), so the DBC and
the node can never disagree. The vendor publishes its own ("BMS Main 2.x - CANopen PDO.dbc") whose
content we have not seen; names here are ours.

    python -m hil.duts.movicom_main_2.protocol.dbc --node-id 32 -o movicom_main_2.dbc
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from cantools.database.can import Database, Message, Node, Signal
from cantools.database.conversion import BaseConversion

from hil.duts.movicom_main_2.protocol.canopen_od import DEFAULT_NODE_ID, TPDOS

BMS_NODE: Final = "MovicomBmsMain2"
DEFAULT_DBC_PATH: Final = Path(__file__).with_name("movicom_main_2.dbc")
DBC_ENCODING: Final = "cp1252"  # what DBC tools (and cantools.database.load_file) read by default


def build_database(node_id: int = DEFAULT_NODE_ID) -> Database:
    """TPDO1 and TPDO2 of node `node_id` as a cantools database (little-endian signals)."""
    messages = []
    for pdo in TPDOS:
        start = 0
        signals = []
        for f in pdo.fields:
            signals.append(
                Signal(
                    f.name,
                    start,
                    f.bits,
                    byte_order="little_endian",
                    is_signed=f.signed,
                    conversion=BaseConversion.factory(scale=f.factor, offset=0),
                    unit=f.unit or None,
                    comment=f"CANopen 0x{f.index:04X}.00; {f.note}",
                )
            )
            start += f.bits
        messages.append(
            Message(
                frame_id=pdo.cob_id(node_id),
                name=f"TPDO{pdo.number}",
                length=start // 8,
                signals=signals,
                senders=[BMS_NODE],
                comment=f"CANopen TPDO{pdo.number} of node {node_id}, sent on every SYNC",
            )
        )
    return Database(messages=messages, nodes=[Node(BMS_NODE)], version="")


def render_dbc(node_id: int = DEFAULT_NODE_ID) -> str:
    """The DBC text of node `node_id`."""
    return build_database(node_id).as_dbc_string()


def main(argv: Sequence[str] | None = None) -> int:
    """Write the DBC of one node id (default: the shipped file for node 32)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node-id", type=lambda s: int(s, 0), default=DEFAULT_NODE_ID)
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_DBC_PATH)
    args = parser.parse_args(argv)
    if not 1 <= args.node_id <= 127:
        print(f"--node-id: 1..127, got {args.node_id}", file=sys.stderr)
        return 2
    args.output.write_bytes(render_dbc(args.node_id).encode(DBC_ENCODING))
    return 0


if __name__ == "__main__":
    sys.exit(main())
