"""The electrical model of a Main 2.1 / 2R bench around the twin, stepped by the lab's clock.

Wiring (terminal names in terminals.py): the `SUPPLY` power supply powers the board (the twin runs
above the variant's minimum); cell emulator channels `L<b>C<cc>` feed the BMS Logic boards' cells
and resistance channels `L<b>T<t>` their thermistors (OUR MODEL: a board whose cells are all below
`LOGIC_MIN_V` is unpowered and off the internal link); the analog source's DACs drive the
Hall-sensor (Vcs/Vref) and sensor (Vts, Vhs) inputs; switch relays close the dry-contact inputs and
put the fixture's 20 mA load (`OUTPUT_LOAD_A`) on the discrete outputs.
The DMM reads the discrete outputs (volts), the relay contacts (ohms, open = infinite; volts: the
drop while the relay's electronic load `RLY<n>` draws its current from the bench's fixed contact
source `CONTACT_SOURCE_V` through V+ and NO), the sensor inputs' true levels (volts), the supply
current, and the termination behind each jumper (ohms, only while the switch routes it, `TERM_<j>`);
a jumper is fitted while its fixture relay `JMP_<j>` is closed, or as the station declares it
(expectation `termination_<j>_fitted`, 1 or 0; fitted when neither says). The LED analyser's fibres
see the twin's LEDs. Inputs are read at the start of
each step and held over it, as the twin's contract says.

Buses: Modbus RTU on the lab's RS-485 (`serial`) and Modbus TCP (`modbus_tcp`, the 2.1) are
decoded and encoded with pymodbus's framers and answered from the twin's registers by
`TwinRegisters` (sim/modbus.py, shared with the standalone servers); a unit that is not running,
a request to another unit, or a frame whose PDU pymodbus cannot decode gets no answer (a silent
RS-485 device; benchmarks/fuzz_movicom.py feeds it random and mutated frames). CANopen: the twin's
`CanopenNode` (canopen's LocalNode) on a `VirtualNetwork`, so its heartbeat is sent from the step on
virtual time and its TPDOs answer each SYNC a bus client sends.
"""

from __future__ import annotations

import math
from contextlib import suppress
from typing import Any, cast

from canopen.sdo.base import SdoRecord
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import ModbusIOException
from pymodbus.framer import FramerBase, FramerRTU, FramerSocket
from pymodbus.pdu import DecodePDU, ExceptionResponse, ModbusPDU
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersResponse,
    ReadInputRegistersResponse,
    WriteMultipleRegistersResponse,
    WriteSingleRegisterResponse,
)

from hil.duts.movicom_main_2.config import MovicomConfig, config_class
from hil.duts.movicom_main_2.protocol.modbus_codec import Codec
from hil.duts.movicom_main_2.protocol.registers import load_map
from hil.duts.movicom_main_2.sim.canbus import VirtualNetwork
from hil.duts.movicom_main_2.sim.canopen_node import CanopenNode
from hil.duts.movicom_main_2.sim.modbus import TwinRegisters
from hil.duts.movicom_main_2.sim.twin import MovicomTwin
from hil.duts.movicom_main_2.terminals import (
    LOGIC_NTC,
    OUTPUT_LOAD_A,
    SUPPLY,
    cell_terminal,
    humidity_terminal,
    jumper_terminal,
    load_terminal,
    ntc_terminal,
    relay_terminal,
    sensor_terminals,
    temperature_terminals,
    termination_terminal,
    terminations,
)
from hil.duts.movicom_main_2.variants import family_variant
from hil.sim.instruments.base import SimInstrument
from hil.sim.instruments.feasa_led_analyser import LedLight
from hil.sim.plant import CanPublish, Plant
from hil.sim.ports import LoadPort, MultiSourcePort, ResistancePort, SourcePort
from hil.station.model import StationModel

#: a Logic board runs from its own cells: below this on every cell it is off the internal link
LOGIC_MIN_V = 1.0
#: what an open thermistor input reads (OUR MODEL: the firmware's lowest reading)
OPEN_NTC_C = -50.0
#: OUR BENCH: the fixed lab supply feeding the relays' V+ for the contact-drop loads (V)
CONTACT_SOURCE_V = 12.0
#: the LED analyser's intensity of a lit indicator LED (analyser units)
LED_INTENSITY = 800.0
#: the default serial number of a simulated unit per variant (CANopen 0x1018 sub 4)
SIM_SERIALS = {"main-2.1": 21_000_001, "main-2r": 22_000_001}
IDLE_STEP_S = 1.0
#: the longest Modbus RTU frame (bytes): more without a request is noise
RTU_BUFFER_MAX = 256


