"""The relays by function (MM-RLY-DSG, MM-RLY-ALLOW, MM-RLY-CHG, MM-RLY-HEAT, MM-CRIT): each relay
closed while its function allows it and open on each condition that inhibits it, seen by the DAQ on
the relay contact and by Modbus where the map has the relay states. Limits (thresholds, set delays,
Ton, Toff, EV, heater on/off) come from the unit's configuration (`bench.config`)."""

from __future__ import annotations

from typing import Any

import pytest

from hil.duts.movicom_main_2.bench import MovicomBench
from hil.duts.movicom_main_2.config import InputFunction
from hil.duts.movicom_main_2.variants import RelayFunctionName
from hil.measure import equals, info, within
from hil.procedures.placement import place
from hil.procedures.threshold import ThresholdSetup, go_no_go
from hil.procedures.timing import measure_delay

DSG_CONDITIONS = [
    "under-voltage",
    "low discharge temperature",
    "high discharge temperature",
    "discharge over-current",
    "inhibit-discharging input",
    "critical error",
]
ALLOW_CONDITIONS = [
    "over-voltage",
    "low charge temperature",
    "high charge temperature",
    "inhibit-charging input",
    "critical error",
    "EV level",
]
CRITICAL_ERRORS = {"battery cover error": "battery_cover_error", "ADC error": "adc_error"}
#: OUR READING: Ton/Toff carry no documented tolerance; one firmware cycle and the poll at most
TIMING_TOLERANCE_S = 0.1
POLL_S = 0.05


def _check_relay(
    bench: MovicomBench,
    check: Any,
    rid: str,
    number: int,
    closed: bool,
    when: str,
    method: str = "",
    covers: tuple[str, ...] = (),
) -> None:
    """Relay `number` `closed` (or open) as the DAQ and Modbus see it."""
    for source, value in bench.relay_observations(number):
        check(
            equals(
                rid,
                f"relay {number} {'closed' if closed else 'open'} {when}: {source}",
                value,
                closed,
                bench.clock.now(),
                method=method,
                data={"covers": list(covers)},
            )
        )


@pytest.mark.requirement("MM-RLY-DSG")
@pytest.mark.parametrize("condition", DSG_CONDITIONS)
def test_discharge_relay_opens_on_each_inhibiting_condition(
    bench: MovicomBench, condition: str, check
) -> None:
    number = bench.relay_number("discharge")
    bench.clock.sleep(bench.settle_s)
    _check_relay(bench, check, "MM-RLY-DSG", number, True, "at nominal (discharge allowed)")
    method, wait = bench.apply_condition(condition)
    bench.clock.sleep(wait)
    _check_relay(bench, check, "MM-RLY-DSG", number, False, f"on {condition}", method, (condition,))
    bench.prepare()


@pytest.mark.requirement("MM-RLY-ALLOW")
@pytest.mark.parametrize("condition", ALLOW_CONDITIONS)
def test_allow_charging_relay_opens_on_each_inhibiting_condition(
    bench: MovicomBench, condition: str, check
) -> None:
    number = bench.relay_number("allow_charging")
    charger, wait = bench.apply_condition("charger")
    bench.clock.sleep(wait)
    _check_relay(bench, check, "MM-RLY-ALLOW", number, True, "with a charger (charging allowed)", charger)
    method, wait = bench.apply_condition(condition)
    bench.clock.sleep(wait)
    _check_relay(bench, check, "MM-RLY-ALLOW", number, False, f"on {condition}", method, (condition,))
    bench.prepare()


@pytest.mark.requirement("MM-RLY-ALLOW")
def test_allow_charging_relay_at_the_ev_level(bench: MovicomBench, check) -> None:
    """The EV level by go/no-go, probes placed by the run's decision rule: allow-charging stays
    closed with cell L1C01 just below the configured EV and opens just above it (the EV opening
    holds until the charger goes, so the probe below comes first)."""
    number, ev = bench.relay_number("allow_charging"), bench.config.charge_control.ev_cell_v
    tolerance, source = bench.protection_tolerance("overvoltage")  # the cell thresholds' tolerance
    placement = place(check.rule, tolerance, bench.protection_budget("overvoltage", ev))
    charger, wait = bench.apply_condition("charger")
    bench.clock.sleep(wait)
    setup = ThresholdSetup(
        clock=bench.clock,
        apply=lambda volts: bench.set_cell(1, 1, volts),
        tripped=lambda: not bench.relay_closed(number),
        rearm=lambda: None,  # the charger's Ton is behind; the cells are nominal
        settle_s=bench.settle_s,
        direction="above",
    )
    result = go_no_go(setup, ev, placement.distance)
    for probe, closed, side in ((result.inside, True, "below"), (result.beyond, False, "above")):
        check(
            equals(
                "MM-RLY-ALLOW",
                f"relay {number} {'closed' if closed else 'open'} with a cell just {side} EV: DAQ",
                not probe.tripped,
                closed,
                probe.time,
                method=f"{charger}; cell L1C01 at {probe.level:.6g} V for {setup.settle_s:g} s; configured "
                f"EV {ev:g} V; " + placement.describe("V"),
                notes=f"tolerance {tolerance:g} V, the cell protections' (none is documented for EV): "
                + source,
                data={**placement.data(probe.level), "covers": ["EV level"]},
            )
        )
    bench.prepare()


