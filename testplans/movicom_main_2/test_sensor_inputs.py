"""The analog sensor inputs against the DMM's reading of the stimulus at the pin: the external
temperature inputs (Vts; 2R T_SENS1 and T_SENS2) at three temperatures and the 2.1's humidity input
Vhs (MM-TS), and the 2R's second current sensor, which gives the current above 90 % of sensor 1's
range (MM-CS, X9).

The analog source sets each level; the DMM reads what reached the pin, and that reading, through the
configured transfer function (config.AnalogSensors, OUR READING), is the reference the unit's Modbus
value is judged against. U is the DMM's accuracy and resolution carried through that function."""

from __future__ import annotations

import pytest

from hil.duts.movicom_main_2.bench import MovicomBench
from hil.duts.movicom_main_2.terminals import humidity_terminal, sensor_terminals, temperature_terminals
from hil.measure import info, within
from hil.uncertainty import scaled

#: the temperatures each external temperature input is driven to (°C), inside the default configuration's
#: protection limits
TEMPERATURES_C = [0.0, 25.0, 50.0]
#: the humidities the 2.1's Vhs input is driven to (%RH)
HUMIDITIES_PCT = [30.0, 70.0]
#: MM-TS: the spec's ±2 °C
TEMPERATURE_TOLERANCE_C = 2.0
#: the 2R's final current comes from sensor 2 above 90 % of sensor 1's rated current (OUR READING);
#: these levels are above it and inside the configured over-current thresholds (A)
SENSOR_2_CURRENTS_A = [80.0, -80.0]


def _short(bench: MovicomBench) -> str:
    """The variant as the spec's coverage items name it ("Main 2.1", "Main 2R")."""
    return bench.hw.title.removeprefix("Movicom BMS ")


def _temperature_register(index: int) -> str:
    return "external_temperature" if index == 0 else f"external_temperature_{index + 1}"


@pytest.mark.requirement("MM-TS")
@pytest.mark.parametrize("celsius", TEMPERATURES_C)
def test_external_temperature_inputs(bench: MovicomBench, celsius: float, check) -> None:
    a = bench.config.analog
    terminals = temperature_terminals(bench.hw)
    for index, terminal in enumerate(terminals):
        volts = bench.set_sensor_voltage(terminal, a.temperature_v_at_0c + celsius * a.temperature_v_per_c)
        reference = (volts - a.temperature_v_at_0c) / a.temperature_v_per_c
        value = bench.dut.value(_temperature_register(index))
        assert isinstance(value, float)
        name = bench.hw.temperature_inputs[index]
        check(
            within(
                "MM-TS",
                f"{name} temperature at {celsius:g} °C",
                value,
                "°C",
                bench.clock.now(),
                low=reference - TEMPERATURE_TOLERANCE_C,
                high=reference + TEMPERATURE_TOLERANCE_C,
                uncertainty=scaled(
                    bench.dmm_budget("voltage", volts),
                    1.0 / a.temperature_v_per_c,
                    f"{a.temperature_v_per_c:g} V/°C",
                    "°C",
                ),
                method=f"{terminal} driven by the analog source, read at the pin by the DMM: {volts:.4f} V "
                f"= {reference:.2f} °C ({a.temperature_v_at_0c:g} V at 0 °C, {a.temperature_v_per_c:g} V/°C: "
                "configuration, OUR READING of the sensor); Modbus value",
                data={"covers": [f"{_short(bench)}: {name}"]},
            )
        )
        bench.set_external_temperature(bench.NEUTRAL_C)


