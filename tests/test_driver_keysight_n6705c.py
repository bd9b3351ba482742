"""The N6705C cell-emulator driver against the simulated N6705C, through real PyVISA sockets."""

from __future__ import annotations

import pytest
from pyvisa.resources import MessageBasedResource

from hil.errors import InstrumentError, LimitError
from hil.instruments.drivers.keysight_n6705c import KeysightN6705C, chanlist
from hil.instruments.info import InstrumentInfo, Limits
from hil.instruments.transport import RecordingTransport
from hil.sim.instruments.keysight_n6705c import SimKeysightN6705C

CHANNELS = {"CELL1": "1", "CELL2": "2", "CELL3": "3", "CELL4": "4"}


@pytest.fixture
def sim() -> SimKeysightN6705C:
    return SimKeysightN6705C("cells", CHANNELS, seed=7)


@pytest.fixture
def driver(resource: str, wire: RecordingTransport) -> KeysightN6705C:
    limits = Limits(voltage_max=4.0, voltage_min=2.0, current_max=1.0)
    info = InstrumentInfo(role="cells", model="N6705C", resource=resource, channels=CHANNELS, limits=limits)
    return KeysightN6705C(info, wire)


def test_plain_pyvisa_idn(visa: MessageBasedResource) -> None:
    assert visa.query("*IDN?") == "Keysight Technologies,N6705C,MY56000123,D.03.04"


def test_chanlist_folds_runs() -> None:
    assert chanlist(["1", "2", "3", "4"]) == "(@1:4)"
    assert chanlist(["1", "3", "4"]) == "(@1,3:4)"
    assert chanlist(["2"]) == "(@2)"


def test_cells_in_order(driver: KeysightN6705C) -> None:
    assert driver.cells == ["CELL1", "CELL2", "CELL3", "CELL4"]


def test_set_voltage(driver: KeysightN6705C, sim: SimKeysightN6705C, wire: RecordingTransport) -> None:
    driver.set_voltage("CELL2", 3.3)
    assert sim.channel_setting(2).voltage == pytest.approx(3.3)
    assert sim.channel_setting(1).voltage == 0.0
    assert wire.sent == ["VOLT 3.3,(@2)", "SYST:ERR?"]


def test_several_cells_in_one_message(
    driver: KeysightN6705C, sim: SimKeysightN6705C, wire: RecordingTransport
) -> None:
    driver.set_voltages([3.0, 3.0, 3.0, 3.0])
    wire.sent.clear()
    driver.set_cell_voltages({"CELL1": 3.6, "CELL2": 2.5})
    assert (sim.channel_setting(1).voltage, sim.channel_setting(2).voltage) == (3.6, 2.5)
    # the cell that goes down first: no state on the way adds up to more than the end state
    assert wire.sent == ["VOLT 2.5,(@2);:VOLT 3.6,(@1)", "SYST:ERR?"]
    assert driver.programmed == {"CELL1": 3.6, "CELL2": 2.5, "CELL3": 3.0, "CELL4": 3.0}


def test_every_cell_in_one_message_and_only_the_changes_again(
    driver: KeysightN6705C, sim: SimKeysightN6705C, wire: RecordingTransport
) -> None:
    driver.set_voltages([3.0, 3.1, 3.2, 3.3])  # nothing programmed yet: every cell, one message
    assert wire.sent == ["VOLT 3,(@1);:VOLT 3.1,(@2);:VOLT 3.2,(@3);:VOLT 3.3,(@4)", "SYST:ERR?"]
    assert [sim.channel_setting(n).voltage for n in range(1, 5)] == [3.0, 3.1, 3.2, 3.3]
    wire.sent.clear()
    driver.set_voltages([3.0, 3.1, 3.2, 3.3])
    driver.set_cell_voltages({"CELL1": 3.0, "CELL2": 3.1 + 1e-12})  # the same settings
    assert wire.sent == []
    driver.set_voltages([3.0, 3.6, 3.2, 3.3])  # one changed: only it goes out
    assert wire.sent == ["VOLT 3.6,(@2)", "SYST:ERR?"]
    wire.sent.clear()
    driver.set_voltage("CELL2", 3.6)  # one named cell is sent as asked, changed or not
    assert wire.sent == ["VOLT 3.6,(@2)", "SYST:ERR?"]


