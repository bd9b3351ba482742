"""The twin of the D1000 Gen2 BMU firmware V1.2: deterministic, stepped in virtual time, no CAN.

Calling contract. The plant (or a test) holds the true inputs in `twin.inputs` (a `PlantInputs`)
and changes them through the `set_*` methods (or edits them and calls `inputs_changed()`); commands
arrive through `command()`. Time moves only through `step(t)` (to an absolute time) and
`advance(dt)`; inputs are held over each step. A change of inputs is seen at the twin's current
time by a zero-length firmware cycle, run before the next step, `max_step()` or `snapshot()`; a
command runs one at once. `max_step()` is the largest step after which the caller's view stays
exact: the time to the next firmware deadline (a state timeout, the control timeout, an aux
debounce), at most 0.1 s while anything moves (contactors closed, a transition just made) and 1 s
when quiescent. A longer step is split internally, so timing inside the twin is exact for any dt;
the caller sees the coil outputs change only at the end of its own step. Outputs: `snapshot()`
(a `D1000Snapshot`, named after the DBC signals), `contactor_coils`, `bleed_currents()`,
`supply_current_a()`. Measurements carry seeded noise inside the accuracy budgets (frontend.py):
the same seed and the same calls give the same results.

The state machine is the V1.2 one (State_Machine.md, Sequence_Diagram.md), one transition per
firmware cycle:
- INITIALISE → CALIBRATE once the start-up checks pass (node, cell and thermistor counts, BJU
  present, self-test) and at least `fixed.initialise_s` has passed; the failing checks show as
  reason bits meanwhile. CALIBRATE → SAFE after `fixed.calibrate_s` (contactors open).
- SAFE → IDLE when the latest command is IDLE and no fault condition holds and nothing is latched.
  Reason bits are sticky: set when their fault is seen, cleared on that SAFE → IDLE (OUR READING:
  BMSInfo says why the BMS is in SAFE). Latched until reset (OUR ASSUMPTION): contactor faults and
  a failed self-test.
- IDLE → CONNECT (1) on CONNECT → PRECHARGE (1, 2) on ENABLE → ENABLED (1, 3) once the load
  voltage is within maxPrechargeVoltageDelta of the battery voltage; each returns to IDLE when the
  command is no longer CONNECT/ENABLE (CONNECT) or ENABLE. PRECHARGE fails (a fault, with
  BMSReasonPRECHARGE and the specific BMSPrechargeFail bit) on a current above maxPrechargeCurrent
  (OVERCURRENTPCHG), a charge current beyond `fixed.precharge_negative_current_a` (NEGCURRENT), or
  prechargeTimeout without the load voltage matching (TIMEOUT).
- Charging (chargingMethod External; the tables' "OTHER"): IDLE → CHARGE_INIT on CHARGE_INIT →
  CHARGE_CONNECT (4) on CHARGE_ENABLE → CHARGE_ENABLED (4, 5) once the charger voltage (BJU U2) is
  within maxPrechargeVoltageDelta of the battery → CHARGE_STOPPING (4, 5) when the command is no
  longer CHARGE_ENABLE or the battery is full (a cell at warningCellOverVoltage, or SoC 100 % as the
  sequence diagram says) → IDLE once |current| < 5 A, or DISCONNECT after 20 s. CHARGE_INIT and
  CHARGE_CONNECT return to IDLE when the command is neither CHARGE_INIT nor CHARGE_ENABLE (the
  table's "not CHARGE_INIT" read with the sequence diagram, where CHARGE_ENABLE keeps coming);
  CHARGE_INIT also after 50 s. The V1.2 diagram file sends CHARGE_CONNECT → CHARGE_STOPPING on
  IDLE instead: we follow the state table. A charge precharge that does not match within
  prechargeTimeout is a precharge failure (TIMEOUT) → DISCONNECT, as the sequence diagram says
  (the table's "→ IDLE, N seconds***" is marked unsure). chargingMethod None: CHARGE_INIT →
  DISCONNECT (the sequence diagram's "Go to Safe Sequence"; no reason bit is documented for it).
  EVSE: the EVCC/ERS exchange is not modelled; the ERS never reports ready, so CHARGE_INIT times
  out to IDLE after 50 s.
- Any fault in IDLE or an active state → DISCONNECT (contactors unchanged) → SAFE once |current|
  is below `fixed.disconnect_complete_current_a` (OUR READING of "disconnection has completed")
  or after 2 s. Faults: the conditions of protection.py, contactor faults (contactors.py),
  precharge failures, and BMSReasonCONTROLTIMEOUT when no BMSCommands Command Update arrives for
  `fixed.control_timeout_s` in IDLE or an active state (a frame with BMSCommandType None is
  ignored; an undocumented BMSCommand value counts as None).

Not modelled (no documented behaviour to model, or outside the BMU): the EVSE/EVCC charging path;
battery/pack/load/charger voltage range checks (BATTVOLTAGE, PACKVOLTAGE, LOADVOLTAGE,
CHARGERVOLTAGE: no limits documented), watchdog, IO expander and internal comms (settable through
`inject()`), VOC/NOx limits, the precharge STABLECURRENT / STABLEVOLTAGE / OVERVOLTAGE /
OVERCURRENTMAX failures (no criteria documented), SoH, cell high-resistance sense, the BJU relay.
Low-side switches: V1.2 documents no function that drives them; `drive_low_side_switch()` sets an
output and the sense line is checked against it (open load / short), which no CAN signal reports.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hil.duts.prohelion_d1000_gen2.config import ChargingMethod, D1000Config
from hil.duts.prohelion_d1000_gen2.protocol.codes import (
    COMMANDED_STATES,
    CONTACTOR_CLOSED,
    CONTACTOR_OPEN,
    CONTACTORS,
    LOW_SIDE_SWITCHES,
    STARTUP_CHECK_BITS,
    BmsCommand,
    BmsState,
    CommandType,
    HvilLoop,
    InfoBit,
    LowSideStatus,
    contactor_fault_bit,
    engaged_contactors,
)
from hil.duts.prohelion_d1000_gen2.sim.twin.contactors import ContactorSupervisor
from hil.duts.prohelion_d1000_gen2.sim.twin.frontend import (
    Frontend,
    NodeReadings,
    Readings,
    TrueInputs,
    filter_step,
)
from hil.duts.prohelion_d1000_gen2.sim.twin.hardware import with_hardware
from hil.duts.prohelion_d1000_gen2.sim.twin.inputs import NodeInputs, PlantInputs
from hil.duts.prohelion_d1000_gen2.sim.twin.protection import (
    Evaluation,
    PackExtremes,
    evaluate,
    pack_extremes,
    pack_extremes_moved,
)
from hil.duts.prohelion_d1000_gen2.sim.twin.snapshot import D1000Snapshot, NodeSnapshot
from hil.duts.prohelion_d1000_gen2.sim.twin.soc import SocEstimator
from hil.models.ntc import BetaNtc

ACTIVE_MAX_STEP_S = 0.1  # while anything moves: the firmware's state-machine period (assumed)
IDLE_MAX_STEP_S = 1.0  # quiescent SAFE/IDLE: only timers (which bound the step themselves) act
MIN_STEP_S = 1e-6
HISTORY_CAPACITY = 1000
FIRMWARE_VERSION = (1, 2, 0, 0)  # major, minor, patch, build: V1.2 as documented; build 0 = twin
#: OUR ASSUMPTIONS: the BMU stops below these supply voltages (75 % of nominal) ...
BROWNOUT_V = {12: 9.0, 24: 18.0}
#: ... and draws this power through a switching regulator of this efficiency: 54 mA at 12 V
#: (72 mA at 9 V) for the 12 V variant, 29 mA at 24 V for the 24 V variant; PH-SUP-I says <= 80 mA
#: with the contactor coils excluded.
BMU_POWER_W = {12: 0.55, 24: 0.60}
REGULATOR_EFFICIENCY = 0.85
_QUIET_STATES = frozenset({BmsState.INITIALISE, BmsState.CALIBRATE, BmsState.SAFE, BmsState.IDLE})
_EPS = 1e-9


@dataclass(frozen=True)
class Transition:
    """One state change (source None: the boot)."""

    t: float
    source: BmsState | None
    target: BmsState
    cause: str


def _blank_readings(config: D1000Config) -> Readings:
    nodes = tuple(
        NodeReadings(False, (0.0,) * cells, (False,) * cells, (None,) * temps)
        for cells, temps in zip(config.cells_per_node(), config.temps_per_node(), strict=True)
    )
    return Readings(nodes, 0, False, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0)


_BLANK_EVALUATION = Evaluation(frozenset(), True, True, False, None, None, None, None)


class D1000Twin:
    """Firmware twin of one D1000 Gen2 BMU with its CMUs and BJU (see the module docstring)."""

    #: the node inputs (by object) and configuration the current readings were sampled from
    _sampled: tuple[list[NodeInputs], D1000Config] | None
    #: the node readings (by object) the pack extremes were last worked out for, and those extremes
    _extremes: tuple[tuple[NodeReadings, ...], PackExtremes] | None
    #: the bleed currents last worked out, with what they were worked out from
    _bleed: tuple[tuple[bool, float, tuple[int, ...], tuple[int, ...]], list[list[float]]] | None = None

    def __init__(
        self,
        config: D1000Config,
        seed: int = 0,
        *,
        t0: float = 0.0,
        inputs: PlantInputs | None = None,
        powered: bool = True,
    ) -> None:
        self._config = config
        self.seed = seed
        self._rng = random.Random(seed)
        # Replaceable (e.g. by `Frontend.ideal()`) to test logic at exact thresholds.
        self.frontend = with_hardware(Frontend.from_rng(self._rng), config.hardware)
        self._noise_rng = np.random.default_rng(self._rng.getrandbits(64))  # cell/thermistor noise
        self._true = TrueInputs()  # each node's inputs as last read (replaced, never edited)
        self.inputs = inputs if inputs is not None else PlantInputs.nominal(config)
        self.inputs.check()
        self.history: list[Transition] = []
        self._t = t0
        self._powered = False
        self._reset(t0)
        if not powered:
            self.inputs.supply_v = 0.0
        elif not self._supply_ok():
            self.inputs.supply_v = float(config.supply_variant_v)
        self._dirty = True
        self._settle()

    # --- configuration and time ------------------------------------------------------------
    @property
    def config(self) -> D1000Config:
        """The unit's configuration (replacing it takes effect at the current time)."""
        return self._config

    @config.setter
    def config(self, config: D1000Config) -> None:
        self._config = config
        self._dirty = True

    @property
    def t(self) -> float:
        """The twin's virtual time (s)."""
        return self._t

    @property
    def state(self) -> BmsState:
        """The state machine's state (INITIALISE while unpowered: the state it boots into)."""
        self._settle()
        return self._state

    @property
    def powered(self) -> bool:
        """Whether the BMU runs (supply at or above its brown-out voltage)."""
        self._settle()
        return self._powered

    def step(self, t: float) -> None:
        """Run the firmware up to the absolute time t with the inputs held."""
        if t < self._t - _EPS:
            raise ValueError(f"time only runs forward: the twin is at {self._t} s, asked for {t} s")
        self._settle()
        while t - self._t > _EPS:
            if not self._powered:
                self._t = t
                return
            h = min(t - self._t, self.max_step())
            end = t if t - self._t - h <= _EPS else self._t + h
            self._cycle(end, end - self._t)

    def advance(self, dt: float) -> None:
        """Run the firmware for dt seconds."""
        if dt < 0.0:
            raise ValueError(f"dt must not be negative, got {dt}")
        self.step(self._t + dt)

    def max_step(self) -> float:
        """Largest step from now after which the caller's view is exact (see the module docstring)."""
        self._settle()
        if not self._powered:
            return IDLE_MAX_STEP_S
        quiet = (
            self._state in _QUIET_STATES
            and not any(self._contactors.targets.values())
            and not self._transitioned
        )
        limit = IDLE_MAX_STEP_S if quiet else ACTIVE_MAX_STEP_S
        for deadline in self._deadlines():
            limit = min(limit, deadline - self._t)
        return max(MIN_STEP_S, limit)

    def next_event(self) -> float | None:
        """Absolute time of the next firmware deadline (None if no timer runs)."""
        self._settle()
        deadlines = self._deadlines() if self._powered else []
        return min(deadlines) if deadlines else None

    # --- power -----------------------------------------------------------------------------
    def power_on(self, t: float | None = None) -> None:
        """(Re)boot at t (default now): supply to nominal if it was off, firmware from INITIALISE."""
        if t is not None:
            self.step(t)
        if not self._supply_ok():
            self.inputs.supply_v = float(self._config.supply_variant_v)
        self._boot(self._t)

    def power_off(self, t: float | None = None) -> None:
        """Remove the BMU supply at t (default now): coils off, firmware state lost."""
        if t is not None:
            self.step(t)
        self.inputs.supply_v = 0.0
        self._dirty = True
        self._settle()

    # --- commands --------------------------------------------------------------------------
    def command(self, command: int, t: float | None = None, command_type: int = CommandType.UPDATE) -> None:
        """A BMSCommands frame at t (default now): a Command Update sets the command and feeds the
        control timeout; any other BMSCommandType is ignored."""
        if t is not None:
            self.step(t)
        self._settle()
        if not self._powered or command_type != CommandType.UPDATE:
            return
        self._command = BmsCommand.coerce(command)
        self._last_command_t = self._t
        self._dirty = True
        self._settle()

    # --- inputs ----------------------------------------------------------------------------
    def inputs_changed(self, resample: bool = True) -> None:
        """`inputs` was edited directly: the firmware sees it at the current time.

        resample=False: the node inputs were only replaced by new `NodeInputs` objects, none edited
        in place, so a node whose object is the one last sampled keeps its sample (the plant's way:
        a single-cell stimulus then costs the same at 14 cells as at 448).
        """
        if resample:
            self._sampled = None
            self._true.clear()  # a node's inputs may have been edited in place
        self._dirty = True

    def set_cell_voltage(self, node: int, cell: int, volts: float) -> None:
        """True voltage at cell input `cell` (1..14) of CMU `node` (0..)."""
        if not 1 <= cell <= 14:
            raise ValueError(f"cell must be 1..14, got {cell}")
        inputs = self._edit_node(node)
        while len(inputs.cell_v) < cell:
            inputs.cell_v.append(0.0)
        inputs.cell_v[cell - 1] = volts
        self._dirty = True

    def set_node_cells(self, node: int, volts: Sequence[float]) -> None:
        """True voltages at the cell inputs of CMU `node`, cell 1 first."""
        self._edit_node(node).cell_v = list(volts)
        self._dirty = True

    def set_all_cells(self, volts: float) -> None:
        """Every configured cell of every node at `volts`; the BJU's battery voltage follows."""
        for n, cells in enumerate(self._config.cells_per_node()):
            self._edit_node(n).cell_v = [volts] * cells
        self.inputs.bju.battery_v = volts * sum(self._config.cells_per_node())
        self._dirty = True

    def set_thermistor(self, node: int, sensor: int, ohm: float | None) -> None:
        """Resistance at thermistor input `sensor` (1..4) of CMU `node`; None = open."""
        if not 1 <= sensor <= 4:
            raise ValueError(f"sensor must be 1..4, got {sensor}")
        inputs = self._edit_node(node)
        while len(inputs.thermistor_ohm) < sensor:
            inputs.thermistor_ohm.append(None)
        inputs.thermistor_ohm[sensor - 1] = ohm
        self._dirty = True

    def set_temperature(self, node: int, sensor: int, temp_c: float) -> None:
        """Thermistor `sensor` of CMU `node` at `temp_c` (its resistance by the configured Beta)."""
        self.set_thermistor(node, sensor, self.thermistor_model().resistance_ohm(temp_c))

    def set_all_temperatures(self, temp_c: float) -> None:
        """Every configured thermistor at `temp_c`."""
        ohm = self.thermistor_model().resistance_ohm(temp_c)
        for n, temps in enumerate(self._config.temps_per_node()):
            self._edit_node(n).thermistor_ohm = [ohm] * temps
        self._dirty = True

    def set_node_connected(self, node: int, connected: bool) -> None:
        """CMU `node` on or off the CMU bus (a node beyond the configured ones is an extra CMU)."""
        self._edit_node(node).connected = connected
        self._dirty = True

    def set_bju(
        self,
        *,
        present: bool | None = None,
        current_a: float | None = None,
        battery_v: float | None = None,
        charger_v: float | None = None,
        load_v: float | None = None,
    ) -> None:
        """BJU inputs (current + = discharge; U1 battery, U2 charger, U3 load voltage)."""
        bju = self.inputs.bju
        if present is not None:
            bju.present = present
        if current_a is not None:
            bju.current_a = current_a
        if battery_v is not None:
            bju.battery_v = battery_v
        if charger_v is not None:
            bju.charger_v = charger_v
        if load_v is not None:
            bju.load_v = load_v
        self._dirty = True

    def set_aux(self, contactor: int, closed: bool) -> None:
        """Electrical state of the auxiliary contact of contactor 1..5."""
        if contactor not in CONTACTORS:
            raise ValueError(f"contactor must be 1..5, got {contactor}")
        self.inputs.aux_closed[contactor - 1] = closed
        self._dirty = True

    def set_hvil(self, loop: HvilLoop) -> None:
        """The HVIL loop's wiring."""
        self.inputs.hvil = loop
        self._dirty = True

    def set_low_side_sense(self, switch: int, high: bool) -> None:
        """Sense line of low-side switch 1..3."""
        if switch not in LOW_SIDE_SWITCHES:
            raise ValueError(f"low-side switch must be 1..3, got {switch}")
        self.inputs.low_side_sense_high[switch - 1] = high
        self._dirty = True

    def set_environment(
        self,
        *,
        temperature1_c: float | None = None,
        temperature2_c: float | None = None,
        pressure_kpa: float | None = None,
        humidity_pct: float | None = None,
        voc_ppb: int | None = None,
        nox_ppb: int | None = None,
    ) -> None:
        """The BMU's environment (its own temperature, pressure, humidity, VOC and NOx sensors)."""
        env = self.inputs.environment
        if temperature1_c is not None:
            env.temperature1_c = temperature1_c
        if temperature2_c is not None:
            env.temperature2_c = temperature2_c
        if pressure_kpa is not None:
            env.pressure_kpa = pressure_kpa
        if humidity_pct is not None:
            env.humidity_pct = humidity_pct
        if voc_ppb is not None:
            env.voc_ppb = voc_ppb
        if nox_ppb is not None:
            env.nox_ppb = nox_ppb
        self._dirty = True

    def set_supply_voltage(self, volts: float) -> None:
        """BMU supply voltage: below the variant's brown-out the BMU stops; back above, it boots."""
        self.inputs.supply_v = volts
        self._dirty = True

    def set_self_test(self, ok: bool) -> None:
        """Fault insertion: the internal self-test fails (BMSReasonSELFTESTFAIL, latched)."""
        self.inputs.self_test_ok = ok
        self._dirty = True

    def inject(self, bit: InfoBit, active: bool = True) -> None:
        """Fault insertion for a reason the twin has no input for (watchdog, IO, internal comms)."""
        if active:
            self.inputs.injected.add(bit)
        else:
            self.inputs.injected.discard(bit)
        self._dirty = True

    def drive_low_side_switch(self, switch: int, on: bool) -> None:
        """Set low-side switch output 1..3 (V1.2 documents no function driving them)."""
        if switch not in LOW_SIDE_SWITCHES:
            raise ValueError(f"low-side switch must be 1..3, got {switch}")
        self._lss[switch - 1] = on
        self._dirty = True

    def thermistor_model(self) -> BetaNtc:
        """The NTC the firmware assumes (configured Beta, `fixed.thermistor_r25_ohm`)."""
        cfg = self._config
        return BetaNtc(cfg.fixed.thermistor_r25_ohm, float(cfg.thermistor_beta_value))

    # --- outputs ---------------------------------------------------------------------------
    @property
    def contactor_coils(self) -> tuple[bool, ...]:
        """Coil outputs of contactors 1..5 (False while unpowered)."""
        self._settle()
        return tuple(self._powered and self._contactors.targets[n] for n in CONTACTORS)

    def bleed_currents(self) -> list[list[float]]:
        """Balancing current drawn from each configured cell (A), per node; the same list object
        while the balancing does not change (read it, do not edit it)."""
        self._settle()
        amps = self._config.fixed.balancing_current_a
        key = (self._powered, amps, self._config.cells_per_node(), tuple(self._balancing))
        if self._bleed is None or self._bleed[0] != key:
            bleed = [
                [amps if self._powered and mask >> i & 1 else 0.0 for i in range(cells)]
                for mask, cells in zip(self._balancing, key[2], strict=True)
            ]
            self._bleed = (key, bleed)
        return self._bleed[1]

    def supply_current_a(self) -> float:
        """Current drawn from the BMU supply, contactor coils excluded (PH-SUP-I)."""
        self._settle()
        if not self._powered:
            return 0.0
        variant = self._config.supply_variant_v
        extra = self._config.hardware.supply_current_extra_a  # SIM-ONLY fault
        return BMU_POWER_W[variant] / (REGULATOR_EFFICIENCY * self.inputs.supply_v) + extra

    def snapshot(self, nodes: bool = True) -> D1000Snapshot:
        """Everything the BMU reports now (after seeing any changed inputs).

        nodes=False leaves out the per-node part (`nodes` is empty; the pack totals are the same),
        which the 100 ms telemetry does not need: up to 32 node records every second, not ten times.
        """
        self._settle()
        cfg = self._config
        r, ev = self._readings, self._evaluation
        node_snaps = tuple(self._node_snapshot(n, node) for n, node in enumerate(r.nodes)) if nodes else ()
        reasons = frozenset(self._reasons)
        info = (1 << int(self._state)) | sum(1 << int(bit) for bit in reasons)
        actual = self._contactors.actual(self.inputs.aux_closed, cfg)
        configured_cells = sum(cfg.cells_per_node())
        configured_temps = sum(cfg.temps_per_node())
        # the pack's totals in one pass over the nodes (every 100 ms, up to 32 nodes)
        pack_v: float = 0  # (0, not 0.0, as sum() starts: a pack without cells reports 0)
        connected_cells, connected_temps, disconnected_nodes = 0, 0, 0
        for node in r.nodes:
            pack_v += node.total_voltage
            connected_cells += node.connected_cells
            connected_temps += node.connected_temp_sensors
            disconnected_nodes += not node.connected
        hvil = self.inputs.hvil
        charge_limit = cfg.max_charge_current if ev.charge_allowed else 0.0
        discharge_limit = cfg.max_discharge_current if ev.discharge_allowed else 0.0
        table = cfg.cell_soc_lookup_table
        return D1000Snapshot(
            t=self._t,
            device_type=cfg.device_id,
            device_serial=cfg.serial_number,
            firmware_major_version=FIRMWARE_VERSION[0],
            firmware_minor_version=FIRMWARE_VERSION[1],
            firmware_patch_version=FIRMWARE_VERSION[2],
            firmware_build_number=FIRMWARE_VERSION[3],
            state=self._state,
            bms_info=info,
            instantaneous_current=r.current_a,
            filtered_current=round(self._filtered or 0.0, 3) + 0.0,
            battery_voltage=r.battery_v,
            load_voltage=r.load_v,
            auxiliary_voltage=r.charger_v,
            power=round(r.battery_v * r.current_a, 3) + 0.0,
            soc_percentage=round(self._soc.soc_pct, 1),
            soc_capacity=round(self._soc.capacity_ah(cfg.pack_capacity), 1),
            ocv=round(self._soc.ocv_v(table), 3) if self._soc.initialised else 0.0,
            soh_percentage=100.0,
            sop_max_current_discharge=discharge_limit,
            sop_max_current_charge=charge_limit,
            total_pack_voltage=round(pack_v, 3),
            pack_balance_threshold=cfg.cell_balancing_voltage,
            total_cells_balancing=sum(map(int.bit_count, self._balancing)),
            max_cell_voltage=ev.max_cell.value if ev.max_cell else None,
            max_cell_voltage_node_id=ev.max_cell.node_id if ev.max_cell else None,
            max_cell_voltage_cell_id=ev.max_cell.index if ev.max_cell else None,
            min_cell_voltage=ev.min_cell.value if ev.min_cell else None,
            min_cell_voltage_node_id=ev.min_cell.node_id if ev.min_cell else None,
            min_cell_voltage_cell_id=ev.min_cell.index if ev.min_cell else None,
            max_temperature=ev.max_temperature.value if ev.max_temperature else None,
            max_temperature_node_id=ev.max_temperature.node_id if ev.max_temperature else None,
            max_temperature_sensor_id=ev.max_temperature.index if ev.max_temperature else None,
            min_temperature=ev.min_temperature.value if ev.min_temperature else None,
            min_temperature_node_id=ev.min_temperature.node_id if ev.min_temperature else None,
            min_temperature_sensor_id=ev.min_temperature.index if ev.min_temperature else None,
            nodes=node_snaps,
            hvil_flag_nok=self._powered and hvil is not HvilLoop.CLOSED,
            hvil_flag_scg=self._powered and hvil is HvilLoop.SHORT_TO_GROUND,
            hvil_flag_scb=self._powered and hvil is HvilLoop.SHORT_TO_BATTERY,
            hvil_flag_open_loop=self._powered and hvil is HvilLoop.OPEN,
            contactor_target=tuple(
                CONTACTOR_CLOSED if self._contactors.targets[n] else CONTACTOR_OPEN for n in CONTACTORS
            ),
            contactor_state=tuple(CONTACTOR_CLOSED if actual[n] else CONTACTOR_OPEN for n in CONTACTORS),
            total_configured_nodes=cfg.num_cmu_nodes,
            total_connected_nodes=r.connected_nodes,
            total_disconnected_nodes=disconnected_nodes,
            total_configured_cells=configured_cells,
            total_connected_cells=connected_cells,
            total_disconnected_cells=configured_cells - connected_cells,
            total_configured_temp_sensors=configured_temps,
            total_connected_temp_sensors=connected_temps,
            total_disconnected_temp_sensors=configured_temps - connected_temps,
            temperature1=r.temperature1_c,
            temperature2=r.temperature2_c,
            pressure=r.pressure_kpa,
            humidity=r.humidity_pct,
            voc=r.voc_ppb,
            nox=r.nox_ppb,
            powered=self._powered,
            reasons=reasons,
            contactor_coil=tuple(self._powered and self._contactors.targets[n] for n in CONTACTORS),
            charge_allowed=ev.charge_allowed,
            discharge_allowed=ev.discharge_allowed,
            bmu_temperature_fault=ev.bmu_temperature_fault,
            low_side_switch=tuple(self._lss),
            low_side_status=self._low_side_status(),
            supply_current=self.supply_current_a(),
        )

    def describe(self) -> dict[str, Any]:
        """A JSON-able summary for the sim's control port (diagnostics only)."""
        self._settle()
        return {
            "t": self._t,
            "powered": self._powered,
            "state": self._state.name,
            "command": self._command.name,
            "reasons": sorted(bit.signal for bit in self._reasons),
            "contactors": [n for n in CONTACTORS if self._contactors.targets[n]],
            "soc_pct": round(self._soc.soc_pct, 2),
            "history": [
                {
                    "t": tr.t,
                    "from": tr.source.name if tr.source else None,
                    "to": tr.target.name,
                    "cause": tr.cause,
                }
                for tr in self.history[-20:]
            ],
        }

    # --- inside ----------------------------------------------------------------------------
    def _reset(self, t: float) -> None:
        """Firmware state as at reset."""
        self._state = BmsState.INITIALISE
        self._entered_at = t
        self._command = BmsCommand.NONE
        self._last_command_t = t
        self._reasons: set[InfoBit] = set()
        self._latched: set[InfoBit] = set()
        self._contactors = ContactorSupervisor()
        self._soc = SocEstimator()
        self._filtered: float | None = None
        self._balancing = [0] * self._config.num_cmu_nodes
        self._lss = [False] * len(LOW_SIDE_SWITCHES)
        self._readings = _blank_readings(self._config)
        self._sampled = None
        self._extremes = None
        self._evaluation = _BLANK_EVALUATION
        self._transitioned = False

    def _supply_ok(self) -> bool:
        return self.inputs.supply_v >= BROWNOUT_V[self._config.supply_variant_v]

    def _boot(self, t: float) -> None:
        self._reset(t)
        self._powered = True
        self._record(Transition(t, None, BmsState.INITIALISE, "power on"))
        self._dirty = False
        self._cycle(t, 0.0)

    def _settle(self) -> None:
        """Let the firmware see changed inputs (or supply) at the current time."""
        if not self._dirty:
            return
        self._dirty = False
        self.inputs.check()
        if len(self._balancing) != self._config.num_cmu_nodes:
            self._balancing = [0] * self._config.num_cmu_nodes
        supply_ok = self._supply_ok()
        if supply_ok and not self._powered:
            self._boot(self._t)
        elif not supply_ok and self._powered:
            self._powered = False
            self._reset(self._t)
        elif self._powered:
            self._cycle(self._t, 0.0)

    def _node(self, node: int) -> NodeInputs:
        if not 0 <= node < 32:
            raise ValueError(f"node must be 0..31, got {node}")
        while len(self.inputs.nodes) <= node:
            self.inputs.nodes.append(NodeInputs([], [], connected=False))
        return self.inputs.nodes[node]

    def _edit_node(self, node: int) -> NodeInputs:
        """A copy of node `node`'s inputs put in its place, to edit: the object last sampled is
        never changed, so an unchanged object means an unchanged node (`_unchanged_nodes`)."""
        old = self._node(node)
        new = NodeInputs(list(old.cell_v), list(old.thermistor_ohm), old.connected)
        self.inputs.nodes[node] = new
        return new

    def _unchanged_nodes(self, dt: float) -> dict[int, NodeReadings] | None:
        """On a cycle for changed inputs (dt 0), the nodes whose inputs are as last sampled.

        The CMUs sample every cell once per cycle; a cycle run only because an input changed
        re-samples just the nodes that changed (the others' readings stand), which keeps the cost
        of a single-cell stimulus independent of the pack size.
        """
        if dt > 0.0 or self._sampled is None:
            return None
        sampled, config = self._sampled
        if config is not self._config:
            return None
        nodes, readings = self.inputs.nodes, self._readings.nodes
        return {
            n: readings[n]
            for n in range(min(len(sampled), len(nodes), len(readings)))
            if nodes[n] is sampled[n]
        }

    def _cycle(self, t: float, dt: float) -> None:
        """One firmware cycle at t covering (t - dt, t]."""
        cfg = self._config
        r = self.frontend.measure(
            self.inputs, cfg, self._rng, self._unchanged_nodes(dt), self._noise_rng, self._true
        )
        self._sampled = (list(self.inputs.nodes), cfg)
        self._filtered = filter_step(self._filtered, r.current_a, dt, cfg.fixed.filtered_current_tau_s)
        self._soc.count(r.current_a, dt, cfg.pack_capacity)
        if not self._same_nodes(r.nodes):  # only when a node was sampled again
            self._extremes = (r.nodes, self._pack_extremes(r.nodes))
        assert self._extremes is not None
        ev = evaluate(r, self.inputs, cfg, self._extremes[1])
        active = set(ev.active)
        faulted = self._contactors.supervise(t, self.inputs.aux_closed, cfg)
        contactor_bits = {contactor_fault_bit(n) for n in faulted}
        if contactor_bits:
            contactor_bits.add(InfoBit.REASON_CONTACTORFAIL)
        if cfg.behaviour.latch_contactor_faults:
            self._latched |= contactor_bits
        else:
            active |= contactor_bits
        if InfoBit.REASON_SELFTESTFAIL in active:
            self._latched.add(InfoBit.REASON_SELFTESTFAIL)
        events = self._events(t, r)
        self._reasons |= active | self._latched | events
        self._readings, self._evaluation = r, ev
        change = self._next_state(t, r, ev, frozenset(active), events)
        self._transitioned = change is not None
        if change is not None:
            self._enter(t, *change)
        engaged = engaged_contactors(self._state, cfg.charging_method)
        if engaged is not None:
            self._contactors.drive(t, engaged)
        self._update_balancing(r)
        self._t = t

    def _pack_extremes(self, nodes: tuple[NodeReadings, ...]) -> PackExtremes:
        """The pack extremes of `nodes`: from the last ones when a single node was sampled again
        (the cycle after a one-cell stimulus), by a pass over every node otherwise."""
        if self._extremes is not None and len(self._extremes[0]) == len(nodes):
            before, extremes = self._extremes
            moved: list[int] = []
            for n, (a, b) in enumerate(zip(before, nodes, strict=True)):
                if a is not b:
                    moved.append(n)
                    if len(moved) > 1:
                        break  # a full sample moved them all: the pass over every node
            if len(moved) == 1:
                n = moved[0]
                found = pack_extremes_moved(extremes, before[n], nodes[n], n)
                if found is not None:
                    return found
        return pack_extremes(nodes)

    def _same_nodes(self, nodes: tuple[NodeReadings, ...]) -> bool:
        """Whether `nodes` are the very readings the pack extremes were worked out for."""
        if self._extremes is None or len(self._extremes[0]) != len(nodes):
            return False
        return all(a is b for a, b in zip(self._extremes[0], nodes, strict=True))

    def _precharged(self, battery_v: float, other_v: float) -> bool:
        """The precharge condition: `other_v` within maxPrechargeVoltageDelta of the battery."""
        cfg = self._config
        if not cfg.behaviour.precharge_voltage_check:
            return True
        return abs(other_v - battery_v) <= cfg.max_precharge_voltage_delta + _EPS

    def _events(self, t: float, r: Readings) -> set[InfoBit]:
        """Faults that happen once (control timeout, precharge failures) at this cycle."""
        cfg, s = self._config, self._state
        b = cfg.behaviour
        elapsed = t - self._entered_at
        events: set[InfoBit] = set()
        if (
            s in COMMANDED_STATES
            and b.control_timeout
            and t - self._last_command_t >= cfg.fixed.control_timeout_s - _EPS
        ):
            events.add(InfoBit.REASON_CONTROLTIMEOUT)
        timed_out = b.precharge_timeout and elapsed >= cfg.precharge_timeout - _EPS
        if s is BmsState.PRECHARGE:
            if b.precharge_overcurrent and r.current_a > cfg.max_precharge_current:
                events |= {InfoBit.PRECHARGE_FAIL_OVERCURRENTPCHG, InfoBit.REASON_PRECHARGE}
            if r.current_a < -cfg.fixed.precharge_negative_current_a:
                events |= {InfoBit.PRECHARGE_FAIL_NEGCURRENT, InfoBit.REASON_PRECHARGE}
            if timed_out and not self._precharged(r.battery_v, r.load_v):
                events |= {InfoBit.PRECHARGE_FAIL_TIMEOUT, InfoBit.REASON_PRECHARGE}
        elif s is BmsState.CHARGE_CONNECT and timed_out and not self._precharged(r.battery_v, r.charger_v):
            events |= {InfoBit.PRECHARGE_FAIL_TIMEOUT, InfoBit.REASON_PRECHARGE}
        return events

    def _next_state(
        self, t: float, r: Readings, ev: Evaluation, active: frozenset[InfoBit], events: set[InfoBit]
    ) -> tuple[BmsState, str] | None:
        """The transition this cycle makes, with its cause (None: stay)."""
        cfg, s, cmd = self._config, self._state, self._command
        b, fx = cfg.behaviour, cfg.fixed
        elapsed = t - self._entered_at
        faults = set(active) | self._latched | events
        if s is BmsState.INITIALISE:
            if STARTUP_CHECK_BITS & faults or elapsed < fx.initialise_s - _EPS:
                return None
            return BmsState.CALIBRATE, "start-up checks passed"
        if s is BmsState.CALIBRATE:
            return (BmsState.SAFE, "calibration complete") if elapsed >= fx.calibrate_s - _EPS else None
        if s is BmsState.SAFE:
            if active or self._latched:
                return None
            if cmd is BmsCommand.IDLE or not b.safe_requires_idle_command:
                return BmsState.IDLE, "faults cleared, command IDLE"
            return None
        if s is BmsState.DISCONNECT:
            if abs(r.current_a) < fx.disconnect_complete_current_a:
                return BmsState.SAFE, "disconnection complete"
            if b.disconnect_timeout and elapsed >= fx.disconnect_timeout_s - _EPS:
                return BmsState.SAFE, "disconnect timed out"
            return None
        if faults:
            return BmsState.DISCONNECT, "fault: " + ", ".join(sorted(bit.signal for bit in faults))
        return self._commanded(s, cmd, r, ev, elapsed)

    def _commanded(
        self, s: BmsState, cmd: BmsCommand, r: Readings, ev: Evaluation, elapsed: float
    ) -> tuple[BmsState, str] | None:
        """Transitions of the healthy commanded states."""
        cfg = self._config
        fx, b = cfg.fixed, cfg.behaviour
        why = f"command {cmd.name}"
        charge_cmds = (BmsCommand.CHARGE_INIT, BmsCommand.CHARGE_ENABLE)
        if s is BmsState.IDLE:
            if cmd is BmsCommand.CONNECT:
                return BmsState.CONNECT, why
            if cmd is BmsCommand.CHARGE_INIT:
                return BmsState.CHARGE_INIT, why
        elif s is BmsState.CONNECT:
            if cmd is BmsCommand.ENABLE:
                return BmsState.PRECHARGE, why
            if cmd is not BmsCommand.CONNECT:
                return BmsState.IDLE, why
        elif s is BmsState.PRECHARGE:
            if cmd is not BmsCommand.ENABLE:
                return BmsState.IDLE, why
            if self._precharged(r.battery_v, r.load_v):
                return BmsState.ENABLED, "precharge complete"
        elif s is BmsState.ENABLED:
            if cmd is not BmsCommand.ENABLE:
                return BmsState.IDLE, why
        elif s is BmsState.CHARGE_INIT:
            if cfg.charging_method is ChargingMethod.NONE:
                return BmsState.DISCONNECT, "chargingMethod None"
            if cmd not in charge_cmds:
                return BmsState.IDLE, why
            if cfg.charging_method is ChargingMethod.EXTERNAL and cmd is BmsCommand.CHARGE_ENABLE:
                return BmsState.CHARGE_CONNECT, why
            if elapsed >= fx.charge_init_timeout_s - _EPS:
                return BmsState.IDLE, "CHARGE_INIT timed out"
        elif s is BmsState.CHARGE_CONNECT:
            if cmd not in charge_cmds:
                return BmsState.IDLE, why
            if cmd is BmsCommand.CHARGE_ENABLE and self._precharged(r.battery_v, r.charger_v):
                return BmsState.CHARGE_ENABLED, "charger voltage matched"
        elif s is BmsState.CHARGE_ENABLED:
            if cmd is not BmsCommand.CHARGE_ENABLE:
                return BmsState.CHARGE_STOPPING, why
            if not ev.charge_allowed:
                return BmsState.CHARGE_STOPPING, "battery full: warningCellOverVoltage"
            if self._soc.soc_pct >= 100.0:
                return BmsState.CHARGE_STOPPING, "battery full: SoC 100 %"
        elif s is BmsState.CHARGE_STOPPING:
            if not b.charge_stopping_waits_for_current or abs(r.current_a) < fx.charge_stopping_current_a:
                return BmsState.IDLE, "charge current below threshold"
            if b.charge_stopping_timeout and elapsed >= fx.charge_stopping_timeout_s - _EPS:
                return BmsState.DISCONNECT, "CHARGE_STOPPING timed out"
        return None

    def _enter(self, t: float, target: BmsState, cause: str) -> None:
        source = self._state
        self._record(Transition(t, source, target, cause))
        self._state = target
        self._entered_at = t
        if source is BmsState.SAFE and target is BmsState.IDLE:
            self._reasons = set(self._latched)
        if target is BmsState.CALIBRATE:
            present = [
                v
                for node in self._readings.nodes
                for v, ok in zip(node.cell_v, node.cell_present, strict=True)
                if ok
            ]
            self._soc.initialise(
                present, self._config.cell_soc_lookup_table, self._config.behaviour.soc_from_ocv
            )

    def _record(self, transition: Transition) -> None:
        self.history.append(transition)
        if len(self.history) > HISTORY_CAPACITY:
            del self.history[: len(self.history) - HISTORY_CAPACITY]

    def _update_balancing(self, r: Readings) -> None:
        """Balance the cells at/above cellBalancingVoltage, in ENABLED only (PH-BAL)."""
        cfg = self._config
        allowed = self._state is BmsState.ENABLED or not cfg.behaviour.balance_only_in_enabled
        if not allowed:  # (every cycle, up to 32 nodes, outside ENABLED)
            self._balancing = [0] * len(r.nodes)
            return
        threshold = cfg.cell_balancing_voltage - _EPS
        masks: list[int] = []
        for node in r.nodes:
            mask = 0
            if node.connected and node.max_cell_voltage >= threshold:
                for i, (v, ok) in enumerate(zip(node.cell_v, node.cell_present, strict=True)):
                    if ok and v >= threshold:
                        mask |= 1 << i
            masks.append(mask)
        self._balancing = masks

    def _deadlines(self) -> list[float]:
        """Pending firmware deadlines after now."""
        cfg, s, e = self._config, self._state, self._entered_at
        b, fx = cfg.behaviour, cfg.fixed
        times: list[float] = []
        if s is BmsState.INITIALISE:
            times.append(e + fx.initialise_s)
        elif s is BmsState.CALIBRATE:
            times.append(e + fx.calibrate_s)
        elif s is BmsState.DISCONNECT and b.disconnect_timeout:
            times.append(e + fx.disconnect_timeout_s)
        elif s is BmsState.CHARGE_INIT:
            times.append(e + fx.charge_init_timeout_s)
        elif s in (BmsState.PRECHARGE, BmsState.CHARGE_CONNECT) and b.precharge_timeout:
            times.append(e + cfg.precharge_timeout)
        elif s is BmsState.CHARGE_STOPPING and b.charge_stopping_timeout:
            times.append(e + fx.charge_stopping_timeout_s)
        if s in COMMANDED_STATES and b.control_timeout:
            times.append(self._last_command_t + fx.control_timeout_s)
        aux = self._contactors.deadline(cfg)
        if aux is not None:
            times.append(aux)
        return [x for x in times if x > self._t + _EPS and math.isfinite(x)]

    def _node_snapshot(self, n: int, node: NodeReadings) -> NodeSnapshot:
        mask = self._balancing[n] if n < len(self._balancing) else 0
        return NodeSnapshot(
            node=n,
            connected=node.connected,
            total_voltage=node.total_voltage,
            high_resistance_cell_sense=0,
            cells=node.cell_v,
            temps=node.temperature_c,
            connected_cells=node.connected_cells,
            disconnected_cells=len(node.cell_v) - node.connected_cells,
            connected_temp_sensors=node.connected_temp_sensors,
            disconnected_temp_sensors=len(node.temperature_c) - node.connected_temp_sensors,
            cell_balance_command_sent=mask,
            cell_balance_status=mask,
        )

    def _low_side_status(self) -> tuple[LowSideStatus, ...]:
        statuses: list[LowSideStatus] = []
        for on, high in zip(self._lss, self.inputs.low_side_sense_high, strict=True):
            if not on and not high:
                statuses.append(LowSideStatus.OPEN_LOAD)
            elif on and high:
                statuses.append(LowSideStatus.SHORT)
            else:
                statuses.append(LowSideStatus.OK)
        return tuple(statuses)