def _charger_signal_mode(bench: MovicomBench, rid: str, check: Any) -> bool:
    """Whether the unit waits for a charger signal; if not (mode always) the row says so."""
    if bench.config.charge_control.mode == "charger_signal":
        return True
    why = "charge_control.mode is 'always' in the unit's configuration: no charger signal to test"
    check(info(rid, "charger signal", None, "", bench.clock.now(), data={"not_covered": why}))
    return False


def _delay_check(
    bench: MovicomBench,
    rid: str,
    name: str,
    measured: float | None,
    expected: float,
    budget: Any,
    **extra: Any,
) -> Any:
    return within(
        rid,
        name,
        measured,
        "s",
        bench.clock.now(),
        low=max(0.0, expected - TIMING_TOLERANCE_S),
        high=expected + TIMING_TOLERANCE_S,
        uncertainty=budget,
        **extra,
    )


@pytest.mark.requirement("MM-RLY-CHG")
def test_charge_relay_closes_ton_after_a_charger_connects(bench: MovicomBench, check) -> None:
    if not _charger_signal_mode(bench, "MM-RLY-CHG", check):
        return
    number, ton = bench.relay_number("charge"), bench.config.charge_control.ton_s
    bench.wait_charge_relay_open()  # a charger of an earlier test leaves it closed for Toff
    _check_relay(bench, check, "MM-RLY-CHG", number, False, "without a charger")
    how: list[str] = []
    result = measure_delay(
        bench.clock,
        lambda: how.append(bench.set_signal(InputFunction.CHARGER_CONNECTED, True)),
        {"closed": lambda: bench.relay_closed(number)},
        ton + 2.0,
        POLL_S,
    )
    check(
        _delay_check(
            bench,
            "MM-RLY-CHG",
            f"relay {number} closing delay after the charger signal",
            result.estimate("closed"),
            ton,
            result.budget("closed"),
            method=f"{how[0]}; DAQ polled every {POLL_S:g} s; configured Ton {ton:g} s, tolerance "
            f"±{TIMING_TOLERANCE_S:g} s (OUR READING: none documented)",
            data={"covers": ["charger connected -> closes after Ton"]},
        )
    )
    _check_relay(bench, check, "MM-RLY-CHG", number, True, "with the charger")


@pytest.mark.requirement("MM-RLY-CHG", "MM-RLY-ALLOW")
def test_charge_relay_opens_toff_after_the_charger_goes(bench: MovicomBench, check) -> None:
    if not _charger_signal_mode(bench, "MM-RLY-CHG", check):
        return
    charge, allow = bench.relay_number("charge"), bench.relay_number("allow_charging")
    toff = bench.config.charge_control.toff_s
    charger, wait = bench.apply_condition("charger")
    bench.clock.sleep(wait)
    _check_relay(bench, check, "MM-RLY-CHG", charge, True, "with the charger", charger)
    how: list[str] = []
    result = measure_delay(
        bench.clock,
        lambda: how.append(bench.set_signal(InputFunction.CHARGER_CONNECTED, False)),
        {"charge": lambda: not bench.relay_closed(charge), "allow": lambda: not bench.relay_closed(allow)},
        toff + 2.0,
        POLL_S,
    )
    method = (
        f"charger signal removed ({how[0]}); DAQ polled every {POLL_S:g} s; "
        f"tolerance ±{TIMING_TOLERANCE_S:g} s (OUR READING)"
    )
    check(
        _delay_check(
            bench,
            "MM-RLY-CHG",
            f"relay {charge} opening delay after the charger went (configured Toff {toff:g} s)",
            result.estimate("charge"),
            toff,
            result.budget("charge"),
            method=method,
            data={"covers": ["charger removed -> opens after Toff"]},
        )
    )
    check(
        _delay_check(
            bench,
            "MM-RLY-ALLOW",
            f"relay {allow} opening delay after the charger went (at once)",
            result.estimate("allow"),
            0.0,
            result.budget("allow"),
            method=method,
        )
    )


