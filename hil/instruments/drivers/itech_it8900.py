"""Driver for the ITECH IT8900A high-power DC electronic load, used to discharge the pack.

Station model: ITECH IT8906A-1200-240 (1200 V, 240 A, 6 kW). The discharge over-current tests
need about 110 A for 10 s, a 200 A pulse for 100 ms and a short circuit; at the 12 V pack that
is at most 2.6 kW, inside the 6 kW rating.

Followed: ITECH "Programmable DC Electronic Load Series IT8800 Programming Guide", manual
article number IT8800-402159, Revision V2.0 (revision 2, 20 Nov 2018). No IT8900A programming
guide could be consulted; public drivers for IT8900A/E loads use the same SCPI commands
(INPut, INPut:SHORt, FUNCtion, CURRent:TRANsient..., TRANsient, TRIGger, MEASure).

Commands used: FUNC CURR, CURR, CURR:SLEW:RISE/FALL (A/µs), TRAN ON|OFF, CURR:TRAN:MODE PULS,
CURR:TRAN:ALEV/BLEV/BWID, TRIG:SOUR BUS, *TRG, INP ON|OFF, INP?, INP:SHOR ON|OFF, MEAS:VOLT?, MEAS:CURR?,
SYST:ERR?.

Pulse semantics (pulse transient mode): with the transient generator on, the load sits at
level A; each trigger takes it to level B for the B width, then back to level A.
"""

from __future__ import annotations

from hil.instruments.roles import ElectronicLoad
from hil.instruments.scpi import ScpiInstrument, nrf


class ItechIT8900(ElectronicLoad, ScpiInstrument):
    """ITECH IT8900A series load (IT8906A-1200-240 on this station): CC, short and pulses."""

    MANUAL = (
        "ITECH IT8906A-1200-240; ITECH Programmable DC Electronic Load Series IT8800 "
        "Programming Guide, article no. IT8800-402159, Revision V2.0 (20 Nov 2018), "
        "the SCPI set shared by the IT8900A"
    )
    SLEW = frozenset({"current"})

    def slew_commands(self, quantity: str, rate: float) -> list[str]:
        """CURR:SLEW:RISE and :FALL, which the guide takes in A/µs."""
        per_us = nrf(rate * 1e-6)
        return [f"CURR:SLEW:RISE {per_us}", f"CURR:SLEW:FALL {per_us}"]

    def set_cc(self, amps: float) -> None:
        """Constant current at `amps`; also stops the transient generator so the level applies."""
        self.info.limits.check(self.name, "current", amps)
        self.configure("FUNC CURR", "TRAN OFF", f"CURR {nrf(amps)}")

    def set_input(self, on: bool) -> None:
        self.configure("INP ON" if on else "INP OFF")

    def input_is_on(self) -> bool:
        return self.query("INP?").strip().upper() in ("1", "ON")

    def short_is_on(self) -> bool:
        return self.query("INP:SHOR?").strip().upper() in ("1", "ON")

    def output_state(self) -> dict[str, object]:
        """Input and short-circuit state (INP?, INP:SHOR?) and the CC level (CURR?)."""
        current = self.query_float("CURR?")
        return {"input": self.input_is_on(), "short": self.short_is_on(), "current": current}

    def set_short(self, on: bool) -> None:
        """Short mode (the load sinks the most it can); switching it on also turns the input on.

        Refused, before anything is sent, where the station's limits do not allow a short.
        """
        if on:
            self.info.limits.check_short(self.name)
            self.configure("INP:SHOR ON", "INP ON")
        else:
            self.configure("INP:SHOR OFF")

    def safe(self) -> None:
        """Short off, then input off: one configure (one exchange and one error check for both)."""
        self.configure("INP:SHOR OFF", "INP OFF")

    def pulse(self, high_a: float, width_s: float, low_a: float = 0.0) -> None:
        """One pulse of `high_a` for `width_s` from a bus trigger, then back to `low_a`.

        Pulse transient mode with level A = `low_a`, level B = `high_a`, B width = `width_s`;
        the input is turned on and the load settles at level A before the trigger is sent.
        Refused where the station's current slew limit would take more than a tenth of the width
        to reach `high_a` (the DUT would not see the pulse the test asks for).
        """
        if width_s <= 0:
            raise ValueError(f"{self.name}: pulse width must be positive, got {width_s:g} s")
        self.info.limits.check(self.name, "current", high_a)
        self.info.limits.check(self.name, "current", low_a)
        self.info.limits.check_edge(self.name, "current", high_a - low_a, width_s / 10)
        self.configure(
            "FUNC CURR",
            "CURR:TRAN:MODE PULS",
            f"CURR:TRAN:ALEV {nrf(low_a)}",
            f"CURR:TRAN:BLEV {nrf(high_a)}",
            f"CURR:TRAN:BWID {nrf(width_s)}",
            "TRIG:SOUR BUS",
            "TRAN ON",
            "INP ON",
        )
        self.configure("*TRG")

    def measure_voltage(self) -> float:
        return self.query_float("MEAS:VOLT?")

    def measure_current(self) -> float:
        return self.query_float("MEAS:CURR?")
