"""DUT communication faults: bad RS-485 answers counted and retried, a silent DUT named, writes never
re-sent blindly, CAN error frames, bus-off, bus states and silences recorded with their times, and
the `link` entry a run's record carries.

The RS-485 and socketcand tests run against the simulated lab (`hil sim serve` in virtual time),
with faults inserted through its control port (`rs485_fault`, `can_fault`); bus states, which
socketcand cannot carry, use python-can's in-process `virtual` bus.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import can
import pytest
from can.interfaces.virtual import VirtualBus
from fakes import ManualClock
from hilcli import hil, own_plan

from hil import can_monitor
from hil.can_monitor import CAN_ERR_BUSOFF, CAN_ERR_CRTL, CanMonitor, error_frame_kind, open_station_bus
from hil.duts.bms12100.bench import Bms12100Bench
from hil.duts.bms12100.client import Bms12100Client
from hil.duts.bms12100.protocol import rs485
from hil.duts.bms12100.protocol.can_codec import (
    ID_FLAGS,
    ID_LIMITS,
    ID_MANUFACTURER,
    ID_MEASUREMENTS,
    ID_REQUEST,
    ID_SOC_SOH,
)
from hil.duts.bms12100.sim.line_faults import corrupt_answer
from hil.errors import BenchError, DutNotAnswering, DutWriteUnconfirmed
from hil.link import LinkLog, LinkStats, link_findings
from hil.protocols.yd1363 import decode
from hil.sim.client import ControlClient
from hil.station.station import Station

ROOT = Path(__file__).resolve().parents[1]
STATION = ROOT / "stations" / "sim-bms12100.yaml"
CLOCK_START_S = 100.0  # where the in-process tests' station clocks start
ANSWER_TIMEOUT_S = 0.3  # short: the silent cases wait it out once per attempt
OVP = "cell_overvoltage_protection.trigger"
#: the BMS's periodic inverter frames (one each per 1 s cycle)
INVERTER_IDS = (ID_LIMITS, ID_SOC_SOH, ID_MEASUREMENTS, ID_FLAGS, ID_REQUEST, ID_MANUFACTURER)
#: the sim fault mode and the kind the client counts it as
CORRUPTIONS = {
    "checksum": "checksum",
    "length": "length",
    "truncate": "truncated",
    "garbage": "garbage",
    "address": "address",
}


@pytest.fixture(scope="module")
def station() -> Iterator[Station]:
    st = Station.open(STATION)
    try:
        yield st
    finally:
        st.close()


@pytest.fixture(scope="module")
def monitor(station: Station) -> Iterator[CanMonitor]:
    bus = station.model.buses.can
    assert bus is not None
    mon = CanMonitor(open_station_bus(bus), station.clock)
    try:
        yield mon
    finally:
        mon.close()


@pytest.fixture(scope="module")
def client(station: Station, monitor: CanMonitor) -> Iterator[Bms12100Client]:
    dut = Bms12100Client(station, monitor, answer_timeout_s=ANSWER_TIMEOUT_S, retries=2)
    Bms12100Bench(station, dut).power_up()
    try:
        yield dut
    finally:
        dut.close()


@pytest.fixture
def control(station: Station) -> Iterator[ControlClient]:
    """The lab's control port; every fault is cleared after the test."""
    assert station.sim is not None
    ctl = station.sim.control
    yield ctl
    ctl.request("rs485_fault", mode="none")
    ctl.request("can_fault", mode="none")


def _wait_for(condition: Callable[[], bool], what: str, limit_s: float = 5.0) -> None:
    """Poll a condition a background thread makes true (bounded, so a bug fails instead of hanging)."""
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.01)