@pytest.mark.requirement("MM-RLY-CHG")
@pytest.mark.parametrize(
    ("condition", "item"),
    [
        ("over-voltage", "charge-inhibiting error opens it"),
        ("inhibit-charging input", "charging inhibited -> stays open with a charger"),
    ],
    ids=["error-opens", "inhibited-stays-open"],
)
def test_charge_relay_open_while_charging_is_not_allowed(
    bench: MovicomBench, condition: str, item: str, check
) -> None:
    if not _charger_signal_mode(bench, "MM-RLY-CHG", check):
        return
    number = bench.relay_number("charge")
    bench.wait_charge_relay_open()
    if condition == "over-voltage":  # closed first, then the error opens it
        charger, wait = bench.apply_condition("charger")
        bench.clock.sleep(wait)
        _check_relay(bench, check, "MM-RLY-CHG", number, True, "with the charger", charger)
        method, wait = bench.apply_condition(condition)
    else:  # inhibited first, then the charger: it never closes
        method, _ = bench.apply_condition(condition)
        charger, wait = bench.apply_condition("charger")
        method = f"{method}; then {charger}"
    bench.clock.sleep(wait)
    _check_relay(bench, check, "MM-RLY-CHG", number, False, f"on {condition}", method, (item,))
    bench.prepare()


@pytest.mark.requirement("MM-RLY-HEAT")
@pytest.mark.parametrize("side", ["on", "off"])
def test_heater_relay_at_its_on_and_off_temperatures(bench: MovicomBench, side: str, check) -> None:
    heater = bench.config.heater
    number = bench.relay_number("heater")
    limit = heater.on_below_c if side == "on" else heater.off_above_c
    margin = bench.temperature_margin(limit)
    setup = bench.heater_setup(side)  # type: ignore[arg-type]
    result = go_no_go(setup, limit, margin)
    state = "closed" if side == "on" else "open"
    start = "from warm (heater off)" if side == "on" else "from cold (heater on)"
    for probe, expected, where in (
        (result.inside, False, "between on and off: unchanged (the hysteresis)"),
        (result.beyond, True, f"beyond heater-{side}: {state}"),
    ):
        check(
            equals(
                "MM-RLY-HEAT",
                f"relay {number} {start}, {where}",
                probe.tripped,
                expected,
                probe.time,
                method=f"every Logic thermistor at {probe.level:.2f} °C for {setup.settle_s:g} s, DAQ on "
                f"RLY{number}; configured heater on below {heater.on_below_c:g} °C, off above "
                f"{heater.off_above_c:g} °C; margin {margin:.2f} °C (the Logic's ±2 °C, OUR READING, and "
                "the emulator's limit of error)",
            )
        )
    _check_relay(bench, check, "MM-RLY-HEAT", number, side == "on", f"beyond heater-{side}")
    bench.prepare()


def _closing_relays(bench: MovicomBench) -> list[tuple[int, RelayFunctionName]]:
    return [(i, a.function) for i, a in enumerate(bench.config.relays, 1) if a.function != "none"]


@pytest.mark.requirement("MM-CRIT")
@pytest.mark.parametrize("condition", list(CRITICAL_ERRORS))
def test_critical_error_opens_all_relays(bench: MovicomBench, condition: str, check) -> None:
    setup = []
    for state in ("charger", "cold"):  # every relay function active: charging, heater, discharge
        method, wait = bench.apply_condition(state)
        setup.append(method)
        bench.clock.sleep(wait)
    for number, function in _closing_relays(bench):
        _check_relay(
            bench, check, "MM-CRIT", number, True, f"({function}) before the error", "; ".join(setup)
        )
    method, wait = bench.apply_condition(condition)
    bench.clock.sleep(wait)
    check(
        equals(
            "MM-CRIT",
            f"{CRITICAL_ERRORS[condition]} reported (Modbus errors_1)",
            CRITICAL_ERRORS[condition] in bench.errors(),
            True,
            bench.clock.now(),
            method=method,
        )
    )
    for number, function in _closing_relays(bench):
        _check_relay(
            bench, check, "MM-CRIT", number, False, f"({function}) on the {condition}", method, (condition,)
        )
    bench.prepare()
