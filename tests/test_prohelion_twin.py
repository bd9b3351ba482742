"""The D1000 Gen2 BMU twin driven as a plant would: inputs as calls, time in virtual seconds."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from hil.duts.prohelion_d1000_gen2.config import D1000Config
from hil.duts.prohelion_d1000_gen2.ntc import resistance_ohm, temperature_c
from hil.duts.prohelion_d1000_gen2.ocv import DEFAULT_OCV_TABLE_V
from hil.duts.prohelion_d1000_gen2.sim.twin import (
    ACTIVE_MAX_STEP_S,
    IDLE_MAX_STEP_S,
    BmsCommand,
    BmsState,
    CommandType,
    D1000Twin,
    Frontend,
    HvilLoop,
    InfoBit,
    LowSideStatus,
    contactor_fault_bit,
)
from hil.duts.prohelion_d1000_gen2.sim.twin.frontend import NodeReadings
from hil.duts.prohelion_d1000_gen2.sim.twin.inputs import NodeInputs, PlantInputs
from hil.duts.prohelion_d1000_gen2.sim.twin.protection import evaluate, pack_extremes, pack_extremes_moved

S = BmsState
C = BmsCommand
I = InfoBit  # noqa: E741
PRECHARGE_FAIL_BITS = {bit for bit in InfoBit if bit.name.startswith("PRECHARGE_FAIL_")}


def state_of(twin: D1000Twin) -> BmsState:
    """The state through a call (keeps mypy from narrowing repeated checks)."""
    return twin.state


def config(**values: Any) -> D1000Config:
    return D1000Config.model_validate(values)


class Rig:
    """A bench around one twin: contactor aux contacts follow the coils (unless welded or stuck),
    the load voltage follows the precharge (RC, `precharge_tau_s`) or the closed main contactor,
    the controller repeats its command every 0.1 s (`keepalive`)."""

    def __init__(self, cfg: D1000Config | None = None, seed: int = 1, ideal: bool = True) -> None:
        self.cfg = cfg or D1000Config()
        self.twin = D1000Twin(self.cfg, seed)
        if ideal:
            self.twin.frontend = Frontend.ideal()
            self.twin.inputs_changed()
        self.welded: set[int] = set()
        self.stuck_open: set[int] = set()
        self.cmd: int | None = None
        self.keepalive = True
        self.next_cmd = 0.0
        self.precharge_tau_s = 0.5
        self.follow_load = True
        self.trace: list[tuple[float, BmsState]] = []

    def state(self) -> BmsState:
        return self.twin.state

    def closed(self) -> frozenset[int]:
        return frozenset(n for n, on in enumerate(self.twin.contactor_coils, start=1) if on)

    def send(self, cmd: int) -> None:
        self.cmd = cmd
        self.twin.command(cmd)
        self.next_cmd = self.twin.t + 0.1
        self._follow(0.0)

    def _follow(self, dt: float) -> None:
        """Make the plant follow the coils, again if the twin reacts to the plant (it settles)."""
        coils = self._apply(self.twin.contactor_coils, dt)
        while self.twin.contactor_coils != coils:
            coils = self._apply(self.twin.contactor_coils, 0.0)

    def _apply(self, coils: tuple[bool, ...], dt: float) -> tuple[bool, ...]:
        for n in range(1, 6):
            main = (coils[n - 1] or n in self.welded) and n not in self.stuck_open
            aux = main != self.cfg.aux_normally_closed(n)
            if self.twin.inputs.aux_closed[n - 1] != aux:
                self.twin.set_aux(n, aux)
        if self.follow_load:
            bju = self.twin.inputs.bju
            closed = {n for n in range(1, 6) if coils[n - 1]}
            if {1, 3} <= closed:
                target = bju.battery_v
                load = target
            elif {1, 2} <= closed:
                target = bju.battery_v
                load = target - (target - bju.load_v) * pow(2.718281828459045, -dt / self.precharge_tau_s)
            else:
                load = 0.0
            if abs(load - bju.load_v) > 1e-12:
                self.twin.set_bju(load_v=load)
        return coils

    def run(self, seconds: float) -> None:
        """Advance by `seconds`, stepping at most to the twin's next event and each keepalive."""
        end = self.twin.t + seconds
        while self.twin.t < end - 1e-9:
            t0 = self.twin.t
            limit = self.twin.max_step()
            if self.keepalive and self.cmd is not None:
                limit = min(limit, max(self.next_cmd - t0, 1e-6))
            t1 = min(end, t0 + limit)
            self.twin.step(t1)
            self._follow(t1 - t0)
            if self.keepalive and self.cmd is not None and t1 >= self.next_cmd - 1e-9:
                self.twin.command(self.cmd)
                self.next_cmd = t1 + 0.1
                self._follow(0.0)
            if not self.trace or self.trace[-1][1] is not self.twin.state:
                self.trace.append((self.twin.t, self.twin.state))

    def mark(self) -> int:
        return len(self.twin.history)

    def path(self, mark: int) -> list[BmsState]:
        """The states entered since `mark`."""
        return [tr.target for tr in self.twin.history[mark:]]

    def run_until(self, state: BmsState, limit_s: float = 60.0) -> float:
        """Run until the twin enters `state` (or is in it); returns the time it entered it."""
        start, end = self.mark(), self.twin.t + limit_s
        if self.twin.state is state:
            return self.entered(state)
        while state not in self.path(start):
            assert self.twin.t < end, (
                f"{state.name} not reached within {limit_s} s (in {self.twin.state.name})"
            )
            self.run(min(0.01, self.twin.max_step()))
        return next(tr.t for tr in self.twin.history[start:] if tr.target is state)

    def entered(self, state: BmsState) -> float:
        return next(tr.t for tr in reversed(self.twin.history) if tr.target is state)

    def to_idle(self) -> None:
        self.run_until(S.SAFE)
        self.send(C.IDLE)
        assert self.state() is S.IDLE

    def to_enabled(self) -> None:
        self.to_idle()
        self.send(C.CONNECT)
        self.send(C.ENABLE)
        self.run_until(S.ENABLED)

    def snap(self) -> Any:
        return self.twin.snapshot()


def external() -> D1000Config:
    return config(chargingMethod=2)


# --- start-up --------------------------------------------------------------------------------
def test_start_up_runs_initialise_calibrate_safe_with_contactors_open() -> None:
    rig = Rig()
    assert rig.state() is S.INITIALISE
    assert rig.snap().state_bit(S.INITIALISE)
    rig.run(3.0)
    states = [(tr.source, tr.target, tr.t) for tr in rig.twin.history]
    assert states == [
        (None, S.INITIALISE, 0.0),
        (S.INITIALISE, S.CALIBRATE, pytest.approx(0.5)),
        (S.CALIBRATE, S.SAFE, pytest.approx(1.5)),
    ]
    snap = rig.snap()
    assert snap.state is S.SAFE and snap.bms_info == 1 << 11
    assert snap.contactor_target == (0, 0, 0, 0, 0)
    assert not any(snap.contactor_coil)
    assert snap.reasons == frozenset()


