"""Movicom Main 2.1 / 2R firmware twin: relays per function, protections at the configured
thresholds, hysteresis and delays, critical errors, inputs with inversion and software control,
charge control, heater, current sensors, Logic link and LEDs - each checked by values."""

from __future__ import annotations

from typing import Any

import pytest

from hil.duts.movicom_main_2.config import ERROR_NAMES, InputFunction, MovicomConfig
from hil.duts.movicom_main_2.sim.twin import MovicomTwin
from hil.duts.movicom_main_2.sim.twin.values import internal_signals, pdo_values, register_values

LINK_UP = 2.0  # fixed.logic_init_s of the example configuration
DSG, ALLOW, CHG, HEAT = 0, 1, 2, 3


def _twin(variant: str = "main-2.1", *, ideal: bool = True, **overrides: Any) -> MovicomTwin:
    twin = MovicomTwin(MovicomConfig.model_validate({"variant": variant, **overrides}), ideal=ideal)
    twin.step(LINK_UP)
    return twin


def _lift_cover(twin: MovicomTwin) -> None:
    """IN_4 = battery cover, inverted in the example configuration: its contact opens when lifted."""
    twin.inputs.contacts[3] = False
    twin.inputs_changed()


def _set_cells(twin: MovicomTwin, volts: float, board: int = 0, cell: int = 0) -> None:
    twin.inputs.boards[board].cell_v[cell] = volts
    twin.inputs_changed()


def _set_temperature(twin: MovicomTwin, celsius: float) -> None:
    for b in twin.inputs.boards:
        b.temperature_c[:] = [celsius] * len(b.temperature_c)
    twin.inputs_changed()


def _set_current(twin: MovicomTwin, amps: float, sensor: int = 0) -> None:
    s = twin.config.current_sensors[sensor]
    twin.inputs.sensors[sensor].vcs_v = (
        twin.inputs.sensors[sensor].vref_v + amps * s.volts_at_rated / s.rated_a
    )
    twin.inputs_changed()


def _charger(twin: MovicomTwin, present: bool) -> None:
    twin.inputs.contacts[0] = present  # IN_1 = charger connected
    twin.inputs_changed()


def test_power_up_link_and_relays() -> None:
    twin = MovicomTwin(MovicomConfig(), ideal=True)
    assert twin.running and twin.link_state() == "initialising"
    assert twin.relays == (False, False, False, False)  # no cell data yet
    assert twin.leds()["DS3"].blink_hz == 2.0
    twin.step(1.999)
    assert twin.relays[DSG] is False
    twin.step(LINK_UP)
    assert twin.link_state() == "established" and twin.leds()["DS3"].blink_hz == 25.0
    assert twin.relays == (True, False, False, False)  # discharge allowed; no charger; warm


def test_below_minimum_supply_it_does_not_run() -> None:
    for variant, minimum in (("main-2.1", 9.0), ("main-2r", 9.0)):
        twin = _twin(variant)
        twin.inputs.supply_v = minimum - 0.5
        twin.inputs_changed()
        assert not twin.running and twin.relays == (False,) * 4 and twin.supply_current_a() == 0.0
        assert not any(led.on for led in twin.leds().values())
        twin.inputs.supply_v = minimum
        twin.inputs_changed()
        assert twin.running and twin.link_state() == "initialising"  # a fresh start
    twin = _twin("main-2r")
    twin.inputs.supply_v = 32.0
    twin.inputs_changed()
    assert twin.running


def test_supply_current_at_12_v_is_within_100_ma() -> None:
    twin = _twin()
    assert 0.0 < twin.supply_current_a() <= 0.100
    twin.inputs.supply_v = 24.0
    twin.inputs_changed()
    assert twin.supply_current_a() < 0.060  # constant-power regulator: less at higher supply


