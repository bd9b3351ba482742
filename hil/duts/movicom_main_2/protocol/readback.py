"""What a Movicom Main 2.1 / 2R can tell about its firmware and configuration over Modbus (EOL read-back).

The public register map (references/movicom-bms-main-2/README.md §2) has the firmware version
(input 0x0001-0x0002, seen for Main 2.x) and five battery parameters (input 0x2420-0x2429, seen for
Main 2.x): those are read back and compared with the released set (hil.eol, docs/eol.md). The
holding registers that hold the protection, charge-control and heater settings were NOT recovered
(§2.3, §5 item 2) and the CANopen SDO objects of the settings are not public (§3): the design rows
those settings govern cannot be proven by read-back and stay in the EOL profile as tests
(`not_read_back` of the released files). On the 2R the map itself is OUR READING (the Main 3 map).
"""

from __future__ import annotations

from typing import Protocol

from hil.duts.movicom_main_2.protocol.modbus_codec import Value

#: configuration path (config.MovicomConfig) -> the input register that reports it (REAL32)
PARAMETER_REGISTERS: dict[str, str] = {
    "battery.nominal_capacity_ah": "nominal_capacity",
    "battery.max_charge_voltage_v": "max_charge_voltage",
    "battery.min_discharge_voltage_v": "min_discharge_voltage",
    "battery.max_charge_current_a": "max_charge_current",
    "battery.max_discharge_current_a": "max_discharge_current",
}
#: significant digits a REAL32 carries: a read value is compared at this precision
REAL32_DIGITS = 7


class RegisterReader(Protocol):
    """What the read-back needs of a client: registers by map name, decoded."""

    def read(self, names: list[str]) -> dict[str, Value]: ...


def firmware_text(version: Value) -> str:
    """ "major.minor.patch" of the firmware_version register (bytes patch, minor, major, 0)."""
    if not isinstance(version, tuple) or len(version) < 3:
        raise ValueError(f"firmware_version: 4 bytes expected, got {version!r}")
    patch, minor, major = (int(v) for v in version[:3])
    return f"{major}.{minor}.{patch}"


def as_read(value: Value) -> float:
    """A REAL32 parameter at the precision the register carries (57.6 reads as 57.599998...)."""
    if not isinstance(value, int | float):
        raise ValueError(f"a number expected, got {value!r}")
    return float(f"{float(value):.{REAL32_DIGITS}g}")


def read_back(client: RegisterReader) -> tuple[str, dict[str, float]]:
    """The unit's firmware version and every parameter the public map lets us read."""
    names = ["firmware_version", *PARAMETER_REGISTERS.values()]
    values = client.read(names)
    parameters = {path: as_read(values[reg]) for path, reg in PARAMETER_REGISTERS.items()}
    return firmware_text(values["firmware_version"]), parameters