@pytest.mark.parametrize(
    ("fault", "bit"),
    [
        (lambda tw: tw.set_node_connected(0, False), I.REASON_NODECOUNT),
        (lambda tw: tw.set_cell_voltage(0, 10, 0.0), I.REASON_CELLCOUNT),
        (lambda tw: tw.set_thermistor(0, 3, None), I.REASON_TEMPCOUNT),
        (lambda tw: tw.set_bju(present=False), I.REASON_BJU),
        (lambda tw: tw.set_self_test(False), I.REASON_SELFTESTFAIL),
    ],
)
def test_start_up_waits_in_initialise_while_a_check_fails(
    fault: Callable[[D1000Twin], None], bit: InfoBit
) -> None:
    twin = D1000Twin(D1000Config(), seed=3, powered=False)
    fault(twin)
    twin.power_on()
    twin.advance(10.0)
    assert state_of(twin) is S.INITIALISE
    assert twin.snapshot().has(bit)


def test_start_up_proceeds_once_the_missing_node_answers() -> None:
    twin = D1000Twin(config(numCMUNodes=2), seed=3, powered=False)
    twin.set_node_connected(1, False)
    twin.power_on(0.0)
    twin.advance(5.0)
    assert state_of(twin) is S.INITIALISE
    snap = twin.snapshot()
    assert snap.has(I.REASON_NODECOUNT)
    assert (snap.total_configured_nodes, snap.total_connected_nodes, snap.total_disconnected_nodes) == (
        2,
        1,
        1,
    )
    twin.set_node_connected(1, True)
    twin.advance(2.0)
    assert state_of(twin) is S.SAFE
    assert [tr.t for tr in twin.history if tr.target is S.CALIBRATE] == [pytest.approx(5.0)]


def test_safe_to_idle_needs_the_idle_command_and_no_fault() -> None:
    rig = Rig()
    rig.run_until(S.SAFE)
    rig.run(5.0)
    assert rig.state() is S.SAFE  # no command: stays
    rig.twin.set_cell_voltage(0, 4, 4.25)  # critical over-voltage
    rig.send(C.IDLE)
    assert rig.state() is S.SAFE
    assert rig.snap().has(I.REASON_OVERVOLT)
    rig.twin.set_cell_voltage(0, 4, 3.7)
    rig.run(0.1)
    assert rig.state() is S.IDLE
    assert rig.snap().reasons == frozenset()  # cleared on SAFE -> IDLE


# --- drive path ------------------------------------------------------------------------------
def test_drive_path_contactors_at_each_step() -> None:
    rig = Rig()
    rig.to_idle()
    assert rig.closed() == frozenset()
    rig.send(C.CONNECT)
    assert rig.state() is S.CONNECT and rig.closed() == {1}
    rig.run(1.0)
    assert rig.state() is S.CONNECT  # waits for ENABLE
    rig.send(C.ENABLE)
    assert rig.state() is S.PRECHARGE and rig.closed() == {1, 2}
    t_pre = rig.entered(S.PRECHARGE)
    t_en = rig.run_until(S.ENABLED)
    assert rig.closed() == {1, 3}
    # load within 1 V of 37 V: 0.5 s * ln(37) = 1.81 s of RC, seen at the next 0.1 s cycle
    assert 1.8 <= t_en - t_pre <= 2.0
    snap = rig.snap()
    assert snap.state_bit(S.ENABLED) and snap.contactor_target == (1, 0, 1, 0, 0)
    assert snap.contactor_state == (1, 0, 1, 0, 0)
    rig.send(C.IDLE)
    assert rig.state() is S.IDLE and rig.closed() == frozenset()


def test_connect_and_precharge_return_to_idle_on_other_commands() -> None:
    rig = Rig()
    rig.to_idle()
    rig.send(C.CONNECT)
    rig.send(C.IDLE)
    assert rig.state() is S.IDLE and rig.closed() == frozenset()
    rig.follow_load = False  # the load voltage never rises
    rig.send(C.CONNECT)
    rig.send(C.ENABLE)
    rig.run(1.0)
    assert rig.state() is S.PRECHARGE
    mark = rig.mark()
    rig.send(C.CONNECT)  # not ENABLE: back to IDLE, where the standing CONNECT connects again
    assert rig.path(mark) == [S.IDLE, S.CONNECT] and rig.closed() == {1}


# --- precharge -------------------------------------------------------------------------------
def start_precharge(rig: Rig) -> float:
    rig.to_idle()
    rig.send(C.CONNECT)
    rig.send(C.ENABLE)
    assert rig.state() is S.PRECHARGE
    return rig.entered(S.PRECHARGE)


def precharge_bits(rig: Rig) -> set[InfoBit]:
    return set(rig.snap().reasons) & PRECHARGE_FAIL_BITS


def test_precharge_timeout_fails_with_timeout_reason() -> None:
    rig = Rig()
    rig.follow_load = False
    t_pre = start_precharge(rig)
    t_dis = rig.run_until(S.DISCONNECT, 30.0)
    assert t_dis - t_pre == pytest.approx(25.0)
    assert precharge_bits(rig) == {I.PRECHARGE_FAIL_TIMEOUT}
    assert rig.snap().has(I.REASON_PRECHARGE)
    rig.run_until(S.SAFE)
    assert rig.closed() == frozenset()


def test_precharge_timeout_follows_configuration() -> None:
    rig = Rig(config(prechargeTimeout=3.5))
    rig.follow_load = False
    t_pre = start_precharge(rig)
    assert rig.run_until(S.DISCONNECT, 10.0) - t_pre == pytest.approx(3.5)


def test_precharge_overcurrent_fails_with_its_own_reason() -> None:
    rig = Rig()
    start_precharge(rig)
    mark = rig.mark()
    rig.twin.set_bju(current_a=3.2)
    rig.run_until(S.SAFE)
    assert rig.path(mark) == [S.DISCONNECT, S.SAFE]
    assert precharge_bits(rig) == {I.PRECHARGE_FAIL_OVERCURRENTPCHG}
    assert rig.snap().has(I.REASON_PRECHARGE)


def test_precharge_current_at_the_limit_passes() -> None:
    rig = Rig()
    start_precharge(rig)
    rig.twin.set_bju(current_a=3.0)
    rig.run_until(S.ENABLED)
    assert precharge_bits(rig) == set()


def test_precharge_negative_current_fails_with_its_own_reason() -> None:
    rig = Rig()
    start_precharge(rig)
    mark = rig.mark()
    rig.twin.set_bju(current_a=-1.0)
    rig.run_until(S.SAFE)
    assert rig.path(mark) == [S.DISCONNECT, S.SAFE]
    assert precharge_bits(rig) == {I.PRECHARGE_FAIL_NEGCURRENT}


def test_precharge_needs_the_configured_voltage_delta() -> None:
    rig = Rig(config(maxPrechargeVoltageDelta=0.2))
    rig.follow_load = False
    start_precharge(rig)
    rig.twin.set_bju(load_v=37.0 - 0.3)
    rig.run(1.0)
    assert rig.state() is S.PRECHARGE
    rig.twin.set_bju(load_v=37.0 - 0.19)
    rig.run(0.01)
    assert rig.state() is S.ENABLED


# --- charge path -----------------------------------------------------------------------------
def start_charge(rig: Rig) -> None:
    rig.to_idle()
    rig.send(C.CHARGE_INIT)
    assert rig.state() is S.CHARGE_INIT and rig.closed() == frozenset()
    rig.send(C.CHARGE_ENABLE)
    assert rig.state() is S.CHARGE_CONNECT and rig.closed() == {4}


