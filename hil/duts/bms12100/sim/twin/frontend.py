"""The twin's analogue front end: the true terminal quantities in, the firmware's readings out.

Every channel has a fixed gain and offset error (drawn once per unit from the seed) plus Gaussian
noise truncated at 3 σ (drawn per sample), so a unit is reproducible and stays inside its error
budget by construction. The budgets keep the TOTAL error, rounding included, inside the seed's
accuracy figures with margin (seed §3.1–§3.3; ACC-CV, ACC-PV, ACC-T, ACC-I):

- cell voltage: gain ±0.1 %, offset ±4 mV, noise ≤ 2.4 mV, rounding 0.5 mV → ≤ 12 mV up to 5 V
  (spec ±20 mV);
- pack voltage: gain ±0.15 %, offset ±3 mV, noise ≤ 3 mV, rounding 5 mV → ≤ 0.3 % from 8 V up
  (the operating range, EL-VOP; spec ±0.5 %); the charger (P+/P-) channel has the same budget;
- temperature: offset ±0.6 °C, noise ≤ 0.36 °C, rounding 0.05 °C → ≤ 1.2 °C (spec ±2 °C);
- current: gain ±0.5 %, offset ±1 mA, noise ≤ 0.45 mA, rounding 5 mA → ≤ 0.5 % + 6.5 mA
  (spec ±2 % below 10 A, ±1 % at and above 10 A; below 0.33 A the 10 mA reporting resolution
  alone exceeds 2 %: the I-EFF rows' tolerance adds half of it, see spec data).
Readings are rounded to the protocol resolutions (1 mV, 10 mV pack, 10 mA, 0.1 °C) and the firmware
acts on exactly what it reports.

OUR ASSUMPTION: the cell channels are unipolar: a tap at or below the one beneath it (an open
sense lead, plant.py) reads 0 mV, never a negative value.

OUR ASSUMPTION: the current channel (shunt ADC) saturates at ±`CURRENT_RANGE_A` (300 A, three times
the rated current; the RS-485 records carry ±327.67 A). Beyond it the short-circuit protection
works from a hardware comparator on the true current (tables.py, SCP), as on usual AFEs.
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass, field

from hil.duts.bms12100 import CELL_COUNT, NTC_NAMES
from hil.duts.bms12100.ntc import resistance_ohm, temperature_c
from hil.duts.bms12100.protocol.snapshot import Mode
from hil.models.channel import EXACT, NOISE_SIGMAS, ChannelError, ErrorBudget

# OUR ASSUMPTION (the seed says nothing): an open NTC reads as the bottom of the reported range and a
# shorted one as the top, as on typical BMS firmware; readings are clamped to that range.
NTC_MIN_C = -40.0
NTC_MAX_C = 150.0
CURRENT_RANGE_A = 300.0
#: at or below this NTC resistance (the top of the reported range) a reading is NTC_MAX_C
HOT_END_OHM = resistance_ohm(NTC_MAX_C)


@dataclass
class TerminalInputs:
    """The true electrical state at the BMS's terminals over one step (held from t-dt to t)."""

    cell_v: list[float]  # true voltage on each cell sense input (V), 4 entries
    ntc_ohm: list[float | None]  # cell1, cell2, ambient, power NTC resistance; None = open
    current_a: float  # true current through the BMS's power path, + = charging
    charger_v: float  # true voltage between P+ and P- (V)
    powered: bool = True  # the BMS has supply (cells present)

    def check(self) -> None:
        """Raise ValueError if the inputs do not describe this BMS (wrong channel counts)."""
        if len(self.cell_v) != CELL_COUNT:
            raise ValueError(f"cell_v needs {CELL_COUNT} entries, got {len(self.cell_v)}")
        if len(self.ntc_ohm) != len(NTC_NAMES):
            raise ValueError(f"ntc_ohm needs {len(NTC_NAMES)} entries, got {len(self.ntc_ohm)}")


