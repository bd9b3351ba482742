"""CAN link of the 12100 BMS to the inverter: encode the twin's frames, decode captured ones.

The layout lives in `inverter.dbc` next to this file: our reading of the public Pylontech
low-voltage CAN protocol, to be confirmed against the vendor's protocol file (the seed gives
none). The 0x359 flags are coarse: several requirement IDs share one bit (`FLAG_BITS`), so a
client that needs the exact ID must ask over RS-485 (command 0x44, alarm information).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Final

import cantools
from cantools.database.can import Database, Message

from hil.duts.bms12100.protocol.snapshot import Telemetry
from hil.errors import ConfigError
from hil.protocols.can_errors import CanFrameError, FrameContentError, FrameLengthError, UnknownFrameError

DBC_PATH: Final = Path(__file__).with_name("inverter.dbc")
CYCLE_S: Final = 1.0  # our twin sends all six BMS frames once per cycle

ID_KEEPALIVE: Final = 0x305
ID_LIMITS: Final = 0x351
ID_SOC_SOH: Final = 0x355
ID_MEASUREMENTS: Final = 0x356
ID_FLAGS: Final = 0x359
ID_REQUEST: Final = 0x35C
ID_MANUFACTURER: Final = 0x35E
BMS_FRAME_IDS: Final = (ID_LIMITS, ID_SOC_SOH, ID_MEASUREMENTS, ID_FLAGS, ID_REQUEST, ID_MANUFACTURER)

DEFAULT_MANUFACTURER: Final = "PYLON"  # what Pylontech-compatible packs usually send; not in the seed
MANUFACTURER_KEY: Final = "Manufacturer"  # extra key decode_frame adds for 0x35E
MARKER: Final = "PN"

# Requirement ID -> the 0x359 bit (DBC signal name) it sets. Many-to-one: the Pylontech layout
# has one bit per kind of condition, not per sensor or per stage. Mapping choices that the
# public protocol does not settle (CHG-HV, SOC-*, CELL-FAIL, the locks) are ours.
FLAG_BITS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "CV-OVP": "ProtOverVoltage",
        "PV-OVP": "ProtOverVoltage",
        "CHG-HV": "ProtOverVoltage",
        "CV-UVP": "ProtUnderVoltage",
        "PV-UVP": "ProtUnderVoltage",
        "SOC-LP": "ProtUnderVoltage",
        "TC-OTP": "ProtOverTemperature",
        "TD-OTP": "ProtOverTemperature",
        "TE-OTP": "ProtOverTemperature",
        "TP-OTP": "ProtOverTemperature",
        "TC-UTP": "ProtUnderTemperature",
        "TD-UTP": "ProtUnderTemperature",
        "TE-UTP": "ProtUnderTemperature",
        "ID-OCP": "ProtDischargeOverCurrent",
        "ID-TOCP": "ProtDischargeOverCurrent",
        "SCP": "ProtDischargeOverCurrent",
        "ID-TLOCK": "ProtDischargeOverCurrent",
        "SCP-LOCK": "ProtDischargeOverCurrent",
        "IC-OCP": "ProtChargeOverCurrent",
        "CELL-FAIL": "ProtSystemError",
        "CV-HA": "AlarmHighVoltage",
        "PV-HA": "AlarmHighVoltage",
        "CV-LA": "AlarmLowVoltage",
        "PV-LA": "AlarmLowVoltage",
        "SOC-LA": "AlarmLowVoltage",
        "TC-HA": "AlarmHighTemperature",
        "TD-HA": "AlarmHighTemperature",
        "TE-HA": "AlarmHighTemperature",
        "TP-HA": "AlarmHighTemperature",
        "TC-LA": "AlarmLowTemperature",
        "TD-LA": "AlarmLowTemperature",
        "TE-LA": "AlarmLowTemperature",
        "ID-A": "AlarmDischargeHighCurrent",
        "IC-A": "AlarmChargeHighCurrent",
    }
)

# Every 0x359 flag bit of the DBC, in bit order; AlarmInternalCommFail has no requirement ID.
FLAG_SIGNALS: Final = (
    "ProtOverVoltage",
    "ProtUnderVoltage",
    "ProtOverTemperature",
    "ProtUnderTemperature",
    "ProtDischargeOverCurrent",
    "ProtChargeOverCurrent",
    "ProtSystemError",
    "AlarmHighVoltage",
    "AlarmLowVoltage",
    "AlarmHighTemperature",
    "AlarmLowTemperature",
    "AlarmDischargeHighCurrent",
    "AlarmChargeHighCurrent",
    "AlarmInternalCommFail",
)

# The inverse of FLAG_BITS: flag bit -> every requirement ID that can set it.
FLAG_IDS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {flag: frozenset(i for i, f in FLAG_BITS.items() if f == flag) for flag in FLAG_SIGNALS}
)

# 0x35C request bits the twin derives from `active` (our policy, not the vendor's):
# first-level force charge on the low-SOC alarm, second level once discharging is blocked.
REQUEST_IDS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "ForceChargeRequestI": frozenset({"SOC-LA"}),
        "ForceChargeRequestII": frozenset({"CV-UVP", "PV-UVP", "SOC-LP"}),
        "FullChargeRequest": frozenset(),
    }
)
REQUEST_SIGNALS: Final = (
    "ChargeEnable",
    "DischargeEnable",
    "ForceChargeRequestI",
    "ForceChargeRequestII",
    "FullChargeRequest",
)


# Every signal the codec reads or writes, by frame ID: a DBC without one of them is refused.
REQUIRED_SIGNALS: Final[Mapping[int, tuple[str, ...]]] = MappingProxyType(
    {
        ID_KEEPALIVE: (),
        ID_LIMITS: (
            "ChargeVoltageLimit",
            "ChargeCurrentLimit",
            "DischargeCurrentLimit",
            "DischargeVoltageLimit",
        ),
        ID_SOC_SOH: ("StateOfCharge", "StateOfHealth"),
        ID_MEASUREMENTS: ("PackVoltage", "PackCurrent", "PackTemperature"),
        ID_FLAGS: (*FLAG_SIGNALS, "ModuleCount", "MarkerP", "MarkerN"),
        ID_REQUEST: REQUEST_SIGNALS,
        ID_MANUFACTURER: tuple(f"ManufacturerChar{i}" for i in range(8)),
    }
)
_NOT_FIT = re.compile(r"signal (\w+) does not fit in message (\w+)")
_OVERLAP = re.compile(r"signals (\w+) and (\w+) are overlapping in message (\w+)")


def _message_label(path: Path, name: str) -> str:
    """`BO_ <id> <name>` as the DBC writes the message (just `BO_ <name>` if it cannot be found)."""
    text = path.read_text(encoding="cp1252", errors="replace")
    found = re.search(rf"^BO_ (\d+) {re.escape(name)}\s*:", text, re.MULTILINE)
    return f"BO_ {found[1]} {name}" if found else f"BO_ {name}"


def _dbc_error(path: Path, exc: cantools.database.errors.UnsupportedDatabaseFormatError) -> ConfigError:
    """cantools' refusal as a ConfigError: a syntax error's line and column, or the message/signal."""
    cause = getattr(exc, "e_dbc", None) or exc
    text = str(cause.args[0]) if cause.args else str(cause)
    line, column = getattr(cause, "line", None), getattr(cause, "column", None)
    if isinstance(line, int) and isinstance(column, int):
        shown = text.split(": ", 1)[-1] if ": " in text else text
        shown = "".join(c if c.isprintable() else "?" for c in shown)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return ConfigError(str(path), f"line {line}, column {column}", f"valid DBC syntax (at {shown})")
    found = _NOT_FIT.search(text)
    if found:
        return ConfigError(
            str(path),
            f"{_message_label(path, found[2])}: SG_ {found[1]}",
            "a signal inside its message's data length (start bit + length <= 8 x DLC)",
        )
    found = _OVERLAP.search(text)
    if found:
        return ConfigError(
            str(path),
            f"{_message_label(path, found[3])}: SG_ {found[1]}",
            f"a signal that does not overlap {found[2]}",
        )
    return ConfigError(str(path), "-", f"a DBC that cantools loads in strict mode ({text})")


def load_dbc(path: Path) -> Database:
    """Load a DBC with cantools' strict checks and check it carries every frame and signal we use.

    Raises ConfigError naming the file, where (line and column, or message and signal) and what
    was expected, so a broken layout file is refused in one sentence, not deep in a decode.
    """
    try:
        db = cantools.database.load_file(path, database_format="dbc", strict=True)
    except FileNotFoundError:
        raise ConfigError(str(path), "-", "an existing file") from None
    except OSError as exc:
        raise ConfigError(str(path), "-", f"a readable file ({exc.strerror})") from None
    except cantools.database.errors.UnsupportedDatabaseFormatError as exc:
        raise _dbc_error(path, exc) from None
    except (cantools.database.errors.Error, ValueError, KeyError, IndexError) as exc:
        raise ConfigError(str(path), "-", f"a DBC that cantools loads in strict mode ({exc})") from None
    if not isinstance(db, Database):  # pragma: no cover - a DBC always loads as a CAN database
        raise ConfigError(str(path), "-", "a CAN database")
    by_id = {m.frame_id: m for m in db.messages if not m.is_extended_frame}
    for frame_id, signals in REQUIRED_SIGNALS.items():
        msg = by_id.get(frame_id)
        if msg is None:
            raise ConfigError(
                str(path),
                f"BO_ {frame_id}",
                f"a standard-ID message {frame_id} ({frame_id:#x}) of the layout",
            )
        names = {sig.name for sig in msg.signals}
        for name in signals:
            if name not in names:
                raise ConfigError(
                    str(path), f"BO_ {frame_id} {msg.name}: SG_ {name}", "a signal the codec reads/writes"
                )
    return db


@cache
def load_database() -> Database:
    """Load the layout's DBC once (see `load_dbc`)."""
    return load_dbc(DBC_PATH)