def test_external_charge_path_contactors_at_each_step() -> None:
    rig = Rig(external())
    start_charge(rig)
    rig.run(2.0)
    assert rig.state() is S.CHARGE_CONNECT  # charger still at 0 V
    rig.twin.set_bju(charger_v=36.5)
    rig.run(0.01)
    assert rig.state() is S.CHARGE_ENABLED and rig.closed() == {4, 5}
    rig.twin.set_bju(current_a=-40.0)
    rig.run(5.0)
    rig.send(C.IDLE)
    assert rig.state() is S.CHARGE_STOPPING and rig.closed() == {4, 5}
    rig.run(3.0)
    assert rig.state() is S.CHARGE_STOPPING  # 40 A still flows
    rig.twin.set_bju(current_a=-4.9)
    rig.run(0.01)
    assert rig.state() is S.IDLE and rig.closed() == frozenset()
    assert rig.snap().reasons == frozenset()


def test_charge_stopping_times_out_after_20_s_then_disconnect_2_s() -> None:
    rig = Rig(external())
    start_charge(rig)
    rig.twin.set_bju(charger_v=37.0)
    rig.run_until(S.CHARGE_ENABLED)
    rig.twin.set_bju(current_a=-30.0)
    rig.send(C.IDLE)
    t_stop = rig.entered(S.CHARGE_STOPPING)
    t_dis = rig.run_until(S.DISCONNECT, 30.0)
    assert t_dis - t_stop == pytest.approx(20.0)
    assert rig.closed() == {4, 5}  # DISCONNECT leaves them
    t_safe = rig.run_until(S.SAFE)
    assert t_safe - t_dis == pytest.approx(2.0)
    assert rig.closed() == frozenset()


def test_charge_ends_when_a_cell_reaches_the_warning_voltage() -> None:
    rig = Rig(external())
    start_charge(rig)
    rig.twin.set_bju(charger_v=37.0)
    rig.run_until(S.CHARGE_ENABLED)
    mark = rig.mark()
    rig.twin.set_cell_voltage(0, 2, 4.15)
    rig.run(0.5)
    assert rig.path(mark) == [S.CHARGE_STOPPING, S.IDLE]  # no current flows: IDLE at once
    assert rig.twin.history[-2].cause == "battery full: warningCellOverVoltage"
    assert not rig.snap().charge_allowed and rig.snap().reasons == frozenset()


def test_charge_init_with_other_command_returns_to_idle() -> None:
    rig = Rig(external())
    rig.to_idle()
    rig.send(C.CHARGE_INIT)
    rig.send(C.CONNECT)
    assert rig.state() is S.IDLE


def test_charge_connect_times_out_as_a_precharge_failure() -> None:
    rig = Rig(external())
    start_charge(rig)
    t_conn = rig.entered(S.CHARGE_CONNECT)
    assert rig.run_until(S.DISCONNECT, 30.0) - t_conn == pytest.approx(25.0)
    assert precharge_bits(rig) == {I.PRECHARGE_FAIL_TIMEOUT}


def test_charging_method_none_goes_to_safe() -> None:
    rig = Rig()
    rig.to_idle()
    rig.send(C.CHARGE_INIT)
    rig.run_until(S.SAFE)
    assert [tr.target for tr in rig.twin.history[-3:]] == [S.CHARGE_INIT, S.DISCONNECT, S.SAFE]


def test_evse_charge_init_times_out_to_idle_after_50_s() -> None:
    rig = Rig(config(chargingMethod=1))
    rig.to_idle()
    rig.send(C.CHARGE_INIT)
    rig.send(C.CHARGE_ENABLE)
    assert rig.state() is S.CHARGE_INIT
    t_init = rig.entered(S.CHARGE_INIT)
    assert rig.run_until(S.IDLE, 60.0) - t_init == pytest.approx(50.0)


# --- faults and DISCONNECT -------------------------------------------------------------------
def test_overcurrent_in_enabled_waits_2_s_in_disconnect_with_contactors_closed() -> None:
    rig = Rig()
    rig.to_enabled()
    rig.twin.set_bju(current_a=150.0)
    rig.run(0.01)
    t_dis = rig.entered(S.DISCONNECT)
    assert rig.state() is S.DISCONNECT and rig.closed() == {1, 3}
    assert rig.snap().has(I.REASON_OVERCURRENT)
    rig.run(1.9)
    assert rig.state() is S.DISCONNECT
    t_safe = rig.run_until(S.SAFE)
    assert t_safe - t_dis == pytest.approx(2.0)
    assert rig.closed() == frozenset()
    snap = rig.snap()
    assert snap.has(I.REASON_OVERCURRENT) and snap.contactor_target == (0,) * 5


def test_disconnect_completes_early_once_the_current_stops() -> None:
    rig = Rig()
    rig.to_enabled()
    rig.twin.set_bju(current_a=-120.0)  # charge over-current
    rig.run(0.5)
    assert rig.state() is S.DISCONNECT
    rig.twin.set_bju(current_a=1.0)
    rig.run(0.01)
    assert rig.state() is S.SAFE
    assert rig.twin.t - rig.entered(S.DISCONNECT) < 1.0
    assert rig.snap().has(I.REASON_OVERCURRENT)


def test_over_current_limits_are_exclusive() -> None:
    rig = Rig(config(maxDischargeCurrent=80.0, maxChargeCurrent=50.0))
    rig.to_enabled()
    rig.twin.set_bju(current_a=80.0)
    rig.run(0.5)
    rig.twin.set_bju(current_a=-50.0)
    rig.run(0.5)
    assert rig.state() is S.ENABLED
    rig.twin.set_bju(current_a=-50.01)
    rig.run(0.01)
    assert rig.state() is S.DISCONNECT


def test_hvil_open_loop_faults_to_safe_with_contactors_open() -> None:
    rig = Rig()
    rig.to_enabled()
    rig.twin.set_bju(current_a=50.0)  # the load keeps drawing: DISCONNECT waits
    rig.twin.set_hvil(HvilLoop.OPEN)
    rig.run(0.01)
    snap = rig.snap()
    assert snap.state is S.DISCONNECT and rig.closed() == {1, 3}
    assert snap.has(I.REASON_HVIL) and snap.hvil_flag_nok and snap.hvil_flag_open_loop
    assert not snap.hvil_flag_scg and not snap.hvil_flag_scb
    rig.twin.set_bju(current_a=0.0)
    rig.run_until(S.SAFE)
    assert rig.closed() == frozenset()
    rig.run(2.0)
    assert rig.state() is S.SAFE  # command is still ENABLE, loop still open
    rig.twin.set_hvil(HvilLoop.CLOSED)
    rig.send(C.IDLE)
    assert rig.state() is S.IDLE and not rig.snap().hvil_flag_nok


@pytest.mark.parametrize(
    ("loop", "flag"),
    [(HvilLoop.SHORT_TO_GROUND, "hvil_flag_scg"), (HvilLoop.SHORT_TO_BATTERY, "hvil_flag_scb")],
)
def test_hvil_shorts_are_flagged_and_fault(loop: HvilLoop, flag: str) -> None:
    rig = Rig()
    rig.to_idle()
    rig.twin.set_hvil(loop)
    rig.run_until(S.SAFE)
    snap = rig.snap()
    assert getattr(snap, flag) and snap.hvil_flag_nok and not snap.hvil_flag_open_loop
    assert snap.has(I.REASON_HVIL)


def test_control_timeout_after_5_s_without_commands() -> None:
    rig = Rig()
    rig.to_enabled()
    rig.keepalive = False
    t_last = rig.twin.t
    rig.twin.set_bju(current_a=0.0)
    t_dis = rig.run_until(S.DISCONNECT, 10.0)
    assert t_dis - t_last == pytest.approx(5.0, abs=0.11)
    snap = rig.snap()
    assert snap.has(I.REASON_CONTROLTIMEOUT)
    rig.run_until(S.SAFE)
    assert rig.closed() == frozenset()
    rig.keepalive = True
    rig.send(C.IDLE)
    assert rig.state() is S.IDLE


