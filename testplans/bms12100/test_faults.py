"""Fault insertion on the 12100 bench: the relays of the station's switch role (fault points
BUTTON, CELLn_SENSE_OPEN, T_CELL1_OPEN, T_CELL1_SHORT, T_AMB_OPEN, CAN_OPEN, RS485_OPEN) and a
charger set above 18 V.

Where the seed says what must happen, the result is judged against that row: a shorted NTC input
is the resistance of a temperature far above 60 °C (TC-OTP, TD-OTP), an open one that of a
temperature far below -20 °C (TC-UTP, TD-UTP, TE-UTP, TE-LA), a charger above 18 V is CHG-HV.
Where the seed is silent (an open cell sense lead, a cut CAN or RS-485 line, what TE-UTP blocks)
the DUT's reaction is recorded as a finding (verdict info: what it reported, its mode, whether the
power paths were blocked, whether it kept communicating), under the row of the function the fault
affects, never as an invented pass/fail requirement. Every fault is removed at the end of its test
(and every relay opens in the safe state after each test).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import pytest

from hil.can_monitor import CanMonitor
from hil.duts.bms12100 import CELL_COUNT
from hil.duts.bms12100.bench import NOMINAL_CELL_V, PROBE_CURRENT_A, Bms12100Bench
from hil.errors import DutError
from hil.measure import Measurement, Verdict, equals, info
from hil.spec import SpecFile

Check = Callable[[Measurement], Measurement]

#: how long a power path is driven before its current is read (s)
PROBE_S = 1.0
#: the charger set above the 18 V of CHG-HV, and back below it (V)
CHARGER_FAULT_V = 18.5
CHARGER_BACK_V = 17.5
#: how long a communication line stays cut (s)
CUT_S = 10.0
#: how long the lines may take to come back after the relay opens (s)
RECONNECT_S = 10.0


@dataclass(frozen=True)
class Reaction:
    """What the BMS showed with a fault in place: its RS-485 report, its CAN traffic, its power paths."""

    answered: bool  # the RS-485 status poll got an answer
    active: tuple[str, ...] = ()
    mode: str = ""
    charge_fet: bool | None = None
    discharge_fet: bool | None = None
    cell_mv: tuple[int, ...] = ()
    temperatures_c: tuple[float, ...] = ()
    can_frames: int | None = None  # frames in the observed window (None: not counted)
    can_flags: tuple[str, ...] = ()  # the bits set in the latest 0x359 (only if frames came)
    charge_blocked: bool | None = None  # None: not probed
    discharge_blocked: bool | None = None

    def blocked(self, path: str) -> bool | None:
        """Whether the `path` ("charge" or "discharge") carried no current when driven."""
        return self.charge_blocked if path == "charge" else self.discharge_blocked

    def describe(self) -> str:
        """One line for the record and the report."""
        if self.answered:
            rs485 = (
                f"RS-485: flags {', '.join(self.active) or 'none'}; mode {self.mode}; charge FET "
                f"{_on(self.charge_fet)}, discharge FET {_on(self.discharge_fet)}; cells "
                f"{'/'.join(str(mv) for mv in self.cell_mv)} mV; NTCs "
                f"{'/'.join(f'{c:g}' for c in self.temperatures_c)} °C"
            )
        else:
            rs485 = "RS-485: no answer"
        can = "" if self.can_frames is None else f"CAN: {self.can_frames} frames"
        if self.can_frames:
            can += f" (0x359: {', '.join(self.can_flags) or 'no bits set'})"
        paths = [
            f"{name} path {'blocked' if blocked else 'conducting'}"
            for name, blocked in (("charge", self.charge_blocked), ("discharge", self.discharge_blocked))
            if blocked is not None
        ]
        return "; ".join(part for part in (rs485, can, *paths) if part)


def _on(fet: bool | None) -> str:
    return "?" if fet is None else ("on" if fet else "off")


def observe(
    bench: Bms12100Bench, can_monitor: CanMonitor, since: float | None, paths: bool = True
) -> Reaction:
    """Poll the BMS (RS-485), count its CAN frames since `since` (None: not counted), then drive each
    power path briefly (`paths`).

    Discharge is probed first: a charge current would release an under-voltage protection."""
    try:
        status = bench.dut.status()
    except DutError:
        status = None
    frames = None if since is None else len(can_monitor.since(since))
    flags = tuple(sorted(bench.dut.view.flags)) if frames else ()
    reaction = Reaction(answered=False, can_frames=frames, can_flags=flags)
    if status is not None:
        reaction = Reaction(
            answered=True,
            active=tuple(sorted(status.active)),
            mode=status.mode,
            charge_fet=status.charge_fet,
            discharge_fet=status.discharge_fet,
            cell_mv=tuple(status.cell_mv),
            temperatures_c=tuple(status.temperatures_c),
            can_frames=frames,
            can_flags=flags,
        )
    if not paths:
        return reaction
    bench.discharge(PROBE_CURRENT_A)
    bench.clock.sleep(PROBE_S)
    discharge_blocked = bench.path_blocked("discharge")
    bench.charge(PROBE_CURRENT_A)
    bench.clock.sleep(PROBE_S)
    charge_blocked = bench.path_blocked("charge")
    bench.idle()
    return Reaction(
        **{**asdict(reaction), "charge_blocked": charge_blocked, "discharge_blocked": discharge_blocked}
    )


def finding(
    requirement: str,
    name: str,
    reaction: Reaction,
    time: float,
    notes: str,
    stimulus: dict[str, object] | None = None,
) -> Measurement:
    """The DUT's reaction as a finding: verdict info, the description as its value, the details as data
    (with the fault applied, `stimulus`, for the report's timeline)."""
    return Measurement(
        requirement,
        name,
        reaction.describe(),
        "",
        Verdict.INFO,
        time,
        method="RS-485 status poll (0x42/0x44), CAN capture, each power path driven at "
        f"{PROBE_CURRENT_A:g} A for {PROBE_S:g} s",
        notes=notes,
        data={**asdict(reaction), **({"stimulus": stimulus} if stimulus else {})},
    )


def reaction_s(bench: Bms12100Bench, spec_data: SpecFile, *rows: str) -> float:
    """How long to give the BMS to react: the longest settle time (trip delay + guard) of the rows."""
    return max(bench.settle(spec_data.get(rid)) for rid in rows)


def _released(bench: Bms12100Bench, spec_data: SpecFile, rows: tuple[str, ...]) -> dict[str, bool]:
    """After a fault is removed: whether each row released within its settle time (+1 s)."""
    return {rid: bench.wait_state(rid, False, bench.settle(spec_data.get(rid)) + 1.0) for rid in rows}


# --- NTC faults: the seed's temperature rows apply to what the input reads ----------------------------
NTC_CASES = {
    "T_CELL1_SHORT": (
        "hot",
        {"TC-OTP": "charge", "TD-OTP": "discharge"},
        "a shorted input is the resistance of a temperature far above 60 °C (the twin reads the top of "
        "its range, OUR ASSUMPTION); the seed: either cell NTC above 60 °C blocks charging (TC-OTP) "
        "and discharging (TD-OTP)",
    ),
    "T_CELL1_OPEN": (
        "cold",
        {"TC-UTP": "charge", "TD-UTP": "discharge"},
        "an open input is the resistance of a temperature far below -20 °C (the twin reads the bottom "
        "of its range, OUR ASSUMPTION); the seed: either cell NTC below -10 °C blocks charging "
        "(TC-UTP), below -20 °C discharging (TD-UTP)",
    ),
}


@pytest.mark.parametrize(
    "point",
    [
        pytest.param("T_CELL1_SHORT", marks=pytest.mark.requirement("TC-OTP", "TD-OTP")),
        pytest.param("T_CELL1_OPEN", marks=pytest.mark.requirement("TC-UTP", "TD-UTP")),
    ],
)
def test_cell_ntc_fault(
    bench: Bms12100Bench, can_monitor: CanMonitor, spec_data: SpecFile, check: Check, point: str
) -> None:
    """A cell NTC input shorted or open: the protections of the temperature it reads block their paths
    (seed §7.6), and release once the fault is removed."""
    reads, rows, notes = NTC_CASES[point]
    t0 = bench.clock.now()
    with bench.fault(point):
        bench.clock.sleep(reaction_s(bench, spec_data, *rows))
        seen = observe(bench, can_monitor, t0)
    for rid, path in rows.items():
        check(equals(rid, f"active with {point} (reads {reads})", rid in seen.active, True, t0, notes=notes))
        check(
            equals(
                rid, f"{path} path blocked with {point}", seen.blocked(path) is True, True, bench.clock.now()
            )
        )
    check(finding(next(iter(rows)), f"reaction to {point}", seen, bench.clock.now(), notes))
    for rid, released in _released(bench, spec_data, tuple(rows)).items():
        check(
            equals(rid, f"released once {point} is removed (25 °C again)", released, True, bench.clock.now())
        )


@pytest.mark.requirement("TE-UTP", "TE-LA")
def test_ambient_ntc_open(
    bench: Bms12100Bench, can_monitor: CanMonitor, spec_data: SpecFile, check: Check
) -> None:
    """The ambient NTC open reads far below -20 °C: TE-UTP and TE-LA are active (seed §6.1); what TE-UTP
    blocks the seed does not say (spec note: 'both' by analogy), so the power paths are a finding."""
    rows = ("TE-UTP", "TE-LA")
    t0 = bench.clock.now()
    with bench.fault("T_AMB_OPEN"):
        bench.clock.sleep(reaction_s(bench, spec_data, *rows))
        seen = observe(bench, can_monitor, t0)
    for rid in rows:
        check(equals(rid, "active with T_AMB_OPEN (reads cold)", rid in seen.active, True, t0))
    check(
        finding(
            "TE-UTP",
            "reaction to T_AMB_OPEN (what is blocked)",
            seen,
            bench.clock.now(),
            "the seed gives no blocking for the ambient under-temperature protection (§7.6.3 describes "
            "the high one only): recorded, not judged",
        )
    )
    for rid, released in _released(bench, spec_data, rows).items():
        check(
            equals(
                rid, "released once T_AMB_OPEN is removed (25 °C again)", released, True, bench.clock.now()
            )
        )


# --- faults the seed is silent on: findings ----------------------------------------------------------
@pytest.mark.type_test  # a finding on the firmware's reaction, the same on every unit
@pytest.mark.requirement("ACC-CV")
@pytest.mark.parametrize("cell", [1, 2])
def test_cell_sense_lead_open(
    bench: Bms12100Bench, can_monitor: CanMonitor, spec_data: SpecFile, check: Check, cell: int
) -> None:
    """The sense lead at the top of a cell cut: the seed says nothing about an open sense wire, so what
    the BMS reports and blocks is recorded, then after reconnection, then after the reset button."""
    point = f"CELL{cell}_SENSE_OPEN"
    notes = (
        "the seed gives no requirement for an open sense lead: finding only. OUR ASSUMPTION on the "
        f"simulated bench: the open tap follows the tap below it (cell {cell} ~0 V, the cell above "
        "reads both cells)"
    )
    t0 = bench.clock.now()
    with bench.fault(point):
        bench.clock.sleep(reaction_s(bench, spec_data, "CV-UVP", "CV-OVP", "CELL-FAIL"))
        seen = observe(bench, can_monitor, t0)
    check(finding("ACC-CV", f"reaction to {point}", seen, bench.clock.now(), notes))
    t_removed = bench.clock.now()
    bench.clock.sleep(reaction_s(bench, spec_data, "CV-UVP", "CV-OVP", "CELL-FAIL"))
    after = observe(bench, can_monitor, t_removed, paths=False)
    check(finding("ACC-CV", f"after {point} is removed", after, bench.clock.now(), "what stays latched"))
    t_reset = bench.clock.now()
    bench.press_button()
    bench.clock.sleep(reaction_s(bench, spec_data, "CV-UVP"))
    reset = observe(bench, can_monitor, t_reset, paths=False)
    check(finding("ACC-CV", f"after {point} is removed and the reset button", reset, bench.clock.now(), ""))


@pytest.mark.type_test  # a finding on the firmware's reaction, the same on every unit
@pytest.mark.requirement("COM-CAN")
def test_can_disconnected(bench: Bms12100Bench, can_monitor: CanMonitor, check: Check) -> None:
    """CAN_H cut for 10 s: what the BMS does without its inverter link (the seed is silent), and
    whether its telemetry comes back once the line is reconnected."""
    t0 = bench.clock.now()
    with bench.fault("CAN_OPEN"):
        bench.clock.sleep(CUT_S)
        seen = observe(bench, can_monitor, t0)
    check(
        finding(
            "COM-CAN",
            "reaction to CAN_OPEN",
            seen,
            bench.clock.now(),
            "the seed says nothing about a lost CAN link: finding only (no frames is the cut line itself)",
        )
    )
    t_back = bench.clock.now()
    met, when = bench.clock.wait_until(lambda: bool(can_monitor.since(t_back)), RECONNECT_S, 0.1)
    check(
        info(
            "COM-CAN",
            "first CAN frame after CAN_OPEN is removed",
            round(when - t_back, 3) if met else None,
            "s",
            bench.clock.now(),
            method="CAN capture polled every 0.1 s from the relay opening; telemetry period 1 s",
            notes=f"none within {RECONNECT_S:g} s" if not met else "",
        )
    )


@pytest.mark.type_test  # a finding on the firmware's reaction, the same on every unit
@pytest.mark.requirement("COM-485")
def test_rs485_disconnected(bench: Bms12100Bench, can_monitor: CanMonitor, check: Check) -> None:
    """RS-485 line A cut: what the BMS does without its host link (the seed is silent), and whether it
    answers again once the line is reconnected."""
    t0 = bench.clock.now()
    with bench.fault("RS485_OPEN"):
        bench.clock.sleep(CUT_S)
        seen = observe(bench, can_monitor, t0)
    check(
        finding(
            "COM-485",
            "reaction to RS485_OPEN",
            seen,
            bench.clock.now(),
            "the seed says nothing about a lost RS-485 link: finding only (no answer is the cut line itself)",
            {"RS485_OPEN": "line A cut"},
        )
    )
    back = observe(bench, can_monitor, None, paths=False)
    check(
        finding(
            "COM-485",
            "first RS-485 poll after RS485_OPEN is removed",
            back,
            bench.clock.now(),
            "",
            {"RS485_OPEN": "line A reconnected"},
        )
    )


# --- a charger above 18 V: CHG-HV ------------------------------------------------------------------
@pytest.mark.requirement("CHG-HV")
def test_charger_above_18_v(
    bench: Bms12100Bench, can_monitor: CanMonitor, spec_data: SpecFile, check: Check
) -> None:
    """A charger at 18.5 V: CHG-HV is active and no charge current flows (seed §6.1); below 18 V again it
    releases. The BMS sees the charger only with its charge path open (a cell over-voltage opens it
    first, then the cells go back to nominal so that CHG-HV alone keeps the path open)."""
    req = spec_data.get("CHG-HV")
    bench.precondition(req)
    t0 = bench.clock.now()
    bench.hold_charger(CHARGER_FAULT_V, current_limit=PROBE_CURRENT_A)
    tripped = bench.wait_state("CHG-HV", True, bench.settle(req) + 1.0)
    check(
        equals(
            "CHG-HV", f"active with the charger at {CHARGER_FAULT_V:g} V", tripped, True, bench.clock.now()
        )
    )
    bench.set_cells([NOMINAL_CELL_V] * CELL_COUNT)
    bench.wait_state("CV-OVP", False, bench.settle(spec_data.get("CV-OVP")) + 1.0)
    seen = observe(bench, can_monitor, t0, paths=False)
    blocked = bench.path_blocked("charge")
    check(
        equals(
            "CHG-HV",
            f"no charge current with the charger at {CHARGER_FAULT_V:g} V",
            blocked and "CV-OVP" not in seen.active,
            True,
            bench.clock.now(),
            method="CV-OVP released first, so CHG-HV alone holds the charge path open",
            data={"charger_current_a": bench.charger_current(), "active": list(seen.active)},
        )
    )
    check(finding("CHG-HV", f"reaction to the charger at {CHARGER_FAULT_V:g} V", seen, bench.clock.now(), ""))
    bench.hold_charger(CHARGER_BACK_V, current_limit=PROBE_CURRENT_A)
    released = bench.wait_state("CHG-HV", False, bench.settle(req) + 1.0)
    bench.clock.sleep(PROBE_S)
    check(
        equals(
            "CHG-HV",
            f"released and charging with the charger back at {CHARGER_BACK_V:g} V",
            released and not bench.path_blocked("charge"),
            True,
            bench.clock.now(),
        )
    )
    bench.idle()