def _message(frame_id: int) -> Message:
    """The DBC message of `frame_id`; the caller has checked that it exists."""
    msg: Message = load_database().get_message_by_frame_id(frame_id)
    return msg


@cache
def _frame_ids() -> frozenset[int]:
    """Arbitration IDs the DBC defines (the six BMS frames and the inverter's 0x305)."""
    return frozenset(m.frame_id for m in load_database().messages)


def _decimals(scale: float) -> int:
    """Decimal places of a signal's resolution, to strip float noise (0.1 -> 1, 0.01 -> 2)."""
    return max(0, round(-math.log10(scale))) if scale < 1 else 0


@functools.cache
def _ranges(frame_id: int) -> dict[str, tuple[float, float]]:
    """Each signal's DBC range (unbounded sides as infinities)."""
    return {
        sig.name: (
            -math.inf if sig.minimum is None else float(sig.minimum),
            math.inf if sig.maximum is None else float(sig.maximum),
        )
        for sig in _message(frame_id).signals
    }


def _clamped(msg: Message, values: Mapping[str, float]) -> dict[str, float]:
    """Saturate each value at its signal's DBC range, as a real BMS saturates its fields."""
    ranges = _ranges(msg.frame_id)
    out: dict[str, float] = {}
    for name, value in values.items():
        if not math.isfinite(value):
            raise ValueError(f"{msg.name}.{name}: cannot encode {value!r}")
        low, high = ranges[name]
        out[name] = min(max(value, low), high)
    return out


