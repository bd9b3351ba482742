"""The twin of the Movicom BMS Main 2.1 / 2R firmware: plain Python, stepped by a clock value, no I/O.

Calling contract (as the other families' twins). The plant holds the true inputs in `twin.inputs`
(a `PlantInputs`) and edits them between steps; time moves only through `step(t)` (absolute) or
`advance(dt)`, with the inputs held over the step. The twin steps from deadline to deadline (a
protection's set or clear delay, Ton, Toff, the Logic link coming up), so its timing is exact for any
step. Outputs: `relays`, `output_levels_v()`, `leds()`, `errors()`, `values()` (by the register map's
names, for the Modbus server and the CANopen node), `supply_current_a()`.

The firmware as the twin reads it (references/movicom-bms-main-2/README.md §4; OUR READING where
the documentation is silent, and config.Fixed holds every assumed constant):
- Supply below the variant's minimum: not running (relays open, LEDs dark, no communication).
  Power-up resets errors, SOC start point and timers; the Logic link initialises for
  `fixed.logic_init_s` (DS3 at 2 Hz), then is established (DS3 at 25 Hz). Relays stay open until
  the link is up (no cell data yet).
- A configured Logic board that stops answering raises "Logic offline" after its set delay; DS4
  blinks red while that error is active, and DS3 falls back to 2 Hz while a board is missing.
  Cell values come from the boards that answer.
- Protections (config.Protections): trip at `set`, release at `tolerant`, with the delays and lock.
  Over-voltage and the charge temperature limits inhibit charging; under-voltage and the discharge
  temperature limits inhibit discharging; over-current, Logic offline and a critical error both.
- Critical errors (battery cover error, ADC error: Vref outside its plausible range) open all relays.
- Inputs: each input's function, inverted when its flag says so; software control (Modbus 0x5100 +
  code - 1) forces a signal: 0 reset, 1 set, >= 2 the physical inputs.
- Charge control (S8 3.5.1): with "charger connected" both charge relays close after Ton; when it
  goes (or on a power-down request), allow-charging opens at once and the charging relay after Toff.
  A cell above EV opens allow-charging until the charger signal goes (OUR READING of the latch).
- Heater: on below `on_below_c`, off above `off_above_c` on the minimum cell temperature.
- Current: (Vcs - Vref) / (volts_at_rated / rated_a), positive = charging. On the 2R the final
  current is sensor 1 (low range) while it is within 90 % of its range, else sensor 2 (OUR READING).
"""

from __future__ import annotations

import random

from hil.duts.movicom_main_2.config import ERROR_NAMES, PROTECTION_DIRECTIONS, InputFunction, MovicomConfig
from hil.duts.movicom_main_2.sim.twin.charging import ChargeTimers
from hil.duts.movicom_main_2.sim.twin.inputs import PlantInputs
from hil.duts.movicom_main_2.sim.twin.leds import LedState
from hil.duts.movicom_main_2.sim.twin.measurement import Frontend, Readings
from hil.duts.movicom_main_2.sim.twin.protection import ErrorTimer, threshold_conditions

FIRMWARE_VERSION = (0, 0, 2, 0)  # patch, minor, major, 0 (the twin's; a unit reports its own)
HARDWARE_VERSION = (1, 2)  # minor, major
SOFTWARE_CONTROL_PHYSICAL = 2
_EPS = 1e-9
CHARGE_INHIBITS = frozenset(
    {"overvoltage", "charge_overcurrent", "discharge_overcurrent", "low_charge_temperature",
     "high_charge_temperature", "logic_offline"}
)  # fmt: skip
DISCHARGE_INHIBITS = frozenset(
    {"undervoltage", "charge_overcurrent", "discharge_overcurrent", "low_discharge_temperature",
     "high_discharge_temperature", "logic_offline"}
)  # fmt: skip
CRITICAL = frozenset({"battery_cover", "adc"})
DI1_SIGNALS = tuple(InputFunction(code) for code in range(1, 9))  # bits 0-7 of 0x2000 / TPDO1 byte 0
DI2_SIGNALS = (
    InputFunction.CIRCUIT_BREAKER_STATUS,
    InputFunction.BALANCING_REQUEST,
    InputFunction.CLOSE_MAIN_CONTACTOR,
)


