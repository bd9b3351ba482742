"""Safety on every way out of a run, safe operating limits, instrument faults (against the simulated lab).

Every abort path runs against a lab this module starts itself (`hil sim serve`, virtual time),
with a station file that attaches the run to it (`sim.attach`), so the lab outlives the run and
its control port (`outputs`) shows, independently of the run's own record, that every output was
left off. Faults are inserted through the lab's control port (`fault`): an instrument that stops
answering, or one that drops its connection.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hilcli import hil, own_plan

from hil import interrupts
from hil.duts.bms12100.ntc import resistance_ohm
from hil.errors import (
    BenchUnusable,
    ConfigError,
    InstrumentConnectionError,
    InstrumentTimeout,
    LimitError,
    RunInterrupted,
)
from hil.instruments.drivers.iet_prs202 import IetPrs202Bank
from hil.instruments.drivers.itech_it8900 import ItechIT8900
from hil.instruments.drivers.keysight_n6705c import KeysightN6705C
from hil.instruments.drivers.keysight_n8900 import KeysightN8900
from hil.instruments.info import InstrumentInfo
from hil.instruments.scpi import ScpiInstrument
from hil.instruments.transport import RecordingTransport, Transport, VisaTransport
from hil.record import read_entries
from hil.sim.client import ControlClient, SimProcess
from hil.sim.instruments.keysight_n8900 import SimKeysightN8900
from hil.sim.tcp import scpi_server_thread
from hil.station.model import StationModel
from hil.station.station import Station, effective_limits, load_station, require_limits

ROOT = Path(__file__).resolve().parents[1]
SIM_STATION = ROOT / "stations" / "sim-bms12100.yaml"
BAD_LIMITS = Path(__file__).resolve().parent / "data" / "bad_stations" / "limits"
#: instrument timeout on the attached station: short, so the fault cases take seconds
TIMEOUT_S = 0.5
RUN_TIMEOUT_S = 300
RUN_ARGS = ("--reports", "none", "--out")

# --------------------------------------------------------------------------------- the lab


@dataclass
class Lab:
    """A running simulated lab and a station file that attaches a run to it."""

    process: SimProcess
    control: ControlClient
    station: Path

    def outputs(self) -> dict[str, Any]:
        found: dict[str, Any] = self.control.request("outputs")["outputs"]
        return found


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    process = SimProcess(SIM_STATION, log_file=tmp_path / "lab.log")
    control = ControlClient(process.endpoints["control"])
    data = yaml.safe_load(SIM_STATION.read_text(encoding="utf-8"))
    data["sim"]["attach"] = process.endpoints["control"]
    for inst in data["instruments"].values():
        inst["timeout_s"] = TIMEOUT_S
    station = tmp_path / "attached.yaml"
    station.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    try:
        yield Lab(process, control, station)
    finally:
        control.close()
        process.stop()


def everything_off(outputs: dict[str, Any]) -> list[str]:
    """What the lab shows still on (empty: charger, load and cells off, NTCs neutral or open)."""
    on = []
    if outputs["charger"]["output"]:
        on.append("charger output")
    if outputs["load"]["input"] or outputs["load"]["short"]:
        on.append("load input")
    on += [f"cell channel {n}" for n, ch in outputs["cells"].items() if ch["on"]]
    for address, ohms in outputs["ntc"].items():
        if ohms != "open" and not math.isclose(ohms, 10_000.0, rel_tol=2e-3):
            on.append(f"NTC {address} at {ohms:.0f} ohm")
    on += [f"fault relay {channel} closed" for channel in outputs.get("fiu", {}).get("closed", [])]
    return on


def ends_with_safe_state(out: Path) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The record verifies; its last entry before the seal (or its last) is the run's safe state."""
    entries, result = read_entries(out / "record.jsonl")
    assert result.ok, result.message
    end = entries[-1] if entries[-1]["type"] == "end" else None
    last = entries[-2] if end is not None else entries[-1]
    assert last["type"] == "safe_state" and last["scope"] == "run", [e["type"] for e in entries[-4:]]
    assert last["order"] == ["load", "charger", "cells", "ntc", "fiu", "daq"]
    return last, end


