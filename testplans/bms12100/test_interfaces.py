"""Records and interfaces (seed §3.9, §3.10, §7.9, §10): HIST, PARAM, COM-485, COM-CAN."""

from __future__ import annotations

import itertools
import statistics

import pytest

from hil.can_monitor import CanMonitor
from hil.duts.bms12100 import CELL_COUNT
from hil.duts.bms12100.bench import NOMINAL_CELL_V, Bms12100Bench
from hil.duts.bms12100.config import PARAMETERS, from_wire
from hil.duts.bms12100.protocol.can_codec import BMS_FRAME_IDS, CYCLE_S
from hil.measure import equals, info, within
from hil.station.station import Station
from hil.uncertainty import budget, reading, resolution, standard

#: trips (each gives a trigger and a release record) to show the history keeps >= 500 records
HISTORY_TRIPS = 260
#: the EOL profile's CAN capture window (s): at least two frames of every ID (one 1 s period, guarded)
EOL_CAN_WINDOW_S = 2.2
#: CAN capture timestamps (socketcand, python-can): microseconds
CAN_STAMP_S = 1e-6


@pytest.mark.requirement("PARAM")
def test_every_parameter_reads_and_writes(bench: Bms12100Bench, check) -> None:
    """Each settable parameter reads back what was written over RS-485, and is restored."""
    failures = []
    for param in PARAMETERS:
        original = bench.dut.read_setting(param.path)
        if isinstance(original, bool):
            candidate: float | bool = not original
        else:
            candidate = from_wire(param, round(float(original) * param.scale) + 1)  # one wire step up
        try:
            echoed = bench.dut.write_setting(param.path, candidate)
            read = bench.dut.read_setting(param.path)
        except Exception as exc:  # a refusal is a finding for this parameter, not a bench error
            failures.append(f"{param.path}: {exc}")
            continue
        finally:
            bench.dut.write_setting(param.path, original)
        if read != echoed or abs(float(read) - float(candidate)) > 1e-9:
            failures.append(f"{param.path}: wrote {candidate}, read {read}")
    check(
        equals(
            "PARAM",
            "every parameter written and read back",
            not failures,
            True,
            bench.clock.now(),
            data={"parameters": len(PARAMETERS), "failures": failures},
        )
    )


@pytest.mark.long  # 500 events take about 30 min of protection trips and releases
@pytest.mark.requirement("HIST")
def test_history_keeps_500_records(bench: Bms12100Bench, spec_data, check) -> None:
    """Trip and release CV-LA repeatedly; the history holds >= 500 records with times and IDs."""
    req = spec_data.get("CV-LA")
    start = bench.clock.now()
    for _ in range(HISTORY_TRIPS):
        bench.set_cells([2.85] + [NOMINAL_CELL_V] * (CELL_COUNT - 1))
        bench.clock.sleep(bench.settle(req))
        bench.set_cells([NOMINAL_CELL_V] * CELL_COUNT)
        bench.clock.sleep(bench.settle(req))
    records = bench.dut.history()
    ours = [r for r in records if r.requirement_id.strip() == req.id and r.time_s >= start - 1]
    counted = budget(standard("records counted one by one: exact", 0.0), unit="records")
    now = bench.clock.now()
    check(within("HIST", "records held", len(records), "records", now, low=500, uncertainty=counted))
    check(
        equals(
            "HIST",
            "records carry trigger and release of the tripped alarm",
            len(ours) >= 500 and {r.kind.name for r in ours} == {"TRIGGER", "RELEASE"},
            True,
            bench.clock.now(),
            data={"records": len(records), "cv_la": len(ours)},
        )
    )
    times = [r.time_s for r in ours]
    check(
        equals(
            "HIST",
            "time stamps non-decreasing and within the run",
            times == sorted(times) and times[-1] <= bench.clock.now() + 1 and times[0] >= start - 1,
            True,
            bench.clock.now(),
        )
    )
    last = ours[-1]
    check(
        within(
            "HIST",
            "cell 1 voltage stored with the last record",
            last.cell_mv[0],
            "mV",
            bench.clock.now(),
            low=2800,
            high=3400,
            uncertainty=reading("history record cell voltage", 1.0, "mV"),
        )
    )


@pytest.mark.requirement("COM-485")
def test_rs485(bench: Bms12100Bench, station: Station, check) -> None:
    """The BMS answers at the station's 9600 Bd (on the sim the TCP port carries no baud rate)."""
    bus = station.model.buses.rs485
    assert bus is not None
    check(equals("COM-485", "station RS-485 at 9600 Bd", bus.baudrate == 9600, True, bench.clock.now()))
    identity = bench.dut.identity()
    check(
        equals(
            "COM-485",
            "the BMS answers at its DIP address",
            bool(identity["serial"]),
            True,
            bench.clock.now(),
            data={
                "address": station.model.dut.address,
                **identity,
                "stimulus": {"RS-485": f"identity request to address {station.model.dut.address}"},
            },
        )
    )


@pytest.mark.requirement("COM-CAN")
def test_can_frames_and_period(
    bench: Bms12100Bench, station: Station, can_monitor: CanMonitor, profile: str, check
) -> None:
    """All six inverter frames arrive at 500 kbit/s, each every 1 s (our reading of the protocol).

    EOL profile: a 2.2 s window (two frames or more of each: the transceiver works); the period
    itself is firmware (audit and full measure it over 10 s)."""
    bus = station.model.buses.can
    assert bus is not None
    check(equals("COM-CAN", "station CAN at 500 kbit/s", bus.bitrate == 500_000, True, bench.clock.now()))
    t0 = bench.clock.now()
    window_s = EOL_CAN_WINDOW_S if profile == "eol" else 10.0
    bench.clock.sleep(window_s)
    for can_id in BMS_FRAME_IDS:
        stamps = [f.timestamp for f in can_monitor.since(t0, can_id)]
        periods = [b - a for a, b in itertools.pairwise(stamps)]
        mean = statistics.fmean(periods) if periods else None
        n = max(len(periods), 1)
        check(
            within(
                "COM-CAN",
                f"0x{can_id:03X} period",
                mean,
                "s",
                bench.clock.now(),
                low=CYCLE_S * 0.9,
                high=CYCLE_S * 1.1,
                # mean period = (last - first)/(n - 1): two timestamps of the capture's resolution
                uncertainty=budget(
                    resolution(f"first frame timestamp {CAN_STAMP_S:g} s / {n} periods", CAN_STAMP_S / n),
                    resolution(f"last frame timestamp {CAN_STAMP_S:g} s / {n} periods", CAN_STAMP_S / n),
                    unit="s",
                ),
                data={"frames": len(stamps)},
            )
        )
    captured = len(can_monitor.since(t0))
    check(info("COM-CAN", f"frames captured in {window_s:g} s", captured, "frames", bench.clock.now()))
