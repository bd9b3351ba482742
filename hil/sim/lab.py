"""The lab: virtual time, simulated instruments, the CAN hub and the DUT plant, in one object.

Communication faults of the DUT (control port `rs485_fault`, `can_fault`) are applied here, on
the bytes and frames that leave the DUT: the twin still gets and handles every request, only
what comes back is corrupted, cut, replaced or dropped, as on a bad cable or a failing transceiver.
How a serial answer is spoilt is the plant's hook (`Plant.corrupt_answer`): it knows the framing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from hil import registry
from hil.errors import ConfigError
from hil.sim.instruments.base import SimInstrument
from hil.sim.plant import TIME_EPS_S, Plant, lab_step
from hil.sim.socketcand import SocketcandHub
from hil.station.model import StationModel

#: what `rs485_fault` can do to the DUT's next answers
RS485_FAULT_MODES = ("checksum", "length", "truncate", "garbage", "address", "silent", "none")
#: what `can_fault` can do: one-off error frames, or the DUT's frames gone (bus-off, silent)
CAN_FAULT_MODES = ("error_frame", "bus_off", "silent", "none")
# SocketCAN error classes (linux/can/error.h) the hub sends
CAN_ERR_PROT_BUSERROR = 0x008 | 0x080  # protocol violation, bus error
CAN_ERR_BUSOFF = 0x040
CAN_ERR_RESTARTED = 0x100


@dataclass
class Rs485Fault:
    """The RS-485 fault in force: its mode and how many answers it still affects (None: all)."""

    mode: str = "none"
    left: int | None = None
    applied: int = 0  # answers affected since it was set

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "left": self.left, "applied": self.applied}


class Lab:
    """Everything behind the simulated lab's transports; `advance(dt)` is the only way time moves."""

    def __init__(
        self, station: StationModel, settings: dict[str, Any] | None = None, seed: int | None = None
    ) -> None:
        self.station = station
        self.seed = seed if seed is not None else (station.sim.seed if station.sim else 1)
        self.family = registry.dut_family(station.dut.name)
        self.t = 0.0
        channel = station.buses.can.channel if station.buses.can else "can0"
        self.hub = SocketcandHub(channel=channel, now=lambda: self.t, on_receive=self._can_received)
        self._settings = settings
        self.rs485_fault = Rs485Fault()
        self.can_fault_mode = "none"
        self._fault_rng = random.Random(self.seed)
        self.instruments = self._build_instruments()
        self.plant = self._build_plant(settings)

    def _build_instruments(self) -> dict[str, SimInstrument]:
        instruments: dict[str, SimInstrument] = {}
        for name, inst in self.station.instruments.items():
            _, _, sim_ref = registry.instrument_entry(inst.driver)
            cls = registry.load(sim_ref)
            sim: SimInstrument = cls(name, inst.channels, seed=self.seed, serial=inst.serial)
            sim.now = lambda: self.t
            instruments[name] = sim
        return instruments

    def _build_plant(self, settings: dict[str, Any] | None) -> Plant:
        cls = self.family.load("plant")
        for sim in self.instruments.values():  # a plant replaced (settings, power cycle) stops listening
            sim.forget_listeners()
        try:
            plant: Plant = cls(self.station, self.instruments, settings, self.seed, self._dut_publish)
        except ValueError as exc:
            raise ConfigError("firmware settings", "-", str(exc)) from None
        if hasattr(plant, "can_listeners"):
            plant.can_listeners = self.hub.listeners
        plant.power_on(self.t)
        return plant

    def _can_received(self, t: float, can_id: int, data: bytes, extended: bool) -> None:
        del extended
        self.plant.can_received(t, can_id, data)

    def advance(self, dt: float) -> None:
        """Run the plant through `dt` seconds of virtual time in steps it allows."""
        end = self.t + dt
        while end - self.t > TIME_EPS_S:
            self.t, step = lab_step(self.t, end, self.plant.max_step(self.t))
            reached = self.plant.step(self.t, step)
            if reached is not None:  # the plant stopped early: its state changed (Plant.step)
                self.t = reached

    def reset(self, settings: dict[str, Any] | None = None) -> None:
        """Power-cycle: every instrument to its *RST state, a fresh DUT with the given settings."""
        for sim in self.instruments.values():
            sim.reset()
        self.plant = self._build_plant(settings if settings is not None else self._settings)

    def serial(self, data: bytes) -> bytes:
        """Bytes to the DUT's RS-485; its answer, through the RS-485 fault in force."""
        answer = self.plant.serial(self.t, data)
        fault = self.rs485_fault
        if not answer or fault.mode == "none":
            return answer
        answer = self.plant.corrupt_answer(fault.mode, answer, self._fault_rng)
        fault.applied += 1
        if fault.left is not None:
            fault.left -= 1
            if fault.left <= 0:
                self.rs485_fault = Rs485Fault()
        return answer

    def set_rs485_fault(self, mode: str, count: int | None = None) -> dict[str, Any]:
        """Apply `mode` to the DUT's next `count` RS-485 answers (all until `none`, if None)."""
        if mode not in RS485_FAULT_MODES:
            raise ValueError(f"rs485_fault mode must be one of {', '.join(RS485_FAULT_MODES)} (got {mode!r})")
        if count is not None and count < 1:
            raise ValueError(f"rs485_fault count must be at least 1 (got {count})")
        self.rs485_fault = Rs485Fault(mode, None if mode == "none" else count)
        return self.rs485_fault.to_json()

    def set_can_fault(self, mode: str, count: int = 1) -> dict[str, Any]:
        """`error_frame`: `count` error frames now; `bus_off`: a bus-off error frame, then none of the
        DUT's frames until `none` (which sends "controller restarted"); `silent`: the DUT sends
        nothing until `none`. Error frames carry the lab's time."""
        if mode not in CAN_FAULT_MODES:
            raise ValueError(f"can_fault mode must be one of {', '.join(CAN_FAULT_MODES)} (got {mode!r})")
        if count < 1:
            raise ValueError(f"can_fault count must be at least 1 (got {count})")
        was = self.can_fault_mode
        if mode == "error_frame":
            for _ in range(count):
                self.hub.publish_error(self.t, CAN_ERR_PROT_BUSERROR)
            return {"mode": was, "error_frames": count}
        if mode == "bus_off" and was != "bus_off":
            self.hub.publish_error(self.t, CAN_ERR_BUSOFF)
        elif mode != "bus_off" and was == "bus_off":
            self.hub.publish_error(self.t, CAN_ERR_RESTARTED)
        self.can_fault_mode = mode
        return {"mode": mode}

    def _dut_publish(self, timestamp: float, can_id: int, data: bytes, extended: bool = False) -> None:
        """The DUT's frames onto the bus, unless it is bus-off or silenced."""
        if self.can_fault_mode in ("bus_off", "silent"):
            return
        self.hub.publish(timestamp, can_id, data, extended)

    def outputs(self) -> dict[str, dict[str, object]]:
        """Every instrument's output state, for safe-state checks."""
        return {name: sim.outputs() for name, sim in self.instruments.items()}