@dataclass(frozen=True)
class Readings:
    """One firmware sample: the readings (protocol resolution) plus the firmware's SOC and mode."""

    t: float
    cell_mv: tuple[float, ...]  # whole mV in readings
    pack_v: float
    current_a: float
    temperatures_c: tuple[float, ...]  # cell1, cell2, ambient, power
    charger_v: float
    soc_pct: float = 0.0
    mode: Mode = Mode.STANDBY

    @classmethod
    def of(
        cls,
        t: float,
        cell_mv: tuple[float, ...],
        pack_v: float,
        current_a: float,
        temperatures_c: tuple[float, ...],
        charger_v: float,
        soc_pct: float,
        mode: Mode,
    ) -> Readings:
        """`Readings(...)` of every field, for the firmware cycle (two a cycle): the frozen
        dataclass's `__init__` sets each field through `object.__setattr__`; this sets them at once."""
        readings = object.__new__(cls)
        readings.__dict__.update(
            t=t,
            cell_mv=cell_mv,
            pack_v=pack_v,
            current_a=current_a,
            temperatures_c=temperatures_c,
            charger_v=charger_v,
            soc_pct=soc_pct,
            mode=mode,
        )
        return readings

    @property
    def max_cell_mv(self) -> float:
        """Highest cell reading."""
        return max(self.cell_mv)

    @property
    def min_cell_mv(self) -> float:
        """Lowest cell reading."""
        return min(self.cell_mv)


EMPTY_READINGS = Readings(
    t=0.0,
    cell_mv=(0,) * CELL_COUNT,
    pack_v=0.0,
    current_a=0.0,
    temperatures_c=(0.0,) * len(NTC_NAMES),
    charger_v=0.0,
)


#: the limits this BMS's channel errors are drawn within (see the module docstring)
CELL_BUDGET = ErrorBudget(gain=0.001, offset=0.004, noise_sigma=0.0008)
PACK_BUDGET = ErrorBudget(gain=0.0015, offset=0.003, noise_sigma=0.001)
CURRENT_BUDGET = ErrorBudget(gain=0.005, offset=0.001, noise_sigma=0.00015)
TEMPERATURE_BUDGET = ErrorBudget(gain=0.0, offset=0.6, noise_sigma=0.12)


_NO_NOISE = random.Random(0)  # an exact channel never draws on it


@functools.lru_cache(maxsize=256)
def _celsius(ohm: float) -> float:
    """The NTC's temperature at `ohm` (the firmware converts the same few resistances every cycle)."""
    return temperature_c(ohm)


def _saturated(amps: float) -> float:
    """A current reading clamped to the shunt ADC's range."""
    return min(CURRENT_RANGE_A, max(-CURRENT_RANGE_A, amps))


def _edge(ch: ChannelError, true_value: float, sign: float) -> float:
    """`ch.apply(true_value)` with its noise at the truncation limit on the side of `sign`: the
    same arithmetic, so the bound holds for the rounded readings too."""
    noise = sign * NOISE_SIGMAS * ch.noise_sigma if ch.noise_sigma > 0.0 else 0.0
    return true_value * (1.0 + ch.gain) + ch.offset + noise


def _ideal_channels(n: int) -> tuple[ChannelError, ...]:
    return tuple(ChannelError() for _ in range(n))


