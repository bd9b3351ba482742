"""Sealed run records for the database tests, written by the project's own Recorder.

Each record has what `hil run` writes that the database reads: header (station with instruments
and calibration, spec and plan hashes, profile, operator, socket, lot), the spec, the DUT's
identity, measurements with their test entries, and the end entry (left out = an interrupted run).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from hil.measure import within
from hil.record import Recorder

#: requirement -> (measurement name, unit, low, high, nominal value, U)
CHECKS = {
    "ACC-CV": ("cell 1 at 3.30 V", "V", 3.28, 3.32, 3.301, 0.002),
    "ACC-CT": ("current at 50 A", "A", 49.0, 51.0, 50.1, 0.2),
    "TEMP": ("NTC 1 at 25 °C", "°C", 23.0, 27.0, 25.2, 0.3),
}
T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


@dataclass
class RunSpec:
    serial: str
    start_min: float  # minutes after T0
    duration_s: float = 60.0
    fail: tuple[str, ...] = ()  # requirements measured out of their limits, in this order
    complete: bool = True
    socket: str | None = None
    lot: str | None = None
    station: str = "line-a"
    profile: str = "eol"
    values: dict[str, float] = field(default_factory=dict)  # overrides of the nominal values


def write_run(folder: Path, spec: RunSpec) -> Path:
    """Write `folder/record.jsonl` for one run; returns the folder."""
    write_with(Recorder(folder / "record.jsonl"), spec)
    return folder


def write_with(rec: Recorder, spec: RunSpec) -> None:
    """Write one run's record with `rec` and close it."""
    started = T0 + dt.timedelta(minutes=spec.start_min)
    header: dict[str, object] = {
        "title": "Test report - test unit",
        "started": started.isoformat(),
        "software": {"hil": "0.1.0", "sources_sha256": "a" * 64},
        "spec": {"dut": "bms12100", "version": "1.0.0", "path": "spec.yaml", "sha256": "b" * 64},
        "plan": {"dir": "testplans/bms12100", "profile": spec.profile, "args": []},
        "station": {
            "file": f"stations/{spec.station}.yaml",
            "sha256": "c" * 64,
            "name": spec.station,
            "lab": "test lab",
            "simulated": True,
            "instruments": {
                "dmm": {
                    "role": "dmm",
                    "model": "DAQ970A",
                    "driver": "keysight-daq970a",
                    "serial": "MY1",
                    "asset_id": "A-1",
                    "calibration_due": "2027-10-31",
                },
            },
        },
        "dut": {"family": "bms12100", "expected_serial": spec.serial},
        "profile": spec.profile,
        "operator": "alice",
        "host": "bench-1",
    }
    if spec.socket is not None:
        header["socket"] = spec.socket
    if spec.lot is not None:
        header["lot"] = spec.lot
    rec.write("header", **header)
    requirements = [{"id": rid, "title": rid} for rid in CHECKS]
    rec.write("spec", path="spec.yaml", data={"dut": "bms12100", "requirements": requirements})
    rec.write("dut", serial=spec.serial, model="12100-1203", firmware="1.3")
    for t, (rid, (name, unit, low, high, nominal, u)) in enumerate(CHECKS.items()):
        value = spec.values.get(rid, nominal)
        if rid in spec.fail:
            value = high + 1.0
        m = within(rid, name, value, unit, float(t), low, high, u)
        test = f"testplans/bms12100/test_x.py::test_{rid.lower().replace('-', '_')}"
        rec.measurement(m, test)
        outcome = "passed" if m.passed else "failed"
        rec.write("test", test=test, phase="call", outcome=outcome, duration_s=1.0, requirements=[rid])
    if spec.complete:
        ended = started + dt.timedelta(seconds=spec.duration_s)
        rec.write("end", ended=ended.isoformat(), status="completed", reason="", exitstatus=0)
    rec.close()