@pytest.mark.parametrize(
    ("section", "stimulus", "trip", "release", "opens"),
    [
        ("overvoltage", "cell", 3.651, 3.449, (ALLOW, CHG)),
        ("undervoltage", "cell", 2.499, 2.901, (DSG,)),
        ("high_charge_temperature", "temp", 45.5, 41.5, (ALLOW, CHG)),
        ("low_charge_temperature", "temp", -0.5, 3.5, (ALLOW, CHG)),
        ("high_discharge_temperature", "temp", 55.5, 51.5, (DSG, ALLOW, CHG)),
        ("low_discharge_temperature", "temp", -20.5, -16.5, (DSG, ALLOW, CHG)),
        ("charge_overcurrent", "current", 100.5, 89.5, (DSG, ALLOW, CHG)),
        ("discharge_overcurrent", "current", -150.5, -134.5, (DSG, ALLOW, CHG)),
    ],
)
def test_protection_trips_after_set_delay_and_releases_through_hysteresis(
    section: str, stimulus: str, trip: float, release: float, opens: tuple[int, ...]
) -> None:
    twin = _twin()
    _charger(twin, True)
    twin.advance(2.0)  # Ton
    assert twin.relays[:3] == (True, True, True)
    p = getattr(twin.config.protections, section)
    error = ERROR_NAMES[section]
    apply = {"cell": _set_cells, "temp": _set_temperature, "current": _set_current}[stimulus]
    apply(twin, trip)  # type: ignore[operator]
    twin.advance(p.set_delay_s - 0.01)
    assert error not in twin.errors()
    twin.advance(0.01)
    assert error in twin.errors(), section
    for relay in opens:  # (a discharge temperature limit is also beyond the charge one here)
        assert twin.relays[relay] is False, (section, relay)
    between = (trip + release) / 2  # inside the hysteresis band: stays tripped
    apply(twin, between)  # type: ignore[operator]
    twin.advance(p.clear_delay_s + 1.0)
    assert error in twin.errors(), section
    apply(twin, release)  # type: ignore[operator]
    twin.advance(p.clear_delay_s - 0.01)
    assert error in twin.errors()
    twin.advance(0.01)
    assert error not in twin.errors(), section


def test_delay_is_exact_whatever_the_step() -> None:
    twin = _twin()
    _set_cells(twin, 3.7)
    twin.advance(10.0)  # one long step: the error still set at exactly 1.0 s (visible in relays)
    assert "overvoltage" in twin.errors()
    twin2 = _twin(protections={"overvoltage": {"set": 3.65, "tolerant": 3.45, "set_delay_s": 7.5}})
    _set_cells(twin2, 3.7)
    twin2.step(LINK_UP + 7.4999)
    assert not twin2.errors()
    twin2.step(LINK_UP + 7.5)
    assert twin2.errors() == frozenset({"overvoltage"})


def test_lock_holds_an_error_until_acknowledged() -> None:
    twin = _twin(protections={"undervoltage": {"set": 2.5, "tolerant": 2.9, "lock": True}})
    _set_cells(twin, 2.4)
    twin.advance(1.0)
    _set_cells(twin, 3.3)
    twin.advance(60.0)
    assert "undervoltage" in twin.errors() and not twin.relays[DSG]
    twin.acknowledge(frozenset({"undervoltage"}))
    twin.advance(2.0)
    assert not twin.errors() and twin.relays[DSG]


def test_battery_cover_is_critical_and_opens_all_relays() -> None:
    twin = _twin()
    _set_temperature(twin, 0.5)  # heater on
    _charger(twin, True)
    twin.advance(2.0)
    assert twin.relays == (True, True, True, True)
    _lift_cover(twin)
    twin.advance(0.49)
    assert twin.relays == (True, True, True, True)
    twin.advance(0.01)
    assert twin.critical and "battery_cover_error" in twin.errors()
    assert twin.relays == (False, False, False, False)
    assert twin.outputs()[3]  # OUT_4 = critical error