@pytest.mark.requirement("MM-TS")
@pytest.mark.variants("main-2.1")  # the 2R has no humidity input: not applicable to it
@pytest.mark.parametrize("percent", HUMIDITIES_PCT)
def test_humidity_input(bench: MovicomBench, percent: float, check) -> None:
    terminal = humidity_terminal(bench.hw)
    assert terminal is not None, f"{bench.hw.title}: variants.yaml names no humidity input"
    a = bench.config.analog
    tolerance = bench.expectations.get("humidity_tolerance_pct", 3.0)
    volts = bench.set_sensor_voltage(terminal, a.humidity_v_offset + percent * a.humidity_v_per_percent)
    reference = (volts - a.humidity_v_offset) / a.humidity_v_per_percent
    value = bench.dut.value("humidity")
    assert isinstance(value, float)
    check(
        within(
            "MM-TS",
            f"{bench.hw.humidity_input} humidity at {percent:g} %RH",
            value,
            "%RH",
            bench.clock.now(),
            low=reference - tolerance,
            high=reference + tolerance,
            uncertainty=scaled(
                bench.dmm_budget("voltage", volts),
                1.0 / a.humidity_v_per_percent,
                f"{a.humidity_v_per_percent:g} V/%RH",
                "%RH",
            ),
            method=f"{terminal} read at the pin by the DMM: {volts:.4f} V = {reference:.2f} %RH "
            f"(configuration, OUR READING of the sensor); limit ±{tolerance:g} %RH: the station's "
            "humidity_tolerance_pct (OUR READING: no humidity tolerance is documented)",
            data={"covers": [f"{_short(bench)}: {bench.hw.humidity_input} humidity"]},
        )
    )


@pytest.mark.requirement("MM-CS")
@pytest.mark.variants("main-2r")  # the 2.1 has one sensor input: not applicable to it
@pytest.mark.parametrize("amps", SENSOR_2_CURRENTS_A, ids=["charging", "discharging"])
def test_second_current_sensor_above_the_first_ones_range(bench: MovicomBench, amps: float, check) -> None:
    if len(bench.config.current_sensors) < 2:  # a 2R configured without X9: recorded, not skipped
        why = f"{bench.hw.title}: one current sensor configured (current_sensors), sensor 2 not covered"
        check(
            info(
                "MM-CS",
                f"current sensor 2 at {amps:+g} A",
                None,
                "",
                bench.clock.now(),
                data={"not_covered": why},
            )
        )
        return
    out, ref = sensor_terminals(bench.hw)[1]
    sensor = bench.config.current_sensors[1]
    bench.set_current(amps)
    bench.clock.sleep(bench.settle_s)
    vcs, vref = (bench.meter().measure_dc_voltage(t) for t in (out, ref))
    amps_per_volt = sensor.rated_a / sensor.volts_at_rated
    reference = (vcs - vref) * amps_per_volt
    adc = bench.config.fixed.adc_error_mv / 1000.0 * amps_per_volt
    u = scaled(
        bench.dmm_budget("voltage", vcs).plus(bench.dmm_budget("voltage", vref)),
        amps_per_volt,
        f"{sensor.rated_a:g} A / {sensor.volts_at_rated:g} V",
        "A",
    )
    values = bench.dut.read(["current_sensor_2", "battery_current"])
    for name, what in (("current_sensor_2", "sensor 2 current"), ("battery_current", "final current")):
        value = values[name]
        assert isinstance(value, float)
        check(
            within(
                "MM-CS",
                f"{what} at {amps:+g} A (sensor 1 beyond its range)",
                value,
                "A",
                bench.clock.now(),
                low=reference - adc,
                high=reference + adc,
                uncertainty=u,
                method=f"{out} - {ref} read by the DMM: {vcs - vref:+.5f} V = {reference:+.2f} A "
                f"({sensor.volts_at_rated:g} V at {sensor.rated_a:g} A); limit: the ADC's "
                f"{bench.config.fixed.adc_error_mv:g} mV (S4) through the sensor's gain; the final current "
                "is sensor 2's above 90 % of sensor 1's range (OUR READING)",
                data={"covers": ["Main 2R: X9 sensor 2", "charging" if amps > 0 else "discharging"]},
            )
        )
