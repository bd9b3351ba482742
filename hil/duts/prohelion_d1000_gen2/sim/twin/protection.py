"""Limit checks of one sample: the fault conditions (BMSInfo reasons), the warnings and the extremes.

Thresholds are the configuration's. "At which" in the V1.2 descriptions reads as reaching the value:
a cell at critCellOverVoltage or above faults, at critCellUnderVoltage or below faults, the same for
the warnings, the cell temperatures and cellBalancingVoltage; a current trips only *above* its
"maximum allowed" value; the BMU environment faults outside [min, max]. No hysteresis or delay is
documented, so none is applied: a condition holds exactly while the sample is beyond its limit.

Reasons per condition (bit names of BMSInfo):
- a cell at/over critCellOverVoltage → OVERVOLT, at/under critCellUnderVoltage → UNDERVOLT;
- a thermistor at/over maxCellTemperature → OVERTEMP, at/under minCellTemperature → UNDERTEMP;
- discharge current above maxDischargeCurrent or charge current above maxChargeCurrent → OVERCURRENT;
- CMUs answering ≠ numCMUNodes → NODECOUNT; a configured cell reading no voltage → CELLCOUNT;
  a configured thermistor open or shorted → TEMPCOUNT; BJU silent → BJU; self-test → SELFTESTFAIL;
- HVIL loop not closed → HVIL;
- BMU pressure / humidity outside their range → PRESSURE / HUMIDITY. OUR READING: V1.2 has no
  reason bit for the BMU temperature; its excursion is reported as OVERTEMP / UNDERTEMP (and on
  the snapshot's `bmu_temperature_fault`). VOC and NOx have reason bits but no limits: never set.
Extremes are over connected nodes, present cells and connected sensors, first occurrence on ties;
node IDs count from 0 (the n of the Node𝑛 messages), cell and sensor IDs from 1 (Cell01, Temp01):
OUR READING, the DBC does not say.
"""

from __future__ import annotations

from dataclasses import dataclass

from hil.duts.prohelion_d1000_gen2.config import D1000Config
from hil.duts.prohelion_d1000_gen2.protocol.codes import HvilLoop, InfoBit
from hil.duts.prohelion_d1000_gen2.sim.twin.frontend import NodeReadings, Readings
from hil.duts.prohelion_d1000_gen2.sim.twin.inputs import PlantInputs

NODE_ID_BASE = 0
CELL_ID_BASE = 1
SENSOR_ID_BASE = 1
_EPS = 1e-9
#: (value, node, channel) of a pack extreme, as it is being found
_Found = tuple[float, int, int] | None


@dataclass(frozen=True)
class Extreme:
    """One extreme reading and where it is."""

    value: float
    node_id: int
    index: int  # cell or sensor ID


@dataclass(frozen=True)
class Evaluation:
    """The result of checking one sample."""

    active: frozenset[InfoBit]  # fault conditions holding now
    charge_allowed: bool  # no cell at/over warningCellOverVoltage
    discharge_allowed: bool  # no cell at/under warningCellUnderVoltage
    bmu_temperature_fault: bool
    max_cell: Extreme | None
    min_cell: Extreme | None
    max_temperature: Extreme | None
    min_temperature: Extreme | None


@dataclass(frozen=True)
class PackExtremes:
    """What the node readings alone decide: the extremes and whether a channel is missing."""

    max_cell: Extreme | None
    min_cell: Extreme | None
    cell_missing: bool
    max_temperature: Extreme | None
    min_temperature: Extreme | None
    sensor_missing: bool