def _encode(frame_id: int, values: Mapping[str, float]) -> tuple[int, bytes]:
    """One frame from physical values (unused bits stay zero).

    Values are clamped to their DBC ranges first, so cantools' own range check (strict) would
    find nothing: it is left out, it cost more than the rest of the encoding. A twin sends the
    same values cycle after cycle, so the payloads of recent values are kept (`_payload`).
    """
    return frame_id, _payload(frame_id, tuple(values.items()))


@functools.lru_cache(maxsize=512)
def _payload(frame_id: int, values: tuple[tuple[str, float], ...]) -> bytes:
    msg = _message(frame_id)
    return bytes(msg.encode(_clamped(msg, dict(values)), scaling=True, strict=False))


def _any_active(active: frozenset[str], ids: Iterable[str]) -> bool:
    """True when at least one of `ids` is active."""
    return not active.isdisjoint(ids)


def _manufacturer_bytes(name: str) -> bytes:
    """The 8-byte 0x35E payload: ASCII name padded with spaces."""
    if len(name) > 8 or not all(0x20 <= ord(c) <= 0x7E for c in name):
        raise ValueError(f"manufacturer must be at most 8 printable ASCII characters, got {name!r}")
    return name.ljust(8).encode("ascii")


def encode_telemetry(
    t: Telemetry, manufacturer: str = DEFAULT_MANUFACTURER, module_count: int = 1
) -> list[tuple[int, bytes]]:
    """The six (arbitration ID, payload) frames the twin broadcasts each cycle, in ID order.

    Values outside a field's range saturate. The 0x356 temperature is the hotter of the two cell
    NTCs. 0x359 bits come from `t.active` through `FLAG_BITS` (IDs without a bit are left out);
    0x35C enables follow the FETs and the force-charge bits follow `REQUEST_IDS`. Each frame's
    payload is kept by the few telemetry values it carries: a twin sends five of the six unchanged
    cycle after cycle, and those are not built again.
    """
    if not t.temperatures_c:
        raise ValueError("telemetry has no temperature to report in 0x356")
    active = frozenset(t.active)  # the same object when it is one already (hashable either way)
    return [
        (
            ID_LIMITS,
            _limits_payload(
                t.charge_voltage_limit_v,
                t.charge_current_limit_a,
                t.discharge_current_limit_a,
                t.discharge_voltage_limit_v,
            ),
        ),
        (ID_SOC_SOH, _soc_payload(round(t.soc_pct), round(t.soh_pct))),
        (ID_MEASUREMENTS, _measurements_payload(t.pack_v, t.current_a, max(t.temperatures_c[:2]))),
        (ID_FLAGS, _flags_payload(active, module_count)),
        (ID_REQUEST, _request_payload(t.charge_fet, t.discharge_fet, active)),
        (ID_MANUFACTURER, _manufacturer_payload(manufacturer)),
    ]