def assert_safe(safe: dict[str, Any]) -> None:
    assert safe["safe"] is True, safe
    assert set(safe["instruments"].values()) == {"safe"}
    assert safe["unread"] == {}
    assert set(safe["read_back"]) == {"load", "charger", "cells", "ntc", "fiu", "daq"}
    assert all(safe["read_back_safe"].values())
    assert safe["read_back"]["charger"]["output"] is False
    assert safe["read_back"]["load"]["input"] is False
    assert all(cell["on"] is False for cell in safe["read_back"]["cells"].values())
    assert set(safe["read_back"]["ntc"].values()) == {10_000.0}
    assert everything_off(safe["sim_outputs"]) == []


def outcomes(out: Path) -> dict[str, list[dict[str, Any]]]:
    entries, _ = read_entries(out / "record.jsonl")
    found: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        if entry["type"] == "test":
            found.setdefault(entry["test"].rsplit("::", 1)[-1], []).append(entry)
    return found


# ---------------------------------------------------------------- abort paths in a small plan

#: three tests on the bench: the first switches every output on, then ends the way SAFETY_CASE says
PLAN = """
import math
import os
import signal
import time

from hil.duts.bms12100.ntc import resistance_ohm
from hil.sim.client import ControlClient


def _fault(station, **params):
    control = ControlClient(station.sim.endpoints["control"])
    try:
        control.request("fault", **params)
    finally:
        control.close()


def _everything_on(charger, load, cells, ntc):
    cells.set_voltages([3.3, 3.3, 3.3, 3.3])
    cells.set_output(True)
    charger.set_current_limit(2.0)
    charger.set_voltage(14.0)
    charger.set_output(True)
    load.set_cc(3.0)
    load.set_input(True)
    ntc.set_temperature("T_CELL1", 55.0, resistance_ohm)


def test_first(station, charger, load, cells, ntc, recorder):
    _everything_on(charger, load, cells, ntc)
    case = os.environ["SAFETY_CASE"]
    if case == "failure":
        assert charger.output_is_on() is False, "a DUT failure"
    elif case == "exception":
        raise RuntimeError("a bug in the plan")
    elif case in ("SIGINT", "SIGTERM", "SIGHUP"):
        os.kill(os.getpid(), getattr(signal, case))
        time.sleep(30)  # the signal ends the test long before this
    elif case == "timeout":
        _fault(station, instrument="charger", mode="timeout", count=3)  # every attempt of one query
        charger.measure_current()
    elif case == "retried":
        _fault(station, instrument="charger", mode="timeout", count=2)  # two attempts, the third answers
        assert math.isfinite(charger.measure_current())
    elif case == "lost":
        _fault(station, instrument="load", mode="disconnect", count=1)  # the cable pulled and put back
        load.set_cc(4.0)
    elif case == "dead":
        _fault(station, instrument="charger", mode="timeout")  # gone for good
        charger.measure_current()


def test_second(station, charger, load, cells, ntc):
    # what the first test left behind: load and charger off, NTCs neutral, cells still powering the DUT
    assert charger.output_is_on() is False
    assert load.input_is_on() is False
    assert ntc.get_resistance("T_CELL1") == 10_000.0
    assert all(cells.output_is_on(c) for c in cells.cells)
    _everything_on(charger, load, cells, ntc)


def test_third(station, charger):
    assert charger.output_is_on() is False
"""


def run_plan(lab: Lab, out: Path, case: str, *args: str) -> subprocess.CompletedProcess[str]:
    plan = out.parent / f"plan-{case}" / "test_plan.py"
    plan.parent.mkdir(parents=True)
    plan.write_text(PLAN, encoding="utf-8")
    return own_plan(
        plan,
        f"--hil-station={lab.station}",
        f"--hil-out={out}",
        "--hil-reports=none",
        *args,
        timeout=RUN_TIMEOUT_S,
        env={**os.environ, "SAFETY_CASE": case},
    )


@pytest.mark.parametrize("case", ["failure", "exception"])
def test_failed_test_leaves_outputs_safe_and_the_run_goes_on(lab: Lab, tmp_path: Path, case: str) -> None:
    out = tmp_path / "run"
    result = run_plan(lab, out, case)
    assert result.returncode == 1, result.stdout + result.stderr
    tests = outcomes(out)
    assert tests["test_first"][0]["outcome"] == "failed"
    assert "error" not in tests["test_first"][0]  # a DUT failure or a plan bug, not the bench
    assert tests["test_second"][0]["outcome"] == "passed"  # it found load/charger off, NTCs neutral
    safe, end = ends_with_safe_state(out)
    assert end is not None and end["status"] == "completed"
    assert safe["reason"] == "end of run"
    assert_safe(safe)
    assert everything_off(lab.outputs()) == []


