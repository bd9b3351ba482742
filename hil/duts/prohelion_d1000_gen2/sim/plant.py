"""The electrical model of a D1000 Gen2 bench around the BMU twin, stepped by the lab's clock.

Wiring (terminal names in terminals.py): cell emulator channels `N<nn>C<cc>` (the role may span
several instruments) feed the CMU cell inputs; resistance channels `N<nn>T<t>` the thermistor
inputs; the `BMU` supply powers the BMU (the twin boots when it rises above the variant's
brown-out and stops below); the DAQ reads the coil outputs, U1, the DC link, the HVIL return and
the supply current; fault-insertion relays override auxiliary contacts, open or short the HVIL
loop, cut the last CMU off the bus and shunt the precharge resistor.

Power path (current + = out of the pack, as the BJU reports it): the pack behind the BJU is the
series cells (their emulator voltages added up), or a `BATT` battery emulator when the station has
one, behind the station's `sim.battery_ohm`. One bench DC link (capacitance LINK_CAPACITANCE_F,
bleed LINK_BLEED_OHM) carries the electronic load and the charger supply (`LINK`, a CV/CC source
that cannot sink) and meets the battery through contactors 1 & 3 (drive), 1 & 2 (precharge,
through the configured prechargeResistance, in parallel with PRE_SHUNT_OHM when `PRE_SHUNT` is
closed) and 4 & 5 (charge); the BJU's U2 and U3 both read the link (OUR BENCH: the charge and load
ports are paralleled). A main path or a charger on holds the link stiff (solved each step); the
precharge path and the open link are integrated exactly (first-order, CC load). Main contacts
follow their coils; their auxiliary contacts follow the main contact (NO/NO, or NO/NC by
contactorConfigTypes) unless a relay forces them.

The BMU's inputs are taken at the start of each step and held over it, as the twin's contract
says; coil changes take effect at the end of the step. CAN: the snapshot is encoded with the
configuration's layout (telemetry.py) at its periods and published only while someone listens;
BMSCommands frames received go to `twin.command()`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial
from typing import Any, cast

from hil.duts.prohelion_d1000_gen2.config import (
    CELLS_PER_NODE_MAX,
    CONTACTOR_COUNT,
    TEMPS_PER_NODE_MAX,
    D1000Config,
)
from hil.duts.prohelion_d1000_gen2.sim.frames import FAST_PERIOD_S, SLOW_PERIOD_S, TelemetryEncoder
from hil.duts.prohelion_d1000_gen2.sim.twin import D1000Twin, HvilLoop, NodeInputs
from hil.duts.prohelion_d1000_gen2.terminals import (
    AUX_OPEN,
    CMU_BREAK,
    PRE_SHUNT,
    WELDED,
    CellId,
    SensorId,
    cell_terminal,
    ntc_terminal,
    parse_cell,
    parse_ntc,
)
from hil.protocols.can_errors import CanFrameError
from hil.sim.instruments.base import SimInstrument
from hil.sim.plant import CanPublish, Plant
from hil.sim.ports import (
    ClimatePort,
    LoadPort,
    MultiSourcePort,
    PressurePort,
    ResistancePort,
    SourcePort,
    SourceSetting,
)
from hil.station.model import StationModel

#: a CMU runs from its own cells: below this node voltage it is off the CMU bus
CMU_MIN_V = 5.0
#: the bench DC link: capacitance (F) and bleed resistor (Ω); precharge takes ~3 τ = 3·33 Ω·20 mF
LINK_CAPACITANCE_F = 0.02
LINK_BLEED_OHM = 47_000.0
#: the resistor PRE_SHUNT switches across the precharge resistor (Ω) unless the station's
#: expectations give `pre_shunt_ohm`: inrush well above 3 A
PRE_SHUNT_OHM = 4.7
#: output resistance of the charger in CV (Ω), so that CV against the stiff battery is solvable
CHARGER_SOURCE_OHM = 0.005
#: the HVIL loop's drive as the DAQ sees it at the return (V)
HVIL_DRIVE_V = 5.0
MIN_STEP_S = 1e-6
_EPS = 1e-9


def _parallel(a: float, b: float) -> float:
    return a * b / (a + b)


@dataclass
class _Feed:
    """One emulator behind cell or thermistor inputs and what it feeds."""

    port: MultiSourcePort | ResistancePort
    cells: list[tuple[CellId, int]] = field(default_factory=list)
    sensors: list[tuple[SensorId, int]] = field(default_factory=list)

    def nodes(self) -> set[int]:
        return {cell.node for cell, _ in self.cells} | {sensor.node for sensor, _ in self.sensors}


#: the serial number the simulated unit was programmed with at its factory, where the settings file
#: leaves serialNumber at its documented default 0 (unprogrammed; a run refuses such a unit)
SIM_UNIT_SERIAL = 1001


def _with_unit_serial(config: D1000Config, station: StationModel) -> D1000Config:
    """The configuration with the simulated unit's serial: the station's `sim.dut_serial`, else 1001 for 0."""
    wanted = station.sim.dut_serial if station.sim else None
    if wanted is not None:
        return config.model_copy(update={"serial_number": int(wanted)})
    if config.serial_number == 0:
        return config.model_copy(update={"serial_number": SIM_UNIT_SERIAL})
    return config


class D1000Plant(Plant):
    """Bench physics + BMU twin for the Prohelion BMS D1000 Gen2."""

    def __init__(
        self,
        station: StationModel,
        instruments: dict[str, SimInstrument],
        settings: dict[str, Any] | None,
        seed: int,
        publish: CanPublish,
    ) -> None:
        super().__init__(station, instruments, settings, seed, publish)
        self.config = _with_unit_serial(D1000Config.model_validate(settings or {}), station)
        self.battery_ohm = station.sim.battery_ohm if station.sim else 0.01
        self.twin = D1000Twin(self.config, seed, powered=False)
        self.encoder = TelemetryEncoder(self.config.node_id, self.config.num_cmu_nodes)
        self.can_listeners: Any = lambda: 1  # the lab sets this to its CAN hub's
        self.cells: dict[CellId, tuple[MultiSourcePort, int]] = {}
        self.ntcs: dict[SensorId, tuple[ResistancePort, int]] = {}
        self.bmu_supply: SourcePort | None = None
        self.charger: SourcePort | None = None
        self.battery: SourcePort | None = None
        self.load: LoadPort | None = None
        self.switches: dict[str, Any] = {}
        self.chamber: ClimatePort | None = None  # climatic chamber around the BMU
        self.enclosure: PressurePort | None = None  # pressure controller on the sensor's enclosure
        self._env: tuple[float | None, float | None, float | None] | None = None  # last handed to the twin
        self._wire(station, instruments)
        self.physical_nodes = sorted({c.node for c in self.cells})
        top = max(self.physical_nodes, default=-1) + 1
        # the instruments' outputs as read at the start of the lab's step (`_refresh`)
        self._volts: list[list[float]] = [[0.0] * CELLS_PER_NODE_MAX for _ in range(top)]
        self._ohms: list[list[float | None]] = [[None] * TEMPS_PER_NODE_MAX for _ in range(top)]
        self._cells_sum = 0.0
        # the inputs of each node as last handed to the twin: a node's object is replaced, never
        # changed, when one of its channels moves, so the twin re-samples only that node
        self._nodes: list[NodeInputs] = []
        self._nodes_version = 0  # moves whenever a node's object was replaced
        self._pushed_nodes_version = -1
        self._broken = False  # the CMU_BREAK relay as last seen
        # each emulator behind cells and thermistors with what it feeds; the ones commanded since
        # they were last read (`_unread`) or since their channels were last reported (`_unreported`)
        self._feeds: dict[int, _Feed] = {}
        for cell, (port, channel) in self.cells.items():
            self._feeds.setdefault(id(port), _Feed(port)).cells.append((cell, channel))
        for sensor, (rport, rchannel) in self.ntcs.items():
            self._feeds.setdefault(id(rport), _Feed(rport)).sensors.append((sensor, rchannel))
        self._unread: set[int] = set(self._feeds)
        self._unreported: set[int] = set(self._feeds)
        for key, feed in self._feeds.items():
            feed.port.on_settings_change(partial(self._commanded, key))
        self._bleed: list[list[float]] | None = None  # the bleed currents last reported
        # power-path state (at the end of the last step)
        self.v_link = 0.0
        self.i_pack = 0.0
        self.i_charger = 0.0
        self.i_load = 0.0
        self.v_batt = 0.0
        self.next_fast = 0.0
        self.next_slow = 0.0

    # --- wiring -----------------------------------------------------------------------------
    def _wire(self, station: StationModel, instruments: dict[str, SimInstrument]) -> None:
        for name, inst in station.instruments.items():
            sim = instruments[name]
            for terminal, channel in inst.channels.items():
                if inst.role == "cell_emulator" and (cell := parse_cell(terminal)) is not None:
                    self.cells[cell] = (cast(MultiSourcePort, sim), int(channel))
                elif inst.role == "temperature_emulator" and (sensor := parse_ntc(terminal)) is not None:
                    self.ntcs[sensor] = (cast(ResistancePort, sim), int(channel))
                elif inst.role == "power_supply" and terminal == "BMU":
                    self.bmu_supply = cast(SourcePort, sim)
                elif inst.role == "power_supply" and terminal == "LINK":
                    self.charger = cast(SourcePort, sim)
                elif inst.role == "power_supply" and terminal == "BATT":
                    self.battery = cast(SourcePort, sim)
                elif inst.role == "electronic_load" and terminal == "LINK":
                    self.load = cast(LoadPort, sim)
                elif inst.role == "switch":
                    self.switches[terminal] = sim
                elif inst.role == "climatic_chamber" and terminal == "AIR":
                    self.chamber = cast(ClimatePort, sim)
                elif inst.role == "pressure_controller" and terminal == "ENCLOSURE":
                    self.enclosure = cast(PressurePort, sim)
            if inst.role == "dmm" and hasattr(sim, "probe"):
                sim.probe = self.probe

    def fault(self, point: str) -> bool:
        """Whether the fault-insertion relay of `point` is closed."""
        sim = self.switches.get(point)
        return bool(sim is not None and sim.closed(point))

    # --- inputs from the instruments ---------------------------------------------------------
    def _commanded(self, key: int) -> None:
        """An emulator ran a command: its channels are read at the next step and reported after."""
        self._unread.add(key)
        self._unreported.add(key)

    def _refresh(self) -> None:
        """Read the channels of the emulators commanded since the last read (instruments change
        only between steps): a single-cell stimulus costs the same at 14 cells as at 448."""
        nodes: set[int] = set()
        if self._unread:
            volts_moved = False
            for key in self._unread:
                feed = self._feeds[key]
                volts_moved |= self._read_channels(feed)
                nodes |= {n for n in feed.nodes() if n < len(self._volts)}
            self._unread.clear()
            if volts_moved:
                self._cells_sum = sum(sum(row) for row in self._volts)
        broken = self.fault(CMU_BREAK)  # fault relays count too
        if broken != self._broken or not self._nodes:
            self._broken = broken
            nodes = set(range(len(self._volts)))
        if nodes:
            self._rebuild_nodes(nodes)

    def _read_channels(self, feed: _Feed) -> bool:
        """The channels of one emulator (the others' settings did not move); whether it has cells."""
        for cell, channel in feed.cells:
            setting = cast(MultiSourcePort, feed.port).channel_setting(channel)
            self._volts[cell.node][cell.cell - 1] = setting.voltage if setting.on else 0.0
        for sensor, rchannel in feed.sensors:
            if sensor.node < len(self._ohms):
                self._ohms[sensor.node][sensor.sensor - 1] = cast(ResistancePort, feed.port).resistance(
                    rchannel
                )
        return bool(feed.cells)

    def cell_voltage(self, cell: CellId) -> float:
        """The cell input's voltage as last read from its emulator channel."""
        if cell not in self.cells:
            return 0.0
        return self._volts[cell.node][cell.cell - 1]

    @staticmethod
    def _setting(port: SourcePort | None) -> SourceSetting | None:
        if port is None:
            return None
        setting = port.source()
        return setting if setting.on else None

    def _battery_emf(self) -> float:
        battery = self._setting(self.battery)
        if battery is not None:
            return battery.voltage
        return self._cells_sum

    def _hvil(self) -> HvilLoop:
        if self.fault("HVIL_SCB"):
            return HvilLoop.SHORT_TO_BATTERY
        if self.fault("HVIL_SCG"):
            return HvilLoop.SHORT_TO_GROUND
        if self.fault("HVIL_OPEN"):
            return HvilLoop.OPEN
        return HvilLoop.CLOSED

    def coils(self) -> tuple[bool, ...]:
        """Coil outputs 1..5 of the BMU (all off while it is unpowered)."""
        return self.twin.contactor_coils

    def _aux(self, coils: tuple[bool, ...]) -> list[bool]:
        aux = []
        for k in range(1, CONTACTOR_COUNT + 1):
            main_closed = coils[k - 1]
            if self.fault(WELDED[k - 1]):
                main_closed = True
            elif self.fault(AUX_OPEN[k - 1]):
                main_closed = False
            aux.append(main_closed != self.config.aux_normally_closed(k))
        return aux

    def _rebuild_nodes(self, changed: set[int]) -> None:
        """New input objects for the `changed` nodes (the others' objects stand)."""
        last = self.physical_nodes[-1] if self.physical_nodes else None
        physical = set(self.physical_nodes)
        if len(self._nodes) != len(self._volts):
            self._nodes = [NodeInputs([], [], connected=False)] * len(self._volts)
            changed = set(range(len(self._volts)))
        for n in changed:
            volts = self._volts[n]
            connected = n in physical and sum(volts) >= CMU_MIN_V and not (self._broken and n == last)
            self._nodes[n] = NodeInputs(list(volts), list(self._ohms[n]), connected=connected)
        self._nodes_version += 1

    def _environment(self, t: float) -> None:
        """The chamber's air and the enclosure's pressure at t into the BMU's sensors (when they moved)."""
        if self.chamber is None and self.enclosure is None:
            return
        temperature, humidity = self.chamber.air(t) if self.chamber is not None else (None, None)
        pressure = self.enclosure.enclosure(t) if self.enclosure is not None else None
        env = (temperature, humidity, pressure)
        if env == self._env:
            return
        self._env = env
        self.twin.set_environment(
            temperature1_c=temperature,
            temperature2_c=temperature,
            pressure_kpa=pressure,
            humidity_pct=humidity,
        )

    def _push_inputs(self) -> None:
        """Hand the twin what it senses now (marked changed only where it changed)."""
        twin = self.twin
        inputs = twin.inputs
        supply = self._setting(self.bmu_supply)
        supply_v = supply.voltage if supply is not None else 0.0
        nodes = self._nodes
        aux = self._aux(self.coils())
        hvil = self._hvil()
        bju = inputs.bju
        battery_v = self.v_batt - self.i_pack * self.battery_ohm
        changed = (
            self._pushed_nodes_version != self._nodes_version
            or inputs.aux_closed != aux
            or inputs.hvil is not hvil
            or inputs.supply_v != supply_v
            or (bju.current_a, bju.battery_v, bju.charger_v, bju.load_v)
            != (self.i_pack, battery_v, self.v_link, self.v_link)
        )
        if not changed:
            return
        inputs.nodes = list(nodes)  # the twin takes them as they are (NodeInputs are replaced, not edited)
        self._pushed_nodes_version = self._nodes_version
        inputs.aux_closed = aux
        inputs.hvil = hvil
        inputs.supply_v = supply_v
        bju.current_a, bju.battery_v = self.i_pack, battery_v
        bju.charger_v = bju.load_v = self.v_link
        twin.inputs_changed(resample=False)

    # --- the power path ---------------------------------------------------------------------
    def _paths(self, coils: tuple[bool, ...]) -> tuple[bool, float | None]:
        """(main path closed, resistance of the precharge path if it alone is closed)."""
        c1, c2, c3, c4, c5 = coils
        main = (c1 and c3) or (c4 and c5)
        if main or not (c1 and c2):
            return main, None
        r_pre = self.config.precharge_resistance
        if self.fault(PRE_SHUNT):
            r_pre = _parallel(r_pre, self.station.expectations.get("pre_shunt_ohm", PRE_SHUNT_OHM))
        return False, r_pre

    def _flows(self, v: float, main: bool, r_pre: float | None, charger: SourceSetting | None) -> float:
        """Current out of the battery plus charger current into the link, at link voltage v."""
        i_b = 0.0
        if main:
            i_b = (self.v_batt - v) / self.battery_ohm
        elif r_pre is not None:
            i_b = (self.v_batt - v) / r_pre
        i_c = 0.0
        if charger is not None:
            i_c = min(max((charger.voltage - v) / CHARGER_SOURCE_OHM, 0.0), charger.current_limit)
        return i_b + i_c

    def _solve(self, t: float, dt: float, coils: tuple[bool, ...]) -> None:
        """The link voltage after dt (or now, for dt = 0 or a stiff link) and the currents there."""
        self.v_batt = self._battery_emf()
        main, r_pre = self._paths(coils)
        charger = self._setting(self.charger)
        demand = 0.0
        if self.load is not None:
            demand = self.load.demand(t, self.v_link)
            if self.load.shorted():
                demand = math.inf
        if main or charger is not None:  # stiff: the quasi-static operating point
            hi = max(self.v_batt, charger.voltage if charger else 0.0) + 1.0

            def net(v: float) -> float:
                return self._flows(v, main, r_pre, charger) - min(demand, 1e9) - v / LINK_BLEED_OHM

            if net(0.0) <= 0.0:
                v = 0.0
            else:
                lo = 0.0
                for _ in range(60):
                    mid = (lo + hi) / 2
                    if net(mid) > 0.0:
                        lo = mid
                    else:
                        hi = mid
                v = (lo + hi) / 2
        else:  # C dv/dt = (v_b - v)/R_pre - I_load - v/R_bleed, exactly over dt
            g_pre = 1.0 / r_pre if r_pre is not None else 0.0
            a = self.v_batt * g_pre - (0.0 if math.isinf(demand) else demand)
            b = g_pre + 1.0 / LINK_BLEED_OHM
            if math.isinf(demand):
                v = 0.0
            else:
                v_inf = a / b
                v = v_inf + (self.v_link - v_inf) * math.exp(-b * dt / LINK_CAPACITANCE_F)
            v = max(v, 0.0)
        self.v_link = v
        i_b = 0.0
        if main:
            i_b = (self.v_batt - v) / self.battery_ohm
        elif r_pre is not None:
            i_b = (self.v_batt - v) / r_pre
        self.i_pack = i_b
        self.i_charger = 0.0
        if charger is not None:
            self.i_charger = min(max((charger.voltage - v) / CHARGER_SOURCE_OHM, 0.0), charger.current_limit)
        available = max(i_b + self.i_charger - v / LINK_BLEED_OHM, 0.0)
        self.i_load = demand if v > 0.0 and not math.isinf(demand) else min(demand, available)

    # --- Plant ------------------------------------------------------------------------------
    def power_on(self, t: float) -> None:
        """The lab starts with every instrument at *RST: the BMU boots when its supply comes on."""
        self.next_fast = self.next_slow = t
        self._refresh()
        self._environment(t)
        self._solve(t, 0.0, self.coils())
        self._push_inputs()
        self._report()

    def step(self, t: float, dt: float) -> None:
        coils = self.coils()
        self._environment(t - dt)  # held over the step, like every other input
        self._solve(t - dt, 0.0, coils)  # the operating point the twin senses over the step
        self._push_inputs()
        self.twin.step(t)
        self._solve(t, dt, coils)  # the link through the step, with the coils held
        new_coils = self.coils()
        if new_coils != coils:
            self._solve(t, 0.0, new_coils)
        self._report()
        self._publish(t)

    def _talking(self) -> bool:
        return self.twin.powered and self.can_listeners() > 0

    def _publish(self, t: float) -> None:
        if not self.twin.powered:
            self.next_fast = self.next_slow = t  # the first frames go out at boot
            return
        fast = t + _EPS >= self.next_fast
        slow = t + _EPS >= self.next_slow
        if not (fast or slow):
            return
        if self._talking():
            snap = self.twin.snapshot(nodes=slow)  # the per-node messages go out with the slow group
            for can_id, data in self.encoder.frames(snap, fast, slow):
                self.publish(t, can_id, data)
        while self.next_fast <= t + _EPS:
            self.next_fast += FAST_PERIOD_S
        while self.next_slow <= t + _EPS:
            self.next_slow += SLOW_PERIOD_S

    def _report(self) -> None:
        if self.bmu_supply is not None:
            supply = self._setting(self.bmu_supply)
            self.bmu_supply.report(supply.voltage if supply else 0.0, self.twin.supply_current_a())
        if self.charger is not None:
            on = self._setting(self.charger) is not None
            self.charger.report(self.v_link if on else 0.0, self.i_charger)
        if self.battery is not None:
            self.battery.report(self.v_batt - self.i_pack * self.battery_ohm, self.i_pack)
        if self.load is not None:
            self.load.report(self.v_link, self.i_load)
        # up to 448 channels: told again only where a voltage was programmed or a bleed moved
        bleed = self.twin.bleed_currents()
        if bleed is not self._bleed and bleed != self._bleed:
            self._bleed = bleed
            self._unreported.update(self._feeds)
        for key in self._unreported:
            for cell, channel in self._feeds[key].cells:
                amps = 0.0
                if cell.node < len(bleed) and cell.cell <= len(bleed[cell.node]):
                    amps = bleed[cell.node][cell.cell - 1]  # the balancing bleed is drawn from the cell
                cast(MultiSourcePort, self._feeds[key].port).report_channel(
                    channel, self._volts[cell.node][cell.cell - 1], amps
                )
        self._unreported.clear()

    def max_step(self, t: float) -> float:
        self._refresh()  # SCPI since the last step changed the instruments: read them once
        coils = self.coils()
        self._solve(t, 0.0, coils)
        self._push_inputs()  # inputs changed since the last step (a command, a setting) count now
        if not self.twin.powered:  # (reading `powered` lets a supply that just came on boot it)
            step = 1.0
        else:
            step = self.twin.max_step()
            if self._talking():
                step = min(step, max(min(self.next_fast, self.next_slow) - t, MIN_STEP_S))
        main, r_pre = self._paths(coils)
        stiff = main or self._setting(self.charger) is not None
        drawing = self.load is not None and self.load.demand(t, self.v_link) > 0.0
        if r_pre is not None or (not stiff and drawing and self.v_link > 0.0):
            step = min(step, 0.1)  # the link moves: keep the twin's samples of it fresh
        if self.load is not None:
            change = self.load.next_change(t)
            if change is not None and change > t:
                step = min(step, max(change - t, MIN_STEP_S))
        return step

    def can_received(self, t: float, can_id: int, data: bytes) -> None:
        """BMSCommands from the controller go to the twin; any other frame is not for the BMU."""
        codec = self.encoder.codec
        if can_id != codec.frame_id("BMSCommands"):
            return
        try:
            frame = codec.decode(can_id, data)
        except CanFrameError:
            return  # a malformed command frame is ignored, as the firmware would
        self._push_inputs()
        self.twin.command(
            int(frame.signals["BMSCommand"]),
            t=max(t, self.twin.t),
            command_type=int(frame.signals["BMSCommandType"]),
        )

    def probe(self, point: str, quantity: str) -> float:
        """True values at the DAQ points (see terminals.py)."""
        if quantity == "CURR":
            return self.twin.supply_current_a() if point == "SUPPLY" else 0.0
        if quantity != "VOLT":
            return math.inf if quantity == "RES" else 0.0
        supply = self._setting(self.bmu_supply)
        supply_v = supply.voltage if supply is not None else 0.0
        if point == "PACK":
            return self.v_batt - self.i_pack * self.battery_ohm
        if point == "LINK":
            return self.v_link
        if point.startswith("COIL"):
            k = int(point[4:])
            return supply_v if self.coils()[k - 1] else 0.0
        if point == "HVIL":
            loop = self._hvil()
            if not self.twin.powered or loop in (HvilLoop.OPEN, HvilLoop.SHORT_TO_GROUND):
                return 0.0
            return supply_v if loop is HvilLoop.SHORT_TO_BATTERY else HVIL_DRIVE_V
        if (cell := parse_cell(point)) is not None:
            return self.cell_voltage(cell)
        return 0.0

    def settings(self) -> dict[str, Any]:
        return self.config.model_dump(mode="json", by_alias=True)

    def load_settings(self, settings: dict[str, Any]) -> None:
        config = D1000Config.model_validate(settings)
        self.config = config
        self.twin.config = config
        self.encoder = TelemetryEncoder(config.node_id, config.num_cmu_nodes)

    def state(self) -> dict[str, Any]:
        return {
            **self.twin.describe(),
            "v_batt": self.v_batt,
            "v_link": self.v_link,
            "i_pack": self.i_pack,
            "i_charger": self.i_charger,
            "i_load": self.i_load,
            "coils": list(self.coils()),
            "faults": sorted(p for p in self.switches if self.fault(p)),
        }


__all__ = ["D1000Plant", "cell_terminal", "ntc_terminal"]
