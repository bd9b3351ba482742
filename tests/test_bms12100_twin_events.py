"""The 12100 twin's event-driven monitors: a monitor that cannot change is skipped while the inputs
hold, and the twin still gives exactly what running every monitor every cycle gives."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

import pytest

from hil.duts.bms12100 import ntc
from hil.duts.bms12100.config import Settings
from hil.duts.bms12100.protocol.snapshot import Mode
from hil.duts.bms12100.sim.twin import Bms12100Twin, Frontend, Readings, TerminalInputs
from hil.duts.bms12100.sim.twin import hardware as hw_faults
from hil.duts.bms12100.sim.twin.frontend import CURRENT_RANGE_A, Sampler


class EveryCycleTwin(Bms12100Twin):
    """The reference: every monitor runs every cycle (the twin before monitors could sleep)."""

    def _sleep_quiet(self, inputs: TerminalInputs, s: Settings, true_m: Readings) -> None:
        del inputs, s, true_m


def inputs(
    cells: list[float], current: float = 0.0, charger: float = 0.0, temp_c: float = 25.0
) -> TerminalInputs:
    return TerminalInputs(list(cells), [ntc.resistance_ohm(temp_c)] * 4, current, charger)


def faulted_settings() -> Settings:
    """A unit whose cell 2 reads 30 mV high and whose current channel reads 1 % + 0.5 A high."""
    s = Settings()
    s.hardware.cell_channel = 2
    s.hardware.cell_offset_mv = 30.0
    s.hardware.current_gain = 0.01
    s.hardware.current_offset_a = 0.5
    return s


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("faulted", [False, True])
def test_every_reading_lies_between_the_extremes(seed: int, faulted: bool) -> None:
    settings = faulted_settings() if faulted else Settings()
    front = hw_faults.frontend(Frontend.from_rng(random.Random(seed)), settings.hardware)
    rng = random.Random(seed + 100)
    for case in range(40):
        held = inputs(
            [rng.uniform(2.0, 4.0) for _ in range(4)],
            current=rng.choice([0.0, rng.uniform(-400.0, 400.0)]),
            charger=rng.uniform(0.0, 20.0),
            temp_c=rng.uniform(-45.0, 155.0),
        )
        low, high = front.extremes(held)
        for _ in range(200):
            m = front.measure(0.0, held, rng)
            for lo, v, hi in zip(low.cell_mv, m.cell_mv, high.cell_mv, strict=True):
                assert lo <= v <= hi, (case, low.cell_mv, m.cell_mv, high.cell_mv)
            for lo, v, hi in zip(low.temperatures_c, m.temperatures_c, high.temperatures_c, strict=True):
                assert lo <= v <= hi
            assert low.pack_v <= m.pack_v <= high.pack_v
            assert low.current_a <= m.current_a <= high.current_a
            assert low.charger_v <= m.charger_v <= high.charger_v
        # the band is the noise's alone: about 6 σ wide (a few counts of resolution)
        assert max(h - lo for lo, h in zip(low.cell_mv, high.cell_mv, strict=True)) <= 6.0
        assert abs(high.current_a) <= CURRENT_RANGE_A


def scenario(seed: int) -> list[tuple[float, TerminalInputs]]:
    """Held inputs with the time each is applied: cells around the voltage thresholds (inside the
    noise band and far from it), currents around the over-current and mode thresholds, long holds."""
    rng = random.Random(seed)
    t, out = 0.0, []
    for _ in range(60):
        cells = [3.3] * 4
        cells[rng.randrange(4)] = rng.choice([3.3, 3.45, 3.6, 3.649, 3.651, 3.66, 2.8, 2.5, 2.499, 2.3])
        current = rng.choice([0.0, 0.0, -0.25, 0.35, -3.5, -60.0, -101.0, -160.0, 2.0])
        charger = rng.choice([0.0, 0.0, 14.2, 18.3])
        temp = rng.choice([25.0, 25.0, 44.0, 55.5, 60.5, -5.0])
        out.append((t, inputs(cells, current=current, charger=charger, temp_c=temp)))
        t += rng.choice([0.05, 0.5, 1.5, 3.0, 20.0, 75.0])
    out.append((t, inputs([3.3] * 4)))
    return out


def in_lockstep(
    twin: Bms12100Twin, reference: Bms12100Twin, t: float, end: float, held: TerminalInputs
) -> Iterator[float]:
    """Both twins stepped from t to `end` by the same steps (the twin's `max_step`, which must be
    the reference's), their telemetry equal after each; yields the time after each step."""
    while t < end:
        assert twin.max_step() == reference.max_step()
        step = min(end - t, twin.max_step())
        t = end if end - (t + step) < 1e-9 else t + step
        for twin_ in (twin, reference):
            twin_.step(t, step, held)
        assert twin.telemetry() == reference.telemetry()
        yield t


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("faulted", [False, True])
def test_event_driven_twin_matches_running_every_monitor_every_cycle(seed: int, faulted: bool) -> None:
    settings = faulted_settings() if faulted else Settings()
    twin, reference = Bms12100Twin(settings, seed), EveryCycleTwin(settings, seed)
    plan = scenario(seed)
    for twin_ in (twin, reference):
        twin_.power_on(0.0, plan[0][1])
    skipped = 0
    for (start, held), (end, _) in itertools.pairwise(plan):
        for twin_ in (twin, reference):
            twin_.step(start, 0.0, held)
        for _t in in_lockstep(twin, reference, start, end, held):
            assert (twin.charge_path_closed, twin.discharge_path_closed) == (
                reference.charge_path_closed,
                reference.discharge_path_closed,
            )
            awake = twin._awake  # white box: the skipping must actually happen for this test to mean anything
            skipped += len(twin.monitors) - (len(awake) if awake is not None else len(twin.monitors))
    assert twin.history == reference.history
    assert len(twin.history) > 10  # the scenario trips and releases things
    assert skipped > 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_sampler_gives_what_measure_gives_and_draws_alike(seed: int) -> None:
    """The cycle's sampler (noise drawn in one go, the rest computed once per held inputs) gives
    `measure`'s readings and leaves the generator where `measure` leaves it: the same noise draws in
    the same order, whatever the channels (ideal, faulted), the NTCs (open, shorted) or the spare
    Gaussian value the generator holds."""
    rng = random.Random(seed)
    for case in range(60):
        settings = faulted_settings() if case % 2 else Settings()
        front = (
            Frontend.ideal()
            if case % 5 == 0
            else hw_faults.frontend(Frontend.from_rng(random.Random(case)), settings.hardware)
        )
        ohms = [rng.choice([None, 0.05, ntc.resistance_ohm(rng.uniform(-50.0, 160.0))]) for _ in range(4)]
        cells = [rng.choice([0.0, -0.1, rng.uniform(0.0, 5.0)]) for _ in range(4)]
        held = TerminalInputs(
            cells, ohms, rng.choice([0.0, rng.uniform(-400.0, 400.0)]), rng.uniform(0.0, 20.0)
        )
        measured, sampled = random.Random(case), random.Random(case)
        for _ in range(case % 3):  # an odd number of earlier draws leaves a spare value
            measured.gauss(0.0, 1.0)
            sampled.gauss(0.0, 1.0)
        sampler = Sampler(front, held)
        for _ in range(4):
            m = front.measure(1.5, held, measured)
            assert sampler.sample(sampled) == (
                m.cell_mv,
                m.pack_v,
                m.current_a,
                m.temperatures_c,
                m.charger_v,
            )
            assert sampled.getstate() == measured.getstate()
            assert sampled.gauss_next == measured.gauss_next  # type: ignore[attr-defined]
        assert sampler.true_values(1.5, 40.0, Mode.CHARGE) == Frontend.true_values(
            1.5, held, 40.0, Mode.CHARGE
        )


@pytest.mark.parametrize("seed", [1, 2])
def test_soc_and_cell_spread_monitors_sleep_and_wake_exactly(seed: int) -> None:
    """SOC-LA, SOC-LP (switched on) and CELL-FAIL sleep while their quantity cannot move or stay
    inside its bounds (standby: no current is counted; a spread inside the noise band) and the twin
    still gives what running them every cycle gives: SOC held just above the alarm in standby, then
    discharged across it and charged back; spreads around CELL-FAIL's trigger and release."""
    settings = Settings()
    settings.soc_protection.enabled = True
    settings.soc_protection.trigger_pct = 14.0
    twin, reference = Bms12100Twin(settings, seed), EveryCycleTwin(settings, seed)
    rng = random.Random(seed)
    # standby, then a discharge that only the current shows (the cells' inputs hold)
    plan = [inputs([3.0] * 4), inputs([3.0] * 4, charger=14.0)]
    plan.append(inputs([3.0] * 4, current=-90.0, charger=14.0))
    for _ in range(60):
        cells = list(plan[-1].cell_v)
        if rng.random() < 0.6:  # else only the current moves
            cells = [3.0] * 4
            # spreads at CELL-FAIL's release and trigger, some inside the noise band (1 mV apart)
            spread = rng.choice([0.0, 0.3, 0.6, *(0.5 + k * 0.001 for k in range(-8, 9))])
            cells[rng.randrange(4)] = 3.0 + spread
        # currents that read 0.00 A, some only sometimes (at the 10 mA resolution's 5 mA edge)
        current = rng.choice([0.0, -40.0, -90.0, -90.0, 30.0, *(k * 0.0005 for k in range(6, 15))])
        plan.append(inputs(cells, current=current, charger=14.0))
    for twin_ in (twin, reference):
        twin_.power_on(0.0, plan[0])
        twin_.set_remaining_capacity(15.1)
    t, skipped = 0.0, 0
    for held in plan:
        for twin_ in (twin, reference):
            twin_.step(t, 0.0, held)
        end = t + rng.choice([3.0, 20.0, 130.0])
        for _t in in_lockstep(twin, reference, t, end, held):
            awake = {monitor.spec.rid for monitor in twin._awake or twin.monitors}  # white box
            skipped += len({"SOC-LA", "SOC-LP", "CELL-FAIL"} - awake)
        t = end
    assert twin.history == reference.history
    assert {event.rid for event in twin.history} >= {"SOC-LA", "SOC-LP", "CELL-FAIL"}
    assert skipped > 0