def test_control_timeout_is_exact_and_commands_of_type_none_do_not_feed_it() -> None:
    rig = Rig()
    rig.to_idle()
    rig.keepalive = False
    t_last = rig.twin.t
    for k in range(1, 40):
        rig.twin.command(C.IDLE, t=t_last + 0.1 * k, command_type=CommandType.NONE)
    rig.run_until(S.DISCONNECT, 10.0)
    assert rig.entered(S.DISCONNECT) - t_last == pytest.approx(5.0)


def test_repeated_commands_keep_the_bms_enabled() -> None:
    rig = Rig()
    rig.to_enabled()
    rig.run(30.0)
    assert rig.state() is S.ENABLED
    assert rig.snap().reasons == frozenset()


def test_node_lost_in_enabled_is_a_node_count_fault() -> None:
    rig = Rig(config(numCMUNodes=3))
    rig.to_enabled()
    mark = rig.mark()
    rig.twin.set_node_connected(2, False)
    rig.run_until(S.SAFE)
    assert rig.path(mark) == [S.DISCONNECT, S.SAFE] and rig.closed() == frozenset()
    snap = rig.snap()
    assert snap.has(I.REASON_NODECOUNT)
    assert snap.total_connected_nodes == 2 and snap.total_disconnected_nodes == 1
    assert not snap.nodes[2].connected and snap.nodes[2].disconnected_cells == 10


def test_an_extra_node_is_a_node_count_fault() -> None:
    rig = Rig()
    rig.to_idle()
    rig.twin.set_node_cells(1, [3.7] * 10)
    rig.twin.set_node_connected(1, True)
    rig.run_until(S.SAFE)
    snap = rig.snap()
    assert snap.has(I.REASON_NODECOUNT) and snap.total_connected_nodes == 2


# --- contactors ------------------------------------------------------------------------------
@pytest.mark.parametrize("contactor", [1, 2, 3, 4, 5])
def test_welded_contactor_faults_with_its_bit(contactor: int) -> None:
    rig = Rig()
    rig.to_idle()
    rig.welded.add(contactor)
    rig.run(0.01)
    t_weld = rig.twin.t
    t_dis = rig.run_until(S.DISCONNECT)
    assert t_dis - t_weld == pytest.approx(0.25, abs=0.011)
    rig.run_until(S.SAFE)
    snap = rig.snap()
    faults = {bit for bit in snap.reasons if bit.name.startswith("CONTACTOR_FAULT_")}
    assert faults == {contactor_fault_bit(contactor)}
    assert snap.has(I.REASON_CONTACTORFAIL)
    assert snap.bms_info >> (23 + contactor) & 1
    assert snap.contactor_state[contactor - 1] == 1 and snap.contactor_target[contactor - 1] == 0


@pytest.mark.parametrize(
    ("contactor", "path"),
    [(1, [C.CONNECT]), (2, [C.CONNECT, C.ENABLE]), (3, "enabled"), (4, "charge"), (5, "charging")],
)
def test_contactor_that_does_not_close_faults_with_its_bit(contactor: int, path: Any) -> None:
    rig = Rig(external())
    rig.stuck_open.add(contactor)
    rig.to_idle()
    if path == "enabled":
        rig.send(C.CONNECT)
        rig.send(C.ENABLE)
        rig.run_until(S.ENABLED)
    elif path in ("charge", "charging"):
        rig.send(C.CHARGE_INIT)
        rig.send(C.CHARGE_ENABLE)
        rig.twin.set_bju(charger_v=37.0)
    else:
        for cmd in path:
            rig.send(cmd)
    rig.run_until(S.SAFE, 10.0)
    snap = rig.snap()
    faults = {bit for bit in snap.reasons if bit.name.startswith("CONTACTOR_FAULT_")}
    assert faults == {contactor_fault_bit(contactor)}
    assert snap.contactor_coil == (False,) * 5


def test_contactor_fault_latches_until_reset() -> None:
    rig = Rig()
    rig.to_idle()
    rig.welded.add(2)
    rig.run_until(S.SAFE)
    rig.welded.clear()
    rig.run(1.0)
    rig.send(C.IDLE)
    rig.run(1.0)
    assert rig.state() is S.SAFE and rig.snap().has(I.CONTACTOR_FAULT_2)
    rig.twin.power_on()  # power cycle
    rig.run_until(S.SAFE)
    rig.send(C.IDLE)
    assert rig.state() is S.IDLE and rig.snap().reasons == frozenset()


def test_short_aux_disagreement_within_debounce_is_no_fault() -> None:
    rig = Rig()
    rig.to_idle()
    rig.twin.set_aux(3, True)
    rig.twin.advance(0.2)
    rig.twin.set_aux(3, False)
    rig.run(1.0)
    assert rig.state() is S.IDLE


def test_no_nc_aux_type_and_disabled_aux_check_are_honoured() -> None:
    # contactor 2 NO/NC: its aux is closed while open; contactor 5 not checked
    cfg = config(contactorConfigTypes=0x00010, contactorConfigAuxEnable=0x01111)
    rig = Rig(cfg)
    rig.to_enabled()
    assert rig.twin.inputs.aux_closed[1] is True  # contactor 2 open, NC aux closed
    rig.twin.set_aux(5, True)  # unchecked contactor: ignored
    rig.run(1.0)
    assert rig.state() is S.ENABLED
    rig.welded.add(2)
    rig.run(1.0)
    assert rig.snap().has(I.CONTACTOR_FAULT_2)


# --- cells and temperatures ------------------------------------------------------------------
def big() -> D1000Config:
    return config(numCMUNodes=4, nodeNumCells=12, nodeNumTemp=[4, 3, 4, 2])


@pytest.mark.parametrize(
    ("volts", "bit", "extreme"),
    [(4.2, I.REASON_OVERVOLT, "max"), (2.5, I.REASON_UNDERVOLT, "min")],
)
def test_critical_cell_voltage_on_any_node_disconnects_with_extremes(
    volts: float, bit: InfoBit, extreme: str
) -> None:
    rig = Rig(big())
    rig.twin.set_all_cells(3.7)
    rig.to_enabled()
    mark = rig.mark()
    rig.twin.set_cell_voltage(2, 7, volts)
    rig.run(0.01)
    snap = rig.snap()
    assert rig.path(mark)[0] is S.DISCONNECT and snap.has(bit)
    assert getattr(snap, f"{extreme}_cell_voltage") == volts
    assert getattr(snap, f"{extreme}_cell_voltage_node_id") == 2
    assert getattr(snap, f"{extreme}_cell_voltage_cell_id") == 7
    assert snap.nodes[2].cells[6] == volts
    rig.run_until(S.SAFE)
    assert rig.closed() == frozenset()


def test_cell_just_inside_the_critical_limits_does_not_fault() -> None:
    rig = Rig(big())
    rig.to_enabled()
    rig.twin.set_cell_voltage(3, 12, 4.199)
    rig.twin.set_cell_voltage(0, 1, 2.501)
    rig.run(1.0)
    snap = rig.snap()
    assert snap.state is S.ENABLED
    assert (snap.max_cell_voltage, snap.max_cell_voltage_node_id, snap.max_cell_voltage_cell_id) == (
        4.199,
        3,
        12,
    )
    assert (snap.min_cell_voltage, snap.min_cell_voltage_node_id, snap.min_cell_voltage_cell_id) == (
        2.501,
        0,
        1,
    )