def pack_extremes(nodes: tuple[NodeReadings, ...]) -> PackExtremes:
    """The cell and temperature extremes over the connected nodes, from each node's own extremes
    (worked out once per sample, so a cycle that re-samples one node costs the same at 448 cells
    as at 14), in one pass: node order, first occurrence on ties."""
    # (value, node, index from 0) of the highest and lowest cell and temperature so far
    cell_high: _Found = None
    cell_low: _Found = None
    temp_high: _Found = None
    temp_low: _Found = None
    cell_missing = sensor_missing = False
    # widened node by node in line (a call per node and kind cost as much as its comparisons)
    for n, node in enumerate(nodes):
        if not node.connected:
            continue
        found = node.cell_extremes
        if found is not None:
            (high_v, high_i), (low_v, low_i) = found
            if cell_high is None or high_v > cell_high[0]:
                cell_high = (high_v, n, high_i)
            if cell_low is None or low_v < cell_low[0]:
                cell_low = (low_v, n, low_i)
        found = node.temperature_extremes
        if found is not None:
            (high_v, high_i), (low_v, low_i) = found
            if temp_high is None or high_v > temp_high[0]:
                temp_high = (high_v, n, high_i)
            if temp_low is None or low_v < temp_low[0]:
                temp_low = (low_v, n, low_i)
        cell_missing = cell_missing or node.connected_cells < len(node.cell_v)
        sensor_missing = sensor_missing or node.connected_temp_sensors < len(node.temperature_c)

    def extreme(found: tuple[float, int, int] | None, base: int) -> Extreme | None:
        return None if found is None else Extreme(found[0], found[1] + NODE_ID_BASE, found[2] + base)

    return PackExtremes(
        extreme(cell_high, CELL_ID_BASE),
        extreme(cell_low, CELL_ID_BASE),
        cell_missing,
        extreme(temp_high, SENSOR_ID_BASE),
        extreme(temp_low, SENSOR_ID_BASE),
        sensor_missing,
    )


def evaluate(
    readings: Readings, inputs: PlantInputs, config: D1000Config, extremes: PackExtremes | None = None
) -> Evaluation:
    """Check one sample against the configured limits (`extremes`: `pack_extremes` of its nodes,
    when the caller kept them from a sample with the same node readings)."""
    b = config.behaviour
    active: set[InfoBit] = set()
    ext = extremes if extremes is not None else pack_extremes(readings.nodes)
    max_cell, min_cell, max_temp, min_temp = (
        ext.max_cell,
        ext.min_cell,
        ext.max_temperature,
        ext.min_temperature,
    )
    if ext.cell_missing:
        active.add(InfoBit.REASON_CELLCOUNT)
    if ext.sensor_missing:
        active.add(InfoBit.REASON_TEMPCOUNT)

    if (
        b.cell_voltage_limits
        and max_cell is not None
        and max_cell.value >= config.crit_cell_over_voltage - _EPS
    ):
        active.add(InfoBit.REASON_OVERVOLT)
    if (
        b.cell_voltage_limits
        and min_cell is not None
        and min_cell.value <= config.crit_cell_under_voltage + _EPS
    ):
        active.add(InfoBit.REASON_UNDERVOLT)
    if (
        b.cell_temperature_limits
        and max_temp is not None
        and max_temp.value >= config.max_cell_temperature - _EPS
    ):
        active.add(InfoBit.REASON_OVERTEMP)
    if (
        b.cell_temperature_limits
        and min_temp is not None
        and min_temp.value <= config.min_cell_temperature + _EPS
    ):
        active.add(InfoBit.REASON_UNDERTEMP)
    current = readings.current_a
    if b.overcurrent_check and (
        current > config.max_discharge_current or -current > config.max_charge_current
    ):
        active.add(InfoBit.REASON_OVERCURRENT)
    if b.node_count_check and readings.connected_nodes != config.num_cmu_nodes:
        active.add(InfoBit.REASON_NODECOUNT)
    if not readings.bju_present:
        active.add(InfoBit.REASON_BJU)
    if not inputs.self_test_ok:
        active.add(InfoBit.REASON_SELFTESTFAIL)
    if b.hvil_check and inputs.hvil is not HvilLoop.CLOSED:
        active.add(InfoBit.REASON_HVIL)

    bmu_t_fault = any(
        not config.bmu_temperature_min <= t <= config.bmu_temperature_max
        for t in (readings.temperature1_c, readings.temperature2_c)
    )
    if b.environment_limits:
        if max(readings.temperature1_c, readings.temperature2_c) > config.bmu_temperature_max:
            active.add(InfoBit.REASON_OVERTEMP)
        if min(readings.temperature1_c, readings.temperature2_c) < config.bmu_temperature_min:
            active.add(InfoBit.REASON_UNDERTEMP)
        if not config.bmu_pressure_min <= readings.pressure_kpa <= config.bmu_pressure_max:
            active.add(InfoBit.REASON_PRESSURE)
        if not config.bmu_humidity_min <= readings.humidity_pct <= config.bmu_humidity_max:
            active.add(InfoBit.REASON_HUMIDITY)
    active |= inputs.injected

    warn = b.warning_limits
    charge_ok = not (
        warn and max_cell is not None and max_cell.value >= config.warning_cell_over_voltage - _EPS
    )
    discharge_ok = not (
        warn and min_cell is not None and min_cell.value <= config.warning_cell_under_voltage + _EPS
    )
    return Evaluation(
        active=frozenset(active),
        charge_allowed=charge_ok,
        discharge_allowed=discharge_ok,
        bmu_temperature_fault=bmu_t_fault,
        max_cell=max_cell,
        min_cell=min_cell,
        max_temperature=max_temp,
        min_temperature=min_temp,
    )


