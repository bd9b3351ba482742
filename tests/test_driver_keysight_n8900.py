"""KeysightN8900 driver against the simulated N8920A over a real pyvisa-py socket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from plain_visa import plain_visa

from hil.errors import InstrumentError, LimitError
from hil.instruments.drivers.keysight_n8900 import KeysightN8900
from hil.instruments.info import InstrumentInfo, Limits
from hil.instruments.transport import RecordingTransport, VisaTransport
from hil.sim.instruments.keysight_n8900 import SimKeysightN8900
from hil.sim.tcp import scpi_server_thread

OK = ["SYST:ERR?"]  # what `configure` sends after its commands when the queue is empty

# scpi_server_thread stops its loop without waiting for open connections; giving the server a
# moment to see our disconnect keeps a half-finished handler from being collected after its loop.
SETTLE_S = 0.1


@dataclass
class Bench:
    sim: SimKeysightN8900
    psu: KeysightN8900
    wire: RecordingTransport
    resource: str

    def sent(self) -> list[str]:
        """Messages since the last call."""
        out, self.wire.sent = self.wire.sent, []
        return out


def _bench(limits: Limits) -> Iterator[Bench]:
    sim = SimKeysightN8900("charger", {"PACK": "1"}, seed=3)
    with scpi_server_thread(sim) as resource:
        wire = RecordingTransport(VisaTransport("charger", resource, timeout_s=3.0))
        info = InstrumentInfo(role="charger", model="N8920A", resource=resource, limits=limits)
        psu = KeysightN8900(info, wire)
        try:
            yield Bench(sim, psu, wire, resource)
        finally:
            psu.close()
            time.sleep(SETTLE_S)


@pytest.fixture
def bench() -> Iterator[Bench]:
    yield from _bench(Limits(voltage_max=20.0, current_max=120.0))


@pytest.fixture
def unlimited() -> Iterator[Bench]:
    yield from _bench(Limits())


def test_identification_follows_the_manual_format(bench: Bench) -> None:
    with plain_visa(bench.resource) as inst:
        fields = inst.query("*IDN?").strip().split(",")
    time.sleep(SETTLE_S)
    assert len(fields) == 4
    assert fields[0] == "Keysight Technologies"
    assert fields[1] == "N8920A"
    assert fields[2] and fields[3]


def test_reset_state(bench: Bench) -> None:
    bench.psu.reset()
    assert bench.sent() == ["*RST", "*CLS", *OK]
    assert bench.sim.on is False
    assert bench.sim.voltage == 0.0
    assert bench.sim.current_limit == SimKeysightN8900.RST_CURRENT
    assert bench.psu.output_is_on() is False


def test_set_voltage_and_current_limit(bench: Bench) -> None:
    bench.psu.set_voltage(14.4)
    assert bench.sent() == ["VOLT 14.4", *OK]
    bench.psu.set_current_limit(110)
    assert bench.sent() == ["CURR 110", *OK]
    assert bench.sim.source().voltage == 14.4
    assert bench.sim.source().current_limit == 110.0
    assert bench.sim.outputs() == {"output": False, "voltage": 14.4, "current_limit": 110.0}


def test_output_on_off(bench: Bench) -> None:
    bench.psu.set_output(True)
    assert bench.sent() == ["OUTP ON", *OK]
    assert bench.sim.source().on is True
    assert bench.psu.output_is_on() is True
    assert bench.sent() == ["OUTP?"]
    bench.psu.safe()
    assert bench.sent() == ["OUTP OFF", *OK]
    assert bench.sim.on is False


def test_setup_raises_ovp_before_the_setpoint(bench: Bench) -> None:
    bench.psu.setup(voltage=14.4, current_limit=50, ovp=16)
    assert bench.sent() == ["VOLT?", "VOLT:PROT 16", "VOLT 14.4", "CURR 50", *OK]
    assert (bench.sim.voltage, bench.sim.current_limit, bench.sim.ovp) == (14.4, 50.0, 16.0)


def test_setup_lowers_the_setpoint_before_ovp(bench: Bench) -> None:
    bench.psu.setup(voltage=19.5, current_limit=10, ovp=20)
    bench.sent()
    bench.psu.setup(voltage=12.0, current_limit=10, ovp=13)
    assert bench.sent() == ["VOLT?", "VOLT 12", "VOLT:PROT 13", "CURR 10", *OK]
    assert bench.sim.ovp == 13.0


def test_setup_refuses_ovp_below_setpoint(bench: Bench) -> None:
    with pytest.raises(ValueError):
        bench.psu.setup(voltage=14.0, current_limit=10, ovp=13)
    assert bench.sent() == []


def test_measurements_within_readback_accuracy(bench: Bench) -> None:
    bench.psu.set_output(True)
    bench.sent()
    gain_v, offset_v = SimKeysightN8900.VOLTAGE_READBACK
    gain_i, offset_i = SimKeysightN8900.CURRENT_READBACK
    for volts, amps in ((13.2, 55.0), (14.4, 110.0), (12.0, 0.5)):
        bench.sim.report(volts, amps)
        v = bench.psu.measure_voltage()
        i = bench.psu.measure_current()
        assert abs(v - volts) <= gain_v * volts + offset_v
        assert abs(i - amps) <= gain_i * amps + offset_i
    assert bench.sent() == ["MEAS:VOLT?", "MEAS:CURR?"] * 3


@pytest.mark.parametrize(
    ("call", "value"),
    [("set_voltage", 20.5), ("set_current_limit", 120.5), ("set_ovp", 21.0)],
)
def test_limit_violation_sends_nothing(bench: Bench, call: str, value: float) -> None:
    with pytest.raises(LimitError):
        getattr(bench.psu, call)(value)
    assert bench.sent() == []


def test_setup_limit_violation_sends_nothing(bench: Bench) -> None:
    with pytest.raises(LimitError):
        bench.psu.setup(voltage=14.0, current_limit=150, ovp=16)
    assert bench.sent() == []


def test_out_of_range_value_lands_in_the_error_queue(unlimited: Bench) -> None:
    with pytest.raises(InstrumentError) as err:
        unlimited.psu.set_voltage(100)
    assert err.value.instrument == "charger"
    assert err.value.command == "VOLT 100"
    assert "-222" in err.value.detail
    assert "charger" in str(err.value) and "VOLT 100" in str(err.value)
    assert unlimited.sim.voltage == 0.0
    assert unlimited.psu.errors() == []  # the failed configure drained the queue


def test_unknown_command_lands_in_the_error_queue(bench: Bench) -> None:
    with pytest.raises(InstrumentError) as err:
        bench.psu.configure("VOLT:BOGUS 1")
    assert err.value.instrument == "charger"
    assert err.value.command == "VOLT:BOGUS 1"
    assert "-113" in err.value.detail


def test_long_forms_queries_and_min_max(bench: Bench) -> None:
    q = bench.psu.query
    bench.psu.configure(
        "SOURce:VOLTage:LEVel:IMMediate:AMPLitude 12.5", "SOUR:CURR:LEV 20", "VOLT:PROT:LEV 15"
    )
    assert float(q("VOLTage?")) == 12.5
    assert float(q("CURR?")) == 20.0
    assert float(q("VOLT:PROT?")) == 15.0
    assert float(q("VOLT? MAX")) == SimKeysightN8900.VOLTAGE_RATING
    assert float(q("CURR? MIN")) == 0.0
    bench.psu.configure("OUTPut:STATe 1")
    assert q("OUTPut?") == "1"
    bench.sim.report(12.5, 20.0)
    assert float(q("MEASure:SCALar:POWer:DC?")) == pytest.approx(250.0, rel=0.02)


def test_ovp_trips_the_output(bench: Bench) -> None:
    bench.psu.setup(voltage=14.0, current_limit=10, ovp=15)
    bench.psu.set_output(True)
    bench.sim.report(15.5, 0.0)
    assert bench.psu.output_is_on() is False
    assert bench.psu.query("STAT:QUES:COND?") == "1"
    bench.psu.configure("OUTP:PROT:CLE")
    assert bench.psu.query("STAT:QUES:COND?") == "0"


def test_output_state_reads_back_the_output(bench: Bench) -> None:
    bench.psu.setup(voltage=14.4, current_limit=50, ovp=16)
    bench.psu.set_output(True)
    bench.sent()
    state = bench.psu.output_state()
    assert bench.sent() == ["OUTP?", "VOLT?", "CURR?"]  # queries only
    assert state == {"output": True, "voltage": 14.4, "current_limit": 50.0}
    assert bench.psu.state_is_safe(state) is False
    bench.psu.safe()
    assert bench.psu.state_is_safe(bench.psu.output_state()) is True


def test_voltage_slew_limit_is_programmed_and_read_back() -> None:
    for bench in _bench(Limits(voltage_max=20.0, voltage_slew_max=1000.0)):
        assert bench.sim.slew == 9.9e37  # *RST: no limit
        bench.psu.program_slew()
        assert bench.sent() == ["VOLT:SLEW 1000", "SYST:ERR?"]
        assert bench.sim.slew == 1000.0
        assert float(bench.psu.query("VOLT:SLEW?")) == 1000.0
        bench.psu.configure("VOLT:SLEW INF")
        assert bench.sim.slew == 9.9e37


def test_a_slew_limit_the_instrument_cannot_program_is_refused_not_ignored() -> None:
    for bench in _bench(Limits(voltage_max=20.0, current_slew_max=1000.0)):
        with pytest.raises(LimitError, match="no programmable current slew"):
            bench.psu.program_slew()
        assert bench.sent() == []
