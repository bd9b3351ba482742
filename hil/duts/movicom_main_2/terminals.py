"""The DUT terminals a Main 2.1 / 2R bench wires, by name (station `channels` keys).

Shared by the plant (which instrument feeds which input) and the bench (which instrument sets a
quantity), so a station file names each terminal once. Names follow the variant's own pin names
(variants.yaml) where it has them.

- `SUPPLY`: the board's supply (P1 / X3), a power_supply channel; the DMM reads its current there.
- `L<b>C<cc>`: cell `cc` of BMS Logic board `b` (cell_emulator); `L<b>T<t>`: its thermistor `t`
  (temperature_emulator, programmed as `LOGIC_NTC`).
- Hall-sensor and sensor inputs (analog_source): the variant's pin names upper-cased (`VCS`, `VREF`,
  `VTS`, `VHS` on the 2.1; `CS1_OUT`, `CS1_REF`, `CS2_OUT`, `CS2_REF`, `T_SENS1`, `T_SENS2` on the 2R).
- Dry-contact inputs (switch): `IN_1`..`IN_4` / `DI_1`..`DI_4`; discrete outputs (dmm, volts):
  `OUT_1`..`OUT_4` / `DO_1`..`DO_4`; relay contacts V+ to NO (dmm, ohms): `RLY1`..`RLY4`.
- Output loads (switch): `LOAD_OUT_1`.. / `LOAD_DO_1`..: closing one puts the fixture's 20 mA load
  (`OUTPUT_LOAD_A`, the seed's rating) on that output while the DMM reads it.
- LEDs (led_analyser): the LED names (`DS1`..`DS8` / `DS1.1`..`DS1.4`, `DS2`..`DS4`).
- Relay loads (electronic_load): `RLY1`..`RLY4`, one load per relay drawing its rated current from
  the bench's contact source through V+ and NO; the DMM reads the contact's drop at `RLY<n>` (volts).
- The sensor inputs again on the DMM (volts): the DAC's true output at the pin (the reference of MM-TS).
- Terminations: `TERM_<jumper>` (`TERM_P21`, `TERM_P22`; `TERM_J1`..`TERM_J3`), a switch relay that
  connects the DMM's 2-wire ohms input to the bus pair behind the jumper (and the DMM point of the
  same name); `JMP_<jumper>`, an optional switch relay across the jumper's pins 1-2 in place of the
  jumper (a fixture that lets the bench fit and remove it).
"""

from __future__ import annotations

from hil.duts.movicom_main_2.variants import Variant
from hil.models.ntc import BetaNtc

SUPPLY = "SUPPLY"
#: OUR READING: the BMS Logic boards' thermistors are 10 kΩ B3435 NTCs (not documented)
LOGIC_NTC = BetaNtc(r_ref_ohm=10_000.0, beta_k=3435.0)
#: the fixture's load on a discrete output (A): a 20 mA current sink, the seed's "+5V, 20mA" rating
OUTPUT_LOAD_A = 0.020


def cell_terminal(board: int, cell: int) -> str:
    """Cell `cell` (1-based) of Logic board `board` (1-based)."""
    return f"L{board}C{cell:02d}"


def ntc_terminal(board: int, sensor: int) -> str:
    """Thermistor `sensor` (1-based) of Logic board `board` (1-based)."""
    return f"L{board}T{sensor}"


def relay_terminal(number: int) -> str:
    """The contact (V+ to NO) of relay `number` (1-4)."""
    return f"RLY{number}"


def load_terminal(output: str) -> str:
    """The switch terminal that puts the fixture's 20 mA load on discrete output `output`."""
    return f"LOAD_{output}"


def sensor_terminals(hw: Variant) -> list[tuple[str, str]]:
    """(output, reference) terminals of each Hall-sensor header."""
    return [(s.signal.upper(), s.reference.upper()) for s in hw.current_sensors]


def temperature_terminals(hw: Variant) -> list[str]:
    """The analog temperature inputs (Vts / T_SENS1, T_SENS2)."""
    return [name.upper() for name in hw.temperature_inputs]


def humidity_terminal(hw: Variant) -> str | None:
    """The humidity input (Vhs), if the variant has one."""
    return hw.humidity_input.upper() if hw.humidity_input else None


def termination_terminal(jumper: str) -> str:
    """The switch route and DMM point of the bus pair behind termination jumper `jumper`."""
    return f"TERM_{jumper}"


def jumper_terminal(jumper: str) -> str:
    """The switch relay in place of termination jumper `jumper` (closed = fitted, pins 1-2)."""
    return f"JMP_{jumper}"


def terminations(hw: Variant) -> list[tuple[str, str]]:
    """(jumper, what it terminates) of every termination jumper: the CAN buses, then RS-485."""
    found = [(bus.termination_jumper, bus.name) for bus in hw.can_buses]
    return [*found, (hw.rs485_termination_jumper, "RS-485")]


def leds(hw: Variant) -> list[str]:
    """Every LED of the variant."""
    names = [hw.leds.run, hw.leds.link, hw.leds.error] + [r.led for r in hw.relays]
    return ([hw.leds.power] if hw.leds.power else []) + names