class MovicomTwin:
    """Firmware twin of one Main 2.1 / 2R with its BMS Logic boards (see the module docstring)."""

    def __init__(
        self,
        config: MovicomConfig,
        seed: int = 0,
        *,
        t0: float = 0.0,
        ideal: bool = False,
        inputs: PlantInputs | None = None,
    ) -> None:
        self.config = config
        self.seed = seed
        self.inputs = inputs if inputs is not None else PlantInputs.nominal(config)
        self.inputs.check(config)
        # per-channel measurement errors inside the accuracy figures (seeded; none when ideal)
        self.frontend = Frontend.ideal(config) if ideal else Frontend.seeded(config, random.Random(seed))
        self._t = t0
        self.software_control: dict[int, int] = {
            int(f): SOFTWARE_CONTROL_PHYSICAL for f in InputFunction if f
        }
        self.logic_selected = 1
        self._running = False
        self._power_on_t = t0
        self._timers: dict[str, ErrorTimer] = {name: ErrorTimer() for name in ERROR_NAMES}
        self._adc_error = False
        self._charge = ChargeTimers()
        self._heater_on = False
        self._soc = config.battery.initial_soc_percent
        self._load_ah = 0.0
        self.relays: tuple[bool, bool, bool, bool] = (False, False, False, False)
        self._readings = self._measure()
        self._evaluate()

    # --- time ---------------------------------------------------------------------------------
    @property
    def t(self) -> float:
        """The twin's virtual time (s)."""
        return self._t

    @property
    def running(self) -> bool:
        """Whether the firmware runs (supply within range): it answers on Modbus and CAN only then."""
        return self._running

    def advance(self, dt: float) -> None:
        """Move time on by `dt` seconds."""
        self.step(self._t + dt)

    def step(self, t: float) -> None:
        """Move time to `t`, acting at every deadline on the way; the inputs are held."""
        if t < self._t - _EPS:
            raise ValueError(f"time goes forward: at {self._t}, asked for {t}")
        self._evaluate()
        while True:
            deadline = self._next_deadline()
            if deadline is None or deadline > t:
                break
            self._integrate(deadline - self._t)
            self._t = deadline
            self._evaluate()
        self._integrate(t - self._t)
        self._t = max(t, self._t)
        self._evaluate()

    def inputs_changed(self) -> None:
        """The plant changed `inputs`: the firmware sees them at the current time."""
        self.inputs.check(self.config)
        self._evaluate()

    # --- commands (Modbus holding registers, CANopen 0x5100) ------------------------------------
    def set_software_control(self, function: InputFunction, value: int) -> None:
        """Force a signal (0 reset, 1 set) or hand it back to the physical inputs (>= 2)."""
        if function is InputFunction.NONE:
            raise ValueError("no software control for 'none'")
        self.software_control[int(function)] = value
        self._evaluate()

    def select_logic(self, address: int) -> None:
        """Holding 0x4000: which Logic board's cells appear at 0x2011-0x20C9."""
        self.logic_selected = address

    def acknowledge(self, errors: frozenset[str]) -> None:
        """Unlock the named locked errors (Modbus 0x4001); each clears once its condition is gone."""
        for section, name in ERROR_NAMES.items():
            if name in errors:
                self._timers[section].acknowledge()
        self._evaluate()

    # --- the firmware ---------------------------------------------------------------------------
    def _measure(self) -> Readings:
        return self.frontend.measure(self.config, self.inputs)

    def _signals(self) -> dict[InputFunction, bool]:
        cfg = self.config
        physical = {f: False for f in InputFunction if f}
        for assignment, closed in zip(cfg.inputs, self.inputs.contacts, strict=True):
            if assignment.function is InputFunction.NONE:
                continue
            active = closed != (assignment.inverted and cfg.behaviour.honour_inversion)
            physical[assignment.function] = physical[assignment.function] or active
        if cfg.behaviour.software_control:
            for function in physical:
                forced = self.software_control.get(int(function), SOFTWARE_CONTROL_PHYSICAL)
                if forced < SOFTWARE_CONTROL_PHYSICAL:
                    physical[function] = forced == 1
        return physical

    def _link_up(self) -> bool:
        return self._running and self._t >= self._power_on_t + self.config.fixed.logic_init_s - _EPS

    def _quantities(self, r: Readings) -> dict[str, float | None]:
        cells, temps = r.cells(), r.temperatures()
        return {
            "overvoltage": max(cells) if cells else None,
            "undervoltage": min(cells) if cells else None,
            "charge_overcurrent": r.current_a,
            "discharge_overcurrent": -r.current_a,
            "low_charge_temperature": min(temps) if temps else None,
            "low_discharge_temperature": min(temps) if temps else None,
            "high_charge_temperature": max(temps) if temps else None,
            "high_discharge_temperature": max(temps) if temps else None,
            "high_humidity": r.humidity_percent,
        }

    def _power(self) -> None:
        supply = self.config.hardware_variant.supply
        running = self.inputs.supply_v >= supply.min_v + self.config.hardware.supply_min_offset_v
        if running and not self._running:  # power-up: a fresh start
            self._power_on_t = self._t
            for timer in self._timers.values():
                timer.reset()
            self._charge = ChargeTimers()
            self._heater_on = False
            self._soc = self.config.battery.initial_soc_percent
        self._running = running

    def _evaluate(self) -> None:
        self._power()
        cfg, t = self.config, self._t
        r = self._readings = self._measure()
        if not self._running:
            self.relays = (False, False, False, False)
            return
        link_up = self._link_up()
        delays = 1.0 if cfg.behaviour.delays else 0.0  # the mutant without delays scales them to 0
        hysteresis = cfg.behaviour.hysteresis
        values = self._quantities(r) if link_up else dict.fromkeys(PROTECTION_DIRECTIONS)
        if not link_up:  # current and humidity need no Logic data
            values["charge_overcurrent"], values["discharge_overcurrent"] = r.current_a, -r.current_a
            values["high_humidity"] = r.humidity_percent
        for section, direction in PROTECTION_DIRECTIONS.items():
            p = getattr(cfg.protections, section)
            trip, release = threshold_conditions(values[section], direction, p.set, p.tolerant, hysteresis)
            self._timers[section].update(
                t,
                trip and p.enabled,
                release or not p.enabled,
                p.set_delay_s * delays,
                p.clear_delay_s * delays,
                p.lock,
            )
        signals = self._signals()
        cover = cfg.protections.battery_cover
        self._timers["battery_cover"].update(
            t, cover.enabled and signals[InputFunction.BATTERY_COVER],
            not (cover.enabled and signals[InputFunction.BATTERY_COVER]),
            cover.set_delay_s * delays, cover.clear_delay_s * delays, cover.lock,
        )  # fmt: skip
        offline = link_up and any(not b.online for b in self.inputs.boards)
        lo = cfg.protections.logic_offline
        check = lo.enabled and cfg.behaviour.logic_offline_check
        self._timers["logic_offline"].update(
            t,
            check and offline,
            not (check and offline),
            lo.set_delay_s * delays,
            lo.clear_delay_s * delays,
            lo.lock,
        )
        self._adc_error = r.adc_fault
        active = {s for s, timer in self._timers.items() if timer.active}
        critical = bool(active & {"battery_cover"}) or self._adc_error
        critical_opens = critical and cfg.behaviour.critical_opens_all
        power_down = signals[InputFunction.POWER_DOWN_REQUEST]
        charge_ok = link_up and not (active & CHARGE_INHIBITS) and not critical_opens
        charge_ok = charge_ok and not signals[InputFunction.INHIBIT_CHARGING]
        discharge_ok = link_up and not (active & DISCHARGE_INHIBITS) and not critical_opens
        discharge_ok = discharge_ok and not signals[InputFunction.INHIBIT_DISCHARGING] and not power_down
        # charge control: Ton after the charger signal, Toff after it goes (or a power-down request)
        cc = cfg.charge_control
        charger = (cc.mode == "always" or signals[InputFunction.CHARGER_CONNECTED]) and not power_down
        cells = r.cells()
        allow, charging = self._charge.update(
            t,
            cc,
            charger,
            charge_ok,
            max(cells) if cells else None,
            cfg.behaviour.ev_opens_allow_charging,
            delays,
        )
        # heater on the minimum cell temperature, with hysteresis
        temps = r.temperatures()
        heater = cfg.heater
        if not (heater.enabled and cfg.behaviour.heater_control and link_up and temps) or critical_opens:
            self._heater_on = False
        elif min(temps) < heater.on_below_c:
            self._heater_on = True
        elif min(temps) > (heater.off_above_c if cfg.behaviour.heater_hysteresis else heater.on_below_c):
            self._heater_on = False
        by_function = {
            "none": False,
            "discharge": discharge_ok,
            "allow_charging": allow,
            "charge": charging,
            "heater": self._heater_on,
        }
        r1, r2, r3, r4 = (by_function[a.function] for a in cfg.relays)
        self.relays = (r1, r2, r3, r4)

    def _next_deadline(self) -> float | None:
        if not self._running:
            return None
        cfg, t = self.config, self._t
        delays = 1.0 if cfg.behaviour.delays else 0.0  # the mutant without delays scales them to 0
        candidates: list[float] = []
        link_at = self._power_on_t + cfg.fixed.logic_init_s
        if link_at > t + _EPS:
            candidates.append(link_at)
        for section, timer in self._timers.items():
            p = getattr(cfg.protections, section)
            d = timer.deadline(p.set_delay_s * delays, p.clear_delay_s * delays)
            if d is not None:
                candidates.append(d)
        candidates += self._charge.deadlines(cfg.charge_control, delays)
        later = [c for c in candidates if c > t + _EPS]
        return min(later) if later else None

    def _integrate(self, dt: float) -> None:
        if dt <= 0 or not self._running:
            return
        current = self._readings.current_a
        capacity = self.config.battery.nominal_capacity_ah
        self._soc = min(100.0, max(0.0, self._soc + current * dt / 3600.0 / capacity * 100.0))
        if current < 0:
            self._load_ah += -current * dt / 3600.0

    # --- outputs ---------------------------------------------------------------------------------
    @property
    def readings(self) -> Readings:
        """What the firmware measured at the current time."""
        return self._readings

    @property
    def soc_percent(self) -> float:
        """State of charge by coulomb counting from the configured start point."""
        return self._soc

    @property
    def load_charge_ah(self) -> float:
        """Charge taken by the load since power-up."""
        return self._load_ah

    @property
    def power_on_t(self) -> float:
        """When the firmware last started."""
        return self._power_on_t

    @property
    def heater_on(self) -> bool:
        """The heater function's state (whichever relay carries it)."""
        return self._heater_on

    @property
    def ev_latched(self) -> bool:
        """A cell went above EV during this charge (allow-charging held open)."""
        return self._charge.ev_latched

    def errors(self) -> frozenset[str]:
        """Active errors by their register-map bit names."""
        if not self._running:
            return frozenset()
        names = {ERROR_NAMES[s] for s, timer in self._timers.items() if timer.active}
        if self._adc_error:
            names.add("adc_error")
        return frozenset(names)

    @property
    def critical(self) -> bool:
        """Whether a critical error is active (battery cover error, ADC error)."""
        return bool({"battery_cover_error", "adc_error"} & self.errors())

    def signals(self) -> frozenset[InputFunction]:
        """The input signals now active (after inversion and software control)."""
        return frozenset(f for f, on in self._signals().items() if on) if self._running else frozenset()

    def outputs(self) -> tuple[bool, bool, bool, bool]:
        """Each discrete output driven high (by its configured function)."""
        if not self._running:
            return (False, False, False, False)
        errors = self.errors()
        state = {
            "none": False,
            "discharge_allowed": self._relay_by("discharge"),
            "charge_allowed": self._relay_by("allow_charging"),
            "heater": self._heater_on,
            "error": bool(errors),
            "critical_error": self.critical,
            "logic_offline": "logic_offline" in errors,
        }
        o1, o2, o3, o4 = (state[o.function] for o in self.config.outputs)
        return (o1, o2, o3, o4)

    def _relay_by(self, function: str) -> bool:
        return any(
            closed
            for closed, a in zip(self.relays, self.config.relays, strict=True)
            if a.function == function
        )

    def output_levels_v(self) -> tuple[float, ...]:
        """Voltage at each output terminal under its load (+5 V through the source resistance)."""
        f, hw = self.config.fixed, self.config.hardware
        ohms = [f.output_resistance_ohm] * len(self.inputs.output_load_a)
        if hw.weak_output:
            ohms[hw.weak_output - 1] += hw.weak_output_extra_ohm
        return tuple(
            max(0.0, f.output_high_v - ohm * load) if high else 0.0
            for high, load, ohm in zip(self.outputs(), self.inputs.output_load_a, ohms, strict=True)
        )

    def contact_resistance_ohm(self, relay: int) -> float | None:
        """Resistance of relay `relay` (1-4) across V+ and NO: None when open (a contact that
        never opens, a SIM-ONLY hardware fault, stays closed even unpowered; the firmware does not know)."""
        if not self.relays[relay - 1] and self.config.hardware.relay_stuck_closed != relay:
            return None
        return self.config.fixed.contact_resistance_ohm + self.config.hardware.contact_resistance_extra_ohm

    def termination_ohm(self, fitted: bool) -> float | None:
        """Resistance across a bus pair behind a termination jumper (fitted: pins 1-2); None = open.
        Passive hardware: the same powered or not."""
        hw = self.config.hardware
        present = (fitted and not hw.termination_missing) or (not fitted and hw.termination_always)
        return self.config.fixed.termination_ohm if present else None

    def supply_current_a(self) -> float:
        """Current drawn from the supply (a switching regulator: constant power; coils per closed relay)."""
        if not self._running:
            return 0.0
        f = self.config.fixed
        nominal = self.config.hardware_variant.supply.nominal_v
        ma = f.supply_current_ma * nominal / self.inputs.supply_v + f.relay_coil_ma * sum(self.relays)
        ma += self.config.hardware.supply_current_extra_ma
        return ma / 1000.0

    def link_state(self) -> str:
        """`off`, `initialising` or `established` (all configured boards answering)."""
        if not self._running:
            return "off"
        if not self._link_up() or any(not b.online for b in self.inputs.boards):
            return "initialising"
        return "established"

    def leds(self) -> dict[str, LedState]:
        """Every LED of the variant by its name (DS1 ... / DS1.1 ...)."""
        hw, f, on = self.config.hardware_variant, self.config.fixed, self._running
        t0 = self._power_on_t
        link_hz = f.link_up_blink_hz if self.link_state() == "established" else f.link_init_blink_hz
        logic_error = on and "logic_offline" in self.errors()
        leds = {
            hw.leds.run: LedState(hw.leds.run, "green", on, f.run_blink_hz, t0),
            hw.leds.link: LedState(hw.leds.link, "yellow", on, link_hz, t0),
            hw.leds.error: LedState(hw.leds.error, "red", logic_error, f.error_blink_hz, t0),
        }
        if hw.leds.power is not None:
            leds[hw.leds.power] = LedState(hw.leds.power, "red", on)
        for relay, closed in zip(hw.relays, self.relays, strict=True):
            leds[relay.led] = LedState(relay.led, "green", on and closed)
        dead = self.config.hardware.dead_led
        if dead in leds:  # SIM-ONLY hardware fault: an LED that never lights
            leds[dead] = LedState(dead, leds[dead].colour, False)
        return leds