def test_warning_voltages_disable_charge_and_discharge_without_fault() -> None:
    rig = Rig(big())
    rig.to_enabled()
    rig.twin.set_cell_voltage(1, 5, 4.15)
    rig.run(0.5)
    snap = rig.snap()
    assert snap.state is S.ENABLED
    assert not snap.charge_allowed and snap.discharge_allowed
    assert snap.sop_max_current_charge == 0.0 and snap.sop_max_current_discharge == 100.0
    rig.twin.set_cell_voltage(1, 5, 3.7)
    rig.twin.set_cell_voltage(3, 1, 2.6)
    rig.run(0.5)
    snap = rig.snap()
    assert snap.state is S.ENABLED
    assert snap.charge_allowed and not snap.discharge_allowed
    assert snap.sop_max_current_charge == 100.0 and snap.sop_max_current_discharge == 0.0


@pytest.mark.parametrize(
    ("temp_c", "bit", "extreme"),
    [(60.0, I.REASON_OVERTEMP, "max"), (-20.0, I.REASON_UNDERTEMP, "min")],
)
def test_cell_temperature_limits_on_any_sensor(temp_c: float, bit: InfoBit, extreme: str) -> None:
    rig = Rig(big())
    rig.to_enabled()
    mark = rig.mark()
    rig.twin.set_temperature(3, 2, temp_c)
    rig.run_until(S.SAFE)
    assert rig.path(mark) == [S.DISCONNECT, S.SAFE] and rig.closed() == frozenset()
    snap = rig.snap()
    assert snap.has(bit)
    assert getattr(snap, f"{extreme}_temperature") == pytest.approx(temp_c, abs=0.05)
    assert getattr(snap, f"{extreme}_temperature_node_id") == 3
    assert getattr(snap, f"{extreme}_temperature_sensor_id") == 2


def test_temperatures_inside_limits_and_beta_conversion() -> None:
    rig = Rig(big())
    rig.to_enabled()
    rig.twin.set_thermistor(1, 3, resistance_ohm(59.8, beta_k=3380))
    rig.twin.set_thermistor(2, 1, resistance_ohm(-19.8, beta_k=3380))
    rig.run(1.0)
    snap = rig.snap()
    assert snap.state is S.ENABLED
    assert (snap.max_temperature, snap.max_temperature_node_id, snap.max_temperature_sensor_id) == (
        59.8,
        1,
        3,
    )
    assert (snap.min_temperature, snap.min_temperature_node_id, snap.min_temperature_sensor_id) == (
        -19.8,
        2,
        1,
    )
    assert snap.nodes[1].temps == (25.0, 25.0, 59.8)


def test_beta_value_comes_from_the_configuration() -> None:
    rig = Rig(config(thermistorBetaValue=3950))
    rig.twin.set_thermistor(0, 1, resistance_ohm(40.0, beta_k=3950))
    rig.run(0.01)
    assert rig.snap().nodes[0].temps[0] == 40.0


def test_open_thermistor_is_a_temp_count_fault_and_not_an_extreme() -> None:
    rig = Rig(big())
    rig.to_enabled()
    rig.twin.set_thermistor(0, 4, None)
    rig.run(0.01)
    snap = rig.snap()
    assert snap.has(I.REASON_TEMPCOUNT)
    assert snap.nodes[0].temps[3] is None
    assert snap.nodes[0].disconnected_temp_sensors == 1
    assert snap.total_configured_temp_sensors == 13 and snap.total_connected_temp_sensors == 12


def test_a_missing_cell_is_a_cell_count_fault() -> None:
    rig = Rig(big())
    rig.to_enabled()
    rig.twin.set_cell_voltage(2, 12, 0.0)
    rig.run(0.01)
    snap = rig.snap()
    assert snap.has(I.REASON_CELLCOUNT) and not snap.has(I.REASON_UNDERVOLT)
    assert snap.nodes[2].connected_cells == 11 and snap.total_disconnected_cells == 1


# --- balancing -------------------------------------------------------------------------------
def test_balancing_only_in_enabled_and_only_cells_at_the_threshold() -> None:
    rig = Rig(big())
    rig.to_idle()
    rig.twin.set_cell_voltage(1, 4, 4.1)
    rig.twin.set_cell_voltage(1, 9, 4.099)
    rig.run(1.0)
    assert rig.snap().total_cells_balancing == 0
    assert all(a == 0.0 for node in rig.twin.bleed_currents() for a in node)
    rig.send(C.CONNECT)
    rig.send(C.ENABLE)
    rig.run(0.5)
    assert rig.state() is S.PRECHARGE and rig.snap().total_cells_balancing == 0
    rig.run_until(S.ENABLED)
    rig.run(0.1)
    snap = rig.snap()
    assert snap.total_cells_balancing == 1
    assert snap.nodes[1].cell_balance_status == 1 << 3 and snap.nodes[1].cell_balance_command_sent == 1 << 3
    bleed = rig.twin.bleed_currents()
    assert bleed[1][3] == 0.65 and sum(map(sum, bleed)) == pytest.approx(0.65)
    assert snap.pack_balance_threshold == 4.1
    rig.send(C.IDLE)
    assert rig.snap().total_cells_balancing == 0


def test_balancing_mutant_balances_outside_enabled() -> None:
    cfg = config(behaviour={"balance_only_in_enabled": False})
    rig = Rig(cfg)
    rig.to_idle()
    rig.twin.set_cell_voltage(0, 1, 4.12)
    rig.run(0.5)
    assert rig.snap().total_cells_balancing == 1


# --- SoC -------------------------------------------------------------------------------------
@pytest.mark.parametrize("soc", [0, 5, 37, 50, 88, 100])
def test_soc_starts_from_the_ocv_table(soc: int) -> None:
    twin = D1000Twin(config(numCMUNodes=2), seed=5, powered=False)
    twin.frontend = Frontend.ideal()
    twin.set_all_cells(DEFAULT_OCV_TABLE_V[soc])
    twin.power_on(0.0)
    twin.advance(2.0)
    snap = twin.snapshot()
    assert snap.soc_percentage == pytest.approx(soc, abs=0.05)
    assert snap.ocv == pytest.approx(DEFAULT_OCV_TABLE_V[soc], abs=0.0006)
    assert snap.soc_capacity == pytest.approx(soc, abs=0.1)  # 100 Ah pack


def test_soc_counts_coulombs_against_pack_capacity() -> None:
    rig = Rig(config(packCapacity=50.0))
    rig.to_enabled()
    soc0 = rig.twin._soc.soc_pct
    rig.twin.set_bju(current_a=25.0)
    rig.run(360.0)  # 2.5 Ah out of 50 Ah
    assert rig.twin._soc.soc_pct == pytest.approx(soc0 - 5.0, abs=0.01)
    rig.twin.set_bju(current_a=-50.0)
    rig.run(72.0)  # 1 Ah in
    assert rig.twin._soc.soc_pct == pytest.approx(soc0 - 3.0, abs=0.01)


def test_soc_mutant_ignores_the_table() -> None:
    twin = D1000Twin(config(behaviour={"soc_from_ocv": False}), seed=1)
    twin.set_all_cells(4.0)
    twin.advance(2.0)
    assert twin.snapshot().soc_percentage == 50.0


