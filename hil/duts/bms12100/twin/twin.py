"""The twin of the 12100-1203-1CA BMS firmware: pure, deterministic, driven by the electrical model.

The electrical model calls `power_on` when the cells are connected and then `step(t, dt, inputs)`
with dt <= `max_step()`; inputs are held over the step (t-dt, t]. The twin measures them through
its seeded front end, counts charge, tracks the mode, runs the alarm/protection monitors of
`tables.ALL_MONITORS` and the under-voltage shutdown, and exposes the FET states the model uses.
No I/O, no threads, no wall-clock time: the same seed and the same calls give the same results.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace

from hil.duts.bms12100.settings import PARAMETERS_BY_PID, Parameter, Settings, from_wire, to_wire
from hil.duts.bms12100.telemetry import Mode, Telemetry
from hil.duts.bms12100.twin.measurement import (
    EMPTY_MEASUREMENT,
    Frontend,
    Measurement,
    TerminalInputs,
)
from hil.duts.bms12100.twin.modes import ModeTracker
from hil.duts.bms12100.twin.monitor import MIN_STEP_S, Block, Monitor, Transition, resolve
from hil.duts.bms12100.twin.soc import CoulombCounter
from hil.duts.bms12100.twin.tables import ALL_MONITORS
from hil.duts.bms12100.twin.validation import validate_settings

HISTORY_CAPACITY = 1000  # ring buffer; the seed asks for at least 500 records (HIST)
ACTIVE_MAX_STEP_S = 1.0  # charging or discharging: quantities move, step at most 1 s
IDLE_MAX_STEP_S = 10.0  # standby / shutdown: nothing moves unless the caller moves it
CURRENT_LIMIT_A = 100.0  # seed §5 continuous charge/discharge current; reported 0 while blocked
UVSD_RID = "PM-UVSD"
_EPS = 1e-9
_IDEAL = Frontend.ideal()


@dataclass(frozen=True)
class HistoryEvent:
    """One history record (HIST): a trigger or release of a requirement ID, with the readings."""

    time: float
    kind: str  # "trigger" | "release"
    rid: str
    snapshot: Measurement
    detail: str = ""  # e.g. which release alternative released it, or what woke the BMS


class Bms12100Twin:
    """Firmware twin of one 12100 BMS unit (see the module docstring for the calling contract)."""

    # The seed's supplier and model, cut to the 0x51 field widths (20 and 10 characters).
    manufacturer = "Shanghai energy"
    device_name = "12100-1203"
    firmware_version = "1.3.0-twin"  # ours; the seed's host protocol file is "1201-04S-V13"

    def __init__(self, settings: Settings, seed: int, serial: str = "12100A0000001") -> None:
        self._check(settings)
        self._settings = settings
        self.seed = seed
        self.serial = serial
        self._rng = random.Random(seed)
        # Replaceable (e.g. by `Frontend.ideal()`) to test logic at exact thresholds.
        self.frontend = Frontend.from_rng(self._rng)
        self.monitors = [Monitor(spec) for spec in ALL_MONITORS]
        self.history: list[HistoryEvent] = []
        self._modes = ModeTracker()
        self._soc = CoulombCounter()
        self._powered = False
        self._shutdown_rid: str | None = None
        self._last_wake = -math.inf
        self._boot_check = False
        self._t = 0.0
        self._last = EMPTY_MEASUREMENT

    # --- settings --------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        """The unit's firmware settings (replacing them validates the new set)."""
        return self._settings

    @settings.setter
    def settings(self, settings: Settings) -> None:
        self._check(settings)
        self._settings = settings

    def read_parameter(self, pid: int) -> int:
        """A settable parameter as the int32 the RS-485 commands carry (PARAM)."""
        return to_wire(self._settings, self._parameter(pid))

    def write_parameter(self, pid: int, raw: int) -> None:
        """Write a parameter; ValueError (and nothing changed) if the result would be invalid."""
        param = self._parameter(pid)
        candidate = self._settings.model_copy(deep=True)
        try:
            candidate.set(param.path, from_wire(param, raw))
        except ValueError as exc:
            raise ValueError(f"parameter 0x{pid:04x} ({param.path}): invalid value {raw}") from exc
        self.settings = candidate

    def set_remaining_capacity(self, ah: float) -> None:
        """The host software's "residual capacity" setting: sets SOC to ah / rated capacity."""
        self._soc.set_remaining(ah, float(self._settings.capacity.rated_ah))

    # --- power -----------------------------------------------------------------------------
    def power_on(self, t: float, inputs: TerminalInputs) -> None:
        """Boot: timers and protections reset, SOC from the OCV of the measured cells (SOC-INIT)."""
        inputs.check()
        if not inputs.powered:
            self._powered = False
            return
        self._powered = True
        self._shutdown_rid = None
        self._boot_check = False
        self._modes = ModeTracker()
        for monitor in self.monitors:
            monitor.reset()
        m = self.frontend.measure(t, inputs, self._rng)
        self._soc.init_from_cells(m.cell_mv)
        self._run(t, 0.0, inputs, m)

    def wake(self, t: float, reason: str) -> None:
        """Wake from shutdown (PM-WAKE): "rs485", "can", "button" or "charger"; else no effect."""
        if self._powered and self._shutdown_rid is not None:
            self._wake(t, reason)

    def step(self, t: float, dt: float, inputs: TerminalInputs) -> None:
        """Run the firmware from t-dt to t with `inputs` held over that interval.

        A step longer than `max_step()` is split internally, so timing inside the twin stays exact
        for any dt; the caller only sees the FETs change at the end of its step. After changing the
        inputs, `step(t, 0.0, inputs)` lets the twin see them before the caller asks `max_step()`.
        """
        if dt < 0.0:
            raise ValueError(f"dt must not be negative, got {dt}")
        inputs.check()
        if not inputs.powered:
            self._powered = False
            self._t = t
            return
        if not self._powered:
            self.power_on(t, inputs)
            return
        now = t - dt
        while True:
            h = min(t - now, self.max_step())
            now = t if t - now - h <= _EPS else now + h
            self._cycle(now, h, inputs)
            if now >= t:
                return

    def max_step(self) -> float:
        """Largest dt the caller may use next without losing the twin's timing accuracy."""
        if not self._powered or self._shutdown_rid is not None:
            return IDLE_MAX_STEP_S
        active = self._modes.mode in (Mode.CHARGE, Mode.DISCHARGE)
        limit = ACTIVE_MAX_STEP_S if active else IDLE_MAX_STEP_S
        for monitor in self.monitors:
            limit = min(limit, monitor.step_limit(self._settings))
        due = self._shutdown_due()
        if due is not None:
            limit = min(limit, due - self._t)
        return max(MIN_STEP_S, limit)

    # --- outputs ---------------------------------------------------------------------------
    @property
    def charge_path_closed(self) -> bool:
        """Charge MOSFET on."""
        return self._fet_on(Block.CHARGE)

    @property
    def discharge_path_closed(self) -> bool:
        """Discharge MOSFET on."""
        return self._fet_on(Block.DISCHARGE)

    @property
    def mode(self) -> Mode:
        """Working mode, SHUTDOWN while asleep or without supply."""
        if not self._powered or self._shutdown_rid is not None:
            return Mode.SHUTDOWN
        return self._modes.mode

    def active_ids(self) -> frozenset[str]:
        """Requirement IDs of the alarms and protections active now."""
        return frozenset(m.spec.rid for m in self.monitors if m.tripped)

    def telemetry(self) -> Telemetry:
        """The BMS's own view: last readings (with its error), states, active IDs, limits."""
        m = self._last
        rated = float(self._settings.capacity.rated_ah)
        charge_fet, discharge_fet = self.charge_path_closed, self.discharge_path_closed
        return Telemetry(
            cell_mv=[round(v) for v in m.cell_mv],
            temperatures_c=list(m.temperatures_c),
            pack_v=m.pack_v,
            current_a=m.current_a,
            soc_pct=round(self._soc.soc_pct, 1),
            soh_pct=100.0,
            remaining_ah=round(self._soc.soc_pct * rated / 100.0, 2),
            full_ah=rated,
            cycles=self._soc.cycles,
            mode=self.mode,
            charge_fet=charge_fet,
            discharge_fet=discharge_fet,
            active=self.active_ids(),
            balancing=[False] * len(m.cell_mv),
            charge_current_limit_a=CURRENT_LIMIT_A if charge_fet else 0.0,
            discharge_current_limit_a=CURRENT_LIMIT_A if discharge_fet else 0.0,
            time_s=self._t,
        )

    # --- inside ----------------------------------------------------------------------------
    def _cycle(self, t: float, dt: float, inputs: TerminalInputs) -> None:
        """The firmware over (t-dt, t]: asleep unless a charger wakes it, else one cycle."""
        if self._shutdown_rid is not None:
            if not self._charger_detected(inputs):
                self._t = t
                return
            self._wake(t, "charger")
            dt = 0.0  # the firmware slept until now: its timers did not run
        self._run(t, dt, inputs, self.frontend.measure(t, inputs, self._rng))

    def _run(self, t: float, dt: float, inputs: TerminalInputs, m: Measurement) -> None:
        """One firmware cycle on the sample `m`."""
        s = self._settings
        self._soc.count(m.current_a, dt, float(s.capacity.rated_ah), float(s.capacity.cycle_threshold_pct))
        mode = self._modes.update(m.current_a, m.charger_v, s)
        m = replace(m, soc_pct=self._soc.soc_pct, mode=mode)
        true_m = _IDEAL.measure(t, inputs, self._rng, rounded=False)
        if self._boot_check:
            self._boot_check = False
            for monitor in self.monitors:
                self._record(monitor.boot_check(t, m, s), m)
        for monitor in self.monitors:
            self._record(monitor.update(t, dt, m, s, true_m), m)
        self._t = t
        self._last = m
        due = self._shutdown_due()
        if due is not None and t >= due - _EPS:
            self._shutdown_rid = UVSD_RID
            self._record(Transition(due, "trigger", UVSD_RID, "under-voltage shutdown"), m)

    def _shutdown_due(self) -> float | None:
        """When PM-UVSD shuts the BMS down: `shutdown_after_s` after the under-voltage trip or
        the last wake, whichever is later; None while no such protection is active."""
        due: float | None = None
        for monitor in self.monitors:
            after = resolve(self._settings, monitor.spec.shutdown_after_s)
            if monitor.tripped and after is not None:
                at = max(monitor.tripped_at, self._last_wake) + after
                due = at if due is None else min(due, at)
        return due

    def _charger_detected(self, inputs: TerminalInputs) -> bool:
        """Wake comparator (hardware, not the ADC): a charger on P+ above the charge-mode minimum,
        or a charge current of at least the effective charging current."""
        s = self._settings
        return (
            inputs.charger_v > s.fixed.charge_mode_min_charger_v
            or inputs.current_a >= s.effective_charge_current.enter_ma / 1000.0
        )

    def _wake(self, t: float, reason: str) -> None:
        """Reboot out of shutdown; the next cycle re-checks the tripped protections."""
        rid, self._shutdown_rid = self._shutdown_rid, None
        self._last_wake = t
        self._boot_check = True
        self._modes = ModeTracker()
        for monitor in self.monitors:
            monitor.reset_timers()
        self._t = t
        self._record(Transition(t, "release", rid or UVSD_RID, f"wake: {reason}"), self._last)

    def _fet_on(self, path: Block) -> bool:
        if not self._powered or self._shutdown_rid is not None:
            return False
        return not any(m.tripped and path in m.spec.blocks for m in self.monitors)

    def _record(self, transition: Transition | None, m: Measurement) -> None:
        if transition is None:
            return
        self.history.append(
            HistoryEvent(transition.time, transition.kind, transition.rid, m, transition.detail)
        )
        if len(self.history) > HISTORY_CAPACITY:
            del self.history[: len(self.history) - HISTORY_CAPACITY]

    @staticmethod
    def _parameter(pid: int) -> Parameter:
        try:
            return PARAMETERS_BY_PID[pid]
        except KeyError:
            raise ValueError(f"unknown parameter 0x{pid:04x}") from None

    @staticmethod
    def _check(settings: Settings) -> None:
        problems = validate_settings(settings)
        if problems:
            raise ValueError("invalid settings: " + "; ".join(problems))
