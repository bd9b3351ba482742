"""Non-conforming Movicom Main 2.1 / 2R units generated from the variant's example configuration.

A Movicom mutant is a unit that applies one thing other than it declares: the twin runs with
`--firmware` the mutated configuration while the plan checks against the declared one
(`-- --hil-dut-config`), as for the D1000. Each mutant moves one protection's set or tolerant value
beyond its margin both ways (acting too late, acting too early), scales one delay both ways, turns
one protection off, moves a charge-control or heater value, breaks one twin behaviour flag, moves
a firmware constant the plan checks (the LED blink rates, the +5 V output level), or puts one
SIM-ONLY hardware fault on the unit (a relay contact that never opens, a weak output, a dead LED,
a current offset or gain error, high contact resistance or supply current, a brown-out level off
the minimum). Each names the requirement IDs it must fail on.

EOL mode (`eol_mutants`): every mutant of a `unit` row, every mutant of a design row the released
set names `not_read_back` (their tests stay in the Movicom's EOL profile), and a changed readable
parameter (a battery parameter: MM-MODBUS by read-back).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mutation import DeclaredMutant, put, valid_units

from hil import registry
from hil.duts.movicom_main_2.config import PROTECTION_DIRECTIONS, Behaviour, MovicomConfig, config_class
from hil.eol import load_released
from hil.spec import SpecFile

VARIANTS = {"movicom-main-2.1": "main-2.1", "movicom-main-2r": "main-2r"}
#: how far a threshold moves, by what it acts on: several times the plans' margins (cell: the Logic's
#: 2 mV and the emulator's error; temperature: the Logic's ±2 °C; current: the ADC's 1 mV = 0.32 A
#: at 200 A plus the source's error)
SHIFT: dict[str, float] = {"voltage": 0.1, "temperature": 6.0, "current": 15.0, "humidity": 6.0}
#: a release is moved towards its trip by this share of the hysteresis at most (never past it)
RELEASE_SHARE = 0.8
#: a delay is scaled by this both ways
DELAY_FACTOR = 3.0
#: what each protection section acts on
QUANTITY = {
    "overvoltage": "voltage",
    "undervoltage": "voltage",
    "charge_overcurrent": "current",
    "discharge_overcurrent": "current",
    "low_charge_temperature": "temperature",
    "low_discharge_temperature": "temperature",
    "high_charge_temperature": "temperature",
    "high_discharge_temperature": "temperature",
}
#: the relay row each relay's default function belongs to
RELAY_ROWS = {1: "MM-RLY-DSG", 2: "MM-RLY-ALLOW", 3: "MM-RLY-CHG", 4: "MM-RLY-HEAT"}
#: an inverted input in the declared configuration, so that an ignored inversion flag shows
INVERTED_COVER = (("inputs.3.inverted", True),)
#: the rows each behaviour flag removes a behaviour of, and the declared base it needs
FLAG_ROWS: dict[str, tuple[frozenset[str], tuple[tuple[str, Any], ...]]] = {
    "critical_opens_all": (frozenset({"MM-CRIT"}), ()),
    "honour_inversion": (frozenset({"MM-DI"}), INVERTED_COVER),
    "hysteresis": (frozenset({"MM-PROT"}), ()),
    "delays": (frozenset({"MM-PROT", "MM-CRIT", "MM-LOGIC", "MM-RLY-CHG"}), ()),
    "heater_control": (frozenset({"MM-RLY-HEAT"}), ()),
    "heater_hysteresis": (frozenset({"MM-RLY-HEAT"}), ()),
    "logic_offline_check": (frozenset({"MM-LOGIC"}), ()),
    "current_sign": (frozenset({"MM-CS", "MM-MODBUS", "MM-CAN"}), ()),
    "ev_opens_allow_charging": (frozenset({"MM-RLY-ALLOW"}), ()),
    "software_control": (frozenset({"MM-DI", "MM-MODBUS"}), ()),
}
#: firmware constants the spec states (seed figures) and what a non-conforming unit has instead
FIXED: dict[str, tuple[str, float]] = {
    "link_init_blink_hz": ("MM-LOGIC", 4.0),  # seed: 2 Hz while initialising
    "link_up_blink_hz": ("MM-LOGIC", 12.5),  # seed: 25 Hz once established
    "output_high_v": ("MM-DO", 4.0),  # seed: +5 V
}
SKIPPED_FIXED = {
    "logic_init_s": "not documented (how long the link takes to come up)",
    "run_blink_hz": "not documented (DS2 blinks; its rate is OUR READING)",
    "error_blink_hz": "not documented (DS4 blinks red; its rate is OUR READING)",
    "vref_min_v": "OUR READING of when Vref is implausible (MM-CRIT's ADC error)",
    "vref_max_v": "OUR READING of when Vref is implausible (MM-CRIT's ADC error)",
    "adc_error_mv": "the seeded noise bound, not a unit setting",
    "discharge_current_present_a": "no requirement row states it",
    "supply_current_ma": "the healthy draw (hardware.supply_current_extra_ma is the fault)",
    "relay_coil_ma": "the healthy draw (hardware.supply_current_extra_ma is the fault)",
    "contact_resistance_ohm": "the healthy contact (hardware.contact_resistance_extra_ohm is the fault)",
    "output_resistance_ohm": "the healthy driver (hardware.weak_output is the fault)",
}
NOT_GENERATED = (
    "MM-CAN bit rate: the simulated CAN bus does not model a node at another bit rate",
    "modbus.unit / baudrate: a unit that does not answer at all stops the bench (exit 3), it is "
    "not a failing row",
)


@dataclass(frozen=True)
class MovicomMutant(DeclaredMutant):
    """One unit applying `changes` while declaring `base` on the variant's example configuration."""

    name: str
    requirements: frozenset[str]
    changes: tuple[tuple[str, Any], ...]
    dut: str = "movicom-main-2.1"
    base: tuple[tuple[str, Any], ...] = field(default=())
    kind: str = "configuration"  # "configuration", "behaviour", "fixed" or "hardware"

    def declared(self) -> dict[str, Any]:
        """The configuration the unit claims: the variant's defaults with `base` applied."""
        data: dict[str, Any] = config_class(VARIANTS[self.dut])().model_dump(mode="json")
        for path, value in self.base:
            put(data, path, value)
        return data

    def settings(self) -> dict[str, Any]:
        """The configuration the unit applies: the declared one with the changes."""
        data = self.declared()
        for path, value in self.changes:
            put(data, path, value)
        return data