def test_adc_error_from_a_missing_sensor_is_critical() -> None:
    twin = _twin()
    twin.inputs.sensors[0].vref_v = 0.0
    twin.inputs_changed()
    assert "adc_error" in twin.errors() and twin.relays == (False,) * 4


def test_critical_flag_off_is_a_nonconforming_unit() -> None:
    twin = _twin(behaviour={"critical_opens_all": False})
    _lift_cover(twin)
    twin.advance(1.0)
    assert twin.critical and twin.relays[DSG]


def test_input_functions_inversion_and_software_control() -> None:
    twin = _twin()
    twin.inputs.contacts[2] = True  # IN_3 = inhibit discharging
    twin.inputs_changed()
    assert not twin.relays[DSG] and InputFunction.INHIBIT_DISCHARGING in twin.signals()
    twin.inputs.contacts[2] = False
    twin.inputs_changed()
    assert twin.relays[DSG]
    inverted = _twin(inputs=[{"function": "inhibit_discharging", "inverted": True}, {}, {}, {}])
    assert inverted.inputs.contacts[0] and inverted.relays[DSG]  # at rest: the contact closed, inactive
    inverted.inputs.contacts[0] = False
    inverted.inputs_changed()
    assert not inverted.relays[DSG]  # open contact = active
    inverted.inputs.contacts[0] = True
    inverted.inputs_changed()
    assert inverted.relays[DSG]
    ignoring = _twin(
        inputs=[{"function": "inhibit_discharging", "inverted": True}, {}, {}, {}],
        behaviour={"honour_inversion": False},
    )
    ignoring.inputs.contacts[0] = False
    ignoring.inputs_changed()
    assert ignoring.relays[DSG]  # the mutant ignores the flag: open reads inactive
    twin.set_software_control(InputFunction.INHIBIT_DISCHARGING, 1)
    assert not twin.relays[DSG]
    twin.set_software_control(InputFunction.INHIBIT_DISCHARGING, 2)
    assert twin.relays[DSG]
    twin.set_software_control(InputFunction.CHARGER_CONNECTED, 1)
    twin.advance(2.0)
    assert twin.relays[ALLOW] and twin.relays[CHG]
    twin.inputs.contacts[1] = True  # IN_2 = inhibit charging
    twin.inputs_changed()
    assert not twin.relays[ALLOW] and not twin.relays[CHG] and twin.relays[DSG]


def test_charge_control_ton_toff_and_ev() -> None:
    twin = _twin()
    _charger(twin, True)
    twin.advance(1.99)
    assert not twin.relays[ALLOW] and not twin.relays[CHG]
    twin.advance(0.01)
    assert twin.relays[ALLOW] and twin.relays[CHG]
    _set_cells(twin, 3.56)  # above EV 3.55, below over-voltage 3.65
    assert not twin.relays[ALLOW] and twin.relays[CHG] and "voltage_too_high" in internal_signals(twin)
    _set_cells(twin, 3.30)
    assert not twin.relays[ALLOW]  # latched until the charger signal goes
    _charger(twin, False)
    assert not twin.relays[ALLOW] and twin.relays[CHG]
    twin.advance(4.99)
    assert twin.relays[CHG]
    twin.advance(0.01)
    assert not twin.relays[CHG]
    always = _twin(charge_control={"mode": "always", "ton_s": 0.0})
    assert always.relays[ALLOW] and always.relays[CHG]


def test_heater_hysteresis() -> None:
    twin = _twin()
    _set_temperature(twin, 4.9)
    assert twin.relays[HEAT] and "heater_aux" in internal_signals(twin)
    _set_temperature(twin, 9.9)
    assert twin.relays[HEAT]
    _set_temperature(twin, 10.1)
    assert not twin.relays[HEAT]
    _set_temperature(twin, 6.0)
    assert not twin.relays[HEAT]
    off = _twin(heater={"enabled": False, "on_below_c": 5.0, "off_above_c": 10.0})
    _set_temperature(off, 1.0)
    assert not off.relays[HEAT]