def test_several_cells_refused_before_anything_is_sent(resource: str, wire: RecordingTransport) -> None:
    limits = Limits(voltage_max=4.0, sum_voltage_max=13.0, sources={"sum_voltage_max": "dut.limits.x"})
    info = InstrumentInfo(role="cells", model="N6705C", resource=resource, channels=CHANNELS, limits=limits)
    driver = KeysightN6705C(info, wire)
    driver.set_voltages([3.25, 3.25, 3.25, 3.25])
    wire.sent.clear()
    with pytest.raises(LimitError, match=r"add up to 13\.1 V"):
        driver.set_cell_voltages({"CELL1": 3.3, "CELL2": 3.3})
    with pytest.raises(LimitError):
        driver.set_cell_voltages({"CELL1": 4.1, "CELL2": 3.0})
    assert wire.sent == []
    assert driver.programmed["CELL1"] == 3.25


def test_set_current_limit_both_quadrants(
    driver: KeysightN6705C, sim: SimKeysightN6705C, wire: RecordingTransport
) -> None:
    driver.set_current_limit("CELL1", 0.5)
    assert sim.channel_setting(1).current_limit == pytest.approx(0.5)
    assert sim.sink_limit(1) == pytest.approx(-0.5)
    assert wire.sent == ["CURR:LIM 0.5,(@1)", "CURR:LIM:NEG -0.5,(@1)", "SYST:ERR?"]


def test_outputs(driver: KeysightN6705C, sim: SimKeysightN6705C, wire: RecordingTransport) -> None:
    driver.set_output(True)
    assert all(sim.channel_setting(n).on for n in range(1, 5))
    assert driver.output_is_on("CELL3")
    driver.set_output(False, ["CELL2"])
    assert not sim.channel_setting(2).on
    assert sim.channel_setting(4).on
    assert not driver.output_is_on("CELL2")
    assert wire.sent == [
        "OUTP ON,(@1:4)",
        "SYST:ERR?",
        "OUTP? (@3)",
        "OUTP OFF,(@2)",
        "SYST:ERR?",
        "OUTP? (@2)",
    ]
    assert sim.outputs()["2"] == {"on": False, "voltage": 0.0, "current_limit": 0.1}