def _protection_mutants(defaults: dict[str, Any], dut: str) -> tuple[list[MovicomMutant], list[str]]:
    found: list[MovicomMutant] = []
    skipped: list[str] = []
    prot = frozenset({"MM-PROT"})
    for section, direction in PROTECTION_DIRECTIONS.items():
        if section not in QUANTITY:
            continue
        p = defaults["protections"][section]
        unsafe = 1.0 if direction == "above" else -1.0
        shift = SHIFT[QUANTITY[section]]
        path = f"protections.{section}"

        def add(name: str, changes: tuple[tuple[str, Any], ...], section: str = section) -> None:
            found.append(MovicomMutant(f"MM-PROT-{section}-{name}", prot, changes, dut))

        add("set-late", ((f"{path}.set", round(p["set"] + unsafe * shift, 6)),))
        room = abs(p["set"] - p["tolerant"])
        early = min(shift, RELEASE_SHARE * room)
        # tripping too early: the set value moved inside, short of the release value
        add("set-early", ((f"{path}.set", round(p["set"] - unsafe * early, 6)),))
        add("tolerant-late", ((f"{path}.tolerant", round(p["tolerant"] - unsafe * shift, 6)),))
        add("tolerant-early", ((f"{path}.tolerant", round(p["tolerant"] + unsafe * early, 6)),))
        for key in ("set_delay_s", "clear_delay_s"):
            value = float(p[key])
            add(f"{key}-longer", ((f"{path}.{key}", value * DELAY_FACTOR),))
            add(f"{key}-shorter", ((f"{path}.{key}", value / DELAY_FACTOR),))
        add("disabled", ((f"{path}.enabled", False),))
        add("locking", ((f"{path}.lock", not p["lock"]),))
    if not defaults["protections"]["high_humidity"]["enabled"]:
        skipped.append("protections.high_humidity: disabled in the example configuration (no row checks it)")
    return found, skipped