def test_pytest_x_stops_through_the_safe_state(lab: Lab, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = run_plan(lab, out, "failure", "-x")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "test_second" not in outcomes(out)
    safe, end = ends_with_safe_state(out)
    assert end is not None and end["status"] == "interrupted"
    assert "stopping after 1 failures" in end["reason"]
    assert safe["reason"].startswith("run stopped")
    assert_safe(safe)
    assert everything_off(lab.outputs()) == []


@pytest.mark.parametrize(
    ("case", "said"), [("SIGINT", "Ctrl-C"), ("SIGTERM", "SIGTERM"), ("SIGHUP", "SIGHUP")]
)
def test_signal_in_a_test_ends_the_run_safe(lab: Lab, tmp_path: Path, case: str, said: str) -> None:
    out = tmp_path / "run"
    result = run_plan(lab, out, case)
    assert result.returncode == 2, result.stdout + result.stderr  # pytest: interrupted
    assert "test_first" not in outcomes(out)  # no outcome: it was cut short
    safe, end = ends_with_safe_state(out)
    assert end is not None and end["status"] == "interrupted"
    assert end["reason"] == safe["reason"] == f"interrupted ({said})"
    assert_safe(safe)
    assert everything_off(lab.outputs()) == []


def test_instrument_timeout_is_a_bench_error_and_the_run_goes_on(lab: Lab, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = run_plan(lab, out, "timeout")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "ERROR (bench)" in result.stdout or "ERROR at call of test_first" in result.stdout
    first = outcomes(out)["test_first"][0]
    assert first["error"] == "bench"
    bench = first["bench_error"]
    assert (bench["type"], bench["instrument"], bench["command"]) == (
        "InstrumentTimeout",
        "charger",
        "MEAS:CURR?",
    )
    assert "3 attempts" in bench["detail"]
    # the charger answered again before the next test (checked with *IDN?), so the run went on
    assert outcomes(out)["test_second"][0]["outcome"] == "passed"
    safe, end = ends_with_safe_state(out)
    assert end is not None and end["status"] == "completed"
    assert_safe(safe)
    assert everything_off(lab.outputs()) == []


def test_a_query_is_retried_on_a_fresh_connection(lab: Lab, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = run_plan(lab, out, "retried")
    assert result.returncode == 0, result.stdout + result.stderr
    safe, _ = ends_with_safe_state(out)
    assert_safe(safe)


def test_lost_connection_fails_the_command_once_and_the_bench_recovers(lab: Lab, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = run_plan(lab, out, "lost")
    assert result.returncode == 1, result.stdout + result.stderr
    first = outcomes(out)["test_first"][0]
    assert first["error"] == "bench"
    bench = first["bench_error"]
    assert (bench["type"], bench["instrument"]) == ("InstrumentConnectionError", "load")
    assert bench["command"] == "FUNC CURR; TRAN OFF; CURR 4"  # the command, named; not sent again
    assert outcomes(out)["test_second"][0]["outcome"] == "passed"  # reconnected for the safe state
    safe, end = ends_with_safe_state(out)
    assert end is not None and end["status"] == "completed"
    assert_safe(safe)
    assert everything_off(lab.outputs()) == []


def test_instrument_gone_stops_the_run_and_the_record_says_what_is_not_safe(lab: Lab, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = run_plan(lab, out, "dead")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "not confirmed safe" in result.stderr
    tests = outcomes(out)
    assert tests["test_first"][0]["bench_error"]["instrument"] == "charger"
    second = tests["test_second"][0]
    assert (second["phase"], second["error"], second["bench_error"]["type"]) == (
        "setup",
        "bench",
        "BenchUnusable",
    )
    assert "test_third" not in tests  # the run stopped: the bench is not usable
    safe, end = ends_with_safe_state(out)
    assert end is not None and end["status"] == "interrupted"
    assert "bench unusable: charger" in end["reason"]
    assert safe["safe"] is False
    assert safe["instruments"]["charger"].startswith("could not make safe: InstrumentTimeout")
    assert "charger" in safe["unread"] and "OUTP?" in safe["unread"]["charger"]
    assert {n: safe["instruments"][n] for n in ("load", "cells", "ntc")} == dict.fromkeys(
        ("load", "cells", "ntc"), "safe"
    )
    # every other output is off; the charger, which never got the command, is not
    assert everything_off(lab.outputs()) == ["charger output"]


# ------------------------------------------------------------------------- `hil run` + signals


def hil_run_until_outputs_are_on(lab: Lab, out: Path) -> subprocess.Popen[str]:
    """The 12100 EOL plan on the attached lab, returned once it is mid-plan with a power output on."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hil",
            "run",
            "--station",
            str(lab.station),
            "--profile",
            "eol",
            *RUN_ARGS,
            str(out),
        ],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    record = out / "record.jsonl"
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while proc.poll() is None and time.monotonic() < deadline:
        if record.exists() and '"type": "measurement"' in record.read_text(encoding="utf-8"):
            outputs = lab.outputs()
            if outputs["charger"]["output"] or outputs["load"]["input"]:
                return proc
        time.sleep(0.02)
    proc.kill()
    raise AssertionError(f"the plan never got to a measurement with an output on: {proc.communicate()}")


@pytest.mark.parametrize(
    ("sig", "code", "said"), [(signal.SIGINT, 130, "Ctrl-C"), (signal.SIGTERM, 143, "SIGTERM")]
)
def test_hil_run_stopped_by_a_signal_mid_plan(
    lab: Lab, tmp_path: Path, sig: int, code: int, said: str
) -> None:
    out = tmp_path / "run"
    proc = hil_run_until_outputs_are_on(lab, out)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT_S)
    assert proc.returncode == code, stdout + stderr
    assert everything_off(lab.outputs()) == []
    safe, end = ends_with_safe_state(out)
    assert end is not None and end["status"] == "interrupted" and end["reason"] == f"interrupted ({said})"
    assert_safe(safe)
    entries, _ = read_entries(out / "record.jsonl")
    assert any(e["type"] == "measurement" for e in entries)  # what was measured so far survived
    verify = hil("report", "--verify", str(out))
    assert verify.returncode == 3, verify.stdout + verify.stderr  # intact, and says it is incomplete
    assert "hash chain intact" in verify.stderr and f"interrupted ({said})" in verify.stderr


# ------------------------------------------------------------------------- faults, driver level


Wire = tuple[SimKeysightN8900, KeysightN8900, RecordingTransport]


@pytest.fixture
def charger_wire() -> Iterator[Wire]:
    sim = SimKeysightN8900("charger", {"P": "1"}, seed=3)
    with scpi_server_thread(sim) as resource:
        wire = RecordingTransport(VisaTransport("charger", resource, timeout_s=0.3))
        info = InstrumentInfo(role="charger", model="N8920A", resource=resource, retries=2)
        psu = KeysightN8900(info, wire)
        try:
            yield sim, psu, wire
        finally:
            psu.close()
            time.sleep(0.1)


def test_query_retried_at_most_retries_times(
    charger_wire: Wire,
) -> None:
    sim, psu, wire = charger_wire
    sim.inject_fault("timeout", count=2)
    assert psu.output_is_on() is False  # the third attempt answered
    assert wire.sent == ["OUTP?"] * 3
    wire.sent.clear()
    sim.inject_fault("timeout", count=3)
    with pytest.raises(InstrumentTimeout) as info:
        psu.output_is_on()
    assert (info.value.instrument, info.value.command) == ("charger", "OUTP?")
    assert "3 attempts" in str(info.value)
    assert wire.sent == ["OUTP?"] * 3
    assert psu.suspect is not None


def test_command_is_never_sent_twice(charger_wire: Wire) -> None:
    sim, psu, wire = charger_wire
    sim.inject_fault("disconnect", count=1)
    with pytest.raises(InstrumentConnectionError) as info:
        psu.set_output(True)
    assert (info.value.instrument, info.value.command) == ("charger", "OUTP ON")
    assert wire.sent.count("OUTP ON") == 1
    assert sim.on is False  # it never arrived; nothing re-sent it
    assert psu.check().startswith("Keysight")  # answers again on a fresh connection
    assert psu.suspect is None


def test_error_queue_is_not_retried(charger_wire: Wire) -> None:
    sim, psu, wire = charger_wire
    sim.inject_fault("timeout", count=1)
    with pytest.raises(InstrumentTimeout):
        psu.errors()
    assert wire.sent == ["SYST:ERR?"]


def test_check_reports_an_instrument_that_is_gone(
    charger_wire: Wire,
) -> None:
    sim, psu, _ = charger_wire
    sim.inject_fault("timeout")
    with pytest.raises(BenchUnusable, match=r"charger: does not answer '\*IDN\?'.*nor after reconnecting"):
        psu.check()
    sim.inject_fault("none")
    assert psu.check().startswith("Keysight")


# ------------------------------------------------------------------------------- limits


class Stub(Transport):
    """Answers like an instrument with an empty error queue; the recording wire keeps what was sent."""

    def write(self, message: str) -> None:
        del message

    def query(self, message: str) -> str:
        return {"SYST:ERR?": '+0,"No error"', "++read eoi": "0", "VOLT?": "0"}.get(message, "0")

    def close(self) -> None:
        pass


def drivers(model: StationModel) -> dict[str, tuple[ScpiInstrument, RecordingTransport]]:
    """Every output instrument of a station with its effective limits, on a recording stub wire."""
    kinds: dict[str, Callable[[InstrumentInfo, Transport], ScpiInstrument]] = {
        "charger": KeysightN8900,
        "load": ItechIT8900,
        "cells": KeysightN6705C,
        "ntc": IetPrs202Bank,
    }
    found: dict[str, tuple[ScpiInstrument, RecordingTransport]] = {}
    for name, cls in kinds.items():
        inst = model.instruments[name]
        info = InstrumentInfo(name, inst.model, inst.resource, inst.channels, effective_limits(model, name))
        wire = RecordingTransport(Stub())
        found[name] = (cls(info, wire), wire)
    return found


#: a command past each limit of the sim station -> the station-file field named in the error
PAST_THE_LIMITS = [
    ("charger", "set_voltage", (20.5,), "instruments.charger.limits.voltage_max"),
    ("charger", "set_ovp", (21.0,), "instruments.charger.limits.voltage_max"),
    ("charger", "set_current_limit", (115.0,), "dut.limits.charge_current_max"),
    ("charger", "setup", (14.0, 115.0, 16.0), "dut.limits.charge_current_max"),
    ("load", "set_cc", (250.0,), "instruments.load.limits.current_max"),
    ("load", "pulse", (250.0, 0.1), "instruments.load.limits.current_max"),
    ("cells", "set_voltage", ("CELL1", 4.05), "instruments.cells.limits.voltage_max"),
    ("cells", "set_voltage", ("CELL2", 1.9), "dut.limits.cell_voltage_min"),
    ("cells", "set_current_limit", ("CELL3", 3.5), "instruments.cells.limits.current_max"),
    ("ntc", "set_resistance", ("T_CELL1", 50.0), "instruments.ntc.limits.resistance_min"),
    ("ntc", "set_resistance", ("T_AMB", 600_000.0), "instruments.ntc.limits.resistance_max"),
    ("ntc", "set_temperature", ("T_MOS", 130.0, resistance_ohm), "dut.limits.temperature_max"),
    ("ntc", "set_temperature", ("T_CELL2", -45.0, resistance_ohm), "dut.limits.temperature_min"),
    ("charger", "set_voltage", (math.nan,), "not a finite number"),
]


@pytest.mark.parametrize(("name", "method", "args", "field"), PAST_THE_LIMITS)
def test_command_past_a_limit_is_refused_before_anything_is_sent(
    name: str, method: str, args: tuple[Any, ...], field: str
) -> None:
    driver, wire = drivers(load_station(SIM_STATION))[name]
    with pytest.raises(LimitError) as info:
        getattr(driver, method)(*args)
    assert wire.sent == []
    assert field in str(info.value) and str(info.value).startswith(f"{name}: ")


def test_stack_and_short_circuit_limits_from_the_dut_block() -> None:
    data = yaml.safe_load(SIM_STATION.read_text(encoding="utf-8"))
    data["dut"]["limits"] |= {"pack_voltage_max": 13.0, "short_circuit": False}
    found = drivers(StationModel.model_validate(data))
    cells, wire = found["cells"]
    assert isinstance(cells, KeysightN6705C)
    cells.set_voltages([3.25, 3.25, 3.25, 3.25])  # 13.0 V: at the limit
    wire.sent.clear()
    with pytest.raises(LimitError, match=r"dut\.limits\.pack_voltage_max"):
        cells.set_voltage("CELL4", 3.3)
    assert wire.sent == []
    load, wire = found["load"]
    assert isinstance(load, ItechIT8900)
    with pytest.raises(LimitError, match=r"dut\.limits\.short_circuit"):
        load.set_short(True)
    assert wire.sent == []


def test_the_plan_stays_inside_the_sim_station_limits() -> None:
    """The stimuli the 12100 plan needs (see the station file's comment) are inside the limits."""
    found = drivers(load_station(SIM_STATION))
    charger, load, cells, ntc = (found[n][0] for n in ("charger", "load", "cells", "ntc"))
    assert isinstance(charger, KeysightN8900) and isinstance(load, ItechIT8900)
    assert isinstance(cells, KeysightN6705C) and isinstance(ntc, IetPrs202Bank)
    charger.set_voltage(18.7)  # CHG-HV search
    charger.set_current_limit(105.0)  # IC-OCP search
    load.pulse(230.0, 0.3)  # ID-TOCP transients
    load.set_cc(210.0)  # ID-TOCP search
    load.set_short(True)  # SCP
    cells.set_voltages([2.1, 2.1, 2.1, 2.1])  # EL-VOP at 8.4 V
    cells.set_voltages([3.85, 3.3, 3.3, 3.3])  # opening the charge path for CHG-HV
    ntc.set_temperature("T_CELL1", -30.0, resistance_ohm)  # TD-UTP search
    ntc.set_temperature("T_MOS", 110.0, resistance_ohm)  # TP-OTP search


#: bad limits in a station file -> (the field the error names, a phrase of what was expected)
BAD_LIMIT_FIELDS = {
    "instrument_min_above_max.yaml": ("instruments.cells.limits", "minimum 4.5 is above the maximum 4"),
    "instrument_negative_current.yaml": (
        "instruments.charger.limits.current_max",
        "greater than or equal to 0",
    ),
    "instrument_negative_slew.yaml": ("instruments.charger.limits.voltage_slew_max", "greater than 0"),
    "slew_the_driver_cannot_program.yaml": (
        "instruments.charger.limits.current_slew_max",
        "a slew limit the keysight-n8900 driver can program (it can: voltage)",
    ),
    "dut_limit_missing.yaml": ("dut.limits.charge_current_max", "a value (required field)"),
    "dut_limit_not_a_number.yaml": ("dut.limits.cell_voltage_max", "valid number"),
    "dut_limit_unknown_key.yaml": ("dut.limits.max_cell_voltage", "unknown key"),
    "dut_temperature_reversed.yaml": ("dut.limits", "temperature: the minimum 60 is above the maximum 50"),
    "real_bench_without_dut_limits.yaml": ("dut.limits", "required on a real bench"),
    "real_bench_charger_without_current_limit.yaml": (
        "instruments.charger.limits.current_max",
        "required on a real bench",
    ),
    "sim_attach_not_a_url.yaml": ("sim.attach", "should match pattern"),
}


def test_station_programs_its_slew_limits_before_any_output_command(lab: Lab) -> None:
    station = Station.open(lab.station)
    try:
        load = station.named("load", ItechIT8900)  # the drivers: their role alone does not query
        charger, cells = station.named("charger", KeysightN8900), station.named("cells", KeysightN6705C)
        assert float(load.query("CURR:SLEW:RISE?")) == float(load.query("CURR:SLEW:FALL?")) == 0.1  # A/µs
        assert float(charger.query("VOLT:SLEW?")) == 1000.0
        assert [float(v) for v in cells.query("VOLT:SLEW? (@1:4)").split(",")] == [100.0] * 4
        source = r"\(instruments\.load\.limits\.current_slew_max\)"
        with pytest.raises(LimitError, match=rf"slew limit 100000 A/s {source}"):
            load.pulse(200.0, 0.005)  # 200 A within 0.5 ms
        assert lab.outputs()["load"]["input"] is False  # nothing was sent
    finally:
        station.close()


def test_bad_limits_corpus_is_complete() -> None:
    assert {p.name for p in BAD_LIMITS.glob("*.yaml")} == set(BAD_LIMIT_FIELDS)


@pytest.mark.parametrize("name", sorted(BAD_LIMIT_FIELDS))
def test_bad_limits_are_refused_naming_file_and_field(name: str) -> None:
    path = BAD_LIMITS / name
    field, expected = BAD_LIMIT_FIELDS[name]
    with pytest.raises(ConfigError) as info:
        require_limits(load_station(path), path)
    assert (info.value.file, info.value.field) == (str(path), field)
    assert expected in info.value.expected


@pytest.mark.parametrize("name", sorted(BAD_LIMIT_FIELDS))
def test_hil_run_with_bad_limits_exits_2(name: str, tmp_path: Path) -> None:
    path = BAD_LIMITS / name
    field, expected = BAD_LIMIT_FIELDS[name]
    result = subprocess.run(
        [sys.executable, "-m", "hil", "run", "--station", str(path), "--out", str(tmp_path / "out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {path}: field '{field}': expected "), lines[0]
    assert expected in lines[0]
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------- signals, unit level


@pytest.fixture
def handlers() -> Iterator[None]:
    interrupts.install()
    try:
        yield
    finally:
        interrupts.uninstall()


@pytest.mark.usefixtures("handlers")
def test_a_signal_waits_until_the_exchange_is_done() -> None:
    done = []
    with pytest.raises(RunInterrupted) as info, interrupts.shielded():
        os.kill(os.getpid(), signal.SIGTERM)
        done.append("answer read")  # the exchange completes before the signal is raised
    assert done == ["answer read"]
    assert info.value.name == "SIGTERM" and interrupts.last_signal() == signal.SIGTERM


@pytest.mark.usefixtures("handlers")
def test_a_second_signal_breaks_an_exchange_but_never_a_record_line() -> None:
    with pytest.raises(RunInterrupted), interrupts.shielded():
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)
        raise AssertionError("the second signal stops a hanging exchange at once")


@pytest.mark.usefixtures("handlers")
def test_a_record_line_is_always_written_whole(tmp_path: Path) -> None:
    from hil.record import Recorder, verify

    rec = Recorder(tmp_path / "record.jsonl")
    rec.write("header")
    with pytest.raises(RunInterrupted), interrupts.shielded(strict=True):
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)
        rec.write("measurement", value=1.0)
    rec.close()
    assert verify(tmp_path / "record.jsonl").ok
    assert rec.entries == 2


@pytest.mark.usefixtures("handlers")
def test_signals_wait_for_the_safe_state_and_are_then_noted_not_raised() -> None:
    with interrupts.safe_state_section():
        os.kill(os.getpid(), signal.SIGTERM)
    assert interrupts.last_signal() == signal.SIGTERM  # noted; the safe state was not cut short


CHILD_OF_A_THREAD = """
import os, signal, sys, threading
from hil import interrupts
from hil.errors import RunInterrupted

def fork_here():
    pid = os.fork()
    if pid:
        _, status = os.waitpid(pid, 0)
        codes.append(os.waitstatus_to_exitcode(status))
        return
    done = []  # the child: this thread is its main thread, where signal handlers run
    interrupts.install()
    try:
        with interrupts.shielded(strict=True):
            os.kill(os.getpid(), signal.SIGTERM)
            done.append("line written")
    except RunInterrupted:
        os._exit(0 if done == ["line written"] else 3)
    os._exit(4)

codes = []
worker = threading.Thread(target=fork_here)
worker.start()
worker.join()
sys.exit(codes[0])
"""


def test_a_process_forked_from_another_thread_holds_signals_in_its_sections() -> None:
    """After a fork from a thread other than the main one, that thread is the child's main thread:
    its shielded sections hold a signal until they end, as the parent's main thread does."""
    result = subprocess.run(
        [sys.executable, "-c", CHILD_OF_A_THREAD], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_the_station_knows_which_instruments_are_still_as_make_safe_left_them(lab: Lab) -> None:
    """`untouched_since_safe`: made safe by the last `make_safe` and sent nothing since (a query
    counts too); a kept instrument, one never made safe or one sent anything since is not."""
    station = Station.open(lab.station)
    try:
        load, charger = station.load, station.charger
        assert not station.untouched_since_safe([load.name])  # never made safe
        station.make_safe(keep_cells=True)
        assert station.untouched_since_safe([load.name, charger.name])
        assert lab.outputs()["load"]["input"] is False
        charger.measure_current()
        assert not station.untouched_since_safe([load.name, charger.name])
        assert station.untouched_since_safe([load.name])
        station.make_safe(keep_cells=True, keep=[load.name])
        assert station.untouched_since_safe([charger.name])
        assert not station.untouched_since_safe([load.name])  # kept, not made safe
        assert not station.untouched_since_safe(["cells"])  # left as it was (keep_cells)
    finally:
        station.close()