# --- environment, supply, low-side switches --------------------------------------------------
@pytest.mark.parametrize(
    ("env", "bit"),
    [
        ({"pressure_kpa": 121.0}, I.REASON_PRESSURE),
        ({"humidity_pct": 91.0}, I.REASON_HUMIDITY),
        ({"temperature1_c": 61.0}, I.REASON_OVERTEMP),
        ({"temperature2_c": -21.0}, I.REASON_UNDERTEMP),
    ],
)
def test_bmu_environment_outside_its_range_faults(env: dict[str, Any], bit: InfoBit) -> None:
    rig = Rig()
    rig.to_idle()
    rig.twin.set_environment(**env)
    rig.run_until(S.SAFE)
    snap = rig.snap()
    assert snap.has(bit)
    assert snap.bmu_temperature_fault == ("temperature1_c" in env or "temperature2_c" in env)


def test_bmu_environment_inside_its_range_and_reported() -> None:
    rig = Rig(config(bmuPressureMax=110.0))
    rig.to_idle()
    rig.twin.set_environment(
        pressure_kpa=109.0, humidity_pct=89.0, temperature1_c=59.0, voc_ppb=120, nox_ppb=7
    )
    rig.run(1.0)
    snap = rig.snap()
    assert snap.state is S.IDLE
    assert (snap.pressure, snap.humidity, snap.temperature1, snap.voc, snap.nox) == (
        109.0,
        89.0,
        59.0,
        120,
        7,
    )
    rig.twin.set_environment(pressure_kpa=111.0)
    rig.run(0.1)
    assert rig.snap().has(I.REASON_PRESSURE)


@pytest.mark.parametrize(
    ("device_id", "supply_v", "low", "high"), [(4472, 12.0, 0.04, 0.07), (4476, 24.0, 0.02, 0.04)]
)
def test_supply_current_by_variant_stays_below_80_ma(
    device_id: int, supply_v: float, low: float, high: float
) -> None:
    twin = D1000Twin(config(deviceID=device_id), seed=1)
    assert twin.inputs.supply_v == supply_v
    assert low <= twin.supply_current_a() <= high
    worst = twin.config.supply_variant_v * 0.75
    twin.set_supply_voltage(worst)
    assert twin.supply_current_a() <= 0.080
    assert twin.snapshot().device_type == device_id


def test_brown_out_stops_the_bmu_and_recovery_reboots() -> None:
    rig = Rig()
    rig.to_enabled()
    rig.twin.set_supply_voltage(8.0)
    rig.run(0.01)
    assert not rig.twin.powered
    assert rig.twin.contactor_coils == (False,) * 5
    assert rig.twin.supply_current_a() == 0.0
    rig.twin.set_supply_voltage(12.0)
    rig.run(0.01)
    assert rig.twin.powered and rig.state() is S.INITIALISE
    assert rig.twin.history[-1].cause == "power on"


def test_low_side_switch_sense_reports_open_load_and_short() -> None:
    rig = Rig()
    rig.to_idle()
    assert rig.snap().low_side_status == (LowSideStatus.OK,) * 3
    rig.twin.set_low_side_sense(1, False)
    rig.twin.drive_low_side_switch(2, True)  # sense stays high: shorted
    rig.twin.drive_low_side_switch(3, True)
    rig.twin.set_low_side_sense(3, False)
    snap = rig.snap()
    assert snap.low_side_status == (LowSideStatus.OPEN_LOAD, LowSideStatus.SHORT, LowSideStatus.OK)
    assert snap.low_side_switch == (False, True, True)


# --- stepping, noise, mutants ----------------------------------------------------------------
def test_max_step_points_at_the_next_deadline_and_large_steps_keep_timing() -> None:
    twin = D1000Twin(D1000Config(), seed=2)
    assert twin.max_step() == pytest.approx(0.5)  # INITIALISE ends
    twin.advance(1.5)
    assert state_of(twin) is S.SAFE
    assert twin.max_step() == pytest.approx(ACTIVE_MAX_STEP_S)  # a transition just happened
    twin.advance(0.1)
    assert twin.max_step() == pytest.approx(IDLE_MAX_STEP_S)  # quiescent SAFE
    twin.command(C.IDLE)
    assert twin.next_event() == pytest.approx(twin.t + 5.0)  # the control timeout
    twin.command(C.CONNECT)
    twin.set_aux(1, True)
    twin.advance(1.0)
    twin.command(C.ENABLE)  # the load never rises: precharge times out 25 s later
    t_pre = twin.t
    twin.set_aux(2, True)
    assert state_of(twin) is S.PRECHARGE
    for _ in range(15):
        twin.advance(2.0)  # long steps; a command every 2 s keeps the control timeout away
        twin.command(C.ENABLE)
    failed = next(tr for tr in twin.history if tr.target is S.DISCONNECT)
    assert failed.t == pytest.approx(t_pre + 25.0)
    assert twin.snapshot().has(I.PRECHARGE_FAIL_TIMEOUT)


def test_big_advance_splits_into_exact_timers() -> None:
    twin = D1000Twin(D1000Config(), seed=2)
    twin.advance(100.0)
    assert [tr.t for tr in twin.history] == [0.0, pytest.approx(0.5), pytest.approx(1.5)]
    with pytest.raises(ValueError):
        twin.step(50.0)
    with pytest.raises(ValueError):
        twin.advance(-1.0)


def test_same_seed_same_readings_and_noise_inside_the_budget() -> None:
    def run(seed: int) -> list[Any]:
        twin = D1000Twin(config(numCMUNodes=2, nodeNumCells=14), seed=seed)
        twin.set_all_cells(3.6)
        twin.set_bju(current_a=10.0)
        out = []
        for _ in range(20):
            twin.advance(0.1)
            out.append(twin.snapshot())
        return out

    a, b, c = run(7), run(7), run(8)
    assert [s.nodes for s in a] == [s.nodes for s in b]
    assert [s.instantaneous_current for s in a] == [s.instantaneous_current for s in b]
    assert [s.nodes for s in a] != [s.nodes for s in c]
    for snap in a + c:
        for node in snap.nodes:
            assert all(abs(v - 3.6) <= 0.001 + 1e-9 for v in node.cells)  # CMU: 1 mV at 3.6 V
        assert abs(snap.instantaneous_current - 10.0) <= 0.03


def test_snapshot_bms_info_word_and_signal_names() -> None:
    rig = Rig()
    rig.to_idle()
    rig.twin.set_hvil(HvilLoop.OPEN)
    rig.run_until(S.SAFE)
    snap = rig.snap()
    assert snap.bms_info == (1 << 11) | (1 << 35)
    assert I.REASON_HVIL.signal == "BMSReasonHVIL"
    assert I.PRECHARGE_FAIL_TIMEOUT.signal == "BMSPrechargeFailTIMEOUT"
    assert I.CONTACTOR_FAULT_4.signal == "BMSContactorFaultCONTACTOR4"
    assert S.INITIALISE.signal == "BMSStateINIT" and S.CHARGE_STOPPING.signal == "BMSStateCHARGE_STOPPING"
    assert (snap.firmware_major_version, snap.firmware_minor_version) == (1, 2)
    summary = rig.twin.describe()
    assert summary["state"] == "SAFE" and summary["reasons"] == ["BMSReasonHVIL"]
    assert summary["history"][-1]["from"] == "DISCONNECT"


def test_mutant_ignoring_aux_feedback_misses_a_welded_contactor() -> None:
    rig = Rig(config(behaviour={"check_contactor_aux": False}))
    rig.to_idle()
    rig.welded.add(3)
    rig.run(2.0)
    assert rig.state() is S.IDLE and rig.snap().reasons == frozenset()


