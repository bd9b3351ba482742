"""The discrete inputs and outputs (MM-DI, MM-DO), as the unit's configuration assigns them.

MM-DI: each input's signal follows its contact at the level its inversion flag makes active (Modbus
0x2000, bits 1-7 OUR READING), and its function takes effect on the relays or errors. Inversion is
covered only when the unit's configuration inverts an input (the example configuration, the default,
inverts the battery cover's: a cover switch that opens when the cover is lifted).
MM-DO: each output high (+5 V under the fixture's 20 mA load, read by the DAQ) while its function is
active and low while it is not; limits OUR READING (none documented): the station's expectations
`output_high_min_v` (default 4.5 V), `output_high_max_v` (5.5 V), `output_low_max_v` (0.5 V).
"""

from __future__ import annotations

from typing import Any

import pytest

from hil.duts.movicom_main_2.bench import MovicomBench
from hil.duts.movicom_main_2.config import InputFunction
from hil.measure import equals, info, within
from hil.uncertainty import budget, rectangular

#: the spec row's coverage item each input function's test shows
FUNCTION_ITEMS = {
    InputFunction.CHARGER_CONNECTED: "charger connected",
    InputFunction.INHIBIT_CHARGING: "inhibit charging",
    InputFunction.INHIBIT_DISCHARGING: "inhibit discharging",
    InputFunction.BATTERY_COVER: "battery cover",
}
#: per output function: (condition that makes it active, condition that makes it inactive); None = nominal
OUTPUT_STATES: dict[str, tuple[str | None, str | None]] = {
    "discharge_allowed": (None, "inhibit-discharging input"),
    "charge_allowed": ("charger", None),
    "heater": ("cold", None),
    "error": ("under-voltage", None),
    "critical_error": ("battery cover error", None),
}


def _effect(bench: MovicomBench, function: InputFunction) -> tuple[str, Any, bool, bool] | None:
    """(what, observe, before, after) of a function's effect: the observation before the signal and
    after it; None where the function has no effect the bench shows."""
    if function is InputFunction.CHARGER_CONNECTED:
        n = bench.relay_number("allow_charging")
        return f"relay {n} (allow charging) closed after Ton", lambda: bench.relay_closed(n), False, True
    if function is InputFunction.INHIBIT_CHARGING:
        n = bench.relay_number("allow_charging")
        return f"relay {n} (allow charging) closed", lambda: bench.relay_closed(n), True, False
    if function in (InputFunction.INHIBIT_DISCHARGING, InputFunction.POWER_DOWN_REQUEST):
        n = bench.relay_number("discharge")
        return f"relay {n} (discharge) closed", lambda: bench.relay_closed(n), True, False
    if function is InputFunction.BATTERY_COVER:
        return "battery_cover_error reported", lambda: "battery_cover_error" in bench.errors(), False, True
    return None


@pytest.mark.requirement("MM-DI")
@pytest.mark.parametrize("index", [1, 2, 3, 4])
def test_input_function_and_inversion(bench: MovicomBench, index: int, check) -> None:
    assignment = bench.config.inputs[index - 1]
    function, inverted = assignment.function, assignment.inverted
    terminal = bench.hw.inputs[index - 1]
    now = bench.clock.now
    if function is InputFunction.NONE:
        why = f"{terminal} has no function in the unit's configuration"
        check(info("MM-DI", f"input {index}", None, "", now(), data={"not_covered": why}))
        return
    name = function.name.lower()
    cc = bench.config.charge_control
    setup = ""
    if function is InputFunction.INHIBIT_CHARGING:  # allow-charging closed first: a charger
        setup, wait = bench.apply_condition("charger")
        bench.clock.sleep(wait)
    effect = _effect(bench, function)
    delay = cc.ton_s if function is InputFunction.CHARGER_CONNECTED else 0.0
    if function is InputFunction.BATTERY_COVER:
        delay = bench.config.protections.battery_cover.set_delay_s
    levels = {True: "closed", False: "open"}
    method = (
        f"{terminal} {name}, inverted: {inverted} (configuration); signal read on Modbus "
        f"(0x2000 bits 1-7 OUR READING){'; ' + setup if setup else ''}"
    )
    bench.clock.sleep(bench.settle_s)
    check(
        equals(
            "MM-DI",
            f"input {index} contact {levels[inverted]}: {name} inactive",
            bench.signal_reported(function),
            False,
            now(),
            method=method,
        )
    )
    if effect is not None:
        what, observe, before, _ = effect
        check(equals("MM-DI", f"input {index} inactive: {what}", observe(), before, now(), method=method))
    bench.set_input(index, True)
    bench.clock.sleep(delay + bench.settle_s)
    covers = [f"input {index}"] + (["inverted"] if inverted else [])
    check(
        equals(
            "MM-DI",
            f"input {index} contact {levels[not inverted]}: {name} active",
            bench.signal_reported(function),
            True,
            now(),
            method=method,
            data={"covers": covers},
        )
    )
    if effect is not None:
        what, observe, _, after = effect
        item = [FUNCTION_ITEMS[function]] if function in FUNCTION_ITEMS else []
        check(
            equals(
                "MM-DI",
                f"input {index} active: {what}",
                observe(),
                after,
                now(),
                method=method,
                data={"covers": item},
            )
        )
    bench.prepare()


def _output_level(bench: MovicomBench, output: int, high: bool, when: str, method: str, check: Any) -> None:
    exp = bench.expectations
    volts = bench.output_voltage(output)
    source, error = bench.output_error(volts)
    low, top = (
        (exp.get("output_high_min_v", 4.5), exp.get("output_high_max_v", 5.5))
        if high
        else (None, exp.get("output_low_max_v", 0.5))
    )
    check(
        within(
            "MM-DO",
            f"output {output} {'high' if high else 'low'} under 20 mA {when}",
            volts,
            "V",
            bench.clock.now(),
            low=low,
            high=top,
            uncertainty=budget(rectangular(f"{source}: reading {volts:.4g} V", error), unit="V"),
            method=method,
            notes="no output tolerance documented: OUR READING, the station's expectations",
            data={"covers": [f"output {output}"] if high else []},
        )
    )
    reported = bench.output_reported(output)
    if reported is not None:
        check(
            equals(
                "MM-DO",
                f"output {output} {when}: Modbus discrete_outputs (provisional map)",
                reported,
                high,
                bench.clock.now(),
                method=method,
            )
        )


@pytest.mark.requirement("MM-DO")
@pytest.mark.parametrize("output", [1, 2, 3, 4])
def test_output_level_and_function(bench: MovicomBench, output: int, check) -> None:
    function = bench.config.outputs[output - 1].function
    terminal = bench.hw.outputs[output - 1]
    if function not in OUTPUT_STATES:
        why = f"{terminal} has function {function!r}: the plan has no condition that drives it high"
        check(info("MM-DO", f"output {output}", None, "", bench.clock.now(), data={"not_covered": why}))
        return
    for high, condition in zip((False, True), reversed(OUTPUT_STATES[function]), strict=True):
        bench.set_output_load(output, True)
        method, wait = bench.apply_condition(condition) if condition else ("nominal inputs", 0.0)
        bench.clock.sleep(wait + bench.settle_s)
        when = f"({function} {'active' if high else 'inactive'})"
        _output_level(bench, output, high, when, f"{terminal} ({function}): {method}; 20 mA load", check)
        bench.prepare()
