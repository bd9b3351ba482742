"""Codes of the 12100 BMS's RS-485 command set: header values, command and return codes, state bits.

The tables of this module are the one authority for what a byte or bit on the wire means; the
INFO layouts (layouts.py) and commands (commands.py) only use them. Our reading of the Pylontech
protocol and our own 0xD0..0xD4 commands: see docs/protocols/bms12100-rs485.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum, IntFlag

from hil.errors import ProtocolError
from hil.protocols.yd1363 import Frame, FrameError, Rtn

VER = 0x20  # protocol version 2.0, as Pylontech packs report it
CID1 = 0x46  # YD/T 1363.3 device group: lithium battery
MIN_ADDRESS = 1  # DIP-switch address range: up to 8 packs in parallel (seed §1)
MAX_ADDRESS = 8
CURRENT_SCALE = 100  # wire counts per ampere (10 mA); public Pylontech clients read 100 mA, see docs
TEMPERATURE_OFFSET = 2731  # temperatures travel as 0.1 K: wire = round(°C * 10) + 2731
USER_DEFINED_WIDE = 4  # 0x42 variant with 3-byte capacities (needed above 65.535 Ah)
USER_DEFINED_NARROW = 2  # 0x42 variant with 2-byte capacities only
REQUIREMENT_ID_CHARS = 10  # width of the ID field of a history record
NAME_CHARS = 10  # 0x51 device name
MANUFACTURER_CHARS = 20  # 0x51 manufacturer name
SERIAL_CHARS = 16  # 0x93 serial number


class Cid2(IntEnum):
    """Command codes (CID2 of requests)."""

    GET_ANALOG_VALUES = 0x42
    GET_ALARM_INFO = 0x44
    GET_SYSTEM_PARAMETERS = 0x47
    GET_PROTOCOL_VERSION = 0x4F
    GET_MANUFACTURER_INFO = 0x51
    GET_CHARGE_MANAGEMENT = 0x92
    GET_SERIAL_NUMBER = 0x93
    READ_PARAMETER = 0xD0  # ours
    WRITE_PARAMETER = 0xD1  # ours
    GET_HISTORY_COUNT = 0xD2  # ours
    READ_HISTORY = 0xD3  # ours
    SET_REMAINING_CAPACITY = 0xD4  # ours


class InfoError(FrameError):
    """A well-formed frame whose header or INFO does not fit the command; `rtn` is the answer code."""


class RtnError(ProtocolError):
    """The BMS answered a command with a return code other than NORMAL."""

    def __init__(self, command: Cid2, frame: Frame) -> None:
        self.command = command
        self.frame = frame
        self.rtn = frame.cid2
        try:
            meaning = Rtn(frame.cid2).name
        except ValueError:
            meaning = "unknown code"
        super().__init__(f"{command.name}: ADR {frame.adr} answered RTN {frame.cid2:#04x} ({meaning})")


class LimitStatus(IntEnum):
    """Per-value state byte of 0x44 (Pylontech): normal, below lower limit, above upper limit, other."""

    NORMAL = 0x00
    BELOW_LOWER = 0x01
    ABOVE_UPPER = 0x02
    OTHER_ERROR = 0xF0


class Status1(IntFlag):
    """0x44 Status1: protection states (Pylontech bit layout)."""

    MODULE_OVER_VOLTAGE = 0x01
    CELL_UNDER_VOLTAGE = 0x02
    CHARGE_OVER_CURRENT = 0x04
    DISCHARGE_OVER_CURRENT = 0x10
    DISCHARGE_OVER_TEMPERATURE = 0x20
    CHARGE_OVER_TEMPERATURE = 0x40
    MODULE_UNDER_VOLTAGE = 0x80


class Status2(IntFlag):
    """0x44 Status2: switch states (Pylontech bit layout)."""

    PRE_MOSFET = 0x01
    CHARGE_MOSFET = 0x02
    DISCHARGE_MOSFET = 0x04
    USING_BATTERY_POWER = 0x08


class Status3(IntFlag):
    """0x44 Status3: operating states (Pylontech bit layout)."""

    BUZZER = 0x01
    FULLY_CHARGED = 0x08
    HEATER = 0x20
    EFFECTIVE_DISCHARGE_CURRENT = 0x40
    EFFECTIVE_CHARGE_CURRENT = 0x80


class EventKind(IntEnum):
    """What a history record marks: an alarm/protection coming or going."""

    TRIGGER = 1
    RELEASE = 2


# ---------------------------------------------------------------------------------------------
# Requirement ID <-> 0x44 flag bits. OUR extension after Pylontech's Status5: a count byte P and
# P flag bytes, one bit per ID that can be active (bits not listed are reserved and must be 0).
# This table is the one authority for Telemetry.active on the wire.
ALARM_FLAG_BYTES = 5
ALARM_FLAG_BITS: dict[str, tuple[int, int]] = {  # ID -> (flag byte, bit)
    # byte 0: cell and pack voltage alarms and protections
    "CV-HA": (0, 0),
    "CV-LA": (0, 1),
    "CV-OVP": (0, 2),
    "CV-UVP": (0, 3),
    "PV-HA": (0, 4),
    "PV-LA": (0, 5),
    "PV-OVP": (0, 6),
    "PV-UVP": (0, 7),
    # byte 1: cell temperature while charging (TC) and discharging (TD)
    "TC-HA": (1, 0),
    "TC-OTP": (1, 1),
    "TC-LA": (1, 2),
    "TC-UTP": (1, 3),
    "TD-HA": (1, 4),
    "TD-OTP": (1, 5),
    "TD-LA": (1, 6),
    "TD-UTP": (1, 7),
    # byte 2: ambient (TE) and power MOSFET (TP) temperature; bits 6-7 reserved
    "TE-HA": (2, 0),
    "TE-OTP": (2, 1),
    "TE-LA": (2, 2),
    "TE-UTP": (2, 3),
    "TP-HA": (2, 4),
    "TP-OTP": (2, 5),
    # byte 3: current alarms, protections and locks
    "IC-A": (3, 0),
    "IC-OCP": (3, 1),
    "ID-A": (3, 2),
    "ID-OCP": (3, 3),
    "ID-TOCP": (3, 4),
    "ID-TLOCK": (3, 5),
    "SCP": (3, 6),
    "SCP-LOCK": (3, 7),
    # byte 4: cell failure, SOC, charger over-voltage; bits 4-7 reserved
    "CELL-FAIL": (4, 0),
    "SOC-LA": (4, 1),
    "SOC-LP": (4, 2),
    "CHG-HV": (4, 3),
}
_ID_BY_FLAG_BIT = {bit: rid for rid, bit in ALARM_FLAG_BITS.items()}

# 0x92 status byte (Pylontech bit layout); bits 0-2 reserved.
CHARGE_STATUS_BITS: dict[str, int] = {
    "charge_enable": 0x80,
    "discharge_enable": 0x40,
    "charge_immediately": 0x20,
    "charge_immediately_2": 0x10,
    "full_charge_request": 0x08,
}


def alarm_flags(active: Iterable[str]) -> bytes:
    """Our 0x44 flag bytes for a set of requirement IDs; an ID with no bit raises ValueError."""
    active = set(active)
    unknown = sorted(active - ALARM_FLAG_BITS.keys())
    if unknown:
        raise ValueError(f"no 0x44 flag bit is defined for requirement ID(s) {unknown}")
    flags = bytearray(ALARM_FLAG_BYTES)
    for rid in active:
        byte, bit = ALARM_FLAG_BITS[rid]
        flags[byte] |= 1 << bit
    return bytes(flags)


def active_ids(flags: bytes) -> frozenset[str]:
    """The requirement IDs our 0x44 flag bytes report; a set reserved bit raises InfoError."""
    active: set[str] = set()
    for byte, value in enumerate(flags):
        for bit in range(8):
            if not value & (1 << bit):
                continue
            rid = _ID_BY_FLAG_BIT.get((byte, bit))
            if rid is None:
                raise InfoError(f"GET_ALARM_INFO: reserved flag bit {bit} of flag byte {byte} is set")
            active.add(rid)
    return frozenset(active)