# --- RS-485 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "kind"), CORRUPTIONS.items())
def test_a_corrupted_answer_is_counted_by_kind_and_the_read_retried(
    client: Bms12100Client, control: ControlClient, station: Station, mode: str, kind: str
) -> None:
    before = client.link_stats()
    control.request("rs485_fault", mode=mode, count=1)
    analog = client.analog()  # the first answer is bad, the retry's is good
    assert analog.pack == 1 and len(analog.cell_mv) == 4
    found = client.link_stats().since(before)
    assert dict(found.counts) == {kind: 1, "retry": 1}
    bad = [e for e in found.events if e.kind == kind]
    assert len(bad) == 1
    assert bad[0].raw  # the raw bytes are kept
    assert bad[0].time == station.clock.now()  # stamped with the station clock
    assert found.to_json()["events"][0]["hex"] == bad[0].raw.hex()


def test_every_kind_of_bad_answer_in_a_row_never_breaks_the_client(
    client: Bms12100Client, control: ControlClient
) -> None:
    before = client.link_stats()
    for mode in CORRUPTIONS:
        control.request("rs485_fault", mode=mode, count=2)  # two bad answers, the third is good
        assert client.status().cell_mv
    found = client.link_stats().since(before)
    assert dict(found.counts) == dict.fromkeys(CORRUPTIONS.values(), 2) | {"retry": 2 * len(CORRUPTIONS)}
    assert found.count("not_answering") == 0


def test_answers_that_stay_bad_give_the_declared_error_naming_them(
    client: Bms12100Client, control: ControlClient
) -> None:
    control.request("rs485_fault", mode="checksum")
    with pytest.raises(DutNotAnswering) as raised:
        client.mode()
    err = raised.value
    assert err.attempts == 3
    assert "GET_ALARM_INFO" in err.command
    assert err.detail == "bad answers only: 3 checksum"
    control.request("rs485_fault", mode="none")
    assert client.mode() == "standby"  # the parser is not stuck on what came before


def test_a_silent_dut_is_a_declared_error_with_command_address_and_wait(
    client: Bms12100Client, control: ControlClient, station: Station
) -> None:
    before = client.link_stats()
    control.request("rs485_fault", mode="silent")
    with pytest.raises(DutNotAnswering) as raised:
        client.analog()
    err = raised.value
    assert err.command == "GET_ANALOG_VALUES (CID2 0x42)"
    assert err.address == station.model.dut.address
    assert err.attempts == 3
    assert err.detail == "no bytes at all"
    assert err.waited_s > 0
    message = str(err)
    assert "GET_ANALOG_VALUES" in message and "address 1" in message and "waited" in message
    found = client.link_stats().since(before)
    assert dict(found.counts) == {"no_answer": 3, "retry": 2, "not_answering": 1}


def test_the_answer_timeout_is_the_station_files(station: Station, monitor: CanMonitor) -> None:
    """buses.rs485.timeout_s is the client's answer timeout unless the caller gives one."""
    bus = station.model.buses.rs485
    assert bus is not None and bus.timeout_s == 0.3  # the simulated station's
    dut = Bms12100Client(station, monitor)
    try:
        assert dut.answer_timeout_s == 0.3 and dut.port.timeout == 0.3
    finally:
        dut.close()
    dut = Bms12100Client(station, monitor, answer_timeout_s=2.0)
    try:
        assert dut.answer_timeout_s == 2.0
    finally:
        dut.close()


def test_retries_are_bounded_and_zero_means_one_attempt(
    client: Bms12100Client, control: ControlClient
) -> None:
    control.request("rs485_fault", mode="checksum", count=1)
    client.retries = 0
    try:
        with pytest.raises(DutNotAnswering) as raised:
            client.analog()
    finally:
        client.retries = 2
    assert raised.value.attempts == 1
    assert client.analog().pack == 1  # the fault was used up by the one attempt