def _function_mutants(defaults: dict[str, Any], dut: str) -> list[MovicomMutant]:
    cc, heater = defaults["charge_control"], defaults["heater"]
    cover, logic = defaults["protections"]["battery_cover"], defaults["protections"]["logic_offline"]
    m = MovicomMutant
    found = [
        m(
            "MM-CRIT-cover-disabled",
            frozenset({"MM-CRIT"}),
            (("protections.battery_cover.enabled", False),),
            dut,
        ),
        m(
            "MM-CRIT-cover-delay-longer",
            frozenset({"MM-CRIT"}),
            (("protections.battery_cover.set_delay_s", cover["set_delay_s"] * DELAY_FACTOR),),
            dut,
        ),
        m(
            "MM-LOGIC-offline-delay-longer",
            frozenset({"MM-LOGIC"}),
            (("protections.logic_offline.set_delay_s", logic["set_delay_s"] * DELAY_FACTOR),),
            dut,
        ),
        m(
            "MM-LOGIC-offline-disabled",
            frozenset({"MM-LOGIC"}),
            (("protections.logic_offline.enabled", False),),
            dut,
        ),
    ]
    for key in ("ton_s", "toff_s"):
        for way, value in (("longer", cc[key] * DELAY_FACTOR), ("shorter", cc[key] / DELAY_FACTOR)):
            found.append(
                m(
                    f"MM-RLY-CHG-{key}-{way}",
                    frozenset({"MM-RLY-CHG"}),
                    ((f"charge_control.{key}", value),),
                    dut,
                )
            )
    found.append(m("MM-RLY-CHG-always", frozenset({"MM-RLY-CHG"}), (("charge_control.mode", "always"),), dut))
    for way, sign in (("raised", 1.0), ("lowered", -1.0)):
        found.append(
            m(
                f"MM-RLY-ALLOW-ev-{way}",
                frozenset({"MM-RLY-ALLOW"}),
                (("charge_control.ev_cell_v", round(cc["ev_cell_v"] + sign * SHIFT["voltage"], 6)),),
                dut,
            )
        )
    room = heater["off_above_c"] - heater["on_below_c"]
    step = min(SHIFT["temperature"], RELEASE_SHARE * room)
    for key, way, value in (
        ("on_below_c", "raised", heater["on_below_c"] + step),
        ("on_below_c", "lowered", heater["on_below_c"] - SHIFT["temperature"]),
        ("off_above_c", "raised", heater["off_above_c"] + SHIFT["temperature"]),
        ("off_above_c", "lowered", heater["off_above_c"] - step),
    ):
        found.append(
            m(f"MM-RLY-HEAT-{key}-{way}", frozenset({"MM-RLY-HEAT"}), ((f"heater.{key}", value),), dut)
        )
    found.append(m("MM-RLY-HEAT-disabled", frozenset({"MM-RLY-HEAT"}), (("heater.enabled", False),), dut))
    # assignments: one input, one relay and one output given another function than declared
    found += [
        m("MM-DI-input1-unassigned", frozenset({"MM-DI"}), (("inputs.0.function", "none"),), dut),
        m(
            "MM-DI-input4-inversion-flipped",
            frozenset({"MM-DI"}),
            (("inputs.3.inverted", not defaults["inputs"][3]["inverted"]),),
            dut,
        ),
        m("MM-RLY-DSG-unassigned", frozenset({"MM-RLY-DSG"}), (("relays.0.function", "none"),), dut),
        m("MM-DO-output1-unassigned", frozenset({"MM-DO"}), (("outputs.0.function", "none"),), dut),
        m(
            "MM-MODBUS-register-order",
            frozenset({"MM-MODBUS", "MM-CS"}),
            (("modbus.register_order", "ABCD"),),
            dut,
        ),
        m(
            "MM-CAN-heartbeat-longer",
            frozenset({"MM-CAN"}),
            (("can.heartbeat_ms", int(defaults["can"]["heartbeat_ms"] * DELAY_FACTOR)),),
            dut,
        ),
        m(
            "MM-CS-sensor-gain",
            frozenset({"MM-CS"}),
            (("current_sensors.0.volts_at_rated", defaults["current_sensors"][0]["volts_at_rated"] * 1.1),),
            dut,
        ),
        m(
            "MM-TS-offset",
            frozenset({"MM-TS"}),
            (("analog.temperature_v_at_0c", defaults["analog"]["temperature_v_at_0c"] + 0.05),),
            dut,
        ),
    ]
    return found


