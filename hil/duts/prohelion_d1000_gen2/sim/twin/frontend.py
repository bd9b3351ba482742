"""The twin's measurement front ends: CMU cells and thermistors, the BJU, the BMU environment sensors.

Each channel has a gain and offset error drawn once per unit from the seed and Gaussian noise
truncated at 3 σ drawn per sample, so a unit is reproducible and stays inside its budget by
construction. Readings are rounded to the CAN resolutions and the firmware acts on them.

Budgets (the documented accuracy where there is one, OUR ASSUMPTION where there is not):
- cell voltage (CMU: 1 mV at 3.6 V / 25 °C, 2 mV from +5 to +40 °C): gain ±0.005 %, offset
  ±0.15 mV, noise ≤ 0.15 mV, rounding 0.5 mV → ≤ 0.98 mV at 3.6 V, ≤ 1.1 mV at 5 V;
- thermistor (no figure documented): resistance gain ±0.3 %, noise ≤ 0.15 % → about ±0.12 °C at
  25 °C with B 3380, plus 0.05 °C rounding; an input reading beyond the -50..150 °C range of the
  conversion is a disconnected sensor (open or shorted);
- BJU current (IVT-S; its datasheet is not in references/): gain ±0.1 %, offset ±10 mA, noise
  ≤ 9 mA, 1 mA resolution; the three voltages share one reference: a common gain ±0.1 % plus
  ±0.01 % per channel, offset ±10 mV, noise ≤ 15 mV (so battery and load voltages agree within
  about 0.25 V at 1000 V and a 1 V precharge delta is reachable, as it must be on the real unit);
- BMU environment (sensor parts not named): temperature offset ±0.5 °C, pressure ±0.1 kPa,
  humidity ±2 %RH, small noise; 0.1 resolution. VOC and NOx are passed through.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from hil.duts.prohelion_d1000_gen2.config import (
    CELLS_PER_NODE_MAX,
    NODE_COUNT_MAX,
    TEMPS_PER_NODE_MAX,
    D1000Config,
)
from hil.duts.prohelion_d1000_gen2.sim.twin.inputs import NodeInputs, PlantInputs
from hil.models.channel import EXACT, NOISE_SIGMAS, ChannelError, ErrorBudget
from hil.models.ntc import KELVIN_OFFSET, BetaNtc

NTC_RANGE_C = (-50.0, 150.0)


CELL_BUDGET = ErrorBudget(gain=5e-5, offset=0.00015, noise_sigma=0.00005)
THERMISTOR_BUDGET = ErrorBudget(gain=0.003, offset=0.0, noise_sigma=0.0005)  # relative, on resistance
CURRENT_BUDGET = ErrorBudget(gain=0.001, offset=0.010, noise_sigma=0.003)
VOLTAGE_COMMON_GAIN = 0.001  # the shared reference of the three BJU voltage channels
VOLTAGE_BUDGET = ErrorBudget(gain=0.0001, offset=0.010, noise_sigma=0.005)
ENV_TEMPERATURE_BUDGET = ErrorBudget(gain=0.0, offset=0.5, noise_sigma=0.03)
PRESSURE_BUDGET = ErrorBudget(gain=0.0, offset=0.1, noise_sigma=0.01)
HUMIDITY_BUDGET = ErrorBudget(gain=0.0, offset=2.0, noise_sigma=0.1)


#: a node's highest and lowest channel as ((value, index), (value, index)); None without a channel
Extremes = tuple[tuple[float, int], tuple[float, int]] | None

#: the sampled nodes' rows of a (node, channel) array: a slice when they are consecutive (a full
#: sample of a pack on the bus, the one node of a stimulus): views of the arrays, not copies by
#: fancy indexing
Rows = list[int] | slice


def _extremes(values: Sequence[float], present: Sequence[bool]) -> Extremes:
    """The highest and lowest present value and their indexes, first occurrence on ties."""
    chosen = [(v, i) for i, (v, ok) in enumerate(zip(values, present, strict=True)) if ok]
    if not chosen:
        return None
    high = low = chosen[0]
    for item in chosen[1:]:
        if item[0] > high[0]:
            high = item
        elif item[0] < low[0]:
            low = item
    return high, low


def _row_extremes(values: np.ndarray, present: np.ndarray) -> list[Extremes]:
    """`_extremes` of every row of a (node, channel) array at once (argmax/argmin: first on ties);
    every channel present (the usual full sample): the values as they are, without the masking."""
    if present.all():
        high, low = values.argmax(axis=1), values.argmin(axis=1)
        any_present: list[bool] = [True] * values.shape[0]
    else:
        high = np.where(present, values, -np.inf).argmax(axis=1)
        low = np.where(present, values, np.inf).argmin(axis=1)
        any_present = np.any(present, axis=1).tolist()
    rows = np.arange(values.shape[0])
    return [
        ((hv, hi), (lv, li)) if ok else None
        for ok, hv, hi, lv, li in zip(
            any_present,
            values[rows, high].tolist(),
            high.tolist(),
            values[rows, low].tolist(),
            low.tolist(),
            strict=True,
        )
    ]


@dataclass(frozen=True)
class NodeReadings:
    """What the BMU reads from one configured CMU (values of its configured channels)."""

    connected: bool
    cell_v: tuple[float, ...]  # V, 1 mV resolution
    cell_present: tuple[bool, ...]
    temperature_c: tuple[float | None, ...]  # °C, 0.1 °C resolution; None = sensor not connected

    # Worked out once per sample: a node whose sample stands keeps them from cycle to cycle.
    @cached_property
    def total_voltage(self) -> float:
        """The sum of the present cells (V, 1 mV)."""
        return round(sum(v for v, ok in zip(self.cell_v, self.cell_present, strict=True) if ok), 3)

    @cached_property
    def max_cell_voltage(self) -> float:
        """The highest cell reading (V), present or not (0.0 without cells)."""
        return max(self.cell_v, default=0.0)

    @cached_property
    def connected_cells(self) -> int:
        return sum(self.cell_present)

    @cached_property
    def cell_extremes(self) -> Extremes:
        """Highest and lowest present cell as (V, index from 0), first on ties (None without one)."""
        return _extremes(self.cell_v, self.cell_present)

    @cached_property
    def temperature_extremes(self) -> Extremes:
        """Highest and lowest connected thermistor as (°C, index from 0), first on ties."""
        temps = self.temperature_c
        return _extremes([0.0 if t is None else t for t in temps], [t is not None for t in temps])

    @cached_property
    def connected_temp_sensors(self) -> int:
        return sum(1 for temp in self.temperature_c if temp is not None)

    @classmethod
    def sampled(
        cls,
        cell_v: tuple[float, ...],
        cell_present: tuple[bool, ...],
        temperature_c: tuple[float | None, ...],
        totals: tuple[float, int, int, float],
        extremes: tuple[Extremes, Extremes],
    ) -> NodeReadings:
        """A connected node's readings with (total voltage, connected cells, connected sensors,
        highest cell) and (cell, temperature) extremes already worked out for many nodes at once
        by the front end (they fill the cached values). Up to 32 every 100 ms: the fields and the
        cached values go in as one dict, not through the frozen `__init__` (half the cost)."""
        node = object.__new__(cls)
        object.__setattr__(
            node,
            "__dict__",
            {
                "connected": True,
                "cell_v": cell_v,
                "cell_present": cell_present,
                "temperature_c": temperature_c,
                "total_voltage": totals[0],
                "connected_cells": totals[1],
                "connected_temp_sensors": totals[2],
                "max_cell_voltage": totals[3],
                "cell_extremes": extremes[0],
                "temperature_extremes": extremes[1],
            },
        )
        return node


@dataclass(frozen=True)
class Readings:
    """One sample of every input, as the firmware sees it."""

    nodes: tuple[NodeReadings, ...]  # configured nodes 0..numCMUNodes-1
    connected_nodes: int  # CMUs answering on the bus, configured or not
    bju_present: bool
    current_a: float  # + = discharge, 1 mA resolution
    battery_v: float
    charger_v: float
    load_v: float
    temperature1_c: float
    temperature2_c: float
    pressure_kpa: float
    humidity_pct: float
    voc_ppb: int
    nox_ppb: int


@dataclass
class TrueInputs:
    """The true values last read from each node's inputs (one row per node), with the input objects
    they were read from: kept by the twin from one sample to the next, so a node whose input
    object is the one last read is not read again (a full 448-cell sample then reads only the
    nodes a stimulus replaced). Valid only while node inputs are replaced, never edited in place:
    `clear()` after an edit.
    """

    config: D1000Config | None = None
    sources: list[NodeInputs | None] = field(default_factory=lambda: [None] * NODE_COUNT_MAX)
    cell_v: np.ndarray = field(default_factory=lambda: np.zeros((NODE_COUNT_MAX, CELLS_PER_NODE_MAX)))
    ohm: np.ndarray = field(default_factory=lambda: np.full((NODE_COUNT_MAX, TEMPS_PER_NODE_MAX), np.nan))

    def clear(self) -> None:
        """Forget every row (the next sample reads every node's inputs again)."""
        self.config = None
        self.sources = [None] * NODE_COUNT_MAX

    def fit(self, config: D1000Config) -> None:
        """Rows are read for one configuration (its channel counts): another one starts afresh."""
        if config is not self.config:
            self.clear()
            self.config = config


def _ideal(n: int) -> tuple[ChannelError, ...]:
    return tuple(ChannelError() for _ in range(n))


@dataclass(frozen=True)
class Frontend:
    """Every measurement channel of one unit (sized for the largest system, 32 × 14 cells)."""

    cells: tuple[tuple[ChannelError, ...], ...] = field(
        default_factory=lambda: tuple(_ideal(CELLS_PER_NODE_MAX) for _ in range(NODE_COUNT_MAX))
    )
    thermistors: tuple[tuple[ChannelError, ...], ...] = field(
        default_factory=lambda: tuple(_ideal(TEMPS_PER_NODE_MAX) for _ in range(NODE_COUNT_MAX))
    )
    current: ChannelError = EXACT
    battery: ChannelError = EXACT
    charger: ChannelError = EXACT
    load: ChannelError = EXACT
    temperature1: ChannelError = EXACT
    temperature2: ChannelError = EXACT
    pressure: ChannelError = EXACT
    humidity: ChannelError = EXACT

    @classmethod
    def ideal(cls) -> Frontend:
        """A front end without error or noise (readings are only rounded)."""
        return cls()

    @cached_property
    def _cell_errors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        """1 + gain, offset and noise sigma of every cell channel as (node, cell) arrays, and whether
        any is noisy: up to 448 cells are sampled every cycle, in one vector operation."""
        gain = np.array([[1.0 + ch.gain for ch in node] for node in self.cells])
        offset = np.array([[ch.offset for ch in node] for node in self.cells])
        sigma = np.array([[ch.noise_sigma for ch in node] for node in self.cells])
        return gain, offset, sigma, bool(sigma.any())

    @cached_property
    def _thermistor_errors(self) -> tuple[np.ndarray, np.ndarray, bool]:
        """1 + gain and noise sigma (relative, on resistance) of every thermistor channel."""
        gain = np.array([[1.0 + ch.gain for ch in node] for node in self.thermistors])
        sigma = np.array([[ch.noise_sigma for ch in node] for node in self.thermistors])
        return gain, sigma, bool(sigma.any())

    @staticmethod
    def _noise(sigma: np.ndarray, noise_rng: np.random.Generator) -> np.ndarray:
        """Gaussian noise of `sigma` per channel, truncated at NOISE_SIGMAS."""
        limit = NOISE_SIGMAS * sigma
        noise: np.ndarray = np.minimum(
            limit, np.maximum(-limit, noise_rng.standard_normal(sigma.shape) * sigma)
        )
        return noise

    @staticmethod
    def _read_node(
        node: NodeInputs | None, cells: int, temps: int, true_v: np.ndarray, ohm: np.ndarray
    ) -> None:
        """One node's true cell voltages and thermistor resistances into its rows (0 V and NaN
        where there is no input: a disconnected node reads nothing)."""
        true_v[:] = 0.0
        ohm[:] = np.nan
        if node is None or not node.connected:
            return
        k = min(cells, len(node.cell_v))
        if k:
            true_v[:k] = node.cell_v[:k]
        k = min(temps, len(node.thermistor_ohm))
        if k:
            ohm[:k] = np.array(node.thermistor_ohm[:k], dtype=float)  # None → NaN

    def _true_inputs(
        self,
        inputs: PlantInputs,
        todo: list[int],
        counts: tuple[Sequence[int], Sequence[int]],
        memory: TrueInputs | None,
        rows: Rows,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The true cell voltages and thermistor resistances of nodes `todo` (configured `counts`
        of cells and sensors per node), one row per node; with `memory`, read only from the nodes
        whose input object changed since the last sample."""
        cells_per_node, temps_per_node = counts
        nodes = inputs.nodes

        def node(n: int) -> NodeInputs | None:
            return nodes[n] if n < len(nodes) else None

        if memory is None:
            true_v = np.zeros((len(todo), CELLS_PER_NODE_MAX))
            ohm = np.full((len(todo), TEMPS_PER_NODE_MAX), np.nan)
            for row, n in enumerate(todo):
                self._read_node(node(n), cells_per_node[n], temps_per_node[n], true_v[row], ohm[row])
            return true_v, ohm
        for n in todo:
            source = node(n)
            if source is None or memory.sources[n] is not source:
                self._read_node(source, cells_per_node[n], temps_per_node[n], memory.cell_v[n], memory.ohm[n])
                memory.sources[n] = source
        return memory.cell_v[rows], memory.ohm[rows]

    def _cell_volts(self, true: np.ndarray, rows: Rows, noise_rng: np.random.Generator) -> np.ndarray:
        """The cells of the nodes in `rows` sampled once (V, 1 mV resolution), one row per node."""
        gain, offset, sigma, noisy = self._cell_errors
        reading = true * gain[rows] + offset[rows]
        if noisy:
            reading += self._noise(sigma[rows], noise_rng)
        rounded: np.ndarray = np.maximum(0.0, np.rint(reading * 1e3) / 1e3) + 0.0
        return rounded

    def _temperatures(
        self, ohm: np.ndarray, rows: Rows, ntc: BetaNtc, noise_rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """The thermistors of the nodes in `rows` sampled once (°C, 0.1 °C resolution), one row per node,
        and where one reads a temperature: not where the input is open, shorted or beyond the
        conversion's range (NaN resistance: no input)."""
        r_open, r_short = ntc.resistance_ohm(NTC_RANGE_C[0]), ntc.resistance_ohm(NTC_RANGE_C[1])
        valid = (ohm >= r_short) & (ohm <= r_open)  # NaN compares False
        gain, sigma, noisy = self._thermistor_errors
        factor = gain[rows] + self._noise(sigma[rows], noise_rng) if noisy else gain[rows]
        measured = np.where(valid, ohm, ntc.r_ref_ohm) * factor
        inv = 1.0 / (ntc.t_ref_c + KELVIN_OFFSET) + np.log(measured / ntc.r_ref_ohm) / ntc.beta_k
        celsius: np.ndarray = np.rint((1.0 / inv - KELVIN_OFFSET) * 10.0) / 10.0 + 0.0
        return celsius, valid

    @classmethod
    def from_rng(cls, rng: random.Random) -> Frontend:
        """A unit's front end with errors drawn inside the budgets."""
        common = rng.uniform(-VOLTAGE_COMMON_GAIN, VOLTAGE_COMMON_GAIN)

        def voltage() -> ChannelError:
            ch = VOLTAGE_BUDGET.draw(rng)
            return ChannelError(ch.gain + common, ch.offset, ch.noise_sigma)

        return cls(
            cells=tuple(
                tuple(CELL_BUDGET.draw(rng) for _ in range(CELLS_PER_NODE_MAX)) for _ in range(NODE_COUNT_MAX)
            ),
            thermistors=tuple(
                tuple(THERMISTOR_BUDGET.draw(rng) for _ in range(TEMPS_PER_NODE_MAX))
                for _ in range(NODE_COUNT_MAX)
            ),
            current=CURRENT_BUDGET.draw(rng),
            battery=voltage(),
            charger=voltage(),
            load=voltage(),
            temperature1=ENV_TEMPERATURE_BUDGET.draw(rng),
            temperature2=ENV_TEMPERATURE_BUDGET.draw(rng),
            pressure=PRESSURE_BUDGET.draw(rng),
            humidity=HUMIDITY_BUDGET.draw(rng),
        )

    def measure(
        self,
        inputs: PlantInputs,
        config: D1000Config,
        rng: random.Random,
        keep: Mapping[int, NodeReadings] | None = None,
        noise_rng: np.random.Generator | None = None,
        memory: TrueInputs | None = None,
    ) -> Readings:
        """Sample every input once, for the channels `config` declares.

        `keep`: nodes whose previous sample stands (their inputs did not change since it was
        taken); the others are sampled again. `noise_rng`: the generator of the cell and
        thermistor noise (default: one seeded from `rng`, so a seeded unit stays reproducible).
        `memory`: the caller's `TrueInputs` (node inputs replaced, never edited, since it was
        last used or cleared): only the nodes whose input object changed are read again.
        """
        count = config.num_cmu_nodes
        if keep is not None and all(n in keep for n in range(count)):
            nodes = [keep[n] for n in range(count)]  # only a BMU input moved
        else:
            if noise_rng is None:
                noise_rng = np.random.default_rng(rng.getrandbits(64))
            nodes = self._sample_nodes(inputs, config, noise_rng, keep, memory)
        bju = inputs.bju
        env = inputs.environment

        def res(value: float, digits: int) -> float:
            return round(value, digits) + 0.0  # + 0.0: no -0.0

        return Readings(
            nodes=tuple(nodes),
            connected_nodes=[node.connected for node in inputs.nodes].count(True),
            bju_present=bju.present,
            current_a=res(self.current.apply(bju.current_a, rng), 3) if bju.present else 0.0,
            battery_v=res(self.battery.apply(bju.battery_v, rng), 3) if bju.present else 0.0,
            charger_v=res(self.charger.apply(bju.charger_v, rng), 3) if bju.present else 0.0,
            load_v=res(self.load.apply(bju.load_v, rng), 3) if bju.present else 0.0,
            temperature1_c=res(self.temperature1.apply(env.temperature1_c, rng), 1),
            temperature2_c=res(self.temperature2.apply(env.temperature2_c, rng), 1),
            pressure_kpa=res(self.pressure.apply(env.pressure_kpa, rng), 1),
            humidity_pct=res(max(0.0, self.humidity.apply(env.humidity_pct, rng)), 1),
            voc_ppb=env.voc_ppb,
            nox_ppb=env.nox_ppb,
        )

    def _sample_nodes(
        self,
        inputs: PlantInputs,
        config: D1000Config,
        noise_rng: np.random.Generator,
        keep: Mapping[int, NodeReadings] | None,
        memory: TrueInputs | None,
    ) -> list[NodeReadings]:
        """Every configured node's readings: the kept ones as they are, the others sampled (in one
        vector operation over the nodes to sample)."""
        ntc = BetaNtc(config.fixed.thermistor_r25_ohm, float(config.thermistor_beta_value))
        counts = cells_per_node, temps_per_node = config.cells_per_node(), config.temps_per_node()
        todo = [
            n
            for n in range(len(cells_per_node))
            if (keep is None or n not in keep) and n < len(inputs.nodes) and inputs.nodes[n].connected
        ]
        if memory is not None:
            memory.fit(config)
        consecutive = bool(todo) and todo[-1] - todo[0] == len(todo) - 1  # todo ascends
        rows: Rows = slice(todo[0], todo[-1] + 1) if consecutive else todo
        true_v, ohm = self._true_inputs(inputs, todo, counts, memory, rows)
        volts = self._cell_volts(true_v, rows, noise_rng)
        celsius, valid = self._temperatures(ohm, rows, ntc, noise_rng)
        present = volts >= config.fixed.cell_present_v
        built = self._build(todo, volts, present, celsius, valid, counts)
        if len(todo) == len(cells_per_node):  # every configured node sampled: none kept, none off the bus
            return built
        fresh = dict(zip(todo, built, strict=True))
        nodes: list[NodeReadings] = []
        for n, (cells, temps) in enumerate(zip(cells_per_node, temps_per_node, strict=True)):
            if keep is not None and n in keep:
                nodes.append(keep[n])
            elif n in fresh:
                nodes.append(fresh[n])
            else:  # not on the CMU bus
                nodes.append(NodeReadings(False, (0.0,) * cells, (False,) * cells, (None,) * temps))
        return nodes

    @staticmethod
    def _build_one(
        n: int,
        volts: np.ndarray,
        present: np.ndarray,
        celsius: np.ndarray,
        valid: np.ndarray,
        counts: tuple[Sequence[int], Sequence[int]],
    ) -> NodeReadings:
        """`_build` of one sampled row (node n; the cycle after a stimulus), on Python lists: the
        same values without the vector operations' fixed cost (the total's sum stays numpy's)."""
        cells, temps = counts[0][n], counts[1][n]
        vs, ps, cs, ok = volts[0].tolist(), present[0].tolist(), celsius[0].tolist(), valid[0].tolist()
        total = round(float(np.where(present[0], volts[0], 0.0).sum()) * 1e3) / 1e3 + 0.0
        ts = [c if k else None for c, k in zip(cs, ok, strict=True)]
        return NodeReadings.sampled(
            tuple(vs[:cells]),
            tuple(ps[:cells]),
            tuple(ts[:temps]),
            (total, sum(ps), sum(ok), max(0.0, *vs)),  # as numpy's max(initial=0.0)
            (_extremes(vs[:cells], ps[:cells]), _extremes(cs[:temps], ok[:temps])),
        )

    @staticmethod
    def _build(
        todo: list[int],
        volts: np.ndarray,
        present: np.ndarray,
        celsius: np.ndarray,
        valid: np.ndarray,
        counts: tuple[Sequence[int], Sequence[int]],
    ) -> list[NodeReadings]:
        """The `NodeReadings` of the sampled rows (node `todo[row]`), their totals and extremes
        worked out for all rows at once."""
        if len(todo) == 1:
            return [Frontend._build_one(todo[0], volts, present, celsius, valid, counts)]
        cells_per_node, temps_per_node = counts
        if valid.all():
            temps: list[list[float | None]] = celsius.tolist()
        else:
            with_none = celsius.astype(object)
            with_none[~valid] = None  # open, shorted or beyond the conversion's range
            temps = with_none.tolist()
        totals = np.rint(np.where(present, volts, 0.0).sum(axis=1) * 1e3) / 1e3 + 0.0
        # the extremes of the configured channels only (a node's readings hold no more)
        cells_present, temps_valid = present, valid
        if min((cells_per_node[n] for n in todo), default=CELLS_PER_NODE_MAX) < CELLS_PER_NODE_MAX:
            configured = np.array([cells_per_node[n] for n in todo])[:, None]
            cells_present = present & (np.arange(CELLS_PER_NODE_MAX) < configured)
        if min((temps_per_node[n] for n in todo), default=TEMPS_PER_NODE_MAX) < TEMPS_PER_NODE_MAX:
            configured = np.array([temps_per_node[n] for n in todo])[:, None]
            temps_valid = valid & (np.arange(TEMPS_PER_NODE_MAX) < configured)
        sampled = zip(
            todo,
            volts.tolist(),
            present.tolist(),
            temps,
            totals.tolist(),
            present.sum(axis=1).tolist(),
            valid.sum(axis=1).tolist(),
            volts.max(axis=1, initial=0.0).tolist(),
            _row_extremes(volts, cells_present),
            _row_extremes(celsius, temps_valid),
            strict=True,
        )
        return [
            NodeReadings.sampled(
                tuple(vs[: cells_per_node[n]]),
                tuple(ps[: cells_per_node[n]]),
                tuple(ts[: temps_per_node[n]]),
                (total, cells, sensors, highest),
                (cell_ext, temp_ext),
            )
            for n, vs, ps, ts, total, cells, sensors, highest, cell_ext, temp_ext in sampled
        ]


def filter_step(previous: float | None, sample: float, dt: float, tau_s: float) -> float:
    """First-order low-pass (FilteredCurrent): the filter starts at the first sample."""
    if previous is None:
        return sample
    alpha = 1.0 - math.exp(-dt / tau_s) if dt > 0.0 else 0.0
    return previous + alpha * (sample - previous)