def test_current_sensor_sign_scale_and_2r_ranges() -> None:
    twin = _twin()
    _set_current(twin, 50.0)
    assert twin.readings.current_a == pytest.approx(50.0)
    assert twin.inputs.sensors[0].vcs_v > twin.inputs.sensors[0].vref_v  # charging: Vcs above Vref
    _set_current(twin, -20.0)
    assert twin.readings.current_a == pytest.approx(-20.0)
    assert "discharging_current_present" in internal_signals(twin)
    flipped = _twin(behaviour={"current_sign": False})
    _set_current(flipped, 50.0)
    assert flipped.readings.current_a == pytest.approx(-50.0)
    r2 = _twin("main-2r", current_sensors=[{"rated_a": 50.0}, {"rated_a": 300.0}])
    for sensor in (0, 1):
        _set_current(r2, 20.0, sensor)
    assert r2.readings.sensor_current_a == pytest.approx((20.0, 20.0))
    assert r2.readings.current_a == pytest.approx(20.0)
    _set_current(r2, 49.0, 0)  # beyond 90 % of sensor 1: the final current is sensor 2's
    _set_current(r2, 120.0, 1)
    assert r2.readings.current_a == pytest.approx(120.0)


def test_measurement_errors_are_seeded_and_inside_the_budget() -> None:
    a = MovicomTwin(MovicomConfig(), seed=7)
    b = MovicomTwin(MovicomConfig(), seed=7)
    c = MovicomTwin(MovicomConfig(), seed=8)
    for t in (a, b, c):
        t.step(LINK_UP)
    assert a.readings == b.readings and a.readings != c.readings
    cells = a.readings.cells()
    assert all(abs(v - 3.30) <= 0.002 for v in cells)
    assert all(abs(v - 25.0) <= 2.0 for v in a.readings.temperatures())
    assert abs(a.readings.current_a) <= 0.001 / (0.625 / 200.0) + 1e-9  # 1 mV ADC error
    assert abs(a.readings.external_temperature_c[0] - 25.0) <= 2.0


def test_logic_link_loss_raises_logic_offline_and_blinks_ds4() -> None:
    twin = _twin()
    assert not twin.leds()["DS4"].on
    twin.inputs.boards[1].online = False
    twin.inputs_changed()
    assert twin.link_state() == "initialising" and twin.leds()["DS3"].blink_hz == 2.0
    twin.advance(0.99)
    assert "logic_offline" not in twin.errors()
    twin.advance(0.01)
    assert "logic_offline" in twin.errors()
    ds4 = twin.leds()["DS4"]
    assert ds4.on and ds4.colour == "red" and ds4.blink_hz == 2.0
    assert twin.relays[DSG] is False
    assert register_values(twin)["logic_count"] == 1
    twin.inputs.boards[1].online = True
    twin.inputs_changed()
    twin.advance(1.0)
    assert "logic_offline" not in twin.errors() and twin.leds()["DS3"].blink_hz == 25.0
    unchecked = _twin(behaviour={"logic_offline_check": False})
    unchecked.inputs.boards[0].online = False
    unchecked.inputs_changed()
    unchecked.advance(5.0)
    assert not unchecked.errors() and not unchecked.leds()["DS4"].on


def test_leds_per_variant_follow_the_relays() -> None:
    twin = _twin()
    leds = twin.leds()
    assert leds["DS1"].on and leds["DS1"].colour == "red" and leds["DS1"].blink_hz is None
    assert leds["DS2"].on and leds["DS2"].colour == "green" and leds["DS2"].blink_hz == 1.0
    assert [leds[n].on for n in ("DS7", "DS8", "DS5", "DS6")] == list(twin.relays)
    r2 = _twin("main-2r")
    names = set(r2.leds())
    assert names == {"DS2", "DS3", "DS4", "DS1.1", "DS1.2", "DS1.3", "DS1.4"}
    assert [r2.leds()[f"DS1.{i}"].on for i in range(1, 5)] == list(r2.relays)
    ds3 = twin.leds()["DS3"]  # 25 Hz: 20 ms on, 20 ms off from power-up
    assert ds3.lit(0.0) and ds3.lit(0.019) and not ds3.lit(0.021) and ds3.lit(0.041)


