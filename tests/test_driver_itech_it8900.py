"""ItechIT8900 driver against the simulated IT8906A-1200-240 over a real pyvisa-py socket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from plain_visa import plain_visa

from hil.errors import InstrumentError, LimitError
from hil.instruments.drivers.itech_it8900 import ItechIT8900
from hil.instruments.info import InstrumentInfo, Limits
from hil.instruments.transport import RecordingTransport, VisaTransport
from hil.sim.instruments.itech_it8900 import SimItechIT8900
from hil.sim.tcp import scpi_server_thread

OK = ["SYST:ERR?"]  # what `configure` sends after its commands when the queue is empty

# scpi_server_thread stops its loop without waiting for open connections; giving the server a
# moment to see our disconnect keeps a half-finished handler from being collected after its loop.
SETTLE_S = 0.1


@dataclass
class Clock:
    """The virtual time the test hands to the sim as `now`."""

    t: float = 0.0

    def __call__(self) -> float:
        return self.t


@dataclass
class Bench:
    sim: SimItechIT8900
    load: ItechIT8900
    wire: RecordingTransport
    resource: str
    clock: Clock = field(default_factory=Clock)

    def sent(self) -> list[str]:
        """Messages since the last call."""
        out, self.wire.sent = self.wire.sent, []
        return out


def _bench(limits: Limits) -> Iterator[Bench]:
    sim = SimItechIT8900("load", {"PACK": "1"}, seed=5)
    clock = Clock()
    sim.now = clock
    with scpi_server_thread(sim) as resource:
        wire = RecordingTransport(VisaTransport("load", resource, timeout_s=3.0))
        info = InstrumentInfo(role="load", model="IT8906A-1200-240", resource=resource, limits=limits)
        load = ItechIT8900(info, wire)
        try:
            yield Bench(sim, load, wire, resource, clock)
        finally:
            load.close()
            time.sleep(SETTLE_S)


@pytest.fixture
def bench() -> Iterator[Bench]:
    yield from _bench(Limits(current_max=210.0))


@pytest.fixture
def unlimited() -> Iterator[Bench]:
    yield from _bench(Limits())


PULSE_SEQUENCE = [
    "FUNC CURR",
    "CURR:TRAN:MODE PULS",
    "CURR:TRAN:ALEV 0",
    "CURR:TRAN:BLEV 200",
    "CURR:TRAN:BWID 0.1",
    "TRIG:SOUR BUS",
    "TRAN ON",
    "INP ON",
    *OK,
    "*TRG",
    *OK,
]


def test_identification_follows_the_manual_format(bench: Bench) -> None:
    with plain_visa(bench.resource) as inst:
        fields = inst.query("*IDN?").strip().split(",")
    time.sleep(SETTLE_S)
    assert len(fields) == 4
    assert fields[0] == "ITECH Ltd."
    assert fields[1] == "IT8906A-1200-240"
    assert fields[2] and fields[3]


def test_reset_state(bench: Bench) -> None:
    bench.load.reset()
    assert bench.sent() == ["*RST", "*CLS", *OK]
    assert bench.sim.input_on is False
    assert bench.sim.short is False
    assert bench.sim.tran_on is False
    assert bench.sim.demand(0.0, 12.0) == 0.0


def test_constant_current(bench: Bench) -> None:
    bench.load.set_cc(110)
    assert bench.sent() == ["FUNC CURR", "TRAN OFF", "CURR 110", *OK]
    assert bench.sim.demand(1.0, 12.8) == 0.0  # input still off
    bench.load.set_input(True)
    assert bench.sent() == ["INP ON", *OK]
    assert bench.load.input_is_on() is True
    assert bench.sent() == ["INP?"]
    assert bench.sim.demand(1.0, 12.8) == 110.0
    assert bench.sim.next_change(1.0) is None
    assert bench.sim.outputs() == {"input": True, "short": False, "transient": False, "current": 110.0}


def test_short_circuit(bench: Bench) -> None:
    bench.load.set_short(True)
    assert bench.sent() == ["INP:SHOR ON", "INP ON", *OK]
    assert bench.sim.shorted() is True
    assert bench.sim.demand(0.0, 12.8) >= 1.0e5
    bench.load.safe()
    assert bench.sent() == ["INP:SHOR OFF", "INP OFF", *OK]  # one configure: one error check
    assert bench.sim.shorted() is False
    assert bench.sim.demand(0.0, 12.8) == 0.0


def test_pulse_is_scheduled_from_the_trigger_time(bench: Bench) -> None:
    bench.clock.t = 5.0
    bench.load.pulse(200, 0.1)
    assert bench.sent() == PULSE_SEQUENCE
    sim = bench.sim
    assert sim.input_on and sim.tran_on and sim.tran_mode == "PULS"
    assert sim.pulse_start == 5.0
    assert sim.demand(4.999, 12.8) == 0.0
    assert sim.demand(5.0, 12.8) == 200.0
    assert sim.demand(5.099, 12.8) == 200.0
    assert sim.demand(5.1, 12.8) == 0.0
    assert sim.next_change(5.0) == pytest.approx(5.1)
    assert sim.next_change(4.5) == 5.0
    assert sim.next_change(5.1) is None


def test_pulse_returns_to_the_low_level(bench: Bench) -> None:
    bench.clock.t = 2.0
    bench.load.pulse(200, 0.1, low_a=110)
    assert "CURR:TRAN:ALEV 110" in bench.sent()
    assert bench.sim.demand(1.9, 12.8) == 110.0
    assert bench.sim.demand(2.05, 12.8) == 200.0
    assert bench.sim.demand(2.2, 12.8) == 110.0
    bench.load.set_cc(50)  # back to plain CC: the transient generator is stopped
    assert bench.sim.tran_on is False
    assert bench.sim.demand(2.3, 12.8) == 50.0


def test_retrigger_restarts_the_pulse(bench: Bench) -> None:
    bench.clock.t = 1.0
    bench.load.pulse(200, 0.1)
    bench.clock.t = 1.05
    bench.load.configure("*TRG")
    assert bench.sim.demand(1.12, 12.8) == 200.0
    assert bench.sim.next_change(1.12) == pytest.approx(1.15)


def test_bus_trigger_needs_bus_source(bench: Bench) -> None:
    bench.load.configure("CURR:TRAN:MODE PULS", "CURR:TRAN:BLEV 10", "TRAN ON", "INP ON")
    with pytest.raises(InstrumentError) as err:
        bench.load.configure("*TRG")
    assert "-211" in err.value.detail
    assert bench.sim.pulse_start is None


def test_toggle_and_continuous_modes(bench: Bench) -> None:
    sim = bench.sim
    bench.clock.t = 10.0
    bench.load.configure(
        "FUNC CURR", "CURR:TRAN:ALEV 5", "CURR:TRAN:BLEV 20", "CURR:TRAN:MODE TOGG", "TRAN ON", "INP ON"
    )
    assert sim.demand(10.0, 12.0) == 5.0
    bench.load.configure("TRIG")
    assert sim.demand(10.0, 12.0) == 20.0
    bench.load.configure("TRIG:IMM")
    assert sim.demand(10.0, 12.0) == 5.0
    bench.load.configure("TRAN OFF", "CURR:TRAN:MODE CONT", "CURR:TRAN:AWID 0.3", "CURR:TRAN:BWID 200MS")
    bench.load.configure("TRAN ON")
    assert sim.demand(10.1, 12.0) == 5.0
    assert sim.demand(10.4, 12.0) == 20.0
    assert sim.demand(10.6, 12.0) == 5.0
    assert sim.next_change(10.1) == pytest.approx(10.3)
    assert sim.next_change(10.4) == pytest.approx(10.5)


def test_measurements_within_readback_accuracy(bench: Bench) -> None:
    gain_v, offset_v = SimItechIT8900.VOLTAGE_READBACK
    gain_i, offset_i = SimItechIT8900.CURRENT_READBACK
    for volts, amps in ((12.8, 110.0), (11.9, 200.0), (13.1, 0.0)):
        bench.sim.report(volts, amps)
        v = bench.load.measure_voltage()
        i = bench.load.measure_current()
        assert abs(v - volts) <= gain_v * volts + offset_v
        assert abs(i - amps) <= gain_i * amps + offset_i
    assert bench.sent() == ["MEAS:VOLT?", "MEAS:CURR?"] * 3


@pytest.mark.parametrize(
    ("call", "args"),
    [("set_cc", (210.5,)), ("pulse", (220.0, 0.1)), ("pulse", (100.0, 0.1, 215.0))],
)
def test_limit_violation_sends_nothing(bench: Bench, call: str, args: tuple[float, ...]) -> None:
    with pytest.raises(LimitError):
        getattr(bench.load, call)(*args)
    assert bench.sent() == []


def test_bad_pulse_width_sends_nothing(bench: Bench) -> None:
    with pytest.raises(ValueError):
        bench.load.pulse(100, 0.0)
    assert bench.sent() == []


def test_out_of_range_value_lands_in_the_error_queue(unlimited: Bench) -> None:
    with pytest.raises(InstrumentError) as err:
        unlimited.load.set_cc(300)
    assert err.value.instrument == "load"
    assert err.value.command == "FUNC CURR; TRAN OFF; CURR 300"
    assert "-222" in err.value.detail
    assert "load" in str(err.value) and "CURR 300" in str(err.value)
    assert unlimited.sim.level == 0.0
    assert unlimited.load.errors() == []


def test_unknown_command_lands_in_the_error_queue(bench: Bench) -> None:
    with pytest.raises(InstrumentError) as err:
        bench.load.configure("CURR:TRAN:BOGUS 1")
    assert err.value.instrument == "load"
    assert err.value.command == "CURR:TRAN:BOGUS 1"
    assert "-113" in err.value.detail


def test_long_forms_and_queries(bench: Bench) -> None:
    q = bench.load.query
    bench.load.configure(
        "SOURce:FUNCtion CURRent",
        "SOURce:CURRent:LEVel:IMMediate:AMPLitude 12.5",
        "SOURce:CURRent:TRANsient:MODE PULSe",
        "CURRent:TRANsient:BLEVel 30",
        "CURRent:TRANsient:BWIDth 0.25",
        "TRIGger:SOURce BUS",
    )
    assert float(q("CURR?")) == 12.5
    assert float(q("CURR? MAX")) == SimItechIT8900.CURRENT_RATING
    assert q("CURR:TRAN:MODE?") == "PULS"
    assert float(q("CURR:TRAN:BLEV?")) == 30.0
    assert float(q("CURR:TRAN:BWID?")) == 0.25
    assert q("TRIG:SOUR?") == "BUS"
    assert q("FUNC?") == "CURR"
    with pytest.raises(InstrumentError) as err:
        bench.load.configure("FUNC RES")
    assert "-224" in err.value.detail


def test_output_state_reads_back_input_and_short(bench: Bench) -> None:
    bench.load.set_short(True)
    bench.sent()
    state = bench.load.output_state()
    assert bench.sent() == ["CURR?", "INP?", "INP:SHOR?"]  # queries only
    assert state["input"] is True and state["short"] is True
    assert bench.load.state_is_safe(state) is False
    bench.load.safe()
    state = bench.load.output_state()
    assert (state["input"], state["short"]) == (False, False)
    assert bench.load.state_is_safe(state) is True


def test_short_refused_where_the_station_forbids_it() -> None:
    for bench in _bench(Limits(current_max=240.0, short_circuit=False)):
        with pytest.raises(LimitError, match="short circuit is not allowed"):
            bench.load.set_short(True)
        assert bench.sent() == []
        bench.load.set_short(False)  # switching a short off is always allowed
        assert bench.sent() == ["INP:SHOR OFF", *OK]


def test_slew_limit_is_programmed_in_a_per_microsecond() -> None:
    for bench in _bench(Limits(current_max=240.0, current_slew_max=100_000.0)):
        bench.load.program_slew()
        assert bench.sent() == ["CURR:SLEW:RISE 0.1", "CURR:SLEW:FALL 0.1", *OK]
        assert bench.sim.slew == {"RISE": 0.1, "FALL": 0.1}
        assert float(bench.load.query("CURR:SLEW:FALL?")) == 0.1


def test_slew_limit_is_programmed_again_after_reset() -> None:
    for bench in _bench(Limits(current_max=240.0, current_slew_max=50_000.0)):
        bench.load.reset()
        assert bench.sent() == ["*RST", "*CLS", *OK, "CURR:SLEW:RISE 0.05", "CURR:SLEW:FALL 0.05", *OK]
        assert bench.sim.slew == {"RISE": 0.05, "FALL": 0.05}


def test_pulse_faster_than_the_slew_limit_sends_nothing() -> None:
    for bench in _bench(Limits(current_max=240.0, current_slew_max=100_000.0)):
        # 200 A within a tenth of 10 ms needs 200,000 A/s: above 100,000 A/s
        with pytest.raises(LimitError, match=r"200 A edge within 0.001 s needs 200000 A/s.*100000 A/s"):
            bench.load.pulse(200.0, 0.01)
        assert bench.sent() == []
        assert bench.sim.tran_on is False
        # the same pulse 100 ms wide reaches its level in 2 ms, inside a tenth of the width
        bench.load.pulse(200.0, 0.1)
        assert bench.sent() == PULSE_SEQUENCE