@functools.lru_cache(maxsize=64)
def _limits_payload(charge_v: float, charge_a: float, discharge_a: float, discharge_v: float) -> bytes:
    values = {
        "ChargeVoltageLimit": charge_v,
        "ChargeCurrentLimit": charge_a,
        "DischargeCurrentLimit": discharge_a,
        "DischargeVoltageLimit": discharge_v,
    }
    return _encode(ID_LIMITS, values)[1]


@functools.lru_cache(maxsize=256)
def _soc_payload(soc: int, soh: int) -> bytes:
    return _encode(ID_SOC_SOH, {"StateOfCharge": soc, "StateOfHealth": soh})[1]


def _measurements_payload(pack_v: float, current_a: float, temperature_c: float) -> bytes:
    values = {"PackVoltage": pack_v, "PackCurrent": current_a, "PackTemperature": temperature_c}
    return _encode(ID_MEASUREMENTS, values)[1]


@functools.lru_cache(maxsize=64)
def _flags_payload(active: frozenset[str], module_count: int) -> bytes:
    flags = {name: 0.0 for name in FLAG_SIGNALS}
    for req_id in active:
        flag = FLAG_BITS.get(req_id)
        if flag is not None:
            flags[flag] = 1.0
    values = {**flags, "ModuleCount": module_count, "MarkerP": ord(MARKER[0]), "MarkerN": ord(MARKER[1])}
    return _encode(ID_FLAGS, values)[1]


@functools.lru_cache(maxsize=64)
def _request_payload(charge_fet: bool, discharge_fet: bool, active: frozenset[str]) -> bytes:
    requests = {
        "ChargeEnable": float(charge_fet),
        "DischargeEnable": float(discharge_fet),
        **{name: float(_any_active(active, ids)) for name, ids in REQUEST_IDS.items()},
    }
    return _encode(ID_REQUEST, requests)[1]


@functools.lru_cache(maxsize=8)
def _manufacturer_payload(manufacturer: str) -> bytes:
    name = _manufacturer_bytes(manufacturer)
    return _encode(ID_MANUFACTURER, {f"ManufacturerChar{i}": b for i, b in enumerate(name)})[1]


def _manufacturer_text(payload: bytes) -> str:
    """The 0x35E name without its space/NUL padding; anything but printable ASCII is an error."""
    text = payload.rstrip(b"\x00 ")
    if not all(0x20 <= b <= 0x7E for b in text):
        raise FrameContentError(f"0x35E: manufacturer name is not printable ASCII: {payload.hex(' ')}")
    return text.decode("ascii")


def decode_frame(
    arbitration_id: int, data: bytes | bytearray, is_extended_id: bool = False
) -> dict[str, float | int | str]:
    """Physical values of one captured frame, keyed by DBC signal name.

    0x35E also gets the assembled name under `MANUFACTURER_KEY`. Raises `UnknownFrameError` for an
    ID outside the layout, `FrameLengthError` for a payload whose length is not the DBC's DLC,
    `FrameContentError` for a non-ASCII name; never anything else for any bytes.
    """
    if is_extended_id or arbitration_id not in _frame_ids():
        kind = "extended" if is_extended_id else "standard"
        raise UnknownFrameError(f"CAN {kind} ID {arbitration_id:#x} is not a BMS12100/inverter frame")
    msg = _message(arbitration_id)
    payload = bytes(data)
    if len(payload) != msg.length:
        raise FrameLengthError(
            f"{arbitration_id:#x} {msg.name}: {len(payload)} data bytes, the layout defines {msg.length}"
        )
    try:
        raw = msg.decode(payload, decode_choices=False, scaling=True)
    except cantools.database.errors.DecodeError as exc:  # pragma: no cover - length checked above
        raise CanFrameError(f"{arbitration_id:#x} {msg.name}: {exc}") from exc
    if not isinstance(raw, dict):  # pragma: no cover - containers are not decoded
        raise CanFrameError(f"{arbitration_id:#x} {msg.name}: unexpected container frame")
    values: dict[str, float | int | str] = {}
    for name, value in raw.items():
        if isinstance(value, float):
            values[name] = round(value, _decimals(msg.get_signal_by_name(name).scale))
        elif isinstance(value, int | str):
            values[name] = value
        else:  # pragma: no cover - choices are not decoded
            values[name] = str(value)
    if arbitration_id == ID_MANUFACTURER:
        values[MANUFACTURER_KEY] = _manufacturer_text(payload)
    return values