def test_outputs_hold_their_level_at_20_ma() -> None:
    twin = _twin()
    assert twin.outputs() == (True, False, False, False)  # discharge allowed only
    twin.inputs.output_load_a[0] = 0.020
    twin.inputs_changed()
    assert twin.output_levels_v()[0] == pytest.approx(4.8)
    assert twin.output_levels_v()[1:] == (0.0, 0.0, 0.0)
    assert twin.contact_resistance_ohm(1) == pytest.approx(0.02) and twin.contact_resistance_ohm(2) is None


def test_register_and_pdo_values_follow_the_stimulus() -> None:
    twin = _twin()
    _set_current(twin, -12.5)
    _set_temperature(twin, 21.0)
    twin.select_logic(2)
    twin.inputs.boards[1].cell_v[3] = 3.123
    twin.inputs_changed()
    values = register_values(twin)
    assert values["battery_current"] == pytest.approx(-12.5)
    assert values["logic_address"] == 2 and values["logic_cell_count"] == 8
    cells = values["logic_cell_voltages"]
    assert isinstance(cells, tuple) and cells[3] == pytest.approx(3.123) and len(cells) == 18
    assert values["battery_voltage"] == pytest.approx(15 * 3.3 + 3.123)
    assert values["relays"] == frozenset({"relay_1"})
    pdo = pdo_values(twin)
    assert pdo["min_cell_temperature"] == pdo["max_cell_temperature"] == 21
    assert pdo["battery_current"] == pytest.approx(-12.5)
    twin.advance(3600.0)  # 12.5 A for an hour from 50 % of 100 Ah
    assert twin.soc_percent == pytest.approx(37.5)
    assert twin.load_charge_ah == pytest.approx(12.5)


def test_behaviour_flags_remove_hysteresis_and_delays() -> None:
    no_hysteresis = _twin(behaviour={"hysteresis": False})
    _set_cells(no_hysteresis, 3.66)
    no_hysteresis.advance(1.0)
    _set_cells(no_hysteresis, 3.60)  # inside the band: a conforming unit stays tripped
    no_hysteresis.advance(2.0)
    assert "overvoltage" not in no_hysteresis.errors()
    no_delays = _twin(behaviour={"delays": False})
    _set_cells(no_delays, 3.66)
    assert "overvoltage" in no_delays.errors()  # at once
    _charger(no_delays, True)
    assert not no_delays.relays[CHG]  # over-voltage inhibits charging
    _set_cells(no_delays, 3.3)
    assert no_delays.relays[ALLOW] and no_delays.relays[CHG]  # no Ton either


def test_power_down_request_opens_discharge_and_charging_after_toff() -> None:
    twin = _twin(inputs=[{"function": "charger_connected"}, {"function": "power_down_request"}, {}, {}])
    _charger(twin, True)
    twin.advance(2.0)
    assert twin.relays[:3] == (True, True, True)
    twin.inputs.contacts[1] = True
    twin.inputs_changed()
    assert twin.relays[:3] == (False, False, True)  # allow-charging at once, charging relay after Toff
    assert "power_down_acknowledge" in internal_signals(twin)
    twin.advance(5.0)
    assert twin.relays[:3] == (False, False, False)
    twin.inputs.contacts[1] = False
    twin.inputs_changed()
    twin.advance(2.0)
    assert twin.relays[:3] == (True, True, True)  # both re-close when the request is removed


def test_step_refuses_to_go_back_in_time() -> None:
    twin = _twin()
    with pytest.raises(ValueError, match="time goes forward"):
        twin.step(1.0)