def test_every_output_state_in_one_query(
    driver: KeysightN6705C, wire: RecordingTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver.set_output(True, ["CELL1", "CELL3", "CELL4"])
    wire.sent.clear()
    assert driver.outputs_on() == {"CELL1": True, "CELL2": False, "CELL3": True, "CELL4": True}
    assert wire.sent == ["OUTP? (@1:4)"]
    assert driver.outputs_on() == {cell: driver.output_is_on(cell) for cell in driver.cells}
    monkeypatch.setattr(driver, "query", lambda command: "1,1")  # two answers for four channels
    with pytest.raises(InstrumentError, match="expected 4 of 0 or 1"):
        driver.outputs_on()


def test_readback_within_n6781a_accuracy(
    driver: KeysightN6705C, sim: SimKeysightN6705C, wire: RecordingTransport
) -> None:
    driver.set_voltage("CELL1", 3.3)
    driver.set_output(True, ["CELL1"])
    sim.report_channel(1, 3.3, -0.045)  # a 45 mA balancing bleed sinks into the channel
    wire.sent.clear()
    volts = driver.measure_voltage("CELL1")
    amps = driver.measure_current("CELL1")
    assert abs(volts - 3.3) <= 0.00025 * 3.3 + 600e-6
    assert abs(amps + 0.045) <= 0.00025 * 0.045 + 10e-6
    assert wire.sent == ["MEAS:VOLT? (@1)", "MEAS:CURR? (@1)"]


def test_measure_currents_in_one_query(
    driver: KeysightN6705C, sim: SimKeysightN6705C, wire: RecordingTransport
) -> None:
    true = {1: 0.012, 2: -0.040, 3: 0.012, 4: 1.5}
    for ch, amps in true.items():
        sim.report_channel(ch, 3.3, amps)
    currents = driver.measure_currents()
    assert list(currents) == ["CELL1", "CELL2", "CELL3", "CELL4"]
    assert abs(currents["CELL2"] + 0.040) <= 0.00025 * 0.040 + 10e-6
    assert abs(currents["CELL4"] - 1.5) <= 0.0004 * 1.5 + 100e-6
    assert wire.sent == ["MEAS:CURR? (@1:4)"]


def test_limits_refused_before_sending(driver: KeysightN6705C, wire: RecordingTransport) -> None:
    with pytest.raises(LimitError):
        driver.set_voltage("CELL1", 4.2)
    with pytest.raises(LimitError):
        driver.set_voltage("CELL1", 1.5)
    with pytest.raises(LimitError):
        driver.set_current_limit("CELL1", 2.0)
    assert wire.sent == []


def test_out_of_range_value_raises(driver: KeysightN6705C, sim: SimKeysightN6705C) -> None:
    with pytest.raises(InstrumentError) as err:
        driver.configure("VOLT 25,(@1)")
    assert err.value.instrument == "cells"
    assert "VOLT 25,(@1)" in err.value.command
    assert err.value.detail.startswith("-222")
    assert sim.channel_setting(1).voltage == 0.0


def test_wrong_command_raises(driver: KeysightN6705C) -> None:
    with pytest.raises(InstrumentError) as err:
        driver.configure("VOLT:BOGUS 1,(@1)")
    assert err.value.detail.startswith("-113")
    assert "VOLT:BOGUS" in str(err.value)


def test_channel_without_module_raises(driver: KeysightN6705C, sim: SimKeysightN6705C) -> None:
    with pytest.raises(InstrumentError) as err:
        driver.configure("OUTP ON,(@1,5)")
    assert err.value.detail.startswith('-241,"Hardware missing')
    assert not sim.channel_setting(1).on


def test_unmapped_cell_sends_nothing(driver: KeysightN6705C, wire: RecordingTransport) -> None:
    with pytest.raises(InstrumentError):
        driver.set_voltage("CELL9", 3.0)
    assert wire.sent == []


def test_reset_turns_outputs_off(driver: KeysightN6705C, sim: SimKeysightN6705C) -> None:
    driver.set_voltage("CELL1", 3.2)
    driver.set_output(True)
    driver.reset()
    assert not any(sim.channel_setting(n).on for n in range(1, 5))
    assert sim.channel_setting(1).voltage == 0.0


def test_safe_state_is_outputs_off(driver: KeysightN6705C, sim: SimKeysightN6705C) -> None:
    driver.set_output(True)
    driver.safe()
    assert not any(sim.channel_setting(n).on for n in range(1, 5))


def test_output_state_per_cell(driver: KeysightN6705C, wire: RecordingTransport) -> None:
    driver.set_voltages([3.3, 3.31, 3.32, 3.33])
    driver.set_output(True, ["CELL2"])
    wire.sent.clear()
    state = driver.output_state()
    assert all(message.split(" ")[0] in ("OUTP?", "VOLT?") for message in wire.sent)  # queries only
    assert state["CELL2"] == {"on": True, "voltage": 3.31}
    assert state["CELL1"] == {"on": False, "voltage": 3.3}
    assert driver.state_is_safe(state) is False
    driver.safe()
    assert driver.state_is_safe(driver.output_state()) is True


def test_stack_limit_counts_every_programmed_cell(resource: str, wire: RecordingTransport) -> None:
    limits = Limits(voltage_max=4.0, sum_voltage_max=13.0, sources={"sum_voltage_max": "dut.limits.x"})
    info = InstrumentInfo(role="cells", model="N6705C", resource=resource, channels=CHANNELS, limits=limits)
    driver = KeysightN6705C(info, wire)
    driver.set_voltages([3.25, 3.25, 3.25, 3.25])  # 13.0 V: at the limit
    wire.sent.clear()
    with pytest.raises(LimitError, match=r"add up to 13\.05 V.*dut\.limits\.x"):
        driver.set_voltage("CELL4", 3.3)
    assert wire.sent == []
    driver.set_voltage("CELL1", 3.2)  # lowering one makes room for another
    driver.set_voltage("CELL4", 3.3)


def test_voltage_slew_limit_reaches_every_mapped_channel(
    resource: str, wire: RecordingTransport, sim: SimKeysightN6705C
) -> None:
    limits = Limits(voltage_max=4.0, voltage_slew_max=100.0)
    info = InstrumentInfo(role="cells", model="N6705C", resource=resource, channels=CHANNELS, limits=limits)
    driver = KeysightN6705C(info, wire)
    driver.program_slew()
    assert wire.sent == ["VOLT:SLEW 100,(@1:4)", "SYST:ERR?"]
    assert [float(v) for v in driver.query("VOLT:SLEW? (@1:4)").split(",")] == [100.0] * 4