def _sent_commands(client: Bms12100Client, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Spy on the requests the client puts on the wire (their CID2)."""
    sent: list[int] = []
    write = client.port.write

    def spy(data: bytes) -> int | None:
        sent.append(decode(bytes(data)).cid2)
        result: int | None = write(data)
        return result

    monkeypatch.setattr(client.port, "write", spy)
    return sent


def test_a_write_whose_answer_was_lost_is_read_back_not_sent_again(
    client: Bms12100Client, control: ControlClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = client.read_setting(OVP)
    sent = _sent_commands(client, monkeypatch)
    before = client.link_stats()
    control.request("rs485_fault", mode="silent", count=1)  # the BMS stores it, its answer is lost
    try:
        assert client.write_setting(OVP, 3660) == 3660
        assert sent == [rs485.Cid2.WRITE_PARAMETER, rs485.Cid2.READ_PARAMETER]
        found = client.link_stats().since(before)
        assert found.count("write_unanswered") == 1
        assert found.count("write_verified") == 1
        assert found.count("retry") == 0
    finally:
        client.write_setting(OVP, original)


def test_a_lost_write_answer_and_a_different_read_back_is_unconfirmed_not_resent(
    client: Bms12100Client, control: ControlClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = client.read_setting(OVP)
    sent = _sent_commands(client, monkeypatch)
    control.request("rs485_fault", mode="silent", count=1)  # the BMS refuses 1 mV; the refusal is lost
    with pytest.raises(DutWriteUnconfirmed) as raised:
        client.write_setting(OVP, 1)
    assert (raised.value.written, raised.value.read_back) == (1, original)
    assert sent == [rs485.Cid2.WRITE_PARAMETER, rs485.Cid2.READ_PARAMETER]
    assert client.read_setting(OVP) == original


def test_a_lost_capacity_answer_is_checked_in_the_analog_values(
    client: Bms12100Client, control: ControlClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = _sent_commands(client, monkeypatch)
    control.request("rs485_fault", mode="garbage", count=1)
    assert client.set_remaining_capacity(55.0) == pytest.approx(55.0, abs=0.02)
    assert sent == [rs485.Cid2.SET_REMAINING_CAPACITY, rs485.Cid2.GET_ANALOG_VALUES]


@pytest.mark.parametrize("mode", [*CORRUPTIONS, "silent"])
def test_the_sim_corrupts_a_frame_the_way_its_mode_says(mode: str) -> None:
    import random

    from hil.protocols.yd1363 import FrameReader, encode

    good = encode(rs485.GetProtocolVersion.response(1))
    bad = corrupt_answer(mode, good, random.Random(1))
    reader = FrameReader()
    frames = reader.feed(bad)
    if mode == "address":
        assert [f.adr for f in frames] == [2]
    elif mode == "silent":
        assert bad == b""
    else:
        assert frames == []
        assert reader.bad_frames + reader.discarded_bytes + reader.buffered > 0


# --- CAN over the lab's socketcand -------------------------------------------------------------


def test_error_frames_and_bus_off_are_recorded_with_their_times(
    client: Bms12100Client, monitor: CanMonitor, control: ControlClient, station: Station
) -> None:
    clock = station.clock
    clock.sleep(2.0)
    before = monitor.link_stats()
    t_error = clock.now()
    control.request("can_fault", mode="error_frame", count=2)
    clock.sleep(1.0)
    t_off = clock.now()
    control.request("can_fault", mode="bus_off")
    clock.sleep(4.0)
    t_back = clock.now()
    control.request("can_fault", mode="none")
    clock.sleep(2.0)
    found = monitor.link_stats().since(before)
    assert dict(found.counts) == {"error_frame": 2, "bus_off": 1, "restarted": 1}
    assert [(e.kind, round(e.time, 5)) for e in found.events] == [
        ("error_frame", round(t_error, 5)),
        ("error_frame", round(t_error, 5)),
        ("bus_off", round(t_off, 5)),
        ("restarted", round(t_back, 5)),
    ]
    assert "bus-off" in found.events[2].detail
    # nothing of the DUT's reached the bus while it was off, and that silence is found
    assert not [f for f in monitor.since(t_off + 1e-3) if not f.is_error_frame and f.timestamp < t_back]
    gaps = monitor.silence(INVERTER_IDS, period_s=1.0, cycles=2, since=t_error, until=clock.now())
    assert len(gaps) == 1
    assert gaps[0].start <= t_off + 1e-3 and gaps[0].end >= t_back
    assert monitor.link_stats().since(before).count("silence") == 1


def test_silence_of_the_telemetry_is_found_only_when_longer_than_n_cycles(
    client: Bms12100Client, monitor: CanMonitor, control: ControlClient, station: Station
) -> None:
    clock = station.clock
    t0 = clock.now()
    clock.sleep(5.0)
    assert monitor.silence(INVERTER_IDS, period_s=1.0, cycles=2, since=t0) == []
    control.request("can_fault", mode="silent")
    t_quiet = clock.now()
    clock.sleep(5.0)
    control.request("can_fault", mode="none")
    clock.sleep(2.0)
    gaps = monitor.silence([ID_LIMITS, ID_SOC_SOH], period_s=1.0, cycles=3, since=t0, record=False)
    assert len(gaps) == 1
    assert gaps[0].start <= t_quiet and gaps[0].duration > 3.0
    assert "0x351" in gaps[0].describe()
    assert monitor.silence(INVERTER_IDS, period_s=1.0, cycles=10, since=t0) == []  # 5 s < 10 cycles


def test_a_dut_frame_that_does_not_decode_is_counted(
    client: Bms12100Client, monitor: CanMonitor, station: Station
) -> None:
    bus = station.model.buses.can
    assert bus is not None
    before = monitor.link_stats()
    other = open_station_bus(bus)
    try:
        other.send(can.Message(arbitration_id=ID_LIMITS, data=b"\x01\x02\x03", is_extended_id=False))
        other.send(can.Message(arbitration_id=0x123, data=b"\x00" * 8, is_extended_id=False))  # not ours
        _wait_for(lambda: monitor.link_stats().since(before).count("undecodable") == 1, "undecodable counted")
    finally:
        other.shutdown()
    found = monitor.link_stats().since(before)
    assert dict(found.counts) == {"undecodable": 1}
    assert found.events[0].raw == b"\x01\x02\x03"
    assert "0x351" in found.events[0].detail


# --- CAN bus states and full error frames (python-can virtual bus, in-process) ------------------


class StatefulBus(VirtualBus):
    """A virtual bus whose controller state a test sets, as pcan or kvaser report theirs."""

    def __init__(self, channel: str) -> None:
        super().__init__(channel=channel, preserve_timestamps=True)
        self.controller_state = can.BusState.ACTIVE

    @property
    def state(self) -> can.BusState:
        return self.controller_state

    @state.setter
    def state(self, new_state: can.BusState) -> None:
        self.controller_state = new_state


def test_bus_state_changes_are_recorded_at_the_station_time() -> None:
    clock = ManualClock(CLOCK_START_S)
    bus = StatefulBus("link-faults-state")
    monitor = CanMonitor(bus, clock)
    try:
        clock.sleep(1.0)
        bus.controller_state = can.BusState.PASSIVE
        clock.sleep(1.0)  # polled after the wait
        bus.controller_state = can.BusState.ERROR
        clock.sleep(1.0)
        bus.controller_state = can.BusState.ACTIVE
        stats = monitor.link_stats()  # polled on demand too
    finally:
        monitor.close()
    assert [(e.kind, e.time) for e in stats.events] == [
        ("error_passive", 102.0),
        ("bus_off", 103.0),
        ("error_active", 103.0),
    ]


def test_full_error_frames_tell_error_passive_and_keep_their_bus_timestamp() -> None:
    clock = ManualClock(CLOCK_START_S)
    channel = "link-faults-frames"
    monitor = CanMonitor(VirtualBus(channel=channel), clock)
    sender = VirtualBus(channel=channel, preserve_timestamps=True)
    try:
        passive = bytes([0, 0x10, 0, 0, 0, 0, 0, 0])  # CAN_ERR_CRTL_RX_PASSIVE in data[1]
        sender.send(
            can.Message(timestamp=7.25, arbitration_id=CAN_ERR_CRTL, data=passive, is_error_frame=True)
        )
        sender.send(
            can.Message(timestamp=8.5, arbitration_id=CAN_ERR_BUSOFF, data=bytes(8), is_error_frame=True)
        )
        _wait_for(lambda: monitor.link_stats().total == 2, "two error frames logged")
    finally:
        sender.shutdown()
        monitor.close()
    events = monitor.link_stats().events
    assert [(e.kind, e.time, e.raw) for e in events] == [
        ("error_passive", 7.25, passive),
        ("bus_off", 8.5, bytes(8)),
    ]


def test_a_listener_that_raises_is_counted_and_capture_goes_on() -> None:
    clock = ManualClock(CLOCK_START_S)
    channel = "link-faults-listener"
    monitor = CanMonitor(VirtualBus(channel=channel), clock)
    sender = VirtualBus(channel=channel)

    def broken(frame: Any) -> None:
        raise RuntimeError("listener bug")

    monitor.listeners.append(broken)
    try:
        for n in range(3):
            sender.send(can.Message(arbitration_id=0x100 + n, data=b"\x00", is_extended_id=False))
        _wait_for(lambda: monitor.total == 3, "three frames captured")
    finally:
        sender.shutdown()
        monitor.close()
    assert monitor.link_stats().count("listener_error") == 3


def test_error_frame_kinds_follow_the_socketcan_classes() -> None:
    assert error_frame_kind(0x040, b"")[0] == "bus_off"
    assert error_frame_kind(0x100, b"")[0] == "restarted"
    assert error_frame_kind(0x004, bytes([0, 0x20]))[0] == "error_passive"
    assert error_frame_kind(0x004, bytes([0, 0x08]))[0] == "error_warning"
    assert error_frame_kind(0x004, b"\x00")[0] == "error_frame"  # socketcand: the class only
    assert error_frame_kind(0x088, b"") == ("error_frame", "protocol violation, bus error")


# --- the counters and the record ------------------------------------------------------------------


def test_link_stats_give_what_changed_since_a_snapshot() -> None:
    log = LinkLog("rs485", keep=3)
    log.add("checksum", 1.0, raw=b"~20")
    first = log.stats()
    for t in (2.0, 3.0, 4.0, 5.0):
        log.add("garbage", t)
    now = log.stats()
    delta = now.since(first)
    assert dict(delta.counts) == {"garbage": 4}
    assert [e.time for e in delta.events] == [3.0, 4.0, 5.0]  # details are bounded, counts are not
    assert dict(now.counts) == {"checksum": 1, "garbage": 4}
    assert link_findings([now], {"rs485": now}) == {}
    assert link_findings([now, LinkStats("can")], {"rs485": first}) == {
        "rs485": {
            "counts": {"garbage": 4},
            "events": [
                {"t": 3.0, "kind": "garbage"},
                {"t": 4.0, "kind": "garbage"},
                {"t": 5.0, "kind": "garbage"},
            ],
            "events_total": 4,
        }
    }
    assert json.loads(json.dumps(log.stats().to_json(max_events=1)))["events"] == [
        {"t": 3.0, "kind": "garbage"}
    ]


FAULTY_PLAN = """
INVERTER_IDS = (0x351, 0x355, 0x356, 0x359, 0x35C, 0x35E)


def test_clean(dut, clock):
    dut.status()


def test_faulty_link(dut, station, can_monitor, clock):
    ctl = station.sim.control
    ctl.request("rs485_fault", mode="checksum", count=1)
    dut.status()
    t0 = clock.now()
    ctl.request("can_fault", mode="bus_off")
    clock.sleep(4.0)
    ctl.request("can_fault", mode="none")
    clock.sleep(2.0)
    assert can_monitor.silence(INVERTER_IDS, period_s=1.0, cycles=2, since=t0)
"""


def test_a_run_record_carries_link_findings_and_still_verifies(tmp_path: Path) -> None:
    plan = tmp_path / "test_faulty_plan.py"
    plan.write_text(FAULTY_PLAN, encoding="utf-8")
    out = tmp_path / "out"
    run = own_plan(plan, "--hil-out", str(out), "--hil-reports", "html")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    entries = [json.loads(line) for line in (out / "record.jsonl").read_text(encoding="utf-8").splitlines()]
    links = [e for e in entries if e["type"] == "link"]
    assert [e["test"].rsplit("::", 1)[-1] for e in links] == ["test_faulty_link"]  # the clean test has none
    found = links[0]["links"]
    assert found["rs485"]["counts"] == {"checksum": 1, "retry": 1}
    assert found["rs485"]["events"][0]["kind"] == "checksum"
    assert bytes.fromhex(found["rs485"]["events"][0]["hex"]).startswith(b"~")
    assert found["can"]["counts"] == {"bus_off": 1, "restarted": 1, "silence": 1}
    assert [e["kind"] for e in found["can"]["events"]] == ["bus_off", "silence", "restarted"]
    assert all(isinstance(e["t"], float) for e in found["can"]["events"])
    kinds = [e["type"] for e in entries]
    assert kinds.index("link") < kinds.index("safe_state") and kinds[-1] == "end"
    verify = hil("report", "--verify", str(out))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "Communication finding (not a verdict)" in (out / "report.html").read_text(encoding="utf-8")


class LabCountersClock(ManualClock):
    """A clock whose waits report, as the lab does, the timestamp of the last frame it sent."""

    def __init__(self) -> None:
        super().__init__(CLOCK_START_S)
        self.can_last_t = 0.0

    def _advance(self, seconds: float) -> dict[str, float]:
        self.t += seconds
        return {"can_last_t": self.can_last_t}


def test_catch_up_waits_while_frames_keep_arriving_and_fails_once_they_stop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(can_monitor, "CATCH_UP_TIMEOUT_S", 0.3)
    clock = LabCountersClock()
    channel = "link-faults-catch-up"
    monitor = CanMonitor(VirtualBus(channel=channel), clock)
    sender = VirtualBus(channel=channel, preserve_timestamps=True)

    def trickle() -> None:  # ten frames over about 1 s: more than the timeout in all, never a pause
        for n in range(1, 11):
            time.sleep(0.1)
            sender.send(can.Message(timestamp=100.0 + n, arbitration_id=0x100, data=bytes([n])))

    thread = threading.Thread(target=trickle)
    try:
        clock.can_last_t = 110.0
        thread.start()
        started = time.monotonic()
        clock.sleep(10.0)  # returns once the frame stamped 110 s has arrived
        assert time.monotonic() - started > 0.3
        assert [f.data[0] for f in monitor.since(101.0)] == list(range(1, 11))
        clock.can_last_t = 120.0  # the lab says it sent more, but nothing comes
        with pytest.raises(BenchError, match=r"t=120\.000 s did not arrive: none for 0\.3 s"):
            clock.sleep(10.0)
    finally:
        thread.join(5)
        sender.shutdown()
        monitor.close()


def test_frames_are_counted_per_id_and_a_wait_for_one_ends_when_it_arrives() -> None:
    clock = ManualClock(CLOCK_START_S)
    channel = "link-faults-count"
    monitor = CanMonitor(VirtualBus(channel=channel), clock)
    sender = VirtualBus(channel=channel)
    try:
        assert monitor.count(0x505) == 0
        assert monitor.wait_count(0x505, 1, 0.2) is False  # nothing sent: times out
        threading.Timer(0.1, lambda: sender.send(can.Message(arbitration_id=0x505, data=b"\x02"))).start()
        assert monitor.wait_count(0x505, 1, 5.0) is True
        assert (monitor.count(0x505), monitor.count(0x506)) == (1, 0)
    finally:
        sender.shutdown()
        monitor.close()
