"""The electrical model of a 12100 bench: cell emulator, NTC emulator, charger and load wired to
the twin of the BMS firmware, which decides the MOSFETs; plus its CAN and RS-485 ports.

Power path (charge current positive): the charger is a CV/CC source behind the station's
charger path resistance; the load draws its demanded current; the cells are stiff sources
(the cell emulator). The charge MOSFET must be on for current to flow into the pack, the
discharge MOSFET for current out of it (the other MOSFET's body diode conducts). While the twin
precharges (PRE), the pack's discharge current flows through the precharge resistor
(`PRECHARGE_OHM`): at most V_pack / 20 Ω, with P+ dropping by I·20 Ω. The BMS's own supply current
(`Bms12100Twin.supply_current_a`, awake or asleep) and its balancing bleed currents are drawn from
the cells and show on the cell emulator's current readback; the supply current also on the DMM's
SUPPLY point.

Fault insertion (a `switch` role, e.g. a 34980A; terminals are fault points, a closed relay is the
fault inserted, every relay open the healthy wiring):
- `BUTTON`: a Form A contact across the BMS's push-button. Its closing edge is a press:
  `twin.button(t)` wakes a shut-down unit (PM-WAKE) or reboots a running one (the reset button
  of seed §7.3). OUR ASSUMPTION: the twin acts on the press (closing); the contact opening again
  does nothing (the seed's "turn off the button switch" shutdown is not modelled).
- `CELLn_SENSE_OPEN`: the sense lead of the tap at the top of cell n is cut (the cells still carry
  the current). OUR ASSUMPTION, the seed says nothing: the floating tap is pulled to the tap below
  it (the AFE's input leakage / open-wire pull-down), so cell n reads about 0 V and cell n + 1 reads
  cells n and n + 1 together; the twin's unipolar cell ADC reads 0 for anything at or below 0 V
  (its pack reading, the sum of the sense inputs, changes only for the top lead, n = 4). Other AFEs
  float the other way; whatever the BMS then reports is a finding of the plan.
- `T_xxx_OPEN` / `T_xxx_SHORT`: the NTC input open (∞) or shorted by the relay contact and wiring
  (`NTC_SHORT_OHM`); the short wins when both are closed. The DMM's resistance points see the same.
- `CAN_OPEN`: the DUT is cut off the CAN bus: it publishes nothing (the 12100 twin takes no frames
  from the bus, so there is nothing to stop receiving).
- `RS485_OPEN`: the RS-485 line is cut: requests never reach the BMS (no answer, no RS-485 wake-up).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any, cast

from hil.duts.bms12100 import CELL_COUNT
from hil.duts.bms12100.config import Settings
from hil.duts.bms12100.protocol.can_codec import CYCLE_S, encode_telemetry
from hil.duts.bms12100.protocol.snapshot import Mode
from hil.duts.bms12100.sim import line_faults
from hil.duts.bms12100.sim.responder import Rs485Responder
from hil.duts.bms12100.sim.twin import PRECHARGE_OHM, Bms12100Twin, TerminalInputs
from hil.sim.instruments.base import SimInstrument
from hil.sim.plant import TIME_EPS_S, CanPublish, Plant, lab_step
from hil.sim.ports import LoadPort, MultiSourcePort, ResistancePort, SourcePort
from hil.station.model import StationModel

NTC_TERMINALS = ("T_CELL1", "T_CELL2", "T_AMB", "T_MOS")
#: fault points (terminals of the station's switch role) this plant reads; see the module docstring
BUTTON = "BUTTON"
CAN_OPEN = "CAN_OPEN"
RS485_OPEN = "RS485_OPEN"
#: resistance of a shorted NTC input: the relay contact (34937A: < 0.1 Ω) and the wiring (Ω)
NTC_SHORT_OHM = 0.2
MIN_POWER_V = 6.0
#: resistance the load shows in short-circuit mode (Ω)
SHORT_OHM = 0.005
#: resistance of the BMS's own power path (MOSFETs, shunt, copper): our assumption, below EL-RDS's 2 mΩ
BMS_PATH_OHM = 0.0015
#: the step a held state allows (the lab cuts it to the time asked; the twin splits it itself)
HELD_STEP_S = math.inf


class Bms12100Plant(Plant):
    """Bench physics + twin for the 12100 BMS."""

    def __init__(
        self,
        station: StationModel,
        instruments: dict[str, SimInstrument],
        settings: dict[str, Any] | None,
        seed: int,
        publish: CanPublish,
    ) -> None:
        super().__init__(station, instruments, settings, seed, publish)
        self._settings = Settings.model_validate(settings or {})
        sim = station.sim
        self.battery_ohm = sim.battery_ohm if sim else 0.01
        if sim is not None and sim.dut_serial is not None:
            self.twin = Bms12100Twin(self._settings, seed, serial=sim.dut_serial)
        else:
            self.twin = Bms12100Twin(self._settings, seed)
        self.responder = Rs485Responder(self.twin, station.dut.address)
        self.charger, self.charger_ch = self._find("power_supply")
        self.load, self.load_ch = self._find("electronic_load")
        self.cells, self.cell_ch = self._find("cell_emulator")
        self.ntc, self.ntc_ch = self._find("temperature_emulator")
        dmm, _ = self._find("dmm")
        if dmm is not None and hasattr(dmm, "probe"):
            dmm.probe = self.probe
        self.switches: dict[str, Any] = {
            terminal: instruments[name]
            for name, inst in station.instruments.items()
            if inst.role == "switch"
            for terminal in inst.channels
        }
        self._switch_sims = list({id(sim): sim for sim in self.switches.values()}.values())
        self._inserted: frozenset[str] | None = None  # the closed fault points (None: read again)
        # commands to the switches and the NTC emulator so far: the held inputs are built again after one
        self._input_moves = 0
        for moved in [*self._switch_sims, *([self.ntc] if self.ntc is not None else [])]:
            moved.on_settings_change(self._inputs_moved)
        self._held: tuple[tuple[object, ...], TerminalInputs] | None = None  # (what they depend on, inputs)
        self._cells_read: tuple[int, list[float]] | None = None  # (emulator version, volts)
        self._settled: tuple[object, ...] | None = None  # `_state()` after the last step
        self._holding = False  # the step max_step allowed is a held one (until an output changes)
        self._held_from = 0.0  # the lab's time when max_step allowed that held step
        self._button_closed = False
        self.powered = False
        self.next_can = 0.0
        self.v_pack = 0.0
        self.v_b = 0.0
        self.can_listeners: Callable[[], int] = lambda: 1  # the lab sets this to its CAN hub's
        self.v_p = 0.0
        self.i_pack = 0.0
        self.i_charger = 0.0
        self.i_load = 0.0
        self.cell_v = [0.0] * CELL_COUNT

    def _find(self, role: str) -> tuple[Any, dict[str, str]]:
        for name, inst in self.station.instruments.items():
            if inst.role == role:
                return self.instruments[name], inst.channels
        return None, {}

    def fault(self, point: str) -> bool:
        """Whether the fault-insertion relay of `point` is closed (False if the station has none)."""
        return point in self._inserted_points()

    def _inserted_points(self) -> frozenset[str]:
        """The fault points whose relays are closed, read again only after a switch command."""
        if self._inserted is None:
            self._inserted = frozenset(p for p, sim in self.switches.items() if sim.closed(p))
        return self._inserted

    def _inputs_moved(self) -> None:
        """A switch or the NTC emulator took a command: relays and resistances are read again."""
        self._input_moves += 1
        self._inserted = None

    def faults(self) -> list[str]:
        """The fault points inserted now."""
        return sorted(self._inserted_points())

    def _relays(self, t: float) -> None:
        """Act on relay edges: the BUTTON contact closing is a press of the BMS's button."""
        closed = self.fault(BUTTON)
        if closed and not self._button_closed and self.powered:
            self.twin.button(t)
        self._button_closed = closed

    # --- inputs from the instruments -------------------------------------------------
    def _cell_voltages(self) -> list[float]:
        if self.cells is None:
            return [3.3] * CELL_COUNT
        port = cast(MultiSourcePort, self.cells)
        version = port.settings_version()
        if self._cells_read is None or self._cells_read[0] != version:
            volts = []
            for i in range(1, CELL_COUNT + 1):
                setting = port.channel_setting(int(self.cell_ch[f"CELL{i}"]))
                volts.append(setting.voltage if setting.on else 0.0)
            self._cells_read = (version, volts)
        return list(self._cells_read[1])

    def _ntc_ohms(self) -> list[float | None]:
        """The resistance at each NTC input of the BMS: the emulator's, unless a relay opens or shorts it."""
        if self.ntc is None:
            ohms: list[float | None] = [10_000.0] * len(NTC_TERMINALS)
        else:
            port = cast(ResistancePort, self.ntc)
            ohms = [port.resistance(int(self.ntc_ch[t])) for t in NTC_TERMINALS]
        inserted = self._inserted_points()
        if inserted:
            for i, terminal in enumerate(NTC_TERMINALS):
                if f"{terminal}_SHORT" in inserted:
                    ohms[i] = NTC_SHORT_OHM
                elif f"{terminal}_OPEN" in inserted:
                    ohms[i] = None
        return ohms

    def _sensed_cells(self) -> list[float]:
        """The cell voltages at the BMS's sense inputs: an open lead's tap follows the tap below it."""
        taps = [0.0]
        for volts in self.cell_v:
            taps.append(taps[-1] + volts)
        inserted = self._inserted_points()
        if inserted:
            for n in range(1, CELL_COUNT + 1):
                if f"CELL{n}_SENSE_OPEN" in inserted:
                    taps[n] = taps[n - 1]
        return [taps[i + 1] - taps[i] for i in range(CELL_COUNT)]

    def _solve(self, t: float) -> None:
        """The power path's operating point for the MOSFET states the twin holds now.

        Node P sits at V_pack + I·R (R: the station's battery_ohm); the charger is CV with a
        current limit and cannot sink; the load draws its demand. A MOSFET that is off blocks its
        direction: P is then cut from the pack and follows the charger (or collapses under the load).
        While the twin precharges and no charger is on, the pack's discharge current is limited to
        V_pack / PRECHARGE_OHM and P drops by I·PRECHARGE_OHM (with a charger on, it feeds the load).
        """
        self.cell_v = self._cell_voltages()
        self.v_pack = v_pack = sum(self.cell_v)
        r = self.battery_ohm
        supply = cast(SourcePort, self.charger).source() if self.charger is not None else None
        if supply is not None and not supply.on:
            supply = None
        load = cast(LoadPort, self.load) if self.load is not None else None
        demand = load.demand(t, v_pack) if load is not None else 0.0
        if load is not None and load.shorted():
            demand = v_pack / (r + SHORT_OHM)
        chg_ok = self.powered and self.twin.charge_path_closed
        dsg_ok = self.powered and self.twin.discharge_path_closed
        precharge_drop = 0.0
        if supply is None:
            i_c, i_b = 0.0, -demand
            if self.powered and self.twin.precharge_active:
                i_b = max(i_b, -v_pack / PRECHARGE_OHM)  # the precharge resistor limits the discharge
                demand = -i_b
                precharge_drop = demand * PRECHARGE_OHM
        else:
            i_b = (supply.voltage - v_pack) / r  # charger in CV holding P at its setpoint
            i_c = i_b + demand
            if i_c > supply.current_limit:
                i_c = supply.current_limit
            elif i_c < 0:
                i_c = 0.0
            i_b = i_c - demand
        path_ohm = BMS_PATH_OHM + self.twin.settings.hardware.path_extra_mohm / 1000.0  # SIM-ONLY fault
        v_p = v_pack + i_b * (r + path_ohm) - precharge_drop
        if (i_b > 0 and not chg_ok) or (i_b < 0 and not dsg_ok):
            i_b = 0.0  # P is cut from the pack
            if supply is not None and demand <= supply.current_limit:
                i_c, v_p = demand, supply.voltage
            else:
                i_c, v_p, demand = (supply.current_limit if supply else 0.0), 0.0, 0.0
        elif supply is None and not dsg_ok:
            v_p = 0.0  # nothing drives P: the discharge MOSFET is off and no charger is connected
        self.v_p = max(v_p, 0.0)
        self.v_b = v_pack + i_b * r  # the BMS's B+ terminal, behind the cells' own resistance
        self.i_pack = i_b
        self.i_charger = i_c
        self.i_load = demand

    # --- Plant ----------------------------------------------------------------------
    def power_on(self, t: float) -> None:
        self._solve(t)
        self.powered = self.v_pack > MIN_POWER_V
        if self.powered:
            self.twin.power_on(t, self._inputs())
            self._solve(t)
        self.next_can = t
        self._report()

    def _inputs(self) -> TerminalInputs:
        """The twin's terminal inputs now; built again only when the cells, a relay, an NTC, the
        power path's current or P+ moved (the twin copies what it keeps, it never changes them)."""
        cells = self._cells_read[0] if self._cells_read is not None else None
        key = (cells, self._input_moves, self.i_pack, self.v_p, self.powered)
        if self._held is not None and self._held[0] == key:
            return self._held[1]
        inputs = TerminalInputs(
            cell_v=self._sensed_cells(),
            ntc_ohm=self._ntc_ohms(),
            current_a=self.i_pack,
            charger_v=self.v_p,
            powered=self.powered,
        )
        self._held = (key, inputs)
        return inputs

    def step(self, t: float, dt: float) -> float:
        self._solve(t)
        powered = self.v_pack > MIN_POWER_V
        if powered and not self.powered:
            self.powered = True
            self.twin.power_on(t, self._inputs())
        elif not powered:
            self.powered = False
        self._relays(t - dt)  # set before this step began (the lab normally saw it in max_step)
        if self.powered:
            # a held step (see max_step) runs the twin's cycles until one changes what we read
            if self._holding and self._talking():
                t = self._held_on_bus(t, self._inputs())
            else:
                t = self.twin.step(t, dt, self._inputs(), until_change=self._holding)
            self._solve(t)  # the MOSFETs may have changed
        self._holding = False
        self._report()
        if self._talking():
            self._publish_due(t)
        self._settled = self._state()
        return t

    def _held_on_bus(self, end: float, inputs: TerminalInputs) -> float:
        """A held step while the BMS talks to a CAN listener: the lab's own steps (each bounded by
        the twin's `max_step` and the next telemetry), taken here without the bookkeeping around
        them, each frame set published at its step's time; stops after the step whose cycle changes
        what we read, or at `end`. The step that ends it publishes in `step`, as any step does."""
        t = self._held_from
        before = self.twin.outputs()
        while True:
            t, dt = lab_step(t, end, self._bus_step(t, self.twin.max_step()))
            self.twin.step(t, dt, inputs)
            if end - t <= TIME_EPS_S or self.twin.outputs() != before:
                return t
            self._publish_due(t)

    def _bus_step(self, t: float, step: float) -> float:
        """`step` cut so that the step from t ends when the next telemetry is due."""
        return min(step, max(self.next_can - t, 1e-4))

    def _publish_due(self, t: float) -> None:
        """The telemetry frames at time t, if due (the BMS broadcasts every `CYCLE_S`)."""
        if t + 1e-9 >= self.next_can:
            for can_id, data in encode_telemetry(self.twin.telemetry()):
                self.publish(t, can_id, data)
            self.next_can = t + CYCLE_S

    def _state(self) -> tuple[object, ...]:
        """What a step solves and reports, and the settings behind it: equal before and after a
        step, so stepping again with nothing changed would report the same (see `max_step`)."""
        versions = tuple(
            cast(SimInstrument, port).settings_version()
            for port in (self.charger, self.load, self.cells)
            if port is not None
        )
        supply = cast(SourcePort, self.charger).source() if self.charger is not None else None
        return (
            self.powered,
            self.v_p,
            self.v_b,
            self.i_pack,
            self.i_charger,
            self.i_load,
            tuple(self.cell_v),
            supply,
            versions,
            self._input_moves,
            self.twin.outputs() if self.powered else None,
        )

    def _talking(self) -> bool:
        """The BMS sends on CAN while awake and on the bus; frames nobody listens to are not built."""
        return (
            self.powered
            and self.twin.mode is not Mode.SHUTDOWN
            and not self.fault(CAN_OPEN)
            and self.can_listeners() > 0
        )

    def _report(self) -> None:
        if self.charger is not None:
            supply = cast(SourcePort, self.charger)
            setting = supply.source()
            supply.report(self.v_p if setting.on else 0.0, self.i_charger)
        if self.load is not None:
            cast(LoadPort, self.load).report(self.v_p, self.i_load if self.v_p > 0 else 0.0)
        if self.cells is not None:
            port = cast(MultiSourcePort, self.cells)
            bleed = (
                self.twin.bleed_currents() if self.powered and hasattr(self.twin, "bleed_currents") else []
            )
            supply_a = self.twin.supply_current_a() if self.powered else 0.0
            for i in range(1, CELL_COUNT + 1):
                current = -self.i_pack + supply_a
                if i - 1 < len(bleed):
                    current += bleed[i - 1]
                port.report_channel(int(self.cell_ch[f"CELL{i}"]), self.cell_v[i - 1], current)

    def max_step(self, t: float) -> float:
        self._solve(t)
        if not self.powered and self.v_pack > MIN_POWER_V:
            return 1e-6  # the cells have just been connected: boot now, not a second later
        if self.powered:
            self._relays(t)  # a button pressed since the last step reboots (or wakes) the BMS now
            # Let the twin see inputs changed since the last step (e.g. a load short) at once, so
            # that its max_step covers the timers they start (the SCP's 300 µs).
            self.twin.step(t, 0.0, self._inputs())
        step = self.twin.max_step() if self.powered else 1.0
        if self._talking():
            step = self._bus_step(t, step)
        change = cast(LoadPort, self.load).next_change(t) if self.load is not None else None
        if change is not None and change > t:
            step = min(step, max(change - t, 1e-4))
        elif self.powered and self._state() == self._settled:
            # Nothing scheduled outside the twin but its telemetry, and the last step left everything
            # as it is now: step after step would hold the same inputs and report the same until a
            # twin cycle changes an output, so the twin runs its own cycles (the same ones) until
            # then, and while a listener is connected `_held_on_bus` takes the lab's steps itself.
            self._holding = True
            self._held_from = t
            return HELD_STEP_S
        return step

    def serial(self, t: float, data: bytes) -> bytes:
        if not self.powered or self.fault(RS485_OPEN):
            return b""  # nothing reaches the BMS: no answer, and no RS-485 wake-up
        return self.responder.feed(t, data)

    def corrupt_answer(self, mode: str, answer: bytes, rng: random.Random) -> bytes:
        """RS-485 line faults spoil one YD/T 1363 field at a time (sim.line_faults)."""
        return line_faults.corrupt_answer(mode, answer, rng)

    def probe(self, point: str, quantity: str) -> float:
        """True values at DMM points: PACK, P, CELLn voltages; SUPPLY current; NTC resistances."""
        if quantity == "VOLT":
            if point == "PACK":
                return self.v_b
            if point == "P":
                return self.v_p
            if point.startswith("CELL"):
                return self.cell_v[int(point[4:]) - 1]
        if quantity == "CURR" and point == "SUPPLY":
            return self.twin.supply_current_a() if self.powered else 0.0
        if quantity == "RES" and point in NTC_TERMINALS:
            ohm = self._ntc_ohms()[NTC_TERMINALS.index(point)]
            return math.inf if ohm is None else ohm
        return 0.0

    def settings(self) -> dict[str, Any]:
        return self.twin.settings.model_dump(mode="json")

    def load_settings(self, settings: dict[str, Any]) -> None:
        self.twin.settings = Settings.model_validate(settings)

    def state(self) -> dict[str, Any]:
        tel = self.twin.telemetry()
        return {
            "powered": self.powered,
            "mode": tel.mode.value,
            "charge_fet": tel.charge_fet,
            "discharge_fet": tel.discharge_fet,
            "active": sorted(tel.active),
            "soc_pct": tel.soc_pct,
            "v_pack": self.v_pack,
            "v_p": self.v_p,
            "i_pack": self.i_pack,
            "faults": self.faults(),
        }