def _node_candidate(node: NodeReadings, high: bool, cells: bool) -> tuple[float, int] | None:
    """One node's own highest or lowest cell or temperature as (value, index from 0), if it has one."""
    if not node.connected:
        return None
    own = node.cell_extremes if cells else node.temperature_extremes
    return None if own is None else own[0 if high else 1]


def _moved_extreme(
    before: Extreme | None, old: NodeReadings, new: NodeReadings, n: int, high: bool, cells: bool
) -> tuple[Extreme | None] | None:
    """The pack's extreme once node n's readings went from `old` to `new` (the other nodes as they
    were), or None when only a pass over every node can tell (the node that held it moved away)."""
    base = CELL_ID_BASE if cells else SENSOR_ID_BASE
    found = _node_candidate(new, high, cells)
    mine = None if found is None else Extreme(found[0], n + NODE_ID_BASE, found[1] + base)
    if before is None:  # no node had a candidate: n's is the only one
        return (mine,) if _node_candidate(old, high, cells) is None else None
    held = before.node_id - NODE_ID_BASE == n
    if mine is None:
        return None if held else (before,)
    better = mine.value > before.value if high else mine.value < before.value
    if held:  # n held it: kept if its new value is at least as extreme (first on ties: n still)
        return (mine,) if better or mine.value == before.value else None
    if better or (mine.value == before.value and n < before.node_id - NODE_ID_BASE):
        return (mine,)
    return (before,)


def _moved_missing(before: bool, old: bool, new: bool) -> bool | None:
    """Whether a channel is missing once one node's flag went from `old` to `new` (None: unknown)."""
    if new or not before:
        return new or before
    return True if not old else None


def pack_extremes_moved(
    before: PackExtremes, old: NodeReadings, new: NodeReadings, n: int
) -> PackExtremes | None:
    """`pack_extremes` after one node's readings changed, from the extremes before it (a cycle after
    a one-cell stimulus re-samples one node of up to 32), or None when the nodes must be passed
    over again (the node that held an extreme moved away from it, or its missing channel went)."""
    found = [
        _moved_extreme(before.max_cell, old, new, n, True, True),
        _moved_extreme(before.min_cell, old, new, n, False, True),
        _moved_extreme(before.max_temperature, old, new, n, True, False),
        _moved_extreme(before.min_temperature, old, new, n, False, False),
    ]
    cell_missing = _moved_missing(
        before.cell_missing,
        old.connected and old.connected_cells < len(old.cell_v),
        new.connected and new.connected_cells < len(new.cell_v),
    )
    sensor_missing = _moved_missing(
        before.sensor_missing,
        old.connected and old.connected_temp_sensors < len(old.temperature_c),
        new.connected and new.connected_temp_sensors < len(new.temperature_c),
    )
    if cell_missing is None or sensor_missing is None:
        return None
    extremes: list[Extreme | None] = []
    for one in found:
        if one is None:
            return None
        extremes.append(one[0])
    return PackExtremes(extremes[0], extremes[1], cell_missing, extremes[2], extremes[3], sensor_missing)