def _num(values: Mapping[str, float | int | str], key: str) -> float:
    value = values[key]
    if isinstance(value, str):  # pragma: no cover - only the name is a string
        raise FrameContentError(f"{key}: expected a number, got {value!r}")
    return value


@dataclass
class InverterView:
    """What an inverter knows about the battery: the latest value of each field, and when it came.

    `updated` maps each frame ID (0x305 included) to the timestamp of its last good frame, in
    whatever clock the caller passes to `update` (bus capture time, virtual time).
    """

    charge_voltage_limit_v: float | None = None
    charge_current_limit_a: float | None = None
    discharge_current_limit_a: float | None = None
    discharge_voltage_limit_v: float | None = None
    soc_pct: float | None = None
    soh_pct: float | None = None
    voltage_v: float | None = None
    current_a: float | None = None
    temperature_c: float | None = None
    flags: frozenset[str] = frozenset()  # names of the set 0x359 bits (Prot*/Alarm*)
    module_count: int | None = None
    marker: str | None = None  # bytes 5-6 of 0x359, "PN" on a conforming pack
    requests: frozenset[str] = frozenset()  # names of the set 0x35C bits
    manufacturer: str | None = None
    updated: dict[int, float] = field(default_factory=dict)

    @property
    def protections(self) -> frozenset[str]:
        """The set protection bits (bytes 0-1 of 0x359)."""
        return frozenset(f for f in self.flags if f.startswith("Prot"))

    @property
    def alarms(self) -> frozenset[str]:
        """The set alarm bits (bytes 2-3 of 0x359)."""
        return frozenset(f for f in self.flags if f.startswith("Alarm"))

    def update(
        self, arbitration_id: int, data: bytes | bytearray, timestamp: float
    ) -> dict[str, float | int | str]:
        """Decode one frame into the view; a bad frame raises and leaves the view unchanged."""
        values = decode_frame(arbitration_id, data)
        if arbitration_id == ID_LIMITS:
            self.charge_voltage_limit_v = _num(values, "ChargeVoltageLimit")
            self.charge_current_limit_a = _num(values, "ChargeCurrentLimit")
            self.discharge_current_limit_a = _num(values, "DischargeCurrentLimit")
            self.discharge_voltage_limit_v = _num(values, "DischargeVoltageLimit")
        elif arbitration_id == ID_SOC_SOH:
            self.soc_pct = _num(values, "StateOfCharge")
            self.soh_pct = _num(values, "StateOfHealth")
        elif arbitration_id == ID_MEASUREMENTS:
            self.voltage_v = _num(values, "PackVoltage")
            self.current_a = _num(values, "PackCurrent")
            self.temperature_c = _num(values, "PackTemperature")
        elif arbitration_id == ID_FLAGS:
            self.flags = frozenset(f for f in FLAG_SIGNALS if values[f])
            self.module_count = int(_num(values, "ModuleCount"))
            self.marker = bytes(data[5:7]).decode("latin-1")
        elif arbitration_id == ID_REQUEST:
            self.requests = frozenset(r for r in REQUEST_SIGNALS if values[r])
        elif arbitration_id == ID_MANUFACTURER:
            self.manufacturer = str(values[MANUFACTURER_KEY])
        self.updated[arbitration_id] = timestamp
        return values

    def stale(self, now: float, max_age_s: float = 3 * CYCLE_S) -> tuple[int, ...]:
        """BMS frame IDs never seen, or last seen more than `max_age_s` before `now`."""
        return tuple(i for i in BMS_FRAME_IDS if now - self.updated.get(i, -math.inf) > max_age_s)


def flag_ids(view: InverterView) -> frozenset[str]:
    """Every requirement ID that could explain the set 0x359 bits.

    Many-to-one: e.g. ProtOverVoltage stands for CV-OVP, PV-OVP or CHG-HV, so this is a superset
    of what is active; use the RS-485 alarm information (0x44) for the exact ID.
    AlarmInternalCommFail maps to no ID and adds nothing.
    """
    return frozenset().union(*(FLAG_IDS[f] for f in view.flags if f in FLAG_IDS))