@dataclass(frozen=True)
class Frontend:
    """All measurement channels of one unit."""

    cells: tuple[ChannelError, ...] = field(default_factory=lambda: _ideal_channels(CELL_COUNT))
    pack: ChannelError = EXACT
    current: ChannelError = EXACT
    charger: ChannelError = EXACT
    temperatures: tuple[ChannelError, ...] = field(default_factory=lambda: _ideal_channels(len(NTC_NAMES)))

    @classmethod
    def ideal(cls) -> Frontend:
        """A front end without error or noise (readings are only rounded)."""
        return cls()

    @classmethod
    def from_rng(cls, rng: random.Random) -> Frontend:
        """A unit's front end with errors drawn inside the budgets."""
        return cls(
            cells=tuple(CELL_BUDGET.draw(rng) for _ in range(CELL_COUNT)),
            pack=PACK_BUDGET.draw(rng),
            current=CURRENT_BUDGET.draw(rng),
            charger=PACK_BUDGET.draw(rng),
            temperatures=tuple(TEMPERATURE_BUDGET.draw(rng) for _ in NTC_NAMES),
        )

    def measure(
        self, t: float, inputs: TerminalInputs, rng: random.Random, *, rounded: bool = True
    ) -> Readings:
        """Sample every channel once; `rounded=False` keeps full precision and range (the true
        values through an ideal front end, for step control and hardware comparators)."""

        def res(value: float, digits: int) -> float:
            return round(value, digits) + 0.0 if rounded else value  # + 0.0: no -0.0

        return Readings(
            t=t,
            cell_mv=tuple(
                max(0, round(ch.apply(v, rng) * 1000.0)) if rounded else ch.apply(v, rng) * 1000.0
                for ch, v in zip(self.cells, inputs.cell_v, strict=True)
            ),
            pack_v=res(self.pack.apply(math.fsum(inputs.cell_v), rng), 2),
            current_a=res(self._current(inputs.current_a, rng, saturate=rounded), 2),
            temperatures_c=tuple(
                res(self._temperature(ch, ohm, rng), 1)
                for ch, ohm in zip(self.temperatures, inputs.ntc_ohm, strict=True)
            ),
            charger_v=res(self.charger.apply(inputs.charger_v, rng), 2),
        )

    def extremes(self, inputs: TerminalInputs) -> tuple[Readings, Readings]:
        """The lowest and the highest readings `measure` can give for `inputs` (noise at -3 σ and at
        +3 σ, rounded alike), without drawing on the channels: every reading lies between them."""
        low, high = (
            Readings(
                t=0.0,
                cell_mv=tuple(
                    max(0, round(_edge(ch, v, sign) * 1000.0))
                    for ch, v in zip(self.cells, inputs.cell_v, strict=True)
                ),
                pack_v=round(_edge(self.pack, math.fsum(inputs.cell_v), sign), 2) + 0.0,
                current_a=round(_saturated(_edge(self.current, inputs.current_a, sign)), 2) + 0.0,
                temperatures_c=tuple(
                    round(self._temperature_edge(ch, ohm, sign), 1) + 0.0
                    for ch, ohm in zip(self.temperatures, inputs.ntc_ohm, strict=True)
                ),
                charger_v=round(_edge(self.charger, inputs.charger_v, sign), 2) + 0.0,
            )
            for sign in (-1.0, 1.0)
        )
        return low, high

    @staticmethod
    def _temperature_edge(ch: ChannelError, ohm: float | None, sign: float) -> float:
        if ohm is None:
            return NTC_MIN_C
        if ohm <= HOT_END_OHM:
            return NTC_MAX_C
        return min(NTC_MAX_C, max(NTC_MIN_C, _edge(ch, _celsius(ohm), sign)))

    @classmethod
    def true_values(cls, t: float, inputs: TerminalInputs, soc_pct: float, mode: Mode) -> Readings:
        """What `ideal().measure(..., rounded=False)` gives, without drawing on the channels: the
        firmware takes it every cycle for step control and its hardware comparators."""
        return Readings(
            t=t,
            cell_mv=tuple(v * 1000.0 for v in inputs.cell_v),
            pack_v=math.fsum(inputs.cell_v),
            current_a=inputs.current_a,
            temperatures_c=tuple(_true_temperature(ohm) for ohm in inputs.ntc_ohm),
            charger_v=inputs.charger_v,
            soc_pct=soc_pct,
            mode=mode,
        )

    def _current(self, amps: float, rng: random.Random, *, saturate: bool) -> float:
        reading = self.current.apply(amps, rng)
        return _saturated(reading) if saturate else reading

    @staticmethod
    def _temperature(ch: ChannelError, ohm: float | None, rng: random.Random) -> float:
        if ohm is None:
            return NTC_MIN_C
        if ohm <= HOT_END_OHM:
            return NTC_MAX_C  # a short: the Beta equation has no temperature below ~0.1 Ω
        return min(NTC_MAX_C, max(NTC_MIN_C, ch.apply(_celsius(ohm), rng)))


_TWO_PI = 2.0 * math.pi  # random.gauss's TWOPI


