"""MM-MODBUS: the current, the Logic temperatures, one Logic board's cell data (selected by a write
to holding register 0x4000) and the input signals, read over every Modbus transport of the variant
(RTU; TCP on the 2.1), agree with the stimulus; a software-control write (0x5100 + code - 1, the
plan's other write access) forces an input signal and hands it back to the input.

Limits: the unit's own error (current: the ADC's 1 mV, S4, through the configured sensor gain; cells
and temperatures: the Logic's error, OUR READING) plus the stimulus's limit of error; U is the
stimulus's. The 0x2011-0x20C9 layout is OUR PLACEHOLDER (provisional in the register map)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hil.duts.movicom_main_2.bench import (
    LOGIC_CELL_ACCURACY_V,
    LOGIC_TEMPERATURE_ACCURACY_C,
    SOFTWARE_CONTROL_PHYSICAL,
    MovicomBench,
)
from hil.duts.movicom_main_2.client import Transport
from hil.duts.movicom_main_2.config import InputFunction
from hil.measure import capable, equals, within
from hil.uncertainty import budget, rectangular

ROW = "MM-MODBUS"
#: the stimulus currents, charging and discharging (A), inside the configured over-current limits
CURRENTS_A = [20.0, -20.0]
#: the Logic thermistors' stimulus (°C), inside the configured temperature limits
LOGIC_TEMPERATURE_C = 30.0
#: the Logic board read through 0x4000 (the second: the default selection is the first) and the
#: voltage its cells are set to, apart from nominal so the board is told from the other
SELECTED_BOARD = 2
SELECTED_CELL_V = 3.40
#: the inputs made active for the input-signal read (by number, 1-4)
ACTIVE_INPUTS = (1, 3)
#: the signal forced by software control (0x5104, provisional): it opens the discharge relay, which
#: is closed at nominal conditions
SOFTWARE_CONTROLLED = InputFunction.INHIBIT_DISCHARGING


def _transports(bench: MovicomBench) -> Iterator[Transport]:
    yield "rtu"
    if bench.hw.modbus_tcp:
        yield "tcp"


@pytest.mark.requirement(ROW)
@pytest.mark.parametrize("amps", CURRENTS_A, ids=["charging", "discharging"])
def test_current_over_modbus_agrees_with_the_hall_sensor_signal(
    bench: MovicomBench, amps: float, check
) -> None:
    bench.set_current_trimmed(amps)
    bench.clock.sleep(bench.settle_s)
    for transport in _transports(bench):
        value = bench.dut.value("battery_current", transport)
        assert isinstance(value, float)
        name = f"battery_current over Modbus {transport.upper()} at {amps:+g} A"
        check(capable(bench.current_reading_result(ROW, name, value, amps, ["current"])))
    bench.set_current(0.0)


@pytest.mark.requirement(ROW)
def test_logic_temperatures_over_modbus_agree_with_the_thermistors(bench: MovicomBench, check) -> None:
    bench.set_temperatures(LOGIC_TEMPERATURE_C)
    bench.clock.sleep(bench.settle_s)
    name, error = bench.ntc_error(bench.ntcs[bench.ntc_terminals[0]].name, LOGIC_TEMPERATURE_C)
    u = budget(rectangular(f"{name}: NTC at {LOGIC_TEMPERATURE_C:g} °C", error), unit="°C")
    tolerance = LOGIC_TEMPERATURE_ACCURACY_C + error
    for transport in _transports(bench):
        values = bench.dut.read(["min_cell_temperature", "max_cell_temperature"], transport)
        for register, value in values.items():
            assert isinstance(value, float)
            check(
                capable(
                    within(
                        ROW,
                        f"{register} over Modbus {transport.upper()}",
                        value,
                        "°C",
                        bench.clock.now(),
                        low=LOGIC_TEMPERATURE_C - tolerance,
                        high=LOGIC_TEMPERATURE_C + tolerance,
                        uncertainty=u,
                        method=f"every Logic thermistor emulated at {LOGIC_TEMPERATURE_C:g} °C; limit: the "
                        "Logic's ±2 °C (OUR READING) + the emulator's limit of error",
                        data={"covers": ["temperature"]},
                    )
                )
            )
    bench.set_temperatures(bench.NEUTRAL_C)


@pytest.mark.requirement(ROW)
def test_cell_data_of_the_logic_selected_by_0x4000(bench: MovicomBench, check) -> None:
    boards, cells = bench.config.logic.boards, bench.config.logic.cells_per_board
    board = min(SELECTED_BOARD, boards)
    bench.set_board_cells(board, SELECTED_CELL_V)
    bench.clock.sleep(bench.settle_s)
    name, error = bench.cell_error(SELECTED_CELL_V)
    u = budget(rectangular(f"{name}: setting {SELECTED_CELL_V:g} V", error), unit="V")
    tolerance = LOGIC_CELL_ACCURACY_V + error
    method = (
        f"WRITE: holding 0x4000 (logic_select) = {board} selects the Logic whose data appear at "
        f"0x2010-0x20C9; its {cells} cells at {SELECTED_CELL_V} V, the other boards' at "
        f"{bench.NOMINAL_CELL_V} V; 0x2011-0x20C9 layout OUR PLACEHOLDER (provisional)"
    )
    try:
        for transport in _transports(bench):
            bench.dut.write("logic_select", board, transport)
            values = bench.dut.read(["logic_address", "logic_cell_count", "logic_cell_voltages"], transport)
            now = bench.clock.now()
            label = transport.upper()
            check(
                equals(
                    ROW,
                    f"logic_address after the write ({label})",
                    str(values["logic_address"]),
                    str(board),
                    now,
                    method=method,
                )
            )
            check(
                equals(
                    ROW,
                    f"logic_cell_count ({label})",
                    str(values["logic_cell_count"]),
                    str(cells),
                    now,
                    method=method,
                )
            )
            voltages = values["logic_cell_voltages"]
            assert isinstance(voltages, tuple)
            for cell in range(1, cells + 1):
                check(
                    capable(
                        within(
                            ROW,
                            f"L{board}C{cell:02d} over Modbus {label} (0x4000 = {board})",
                            float(voltages[cell - 1]),
                            "V",
                            now,
                            low=SELECTED_CELL_V - tolerance,
                            high=SELECTED_CELL_V + tolerance,
                            uncertainty=u,
                            method=method + "; limit: the Logic's cell error (OUR READING) + the emulator's "
                            "limit of error",
                            data={"covers": ["cell data via 0x4000"]},
                        )
                    )
                )
    finally:
        bench.dut.write("logic_select", 1)  # the default selection back
        bench.set_cells(bench.NOMINAL_CELL_V)


@pytest.mark.requirement(ROW)
def test_input_signals_over_modbus_agree_with_the_contacts(bench: MovicomBench, check) -> None:
    bits = {b.name for b in bench.dut.codec.register_map.get("discrete_inputs_1").bits}
    assigned = {
        i: a.function
        for i, a in enumerate(bench.config.inputs, 1)
        if a.function is not InputFunction.NONE and a.function.name.lower() in bits
    }
    active = {i for i in ACTIVE_INPUTS if i in assigned}
    for index in assigned:
        bench.set_input(index, index in active)
    bench.clock.sleep(bench.settle_s)
    expected = {assigned[i].name.lower(): i in active for i in assigned}
    contacts = ", ".join(
        f"input {i} {'active' if i in active else 'inactive'} ({assigned[i].name.lower()}, inverted: "
        f"{bench.config.inputs[i - 1].inverted})"
        for i in sorted(assigned)
    )
    for transport in _transports(bench):
        signals = bench.dut.value("discrete_inputs_1", transport)
        assert isinstance(signals, frozenset)
        seen = {name: name in signals for name in expected}
        check(
            equals(
                ROW,
                f"discrete_inputs_1 over Modbus {transport.upper()}",
                ", ".join(f"{n} {'on' if v else 'off'}" for n, v in sorted(seen.items())),
                ", ".join(f"{n} {'on' if v else 'off'}" for n, v in sorted(expected.items())),
                bench.clock.now(),
                method=f"contacts set through the switch: {contacts}; 0x2000 bits 1-7 OUR READING",
                data={"covers": ["inputs"]},
            )
        )
    bench.prepare()


@pytest.mark.requirement(ROW)
def test_software_control_forces_an_input_signal(bench: MovicomBench, check) -> None:
    """A write to 0x5100 + code - 1 forces the signal (1 set, 0 reset over an active input) and 2
    hands it back to the input: seen on 0x2000 and on the relay the signal acts on."""
    function = SOFTWARE_CONTROLLED
    name = function.name.lower()
    relay = bench.config.relay_with("discharge")
    index = bench.input_of(function)

    def observe(step: str, active: bool, method: str) -> None:
        bench.clock.sleep(bench.settle_s)
        seen = [("0x2000 signal", bench.signal_reported(function), active)]
        if relay is not None:
            seen.append((f"relay {relay + 1} (discharge) closed", bench.relay_closed(relay + 1), not active))
        for what, value, expected in seen:
            check(
                equals(
                    ROW,
                    f"software control, {step}: {what}",
                    value,
                    expected,
                    bench.clock.now(),
                    method=f"{method}; the register numbering beyond 0x5100/0x5113 is OUR READING "
                    "(provisional in the map)",
                    data={"covers": ["inputs"]},
                )
            )

    try:
        register = bench.software_control(function, 1)
        observe(f"{name} set", True, f"Modbus write {register} = 1 (set), inputs inactive")
        bench.software_control(function, SOFTWARE_CONTROL_PHYSICAL)
        observe(
            f"{name} back to its input", False, f"{register} = {SOFTWARE_CONTROL_PHYSICAL}, inputs inactive"
        )
        if index is not None:
            bench.set_input(index, True)
            bench.software_control(function, 0)
            observe(f"{name} reset", False, f"input {index} active, {register} = 0 (reset)")
            bench.software_control(function, SOFTWARE_CONTROL_PHYSICAL)
            observe(
                f"{name} from its active input",
                True,
                f"input {index} active, {register} = {SOFTWARE_CONTROL_PHYSICAL}",
            )
    finally:
        bench.prepare()
