"""The twin of the 12100-1203-1CA BMS firmware: pure, deterministic, driven by the electrical model.

The electrical model calls `power_on` when the cells are connected and then `step(t, dt, inputs)`
with dt <= `max_step()`; inputs are held over the step (t-dt, t]. After changing the inputs it calls
`step(t, 0.0, inputs)` so that `max_step()` reflects them (e.g. a short circuit starts the 300 µs
SCP timer and the next step is that short); with `until_change` it runs its own cycles through a
long step and stops after the first that changes `outputs()` (the model's held steps). The twin
measures the inputs through its seeded front end, counts charge, tracks the mode, runs the
alarm/protection monitors of `tables.ALL_MONITORS`, the locks (locks.py), balancing (balancing.py),
precharge, the automatic sleep and the under-voltage shutdown (power.py), and exposes what the model
uses: the MOSFET states, `precharge_active`, `bleed_currents()` and `supply_current_a()`.
No I/O, no threads, no wall-clock time: the same seed and the same calls give the same results.
The monitors are event-driven: while the inputs and settings hold, a monitor that nothing can move
(`Monitor.quiet`: nothing tripped or timed, no reading inside the front end's error extremes beyond
its trigger) is not run, and new inputs wake only the sleeping monitors they can move; the front end
still samples every cycle (`frontend.Sampler`: the same draws in the same order), so the results are
exactly those of running every monitor every cycle.

Shutdown (PM-UVSD, PM-SLEEP) is recorded in the history as a trigger of its ID, the wake-up as its
release with the wake source. Wake sources (PM-WAKE): the charger (wake comparator, power.py),
RS-485 traffic (`wake(t, "rs485")`, from the responder) and the button (`button(t)`); each can be
removed by a behaviour flag. CAN traffic does not wake the unit (the seed lists only those three).
The button pressed while the unit runs is the seed's reset button (§7.3): the firmware reboots,
re-checks the boot-time release alternatives (UVP) and precharges again; tripped protections and
locks stay. Switching the unit off with the button is not modelled.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from hil.duts.bms12100.config import PARAMETERS_BY_PID, Parameter, Settings, from_wire, to_wire
from hil.duts.bms12100.protocol.snapshot import Mode, Telemetry
from hil.duts.bms12100.rules import validate_settings
from hil.duts.bms12100.sim.twin import hardware
from hil.duts.bms12100.sim.twin.balancing import Balancer, Context, floating
from hil.duts.bms12100.sim.twin.frontend import (
    EMPTY_READINGS,
    Frontend,
    Readings,
    Sampler,
    TerminalInputs,
)
from hil.duts.bms12100.sim.twin.locks import LOCKS, Lock
from hil.duts.bms12100.sim.twin.modes import ModeTracker
from hil.duts.bms12100.sim.twin.monitor import MIN_STEP_S, Block, Monitor, Transition
from hil.duts.bms12100.sim.twin.power import (
    AWAKE_SUPPLY_A,
    CHARGER_WAKE_MARGIN_V,
    SECONDS_PER_HOUR,
    SLEEP_SUPPLY_A,
    IdleTimer,
    Precharge,
)
from hil.duts.bms12100.sim.twin.soc import CoulombCounter
from hil.duts.bms12100.sim.twin.tables import ALL_MONITORS, QUANTITY_INPUTS

HISTORY_CAPACITY = 1000  # ring buffer; the seed asks for at least 500 records (HIST)
ACTIVE_MAX_STEP_S = 1.0  # charging or discharging: quantities move, step at most 1 s
# Standby / shutdown: nothing moves unless the caller moves it (and then steps with dt = 0 first);
# every timer bounds the step itself, so this only keeps the caller's view reasonably fresh.
IDLE_MAX_STEP_S = 60.0
CURRENT_LIMIT_A = 100.0  # seed §5 continuous charge/discharge current; reported 0 while blocked
UVSD_RID = "PM-UVSD"
SLEEP_RID = "PM-SLEEP"
WAKE_FLAGS = {"charger": "wake_on_charger", "rs485": "wake_on_rs485", "button": "wake_on_button"}
_EPS = 1e-9
_OFF = (False, False)


#: the terminal inputs as the twin compares them: cells, NTCs, current, charger, powered
Held = tuple[tuple[float, ...], tuple[float | None, ...], float, float, bool]
#: what the sleeping monitors were decided for: the sampler, the settings, its inputs and front end
HeldDecision = tuple[Sampler, Settings, Held, Frontend]
#: one sample of the front end (`Sampler.sample`)
Sample = tuple[tuple[int, ...], float, float, tuple[float, ...], float]


_HELD_FIELDS = ("cell_v", "ntc_ohm", "current_a", "charger_v", "powered")  # `Held`'s order


def _held_key(inputs: TerminalInputs) -> Held:
    """What the twin keeps of `inputs` to see whether the next ones differ (a copy: lists may change)."""
    return (tuple(inputs.cell_v), tuple(inputs.ntc_ohm), inputs.current_a, inputs.charger_v, inputs.powered)


def _key_positions(fields: frozenset[str] | None) -> frozenset[int] | None:
    """The positions in `Held` of these `TerminalInputs` fields (None stays None: unknown)."""
    return None if fields is None else frozenset(_HELD_FIELDS.index(name) for name in fields)


@dataclass(frozen=True)
class Constants:
    """The numbers of one `Settings` object that every cycle uses, read once per object (settings
    are replaced on every write, never changed in place while the twin runs; see `Resolved`)."""

    settings: Settings
    rated_ah: float
    cycle_threshold_pct: float
    sleep_on: bool  # PM-SLEEP is switched on (or the unit ignores its switch, a behaviour flag)
    standby_s: float  # PM-SLEEP: the standby time before the automatic sleep

    @classmethod
    def of(cls, s: Settings) -> Constants:
        return cls(
            settings=s,
            rated_ah=float(s.capacity.rated_ah),
            cycle_threshold_pct=float(s.capacity.cycle_threshold_pct),
            sleep_on=s.power_management.sleep_enabled or not s.behaviour.sleep_enabled_flag_respected,
            standby_s=s.power_management.max_standby_h * SECONDS_PER_HOUR,
        )


@dataclass(frozen=True)
class HistoryEvent:
    """One history record (HIST): a trigger or release of a requirement ID, with the readings."""

    time: float
    kind: str  # "trigger" | "release"
    rid: str
    snapshot: Readings
    detail: str = ""  # e.g. which release alternative released it, or what woke the BMS


class Bms12100Twin:
    """Firmware twin of one 12100 BMS unit (see the module docstring for the calling contract)."""

    # The seed's supplier and model, cut to the 0x51 field widths (20 and 10 characters).
    manufacturer = "Shanghai energy"
    device_name = "12100-1203"
    firmware_version = "1.3.0-twin"  # ours; the seed's host protocol file is "1201-04S-V13"

    def __init__(self, settings: Settings, seed: int, serial: str = "12100A0000001") -> None:
        self._check(settings)
        self._settings = hardware.firmware_view(settings)
        self.seed = seed
        self.serial = serial
        self._rng = random.Random(seed)
        # Replaceable (e.g. by `Frontend.ideal()`) to test logic at exact thresholds.
        self.frontend = hardware.frontend(Frontend.from_rng(self._rng), settings.hardware)
        self.monitors = [Monitor(spec) for spec in ALL_MONITORS]
        self._by_rid = {monitor.spec.rid: monitor for monitor in self.monitors}
        # the monitors that may shut the BMS down while tripped (PM-UVSD): `_shutdown_due` reads these
        self._shutting = [monitor for monitor in self.monitors if monitor.spec.shutdown_after_s is not None]
        self.locks = [Lock(spec) for spec in LOCKS]
        self._counted = [(lock, self._by_rid[lock.spec.counts]) for lock in self.locks]  # (lock, protection)
        self.balancer = Balancer()
        self.history: list[HistoryEvent] = []
        self._modes = ModeTracker()
        self._soc = CoulombCounter()
        self._precharge = Precharge()
        self._idle = IdleTimer()
        self._powered = False
        self._shutdown_rid: str | None = None
        self._last_wake = -math.inf
        self._boot_check = False
        self._booting = False  # the next cycle is the first after a boot (precharge at start-up)
        self._dsg_was_on = False
        self._t = 0.0
        self._last = EMPTY_READINGS
        self._max_step_cache: tuple[Settings, float] | None = None
        self._seen: Held | None = None  # the inputs of the last cycle (`_held_key`)
        # the front end's sampler of the last inputs: (inputs, front end, sampler)
        self._sampler: tuple[Held, Frontend, Sampler] | None = None
        self._constants: Constants | None = None
        # whether tripped monitors and locks keep the (charge, discharge) MOSFETs on (None: recompute)
        self._fets: tuple[bool, bool] | None = None
        self._active: frozenset[str] | None = None  # `active_ids` (None: recompute)
        # The monitors a cycle runs while the inputs hold (None: all, and decide again); see `_run`.
        self._awake: list[Monitor] | None = None
        # what `_awake` was decided for: the sampler, the settings, its inputs and front end
        self._held: HeldDecision | None = None
        # per monitor, the positions in `_held_key` of the inputs its quantity reads (None: unknown)
        self._reads = [
            _key_positions(QUANTITY_INPUTS.get(monitor.spec.quantity)) for monitor in self.monitors
        ]
        self._extremes: tuple[Readings, Readings] | None = None  # of the held inputs, to decide again

    # --- settings --------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        """The unit's firmware settings (replacing them validates the new set)."""
        return self._settings

    @settings.setter
    def settings(self, settings: Settings) -> None:
        self._check(settings)
        self._settings = hardware.firmware_view(settings)
        self._stale()

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
        self._stale()

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
        self._booting = True
        self._dsg_was_on = False
        self._modes = ModeTracker()
        for monitor in self.monitors:
            monitor.reset()
        for lock in self.locks:
            lock.reset()
        self._fets = self._active = None
        self._awake = None
        self.balancer.reset()
        self._precharge.abort()
        self._idle.reset()
        sampler = self._sampler_of(inputs, _held_key(inputs))
        sample = sampler.sample(self._rng)
        self._soc.init_from_cells(sample[0])
        self._run(t, 0.0, inputs, sampler, sample)

    def wake(self, t: float, reason: str) -> None:
        """Wake from shutdown (PM-WAKE): "rs485", "button" or "charger" (each unless its behaviour
        flag removes it); any other reason, or a unit that is not shut down, has no effect."""
        flag = WAKE_FLAGS.get(reason)
        if flag is None or not getattr(self._settings.behaviour, flag):
            return
        if self._powered and self._shutdown_rid is not None:
            self._wake(t, reason)

    def button(self, t: float) -> None:
        """The BMS's button: wakes it from shutdown (PM-WAKE); pressed while it runs, the firmware
        reboots and re-checks (the reset button of seed §7.3)."""
        if not self._powered:
            return
        if self._shutdown_rid is not None:
            self.wake(t, "button")
            return
        self._reboot(t)

    def step(self, t: float, dt: float, inputs: TerminalInputs, *, until_change: bool = False) -> float:
        """Run the firmware from t-dt to t with `inputs` held over that interval; returns the time
        reached (t, unless `until_change` stopped it earlier).

        A step longer than `max_step()` is split internally, so timing inside the twin stays exact
        for any dt; the caller only sees the FETs change at the end of its step. With `until_change`
        the twin stops after the first cycle that changes what the electrical model reads
        (`outputs`): a caller that would have stepped cycle by cycle, holding the same inputs while
        the outputs hold, gets the same cycles in one call. After changing the inputs,
        `step(t, 0.0, inputs)` lets the twin see them before the caller asks `max_step()` (with
        unchanged inputs and nothing else changed such a call does nothing).
        """
        if dt < 0.0:
            raise ValueError(f"dt must not be negative, got {dt}")
        inputs.check()
        if not inputs.powered:
            self._powered = False
            self._t = t
            return t
        if not self._powered:
            self.power_on(t, inputs)
            return t
        now = max(t - dt, self._t)  # never re-run time the firmware has already run (e.g. a boot at t)
        key = _held_key(inputs)
        if t - now <= _EPS:
            # A zero-length step shows the firmware changed inputs; unchanged ones show it nothing.
            if key != self._seen or self._boot_check or t > self._t + _EPS:
                self._cycle(t, 0.0, inputs, key)
            return t
        before = self.outputs() if until_change else None
        while True:
            h = min(t - now, self.max_step())
            now = t if t - now - h <= _EPS else now + h
            self._cycle(now, h, inputs, key)
            if now >= t:
                return t
            if before is not None:
                after = self.outputs()
                if after != before:
                    return now

    def max_step(self) -> float:
        """Largest dt the caller may use next without losing the twin's timing accuracy."""
        if not self._powered or self._shutdown_rid is not None:
            return IDLE_MAX_STEP_S
        if self._max_step_cache is not None and self._max_step_cache[0] is self._settings:
            return self._max_step_cache[1]
        s = self._settings
        active = self._modes.mode in (Mode.CHARGE, Mode.DISCHARGE)
        awake = self.monitors if self._awake is None else self._awake  # a quiet monitor sets no limit
        limits = [monitor.step_limit(s) for monitor in awake]
        limits += [lock.step_limit() for lock in self.locks]
        limits.append(ACTIVE_MAX_STEP_S if active else IDLE_MAX_STEP_S)
        if self.balancer.session is Context.STANDBY:  # (no limit outside a standby session)
            limits.append(self.balancer.step_limit(s))
        limits.append(self._precharge.step_limit(self._t))
        c = self._constants_of(s)
        if c.sleep_on and self._idle.idle:  # (no limit while not idle)
            limits.append(self._idle.step_limit(c.standby_s))
        due = self._shutdown_due()
        if due is not None:
            limits.append(due - self._t)
        limit = max(MIN_STEP_S, min(limits))
        self._max_step_cache = (s, limit)  # valid until the next cycle (or other settings)
        return limit

    # --- outputs ---------------------------------------------------------------------------
    def outputs(self) -> tuple[object, ...]:
        """Everything the electrical model reads from the twin: the paths, precharge, the mode, the
        supply and bleed currents (equal tuples: the model would solve and report the same)."""
        charge, discharge = self._paths()
        awake = self._powered and self._shutdown_rid is None
        return (
            charge,
            discharge,
            discharge and self._precharge.active(self._t),  # `precharge_active`
            self._modes.mode if awake else Mode.SHUTDOWN,  # `mode`
            self.supply_current_a(),
            tuple(self.bleed_currents()),
        )

    @property
    def charge_path_closed(self) -> bool:
        """Charge MOSFET on (or stuck on: a SIM-ONLY hardware fault)."""
        return self._paths()[0]

    @property
    def discharge_path_closed(self) -> bool:
        """The discharge path conducts: the discharge MOSFET on, or precharging (`precharge_active`)."""
        return self._paths()[1]

    @property
    def precharge_active(self) -> bool:
        """Precharge runs (PRE): the discharge path conducts only through the precharge resistor
        (`power.PRECHARGE_OHM`), the main discharge MOSFET is still open."""
        return self.discharge_path_closed and self._precharge.active(self._t)

    def bleed_currents(self) -> list[float]:
        """Balancing bleed current drawn from each cell (A), 0 where the cell is not bled."""
        bleeding = self.balancer.bleeding
        if not self._powered or self._shutdown_rid is not None or True not in bleeding:
            return [0.0] * len(bleeding)  # (an open bleed resistor changes no zero)
        return hardware.bleed(self.balancer.bleed_currents(), self._settings.hardware)

    def supply_current_a(self) -> float:
        """The BMS's own supply current from the cells (A), bleed currents excluded (PM-SLEEP-I)."""
        if not self._powered:
            return 0.0
        if self._shutdown_rid is None:
            return AWAKE_SUPPLY_A
        sleep_ua = self._settings.hardware.sleep_current_ua
        return SLEEP_SUPPLY_A if sleep_ua is None else sleep_ua * 1e-6

    @property
    def mode(self) -> Mode:
        """Working mode, SHUTDOWN while asleep or without supply."""
        if not self._powered or self._shutdown_rid is not None:
            return Mode.SHUTDOWN
        return self._modes.mode

    def active_ids(self) -> frozenset[str]:
        """Requirement IDs of the alarms and protections active now."""
        active = self._active
        if active is None:  # (every trip and release passes `_record`, which forgets it)
            locks = (lock.spec.rid for lock in self.locks if lock.tripped)
            active = self._active = frozenset(m.spec.rid for m in self.monitors if m.tripped).union(locks)
        return active

    def telemetry(self) -> Telemetry:
        """The BMS's own view: last readings (with its error), states, active IDs, limits."""
        m = self._last
        rated = self._constants_of(self._settings).rated_ah
        charge_fet, discharge_fet = self._paths()
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
            balancing=[current > 0.0 for current in self.bleed_currents()],
            charge_current_limit_a=CURRENT_LIMIT_A if charge_fet else 0.0,
            discharge_current_limit_a=CURRENT_LIMIT_A if discharge_fet else 0.0,
            time_s=self._t,
        )

    # --- inside ----------------------------------------------------------------------------
    def _cycle(self, t: float, dt: float, inputs: TerminalInputs, key: Held) -> None:
        """The firmware over (t-dt, t]: asleep unless a charger wakes it, else one cycle."""
        self._max_step_cache = None
        self._seen = key
        if self._shutdown_rid is not None:
            if not (self._settings.behaviour.wake_on_charger and self._charger_detected(inputs)):
                self._t = t
                return
            self._wake(t, "charger")
            dt = 0.0  # the firmware slept until now: its timers did not run
        sampler = self._sampler_of(inputs, key)
        self._run(t, dt, inputs, sampler, sampler.sample(self._rng))

    def _sampler_of(self, inputs: TerminalInputs, key: Held) -> Sampler:
        """The front end's sampler of `inputs` (made again when they or the front end change)."""
        cached = self._sampler
        if cached is None or cached[1] is not self.frontend or cached[0] != key:
            cached = self._sampler = (key, self.frontend, Sampler(self.frontend, inputs))
        return cached[2]

    def _constants_of(self, s: Settings) -> Constants:
        """The settings' numbers a cycle uses (for the settings object now in force)."""
        c = self._constants
        if c is None or c.settings is not s:
            c = self._constants = Constants.of(s)
        return c

    def _run(self, t: float, dt: float, inputs: TerminalInputs, sampler: Sampler, sample: Sample) -> None:
        """One firmware cycle on the front end's `sample` of `inputs`."""
        self._max_step_cache = None
        s = self._settings
        c = self._constants_of(s)
        cell_mv, pack_v, current_a, temperatures_c, charger_v = sample
        soc = self._soc
        soc.count(current_a, dt, c.rated_ah, c.cycle_threshold_pct)
        mode = self._modes.update(current_a, charger_v, s)
        m = Readings.of(t, cell_mv, pack_v, current_a, temperatures_c, charger_v, soc.soc_pct, mode)
        if self._boot_check:
            self._boot_check = False
            for monitor in self.monitors:
                self._record(monitor.boot_check(t, m, s), m)
        held = self._held
        if held is None or held[1] is not s:
            self._awake = None
        awake = self._awake
        moved = awake is not None and held is not None and held[0] is not sampler
        true_m = sampler.true_values(t, m.soc_pct, mode) if moved or awake is None or awake else None
        if moved:
            assert true_m is not None and held is not None
            awake = self._wake_moved(inputs, s, true_m, held)
        if true_m is not None and (awake is None or awake):
            for monitor in self.monitors if awake is None else awake:
                self._record(monitor.update(t, dt, m, s, true_m), m)
            if awake is None:
                self._sleep_quiet(inputs, s, true_m)
            elif self._extremes is not None and (moved or dt > 0.0):
                # after new inputs, and once more a cycle later (a quantity that moved has settled)
                self._awake = self._settle(awake, s, true_m)
                if not moved:
                    self._extremes = None
        assert self._sampler is not None and self._sampler[2] is sampler
        self._held = (sampler, s, self._sampler[0], self._sampler[1])
        for lock, protection in self._counted:
            self._record(lock.update(t, dt, m, s, protection), m)
        self._t = t
        self._last = m
        self.balancer.update(dt, m, s)
        self._update_precharge(t)
        idle = self._idle
        idle.update(dt, mode is Mode.STANDBY and not floating(m, s))
        limit_s = c.standby_s
        if c.sleep_on and idle.idle and idle.idle_s >= limit_s - _EPS:
            at = t - (idle.idle_s - limit_s)
            self._shutdown(at, SLEEP_RID, f"no charger and no effective current for {limit_s:g} s", m)
            return
        due = self._shutdown_due()
        if due is not None and t >= due - _EPS:
            self._shutdown(due, UVSD_RID, "under-voltage shutdown", m)

    def _sleep_quiet(self, inputs: TerminalInputs, s: Settings, true_m: Readings) -> None:
        """Event-driven monitors: after a cycle of every monitor, keep running only those that could
        change (`Monitor.quiet`) until the inputs, the settings or the front end change (those still
        running are asked once more a cycle later, `_run`). The others'
        updates would change nothing, whatever noise the front end draws: the twin's results, its
        timing and its random sequence stay exactly those of running every monitor every cycle."""
        self._extremes = self.frontend.extremes(inputs)
        self._awake = self._settle(self.monitors, s, true_m)

    def _settle(self, monitors: list[Monitor], s: Settings, true_m: Readings) -> list[Monitor]:
        """Of `monitors`, those that must keep running under the held inputs (`_extremes`); the
        others sleep (`Monitor.asleep`)."""
        assert self._extremes is not None
        low, high = self._extremes
        awake = []
        for monitor in monitors:
            monitor.asleep = monitor.quiet(low, high, true_m, s)
            if not monitor.asleep:
                awake.append(monitor)
        return awake

    def _wake_moved(
        self,
        inputs: TerminalInputs,
        s: Settings,
        true_m: Readings,
        held: tuple[Sampler, Settings, Held, Frontend],
    ) -> list[Monitor]:
        """New inputs while monitors sleep: a sleeping monitor sleeps on if it is quiet under them too
        (its true value is unchanged and no reading of theirs is beyond its trigger, so its update
        would change nothing), which holds without asking if the inputs it reads did not move (the
        same front end: the sampler is made again when it changes); the others run again from this
        cycle (decided again after it)."""
        self._extremes = low, high = self.frontend.extremes(inputs)
        assert self._sampler is not None
        now, front = self._sampler[0], self._sampler[1]
        front_held = front is held[3]
        moved = {i for i, (old, new) in enumerate(zip(held[2], now, strict=True)) if old != new}
        awake = []
        for monitor, reads in zip(self.monitors, self._reads, strict=True):
            if monitor.asleep:
                if front_held and reads is not None and moved.isdisjoint(reads):
                    continue  # what it reads held: quiet as it was
                if monitor.quiet(low, high, true_m, s):
                    continue
            awake.append(monitor)
        self._awake = awake
        return awake

    def _stale(self) -> None:
        """Something besides the inputs changed: the next zero-length step must run a cycle."""
        self._max_step_cache = None
        self._seen = None
        self._awake = None

    def _update_precharge(self, t: float) -> None:
        """PRE: start the precharge when the discharge path turns on (at boot, or by the flag)."""
        on = self._fets_on()[1]
        if not on:
            self._precharge.abort()
        elif not self._dsg_was_on and (
            self._booting or self._settings.behaviour.precharge_on_discharge_switch_on
        ):
            self._precharge.start(t, self._settings.precharge.time_ms / 1000.0)
        self._dsg_was_on = on
        self._booting = False

    def _shutdown(self, time: float, rid: str, detail: str, m: Readings) -> None:
        """Shut down (both MOSFETs open, no balancing) for the reason `rid`."""
        self._shutdown_rid = rid
        self.balancer.reset()
        self._precharge.abort()
        self._dsg_was_on = False
        self._record(Transition(time, "trigger", rid, detail), m)

    def _shutdown_due(self) -> float | None:
        """When PM-UVSD shuts the BMS down: `shutdown_after_s` after the under-voltage trip or
        the last wake, whichever is later; None while no such protection is active."""
        due: float | None = None
        for monitor in self._shutting:
            if not monitor.tripped:
                continue
            after = monitor.resolved(self._settings).shutdown_after_s
            if after is not None:
                at = max(monitor.tripped_at, self._last_wake) + after
                due = at if due is None else min(due, at)
        return due

    def _charger_detected(self, inputs: TerminalInputs) -> bool:
        """Wake comparator (hardware, not the ADC): a charger on P+ above the charge-mode minimum,
        or a charge current of at least the effective charging current."""
        s = self._settings
        threshold = max(s.fixed.charge_mode_min_charger_v, math.fsum(inputs.cell_v) + CHARGER_WAKE_MARGIN_V)
        return (
            inputs.charger_v > threshold or inputs.current_a >= s.effective_charge_current.enter_ma / 1000.0
        )

    def _wake(self, t: float, reason: str) -> None:
        """Reboot out of shutdown; the next cycle re-checks the tripped protections."""
        rid, self._shutdown_rid = self._shutdown_rid, None
        self._last_wake = t
        self._reboot(t)
        self._record(Transition(t, "release", rid or UVSD_RID, f"wake: {reason}"), self._last)

    def _reboot(self, t: float) -> None:
        """The firmware starts again: timers and the mode restart, the next cycle re-checks."""
        self._max_step_cache = None
        self._boot_check = True
        self._booting = True
        self._dsg_was_on = False
        self._modes = ModeTracker()
        self._awake = None
        for monitor in self.monitors:
            monitor.reset_timers()
        self.balancer.reset()
        self._idle.reset()
        self._t = t

    def _paths(self) -> tuple[bool, bool]:
        """(`charge_path_closed`, `discharge_path_closed`): the MOSFETs the firmware drives on, or
        stuck on (a SIM-ONLY hardware fault of a powered unit)."""
        charge, discharge = self._fets_on()
        if self._powered:
            hardware_faults = self._settings.hardware
            charge = charge or hardware_faults.charge_fet_stuck_on
            discharge = discharge or hardware_faults.discharge_fet_stuck_on
        return charge, discharge

    def _fets_on(self) -> tuple[bool, bool]:
        """Whether the firmware drives the (charge, discharge) MOSFETs on: awake and not blocked."""
        if not self._powered or self._shutdown_rid is not None:
            return _OFF
        fets = self._fets
        if fets is None:
            blocked = Block.NONE
            for monitor in self.monitors:
                if monitor.tripped:
                    blocked |= monitor.spec.blocks
            for lock in self.locks:
                if lock.tripped:
                    blocked |= lock.spec.blocks
            fets = self._fets = (Block.CHARGE not in blocked, Block.DISCHARGE not in blocked)
        return fets

    def _record(self, transition: Transition | None, m: Readings) -> None:
        if transition is None:
            return
        self._fets = self._active = None  # every trip and release passes here
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