def _normals(rng: random.Random, k: int) -> list[float]:
    """The z of the next `k` calls of `rng.gauss` (each returns mu + z * sigma), with the same draws
    and the same spare value left in `rng.gauss_next`: CPython's `Random.gauss`, inlined."""
    if k == 0:
        return []
    spare = rng.gauss_next  # type: ignore[attr-defined]
    out: list[float] = [] if spare is None else [spare]
    need = k - len(out)
    draw, log, sqrt, cos, sin, append = rng.random, math.log, math.sqrt, math.cos, math.sin, out.append
    for _ in range((need + 1) // 2):
        x2pi = draw() * _TWO_PI
        g2rad = sqrt(-2.0 * log(1.0 - draw()))
        append(cos(x2pi) * g2rad)
        append(sin(x2pi) * g2rad)
    rng.gauss_next = out.pop() if need % 2 else None  # type: ignore[attr-defined]
    return out


class Sampler:
    """`Frontend.measure` of one set of held inputs: what does not depend on the noise (each channel's
    true value through its gain and offset, the NTCs' temperatures) computed once, and the noise drawn
    in one go. Gives exactly `measure`'s readings and leaves the generator exactly as it does."""

    __slots__ = ("_channels", "_drawing", "_draws", "_true")

    def __init__(self, front: Frontend, inputs: TerminalInputs) -> None:
        pack = math.fsum(inputs.cell_v)
        # every reading in `measure`'s order of draws: (channel, true value); an open or shorted NTC
        # draws nothing and reads the end of the range, as an exact channel would read that value
        channels = [(ch, v) for ch, v in zip(front.cells, inputs.cell_v, strict=True)]
        channels += [(front.pack, pack), (front.current, inputs.current_a)]
        for ch, ohm in zip(front.temperatures, inputs.ntc_ohm, strict=True):
            if ohm is None or ohm <= HOT_END_OHM:
                channels.append((EXACT, NTC_MIN_C if ohm is None else NTC_MAX_C))
            else:
                channels.append((ch, _celsius(ohm)))
        channels.append((front.charger, inputs.charger_v))
        # (true * (1 + gain) + offset, sigma, 3 sigma): `ChannelError.apply` less its noise
        self._channels = tuple(
            (v * (1.0 + ch.gain) + ch.offset, ch.noise_sigma, NOISE_SIGMAS * ch.noise_sigma)
            for ch, v in channels
        )
        drawing = tuple(ch.noise_sigma > 0.0 for ch, _ in channels)
        self._draws = sum(drawing)
        # which readings draw, unless all do: one that does not takes z = 0 (noise 0.0 + 0.0 = 0.0)
        self._drawing = None if all(drawing) else drawing
        self._true = (
            tuple(v * 1000.0 for v in inputs.cell_v),
            pack,
            inputs.current_a,
            tuple(_true_temperature(ohm) for ohm in inputs.ntc_ohm),
            inputs.charger_v,
        )

    def sample(self, rng: random.Random) -> tuple[tuple[int, ...], float, float, tuple[float, ...], float]:
        """One sample, rounded as `measure` rounds: (cell mV, pack V, current A, °C, charger V)."""
        z = _normals(rng, self._draws)
        if self._drawing is not None:
            drawn = iter(z)
            z = [next(drawn) if drawing else 0.0 for drawing in self._drawing]
        # base + clamp(0.0 + z * sigma, ±3 sigma): `apply`'s arithmetic, operation for operation
        values = [
            base + (limit if (n := 0.0 + zi * sigma) > limit else (-limit if n < -limit else n))
            for (base, sigma, limit), zi in zip(self._channels, z, strict=True)
        ]
        cells = tuple([mv if (mv := round(v * 1000.0)) > 0 else 0 for v in values[:CELL_COUNT]])
        current = values[CELL_COUNT + 1]
        current = CURRENT_RANGE_A if current > CURRENT_RANGE_A else max(-CURRENT_RANGE_A, current)
        temps = tuple(
            [
                round(NTC_MAX_C if v > NTC_MAX_C else (NTC_MIN_C if v < NTC_MIN_C else v), 1) + 0.0
                for v in values[CELL_COUNT + 2 : -1]
            ]
        )
        pack, charger = round(values[CELL_COUNT], 2) + 0.0, round(values[-1], 2) + 0.0
        return cells, pack, round(current, 2) + 0.0, temps, charger

    def true_values(self, t: float, soc_pct: float, mode: Mode) -> Readings:
        """`Frontend.true_values` of the held inputs."""
        cells, pack, current, temps, charger = self._true
        return Readings.of(t, cells, pack, current, temps, charger, soc_pct, mode)


@functools.lru_cache(maxsize=256)
def _true_temperature(ohm: float | None) -> float:
    """What an exact channel reads at `ohm` (every cycle converts the same few resistances)."""
    return Frontend._temperature(EXACT, ohm, _NO_NOISE)
