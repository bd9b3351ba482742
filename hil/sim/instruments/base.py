"""Shared parts of simulated instruments: the SCPI engine, identity, seeded accuracy, fault insertion."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Literal

from hil.sim.scpi import Call, ScpiEngine

#: communication faults the control port can insert: the instrument stops answering (`timeout`),
#: or drops the connection each message arrives on (`disconnect`); `none` clears the fault
FaultMode = Literal["timeout", "disconnect", "none"]
FAULT_MODES: tuple[str, ...] = ("timeout", "disconnect", "none")


class SimInstrument:
    """A simulated instrument: an SCPI engine plus the state its commands program.

    `channels` maps DUT terminal names to this instrument's channel strings, as in the station
    file, so the plant knows which channel is wired where.
    """

    #: vendor, model; serial and firmware are added per instance
    VENDOR = ""
    MODEL = ""
    FIRMWARE = "1.0"
    #: the communication fault in force (`inject_fault`) and how many messages it still takes
    fault_mode: str = "none"
    fault_left: int | None = None

    def __init__(self, role: str, channels: dict[str, str], seed: int = 0, serial: str = "") -> None:
        self.role = role
        self.channels = dict(channels)
        self.rng = random.Random(f"{role}:{seed}")
        self.serial = serial or f"SIM{abs(hash(role)) % 100000:05d}"
        self.engine = ScpiEngine(idn=f"{self.VENDOR},{self.MODEL},{self.serial},{self.FIRMWARE}")
        self.engine.add("*RST", lambda c: self.reset())
        self.now: Callable[[], float] = lambda: 0.0  # the lab's clock: the lab sets it
        self._t: float | None = None  # lab time the instrument's own state was brought up to
        self.reset()

    def reset(self) -> None:
        """Return to the power-on/*RST state; subclasses set their defaults here."""

    def at(self, t: float) -> None:
        """Bring what moves by itself (a chamber's air, an enclosure's pressure) up to lab time t."""
        if self._t is not None and t > self._t:
            self.evolve(self._t, t)
        if self._t is None or t > self._t:
            self._t = t

    def evolve(self, t0: float, t: float) -> None:
        """What the instrument does by itself from t0 to t; most do nothing."""

    def execute(self, line: str) -> str | None:
        self.at(self.now())
        return self.engine.execute(line)

    def settings_version(self) -> int:
        """Changes whenever a command (not a query) ran: the plant re-reads the settings then."""
        return self.engine.commands_executed

    def on_settings_change(self, callback: Callable[[], None]) -> None:
        """Call `callback` whenever `settings_version` moves, so that a plant with hundreds of
        channels re-reads only the instruments that were commanded."""
        self.engine.listeners.append(callback)

    def forget_listeners(self) -> None:
        """Drop every `on_settings_change` callback (the plant that registered them is replaced)."""
        self.engine.listeners.clear()

    def error_term(self, value: float, gain: float, offset: float) -> float:
        """A reading with a seeded error inside the instrument's accuracy (gain·|value| + offset)."""
        bound = gain * abs(value) + offset
        return value + self.rng.uniform(-0.5, 0.5) * bound

    def outputs(self) -> dict[str, object]:
        """Output states for the control port's safe-state check; subclasses report theirs."""
        return {}

    # --- fault insertion (control port `fault`) ---------------------------------------------

    def inject_fault(self, mode: str, count: int | None = None) -> None:
        """Make the next `count` messages (all, if None) fail: not executed, never answered.

        `timeout`: the message is swallowed (a hung instrument: the client times out).
        `disconnect`: the connection it came on is closed (a pulled cable, a reset gateway);
        a new connection is accepted and dropped again at its first message while the fault
        lasts. Works for every instrument, whatever its `execute`, by shadowing it on the instance.
        """
        if mode not in FAULT_MODES:
            raise ValueError(f"fault mode must be one of {', '.join(FAULT_MODES)} (got {mode!r})")
        if count is not None and count < 1:
            raise ValueError(f"fault count must be at least 1 (got {count})")
        self.__dict__.pop("execute", None)
        self.fault_mode, self.fault_left = mode, (None if mode == "none" else count)
        if mode == "none":
            return
        healthy = self.execute

        def faulty(line: str) -> str | None:
            if self.fault_left is not None:
                if self.fault_left <= 0:
                    self.inject_fault("none")
                    return healthy(line)
                self.fault_left -= 1
            if self.fault_mode == "disconnect":
                raise ConnectionResetError(f"{self.role}: connection dropped (fault insertion)")
            return None

        self.execute = faulty  # type: ignore[method-assign]

    def fault(self) -> dict[str, object]:
        """The fault in force: mode and messages left (None: until cleared)."""
        return {"mode": self.fault_mode, "left": self.fault_left}


#: what SCPI supplies answer for an unlimited slew (VOLT:SLEW INFinity, the *RST value)
SLEW_INFINITY = 9.9e37


def slew_parameter(call: Call) -> float:
    """A VOLT:SLEW parameter in V/s: a number, MIN/MAX, or INFinity (no limit)."""
    call.require(1)
    if call.args[0].strip().upper() in ("INF", "INFINITY"):
        return SLEW_INFINITY
    return call.number(unit="V/s", minimum=0.0, maximum=SLEW_INFINITY)


def ramp_toward(value: float, target: float, step: float) -> float:
    """`value` moved toward `target` by at most `step` (a ramping setpoint over one time step)."""
    if abs(target - value) <= step:
        return target
    return value + step if target > value else value - step