def _hardware_mutants(dut: str) -> tuple[list[MovicomMutant], list[str]]:
    hw = registry.dut_family(dut).load("config")().hardware_variant
    found: list[MovicomMutant] = []
    skipped: list[str] = []

    def add(name: str, rows: set[str], **changes: Any) -> None:
        pairs = tuple((f"hardware.{k}", v) for k, v in changes.items())
        found.append(MovicomMutant(name, frozenset(rows), pairs, dut, kind="hardware"))

    for relay in range(1, 5):
        add(f"hw-relay{relay}-stuck-closed", {RELAY_ROWS[relay], "MM-RLY-RATE"}, relay_stuck_closed=relay)
    add("hw-relay-contact-resistance", {"MM-RLY-RATE"}, contact_resistance_extra_ohm=0.5)
    add("hw-output1-weak", {"MM-DO"}, weak_output=1, weak_output_extra_ohm=150.0)
    add("hw-current-offset", {"MM-CS", "MM-MODBUS"}, current_offset_a=3.0)
    add("hw-temperature-input-offset", {"MM-TS"}, temperature_offset_c=4.0)
    add("hw-termination-missing", {"MM-TERM-CAN", "MM-TERM-485"}, termination_missing=True)
    add("hw-termination-always", {"MM-TERM-CAN", "MM-TERM-485"}, termination_always=True)
    add("hw-dead-relay1-led", {"MM-LED"}, dead_led=hw.relays[0].led)
    add("hw-dead-run-led", {"MM-LED"}, dead_led=hw.leds.run)
    add("hw-brown-out-high", {"MM-SUP-V"}, supply_min_offset_v=1.0)
    add("hw-runs-below-minimum", {"MM-SUP-V"}, supply_min_offset_v=-1.0)
    if hw.supply.max_current_ma is not None:
        add("hw-supply-current", {"MM-SUP-I"}, supply_current_extra_ma=60.0)
    else:
        skipped.append(f"hw-supply-current: {hw.title} has no supply-current figure (MM-SUP-I is 2.1 only)")
    return found, skipped


def mutants(spec: SpecFile, dut: str = "movicom-main-2.1") -> tuple[list[MovicomMutant], list[str]]:
    """Every single-change mutant of the variant's example configuration, and the ones left out."""
    model = config_class(VARIANTS[dut])
    defaults: dict[str, Any] = model().model_dump(mode="json")
    found, skipped = _protection_mutants(defaults, dut)
    found += _function_mutants(defaults, dut)
    hardware, hw_skipped = _hardware_mutants(dut)
    found += hardware
    skipped += hw_skipped
    for flag in Behaviour.model_fields:
        rows, base = FLAG_ROWS[flag]
        found.append(
            MovicomMutant(f"flag-{flag}", rows, ((f"behaviour.{flag}", False),), dut, base, "behaviour")
        )
    for name, (rid, value) in FIXED.items():
        found.append(
            MovicomMutant(
                f"{rid}-fixed-{name}", frozenset({rid}), ((f"fixed.{name}", value),), dut, kind="fixed"
            )
        )
    skipped += [f"fixed.{name}: {why}" for name, why in SKIPPED_FIXED.items()]
    skipped += list(NOT_GENERATED)
    ids = spec.ids()
    for m in found:
        unknown = sorted(m.requirements - set(ids))
        if unknown:
            raise AssertionError(f"{m.name}: no spec row {unknown[0]}")
    return valid_units(found, MovicomConfig, skipped), skipped


def eol_mutants(spec: SpecFile, dut: str = "movicom-main-2.1") -> tuple[list[MovicomMutant], list[str]]:
    """The mutants the EOL profile must fail: unit-row faults, the design rows it keeps as tests
    (not read back), and a readable parameter changed (caught by the read-back)."""
    family = registry.dut_family(dut)
    assert family.released is not None
    released = load_released(family.released)
    unit = {r.id for r in spec.requirements if r.eol.class_ == "unit"}
    tested = unit | set(released.not_read_back)
    found, skipped = mutants(spec, dut)
    kept = [m for m in found if m.requirements & tested]
    skipped += [
        f"{m.name}: rows {sorted(m.requirements)} proven by read-back only" for m in found if m not in kept
    ]
    for path, value in released.parameters.items():
        assert isinstance(value, int | float)
        kept.append(
            MovicomMutant(
                f"readback-{path}",
                frozenset({released.interface_row}),
                ((path, value * 1.1),),
                dut,
                kind="parameter",
            )
        )
    return kept, skipped