def test_mutant_without_charge_stopping_timeout_stays() -> None:
    rig = Rig(config(chargingMethod=2, behaviour={"charge_stopping_timeout": False}))
    start_charge(rig)
    rig.twin.set_bju(charger_v=37.0)
    rig.run_until(S.CHARGE_ENABLED)
    rig.twin.set_bju(current_a=-30.0)
    rig.send(C.IDLE)
    rig.run(60.0)
    assert rig.state() is S.CHARGE_STOPPING


def test_mutant_without_precharge_timeout_waits_forever() -> None:
    rig = Rig(config(behaviour={"precharge_timeout": False}))
    rig.follow_load = False
    start_precharge(rig)
    rig.run(60.0)
    assert rig.state() is S.PRECHARGE


def test_injected_reason_faults_like_any_other() -> None:
    rig = Rig()
    rig.to_idle()
    rig.twin.inject(I.REASON_WATCHDOGFAIL)
    rig.run_until(S.SAFE)
    assert rig.snap().has(I.REASON_WATCHDOGFAIL)
    rig.twin.inject(I.REASON_WATCHDOGFAIL, active=False)
    rig.send(C.IDLE)
    assert rig.state() is S.IDLE


def test_a_32_by_14_system_runs_and_reports_every_node() -> None:
    cfg = config(numCMUNodes=32, nodeNumCells=14)
    rig = Rig(cfg, ideal=False)
    rig.twin.set_cell_voltage(31, 14, 3.9)
    rig.twin.set_cell_voltage(17, 3, 3.5)
    rig.to_enabled()
    snap = rig.snap()
    assert len(snap.nodes) == 32 and all(len(node.cells) == 14 for node in snap.nodes)
    assert snap.total_configured_cells == 448 and snap.total_connected_cells == 448
    assert (snap.max_cell_voltage_node_id, snap.max_cell_voltage_cell_id) == (31, 14)
    assert (snap.min_cell_voltage_node_id, snap.min_cell_voltage_cell_id) == (17, 3)
    assert snap.total_pack_voltage == pytest.approx(446 * 3.7 + 3.9 + 3.5, abs=0.5)


def test_a_changed_input_resamples_only_its_node_and_each_cycle_resamples_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rig = Rig(config(num_cmu_nodes=2), ideal=False)  # measurement noise on
    rig.twin.set_all_cells(3.3)
    rig.run(3.0)
    kept: list[frozenset[int] | None] = []
    measure = Frontend.measure

    def spy(self: Frontend, inputs: Any, cfg: Any, rng: Any, keep: Any = None, *more: Any) -> Any:
        kept.append(None if keep is None else frozenset(keep))
        return measure(self, inputs, cfg, rng, keep, *more)

    monkeypatch.setattr(Frontend, "measure", spy)
    before = rig.snap().nodes
    rig.twin.set_cell_voltage(1, 3, 3.5)
    after = rig.snap().nodes  # a cycle at the same time, for the changed input
    assert kept == [frozenset({0})]  # node 0's sample stands, node 1 is sampled again
    assert after[0] == before[0]
    assert after[1].cells[2] == pytest.approx(3.5, abs=0.01)
    rig.twin.advance(0.1)  # firmware cycles: every node sampled again
    assert kept[1:] and all(k is None for k in kept[1:])


def test_a_full_sample_reads_replaced_nodes_and_edited_ones_after_inputs_changed() -> None:
    """The twin reads a node's inputs again only when its object was replaced (the plant's way) or
    after `inputs_changed()` (an edit in place); the readings equal those of a front end that reads
    every node every time."""
    cfg = config(num_cmu_nodes=3)
    rig = Rig(cfg)  # an ideal front end: readings are the inputs rounded
    rig.run(1.0)
    inputs = rig.twin.inputs
    cells = cfg.cells_per_node()[1]
    inputs.nodes[1] = NodeInputs([3.5] * cells, list(inputs.nodes[1].thermistor_ohm))  # replaced
    rig.twin.inputs_changed(resample=False)
    rig.twin.advance(0.1)
    assert rig.snap().nodes[1].cells == (3.5,) * cells
    inputs.nodes[2].cell_v[0] = 3.2  # edited in place: seen once the twin is told
    inputs.nodes[2].thermistor_ohm[3] = None
    rig.twin.inputs_changed()
    rig.twin.advance(0.1)
    snap = rig.snap()
    assert snap.nodes[2].cells[0] == 3.2 and snap.nodes[2].temps[3] is None
    assert (snap.min_cell_voltage_node_id, snap.min_cell_voltage_cell_id) == (2, 1)
    fresh = Frontend.ideal().measure(inputs, cfg, random.Random(1))
    assert rig.twin._readings.nodes == fresh.nodes


def test_cell_extremes_take_the_first_of_equal_cells_and_skip_missing_ones() -> None:
    """The vectorised limit check over all cells: ties go to the first cell in node then cell
    order, a cell reading no voltage raises CELLCOUNT and is not an extreme, and the noise-free
    readings are the inputs rounded to 1 mV."""
    cfg = config(num_cmu_nodes=3)
    inputs = PlantInputs.nominal(cfg, cell_v=3.7)
    inputs.nodes[0].cell_v[4] = 3.9  # the highest twice: node 0 cell 5 first, node 2 cell 1 later
    inputs.nodes[2].cell_v[0] = 3.9
    inputs.nodes[1].cell_v[2] = 3.4004  # the lowest present cell
    inputs.nodes[1].cell_v[6] = 0.0  # missing
    readings = Frontend.ideal().measure(inputs, cfg, random.Random(1))
    assert readings.nodes[1].cell_v[2] == 3.4 and readings.nodes[1].cell_present[6] is False
    ev = evaluate(readings, inputs, cfg)
    assert ev.max_cell is not None and (ev.max_cell.node_id, ev.max_cell.index) == (0, 5)
    assert ev.min_cell is not None and (ev.min_cell.node_id, ev.min_cell.index, ev.min_cell.value) == (
        1,
        3,
        3.4,
    )
    assert InfoBit.REASON_CELLCOUNT in ev.active