def _config(station: StationModel, settings: dict[str, Any] | None) -> MovicomConfig:
    cls = config_class(family_variant(station.dut.name))
    return cls.model_validate(settings or {})


class MovicomPlant(Plant):
    """Bench physics + firmware twin of a Movicom Main 2.1 / 2R (see the module docstring)."""

    def __init__(
        self,
        station: StationModel,
        instruments: dict[str, SimInstrument],
        settings: dict[str, Any] | None,
        seed: int,
        publish: CanPublish,
    ) -> None:
        super().__init__(station, instruments, settings, seed, publish)
        self.t = 0.0
        self.supply: SourcePort | None = None
        self.cells: dict[str, tuple[MultiSourcePort, int]] = {}
        self.ntcs: dict[str, tuple[ResistancePort, int]] = {}
        self.dacs: dict[str, Any] = {}
        self.switches: dict[str, Any] = {}
        self.leds: dict[str, Any] = {}
        self.loads: dict[str, LoadPort] = {}
        for name, inst in station.instruments.items():
            sim = instruments[name]
            for terminal, channel in inst.channels.items():
                if inst.role == "power_supply" and terminal == SUPPLY:
                    self.supply = cast(SourcePort, sim)
                elif inst.role == "cell_emulator":
                    self.cells[terminal] = (cast(MultiSourcePort, sim), int(channel))
                elif inst.role == "temperature_emulator":
                    self.ntcs[terminal] = (cast(ResistancePort, sim), int(channel))
                elif inst.role == "analog_source":
                    self.dacs[terminal] = sim
                elif inst.role == "switch":
                    self.switches[terminal] = sim
                elif inst.role == "led_analyser":
                    self.leds[terminal] = sim
                elif inst.role == "electronic_load":
                    self.loads[terminal] = cast(LoadPort, sim)
            if inst.role == "dmm" and hasattr(sim, "probe"):
                sim.probe = self.probe
        self._rtu = b""
        self.load_settings(settings or {})

    # --- the DUT --------------------------------------------------------------------------------
    def _build(self, config: MovicomConfig) -> None:
        self.config = config
        self.twin = MovicomTwin(config, self.seed, t0=self.t)
        self.codec = Codec(load_map(config.hardware_variant.register_map), config.modbus.register_order)
        self.registers = TwinRegisters(self.twin, self.codec, config.modbus.unit)
        self.network = VirtualNetwork(self.publish, lambda: self.t)
        self.node = CanopenNode(self.twin, self.network, self.codec.register_map)
        wanted = self.station.sim.dut_serial if self.station.sim else None
        serial = int(wanted) if wanted and wanted.isdigit() else SIM_SERIALS[config.variant]
        identity = self.node.node.sdo[0x1018]
        assert isinstance(identity, SdoRecord)
        identity[4].raw = serial
        for terminal, sim in self.leds.items():
            sim.set_light(terminal, lambda t, name=terminal: self._light(name, t))

    def power_on(self, t: float) -> None:
        self.t = t
        self._read_inputs()
        self.twin.step(max(t, self.twin.t))
        self.node.poll()

    def step(self, t: float, dt: float) -> None:
        self.t = t - dt
        self._read_inputs()
        self.node.poll()  # boots (boot-up, heartbeat from now) or falls silent with the supply
        self.t = t
        self.twin.step(t)
        self.network.fire(t)
        self._report()

    def max_step(self, t: float) -> float:
        due = self.network.next_due()
        return IDLE_STEP_S if due is None else max(due - t, 1e-6)

    # --- inputs and outputs ---------------------------------------------------------------------
    def _read_inputs(self) -> None:
        hw, inputs = self.config.hardware_variant, self.twin.inputs
        setting = self.supply.source() if self.supply is not None else None
        inputs.supply_v = setting.voltage if setting is not None and setting.on else 0.0
        for b, board in enumerate(inputs.boards, 1):
            for c in range(len(board.cell_v)):
                wired = self.cells.get(cell_terminal(b, c + 1))
                cell = wired[0].channel_setting(wired[1]) if wired else None
                board.cell_v[c] = cell.voltage if cell is not None and cell.on else 0.0
            for s in range(len(board.temperature_c)):
                ntc = self.ntcs.get(ntc_terminal(b, s + 1))
                ohm = ntc[0].resistance(ntc[1]) if ntc else None
                board.temperature_c[s] = LOGIC_NTC.temperature_c(ohm) if ohm else OPEN_NTC_C
            board.online = max(board.cell_v, default=0.0) >= LOGIC_MIN_V
        for sensor, (out, ref) in zip(inputs.sensors, sensor_terminals(hw), strict=True):
            sensor.vcs_v, sensor.vref_v = self._dac(out), self._dac(ref)
        inputs.temperature_v = [self._dac(name) for name in temperature_terminals(hw)]
        humidity = humidity_terminal(hw)
        inputs.humidity_v = self._dac(humidity) if humidity else 0.0
        inputs.contacts = [
            bool(name in self.switches and self.switches[name].closed(name)) for name in hw.inputs
        ]
        inputs.output_load_a = [
            OUTPUT_LOAD_A if self._closed(load_terminal(name)) else 0.0 for name in hw.outputs
        ]
        self.twin.inputs_changed()

    def _closed(self, terminal: str) -> bool:
        return bool(terminal in self.switches and self.switches[terminal].closed(terminal))

    def _dac(self, terminal: str) -> float:
        sim = self.dacs.get(terminal)
        return float(sim.output(terminal)) if sim is not None else 0.0

    def _report(self) -> None:
        if self.supply is not None:
            setting = self.supply.source()
            self.supply.report(setting.voltage if setting.on else 0.0, self.twin.supply_current_a())
        for port, channel in self.cells.values():
            setting = port.channel_setting(channel)
            port.report_channel(channel, setting.voltage if setting.on else 0.0, 0.0)
        for n in range(1, 5):
            load = self.loads.get(relay_terminal(n))
            if load is not None:
                amps, drop = self._contact(n)
                load.report(CONTACT_SOURCE_V - drop if amps else 0.0, amps)

    def _contact(self, relay: int) -> tuple[float, float]:
        """(current through relay `relay`'s contact from its load, drop across the contact)."""
        load = self.loads.get(relay_terminal(relay))
        ohm = self.twin.contact_resistance_ohm(relay)
        if ohm is None:  # open: NO pulled to the load's side, V+ at the contact source
            return 0.0, CONTACT_SOURCE_V if load is not None else 0.0
        amps = min(load.demand(self.t, CONTACT_SOURCE_V), CONTACT_SOURCE_V / max(ohm, 1e-3)) if load else 0.0
        return amps, amps * ohm

    def _fitted(self, jumper: str) -> bool:
        """Whether termination jumper `jumper` is fitted (its fixture relay, else the station's word)."""
        relay = jumper_terminal(jumper)
        if relay in self.switches:
            return bool(self.switches[relay].closed(relay))
        return bool(self.station.expectations.get(f"termination_{jumper}_fitted", 1.0))

    def _termination(self, point: str) -> float:
        for jumper, _ in terminations(self.config.hardware_variant):
            if point == termination_terminal(jumper):
                routed = point not in self.switches or self.switches[point].closed(point)
                ohm = self.twin.termination_ohm(self._fitted(jumper)) if routed else None
                return math.inf if ohm is None else ohm
        return math.inf

    def probe(self, point: str, quantity: str) -> float:
        """True values at the DMM's points: outputs and analog source outputs (VOLT), relay contacts
        (RES), supply (CURR)."""
        hw = self.config.hardware_variant
        if quantity == "CURR":
            return self.twin.supply_current_a() if point == SUPPLY else 0.0
        relays = {relay_terminal(n): n for n in range(1, 5)}
        if quantity == "RES":
            if point in relays:
                ohm = self.twin.contact_resistance_ohm(relays[point])
                return math.inf if ohm is None else ohm
            return self._termination(point)
        if quantity == "VOLT" and point in hw.outputs:
            return self.twin.output_levels_v()[hw.outputs.index(point)]
        if quantity == "VOLT" and point in relays:
            return self._contact(relays[point])[1]
        if quantity == "VOLT" and point in self.dacs:  # a DMM channel across an analog source output
            return self._dac(point)
        return 0.0

    def _light(self, name: str, t: float) -> LedLight:
        led = self.twin.leds().get(name)
        if led is None or not led.on:
            return LedLight(colour=led.colour if led else "red")
        return LedLight(led.colour, LED_INTENSITY, led.blink_hz, 0.5, led.phase_t0)

    # --- buses ----------------------------------------------------------------------------------
    def serial(self, t: float, data: bytes) -> bytes:
        """Modbus RTU on the external RS-485: bytes are kept until a request is whole; the master
        waits for each answer (half duplex), so a whole request leaves nothing behind it."""
        self._rtu += data
        framer = FramerRTU(DecodePDU(is_server=True))
        try:
            _, request = framer.handleFrame(self._rtu, 0, 0)
        except ModbusIOException:  # a whole frame with a good CRC but no request pymodbus knows
            self._rtu = b""
            return b""
        if request is None and len(data) < len(self._rtu):
            # RTU frames are separated by silence: a whole request in this write follows whatever
            # unreadable bytes came before it (a frame of an unknown function code has no length)
            with suppress(ModbusIOException):
                _, request = framer.handleFrame(data, 0, 0)
        if request is None:
            if len(self._rtu) > RTU_BUFFER_MAX:  # no request in a full buffer: line noise
                self._rtu = b""
            return b""
        self._rtu = b""
        return self._answer(framer, request)

    def modbus_tcp(self, t: float, data: bytes) -> bytes:
        """Modbus TCP (the 2.1's Ethernet; the 2R has none and answers nothing)."""
        if not self.config.hardware_variant.modbus_tcp:
            return b""
        framer = FramerSocket(DecodePDU(is_server=True))
        try:
            _, request = framer.handleFrame(data, 0, 0)
        except ModbusIOException:  # a frame whose PDU pymodbus cannot decode: no answer
            return b""
        return b"" if request is None else self._answer(framer, request)

    def _answer(self, framer: FramerBase, request: ModbusPDU) -> bytes:
        if request.dev_id != self.registers.unit or not self.twin.running:
            return b""
        fc, dev_id, tid = request.function_code, request.dev_id, request.transaction_id
        response: ModbusPDU
        if fc in (3, 4):
            answer = self.registers.read(fc, request.address, request.count)
            if isinstance(answer, list):
                cls = ReadHoldingRegistersResponse if fc == 3 else ReadInputRegistersResponse
                return framer.buildFrame(cls(registers=answer, dev_id=dev_id, transaction_id=tid))
            error: ExcCodes | None = answer
        elif fc in (6, 16):
            error = self.registers.write(fc, request.address, list(request.registers))
            if error is None:
                if fc == 6:
                    response = WriteSingleRegisterResponse(
                        address=request.address,
                        registers=list(request.registers),
                        dev_id=dev_id,
                        transaction_id=tid,
                    )
                else:
                    response = WriteMultipleRegistersResponse(
                        address=request.address,
                        count=len(request.registers),
                        dev_id=dev_id,
                        transaction_id=tid,
                    )
                return framer.buildFrame(response)
        else:
            error = ExcCodes.ILLEGAL_FUNCTION
        response = ExceptionResponse(fc, int(error or 0), dev_id, tid)
        return framer.buildFrame(response)

    def can_received(self, t: float, can_id: int, data: bytes) -> None:
        """A frame from a bus client: NMT, SYNC and SDO go to the canopen node."""
        self.t = t
        self.node.receive(can_id, data, t)

    # --- control port ---------------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        return self.config.model_dump(mode="json")

    def load_settings(self, settings: dict[str, Any]) -> None:
        if hasattr(self, "node"):
            self.node.close()
        self._build(_config(self.station, settings))

    def state(self) -> dict[str, Any]:
        return {
            "variant": self.config.variant,
            "running": self.twin.running,
            "relays": list(self.twin.relays),
            "errors": sorted(self.twin.errors()),
            "link": self.twin.link_state(),
            "nmt": self.node.node.nmt.state,
        }
