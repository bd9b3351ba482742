"""Cell emulator driver: Keysight N6705C DC Power Analyzer with one N6781A SMU per cell.

Follows the SCPI Programming Reference chapter of the *Keysight N6705C DC Power Analyzer
Operating and Service Guide* (the N6705C's combined user's guide and programmer's reference;
it supersedes the separate N6705B User's Guide / N6700 Programmer's Reference of the B model).
Commands take a channel list ``(@1:4)``; a query over several channels answers with
comma-separated values in channel order. The N6781A is a two-quadrant SMU (+V, ±I): its
current limit has a positive (source) and a negative (sink) side, programmed with
``CURR:LIM`` and ``CURR:LIM:NEG``; with limit tracking on (the *RST state) the negative
limit follows the positive one anyway, sending both keeps the sink side explicit.

Not checked against the printed document here: the guide's part number and edition (see
``MANUAL``); confirm them on the bench copy before an audit relies on them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hil.errors import InstrumentError
from hil.instruments.roles import CellEmulator
from hil.instruments.scpi import ScpiInstrument, nrf


def chanlist(channels: Sequence[str]) -> str:
    """Build a SCPI channel list, folding ascending runs: ["1","2","3","4"] -> "(@1:4)"."""
    numbers = [int(c) for c in channels]
    parts: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(str(start) if start == prev else f"{start}:{prev}")
        if n is not None:
            start = prev = n
    return "(@" + ",".join(parts) + ")"


class KeysightN6705C(CellEmulator, ScpiInstrument):
    """N6705C mainframe, one N6781A two-quadrant SMU per cell (terminals CELL1..CELLn)."""

    MANUAL = (
        "Keysight N6705C DC Power Analyzer Operating and Service Guide, chapter 'SCPI Programming "
        "Reference' (Keysight Technologies; part number/edition to be confirmed on the bench copy); "
        "N6781A ratings and accuracy from the Keysight N6780 Series Source/Measure Unit data sheet"
    )

    SLEW = frozenset({"voltage"})

    def slew_commands(self, quantity: str, rate: float) -> list[str]:
        """VOLT:SLEW in V/s on every mapped channel."""
        return [f"VOLT:SLEW {nrf(rate)},{chanlist(sorted(self.info.channels.values(), key=int))}"]

    def _ch(self, cell: str) -> str:
        return self.channel(cell)

    def set_voltage(self, cell: str, volts: float) -> None:
        """Program the cell voltage (voltage priority), refused beyond the cell or the stack limit."""
        self.check_voltage(cell, volts)
        self.configure(f"VOLT {nrf(volts)},(@{self._ch(cell)})")
        self.programmed[cell] = volts

    def program_cells(self, volts: Mapping[str, float]) -> None:
        """Several cells in one program message (one exchange and one error check for all).

        Each is refused beyond the cell limit and the lot beyond the stack limit before anything is
        sent; the cells that go down are sent first, so no state on the way exceeds the stack limit.
        """
        if len(volts) < 2:
            for cell, value in volts.items():
                self.set_voltage(cell, value)
            return
        for value in volts.values():
            self.info.limits.check(self.name, "voltage", value)
        others = sum(v for c, v in self.programmed.items() if c not in volts)
        self.info.limits.check_sum(self.name, others + sum(volts.values()))
        order = sorted(volts, key=lambda c: volts[c] - self.programmed.get(c, 0.0))
        self.configure(";:".join(f"VOLT {nrf(volts[c])},(@{self._ch(c)})" for c in order))
        self.programmed.update(volts)

    def set_current_limit(self, cell: str, amps: float) -> None:
        """Symmetric source/sink limit: the sink side matters when the BMS balances or charges."""
        self.info.limits.check(self.name, "current", amps)
        ch = self._ch(cell)
        self.configure(f"CURR:LIM {nrf(amps)},(@{ch})", f"CURR:LIM:NEG {nrf(-amps)},(@{ch})")

    def set_output(self, on: bool, cells: Sequence[str] | None = None) -> None:
        chosen = list(cells) if cells is not None else self.cells
        if not chosen:
            return
        state = "ON" if on else "OFF"
        self.configure(f"OUTP {state},{chanlist([self._ch(c) for c in chosen])}")

    def output_is_on(self, cell: str) -> bool:
        command = f"OUTP? (@{self._ch(cell)})"
        answer = self.query(command).strip()
        if answer not in ("0", "1"):
            raise InstrumentError(self.name, command, f"expected 0 or 1, got {answer!r}")
        return answer == "1"

    def outputs_on(self) -> dict[str, bool]:
        """Every cell's output state in one query (`OUTP? (@1:4)` answers one 0 or 1 per channel)."""
        cells = self.cells
        command = f"OUTP? {chanlist([self._ch(c) for c in cells])}"
        answers = [a.strip() for a in self.query(command).split(",")]
        if len(answers) != len(cells) or any(a not in ("0", "1") for a in answers):
            raise InstrumentError(self.name, command, f"expected {len(cells)} of 0 or 1, got {answers!r}")
        return {cell: a == "1" for cell, a in zip(cells, answers, strict=True)}

    def output_state(self) -> dict[str, object]:
        """Per cell terminal: output on/off and the programmed voltage (OUTP?, VOLT?)."""
        return {
            cell: {"on": self.output_is_on(cell), "voltage": self.query_float(f"VOLT? (@{self._ch(cell)})")}
            for cell in self.cells
        }

    def reset(self) -> None:
        """*RST: every channel off at 0 V."""
        super().reset()
        self.programmed = dict.fromkeys(self.cells, 0.0)

    def measure_voltage(self, cell: str) -> float:
        return self.query_float(f"MEAS:VOLT? (@{self._ch(cell)})")

    def measure_current(self, cell: str) -> float:
        """Current out of the channel (A); negative while the cell sinks (charge, balancing bleed)."""
        return self.query_float(f"MEAS:CURR? (@{self._ch(cell)})")

    def measure_currents(self) -> dict[str, float]:
        """Every cell's current from one channel-list query, keyed by cell terminal."""
        cells = self.cells
        command = f"MEAS:CURR? {chanlist([self._ch(c) for c in cells])}"
        answer = self.query(command)
        try:
            values = [float(v) for v in answer.split(",")]
        except ValueError as exc:
            raise InstrumentError(self.name, command, f"expected numbers, got {answer!r}") from exc
        if len(values) != len(cells):
            raise InstrumentError(self.name, command, f"expected {len(cells)} values, got {answer!r}")
        return dict(zip(cells, values, strict=True))