def test_vector_sampling_agrees_with_the_per_channel_formulas() -> None:
    """All thermistors and cells are sampled in one vector operation: with an ideal front end the
    temperatures are the Beta formula rounded to 0.1 °C (None for an open or shorted input), and the
    node totals and extremes filled in by the front end equal those of the node's own readings."""
    cfg = config(num_cmu_nodes=3, nodeNumCells=12, nodeNumTemp=4)
    inputs = PlantInputs.nominal(cfg, cell_v=3.7)
    ohms = [resistance_ohm(t, cfg.thermistor_beta_value) for t in (-12.34, 0.0, 47.56, 88.8)]
    inputs.nodes[1].thermistor_ohm = list(ohms)
    inputs.nodes[2].thermistor_ohm = [None, 0.0, ohms[1], 1e9]  # open, shorted, 0 °C, beyond -50 °C
    inputs.nodes[2].cell_v[3] = 0.0  # missing
    ideal = Frontend.ideal().measure(inputs, cfg, random.Random(1))
    assert ideal.nodes[1].temperature_c == tuple(
        round(temperature_c(ohm, cfg.thermistor_beta_value), 1) for ohm in ohms
    )
    assert ideal.nodes[1].temperature_c == (-12.3, 0.0, 47.6, 88.8)
    assert ideal.nodes[2].temperature_c == (None, None, 0.0, None)
    ev = evaluate(ideal, inputs, cfg)
    assert InfoBit.REASON_TEMPCOUNT in ev.active and InfoBit.REASON_CELLCOUNT in ev.active
    assert ev.max_temperature is not None and (ev.max_temperature.node_id, ev.max_temperature.index) == (1, 4)
    assert ev.min_temperature is not None and (ev.min_temperature.node_id, ev.min_temperature.index) == (1, 1)
    noisy = Frontend.from_rng(random.Random(7)).measure(inputs, cfg, random.Random(2))
    for node in (*ideal.nodes, *noisy.nodes):
        recomputed = NodeReadings(node.connected, node.cell_v, node.cell_present, node.temperature_c)
        assert node.total_voltage == recomputed.total_voltage
        assert node.connected_cells == recomputed.connected_cells
        assert node.connected_temp_sensors == recomputed.connected_temp_sensors
        assert node.cell_extremes == recomputed.cell_extremes  # the vector pass's, then per node
        assert node.temperature_extremes == recomputed.temperature_extremes
    assert ideal.nodes[1].temperature_extremes == ((88.8, 3), (-12.3, 0))
    assert ideal.nodes[2].temperature_extremes == ((0.0, 2), (0.0, 2))
    assert [n.connected_cells for n in noisy.nodes] == [12, 12, 11]
    assert [n.connected_temp_sensors for n in noisy.nodes] == [4, 4, 1]


def test_a_snapshot_without_nodes_has_the_same_pack_totals() -> None:
    rig = Rig(config(num_cmu_nodes=3), ideal=False)
    rig.twin.set_cell_voltage(1, 4, 3.9)
    rig.twin.set_thermistor(2, 2, None)
    rig.run(1.0)
    full, fast = rig.twin.snapshot(), rig.twin.snapshot(nodes=False)
    assert len(full.nodes) == 3 and fast.nodes == ()
    assert replace(full, nodes=()) == fast
    assert full.total_pack_voltage == pytest.approx(sum(n.total_voltage for n in full.nodes), abs=1e-9)
    assert full.total_connected_temp_sensors == 3 * 4 - 1


def test_one_sampled_node_reads_as_it_does_among_others() -> None:
    """A cycle after a stimulus makes one node's readings on lists; they equal the vector path's
    for the same sample (ties, missing cells, open thermistors, fewer configured channels)."""
    gen = np.random.default_rng(7)
    for trial in range(200):
        volts = np.rint(gen.uniform(3.69, 3.71, (1, 14)) * 1e3) / 1e3  # many equal cells
        volts[0, gen.integers(0, 14, 3)] = 0.0  # cells reading nothing
        present = volts >= 0.5
        celsius = np.rint(gen.uniform(24.0, 26.0, (1, 4)) * 5.0) / 5.0
        valid = gen.random((1, 4)) > 0.3
        celsius[~valid] = np.nan if trial % 2 else 30.0  # what an open input reads is not kept
        counts = ([14 - trial % 3] * 32, [4 - trial % 2] * 32)
        (alone,) = Frontend._build([5], volts, present, celsius, valid, counts)
        two = [np.repeat(a, 2, axis=0) for a in (volts, present, celsius, valid)]
        among = Frontend._build([5, 5], two[0], two[1], two[2], two[3], counts)
        assert alone == among[0]
        assert {k: alone.__dict__[k] for k in among[0].__dict__} == among[0].__dict__


def test_many_sampled_nodes_read_as_their_own_formulas() -> None:
    """A full sample makes every node's readings at once (with shortcuts where every channel is
    present and configured); each equals the readings worked out from the node's own values:
    totals, counts and extremes, ties first, with and without missing cells, open sensors and
    fewer configured channels."""
    gen = np.random.default_rng(11)
    for trial in range(300):
        rows = 4
        volts = np.rint(gen.uniform(3.69, 3.71, (rows, 14)) * 1e3) / 1e3  # many equal cells
        celsius = np.rint(gen.uniform(24.0, 26.0, (rows, 4)) * 5.0) / 5.0
        valid = np.ones((rows, 4), dtype=bool)
        if trial % 2:  # missing cells and open sensors; else every channel reads
            volts[gen.integers(0, rows, 3), gen.integers(0, 14, 3)] = 0.0
            valid = gen.random((rows, 4)) > 0.3
            celsius[~valid] = np.nan
        full = trial % 3 == 0
        counts = ([14] * 32, [4] * 32) if full else ([14 - trial % 5] * 32, [4 - trial % 4] * 32)
        volts[:, counts[0][0] :] = 0.0  # a channel not configured has no input
        valid[:, counts[1][0] :] = False
        present = volts >= 0.5
        todo = [0, 3, 4, 9]
        built = Frontend._build(todo, volts, present, celsius, valid, counts)
        for row, (n, node) in enumerate(zip(todo, built, strict=True)):
            cells, temps = counts[0][n], counts[1][n]
            own = NodeReadings(
                True,
                tuple(volts[row, :cells].tolist()),
                tuple(present[row, :cells].tolist()),
                tuple(c if ok else None for c, ok in zip(celsius[row, :temps].tolist(), valid[row, :temps])),
            )
            assert node == own
            assert node.total_voltage == pytest.approx(own.total_voltage, abs=1e-9)
            assert node.connected_cells == own.connected_cells
            assert node.connected_temp_sensors == own.connected_temp_sensors
            assert node.cell_extremes == own.cell_extremes
            assert node.temperature_extremes == own.temperature_extremes


def test_pack_extremes_after_one_node_moved_are_those_of_a_full_pass() -> None:
    """When one node's readings change, the pack extremes worked out from the last ones (or a full
    pass where they cannot tell) equal a pass over every node: ties, nodes leaving the bus,
    missing cells and sensors, the node that held an extreme moving away from it."""
    rng = random.Random(5)

    def node() -> NodeReadings:
        cells = tuple(rng.choice((3.69, 3.7, 3.71, 0.0)) for _ in range(4))
        temps = tuple(rng.choice((24.9, 25.0, 25.1, None)) for _ in range(3))
        return NodeReadings(rng.random() > 0.15, cells, tuple(v > 0.5 for v in cells), temps)

    nodes = [node() for _ in range(6)]
    before = pack_extremes(tuple(nodes))
    incremental = 0
    for _ in range(2000):
        n = rng.randrange(len(nodes))
        old, nodes[n] = nodes[n], node()
        full = pack_extremes(tuple(nodes))
        moved = pack_extremes_moved(before, old, nodes[n], n)
        if moved is not None:
            incremental += 1
            assert moved == full
        before = full
    assert incremental > 500  # about half the changes are worked out from the last extremes


def test_inputs_beyond_a_cmu_are_refused_at_the_check() -> None:
    """A node with more cell or thermistor inputs than a CMU has is refused, whichever node it is."""
    cfg = config(num_cmu_nodes=3)
    inputs = PlantInputs.nominal(cfg, cell_v=3.7)
    inputs.check()
    inputs.nodes[2].cell_v = [3.7] * 15
    with pytest.raises(ValueError, match="a CMU has 14 cell inputs, got 15"):
        inputs.check()
    inputs.nodes[2].cell_v = [3.7] * 14
    inputs.check()
    inputs.nodes[1].thermistor_ohm = [10_000.0] * 5
    with pytest.raises(ValueError, match="a CMU has 4 thermistor inputs, got 5"):
        inputs.check()
