"""How a 12100 bench exercises the BMS: stimuli by quantity, observations, release actions.

This is the DUT-specific half of every procedure: the generic procedures (hil.procedures) ask
for a `ThresholdSetup`; this module builds it for a spec row from the row's quantity,
direction and what it blocks, so one procedure serves every threshold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hil.clock import Clock
from hil.dut import DutBench
from hil.duts.bms12100 import CELL_COUNT
from hil.duts.bms12100.client import Bms12100Client, Status
from hil.duts.bms12100.ntc import resistance_ohm
from hil.errors import BenchError
from hil.procedures.threshold import ThresholdSetup
from hil.spec import Requirement
from hil.station.station import Station

NOMINAL_CELL_V = 3.30
NEUTRAL_C = 25.0
#: current through the power path while a charge- or discharge-blocking threshold is probed (A)
PROBE_CURRENT_A = 2.0
#: current below which the power path counts as blocked (A)
BLOCKED_A = 0.2
BOOT_S = 2.0
CHARGER_HEADROOM_V = 1.0
#: the level that trips the charge path open so the charger voltage can be seen (CHG-HV)
OPEN_CHARGE_PATH_CELL_V = 3.85


@dataclass(frozen=True)
class Quantity:
    """How to set one stimulated quantity, and its unit on the instrument (V) vs in the spec."""

    to_volts: float  # spec unit -> instrument volts
    apply: Callable[[Bms12100Bench, float], None]  # takes the value in volts


def _set_cell1(bench: Bms12100Bench, volts: float) -> None:
    bench.set_cells([volts] + [NOMINAL_CELL_V] * (CELL_COUNT - 1))


def _set_pack(bench: Bms12100Bench, volts: float) -> None:
    bench.set_cells([volts / CELL_COUNT] * CELL_COUNT)


def _set_charger(bench: Bms12100Bench, volts: float) -> None:
    bench.station.charger.set_voltage(volts)


QUANTITIES: dict[str, Quantity] = {
    "cell_voltage": Quantity(1e-3, _set_cell1),
    "pack_voltage": Quantity(1.0, _set_pack),
    "charger_voltage": Quantity(1.0, _set_charger),
}


class Bms12100Bench(DutBench):
    """Stimuli and observations on a 12100 station, in the BMS's own terms."""

    def __init__(self, station: Station, dut: Bms12100Client) -> None:
        self.station = station
        self.dut = dut
        self.clock: Clock = station.clock
        self.settle_s = station.model.expectations.get("settle_s", 0.2)
        self.protection_delay_s = station.model.expectations.get("voltage_protection_delay_max_s", 3.0)
        self.cell_v = [NOMINAL_CELL_V] * CELL_COUNT
        self._programmed: list[float | None] = [None] * CELL_COUNT  # unknown until first set

    # --- setting up -----------------------------------------------------------------------
    def power_up(self) -> None:
        """Cells on at nominal voltage, NTCs at 25 °C: the BMS boots from its cell supply."""
        ntc = self.station.ntc
        for terminal in ntc.info.channels:
            ntc.set_temperature(terminal, NEUTRAL_C, resistance_ohm)
        self.power_cycle()

    def prepare(self) -> Status:
        """Idle, nominal cells, neutral temperatures, nothing active on the BMS (power cycle if needed)."""
        self.idle()
        ntc = self.station.ntc
        for terminal in ntc.info.channels:
            ntc.set_temperature(terminal, NEUTRAL_C, resistance_ohm)
        cells = self.station.cells
        if not all(cells.output_is_on(c) for c in cells.cells):
            self.power_cycle()
        self.set_cells([NOMINAL_CELL_V] * CELL_COUNT)
        self.clock.sleep(self.settle_s)
        status = self.dut.status()
        if status.active:
            self.power_cycle()
            status = self.dut.status()
        if status.active:
            raise BenchError(f"the BMS reports {sorted(status.active)} after a power cycle at nominal levels")
        return status

    def power_cycle(self) -> None:
        """Remove and restore the cell supply (the BMS restarts: its reset)."""
        cells = self.station.cells
        cells.set_output(False)
        self.clock.sleep(1.0)
        for cell in cells.cells:
            cells.set_current_limit(cell, 1.0)
        self.set_cells([NOMINAL_CELL_V] * CELL_COUNT)
        cells.set_output(True)
        self.clock.sleep(BOOT_S)

    def set_cells(self, volts: list[float]) -> None:
        cells = self.station.cells
        for i, (cell, new) in enumerate(zip(cells.cells, volts, strict=True)):
            old = self._programmed[i]
            if old is None or abs(new - old) > 1e-9:
                cells.set_voltage(cell, new)
                self._programmed[i] = new
        self.cell_v = list(volts)

    @property
    def pack_v(self) -> float:
        return sum(self.cell_v)

    # --- power path -----------------------------------------------------------------------
    def charge(self, amps: float) -> None:
        """Charge at `amps` (the charger current-limited a little above the pack voltage)."""
        self.station.load.set_input(False)
        charger = self.station.charger
        charger.set_current_limit(amps)
        charger.set_voltage(self.pack_v + CHARGER_HEADROOM_V)
        charger.set_output(True)

    def hold_charger(self, volts: float, current_limit: float = 5.0) -> None:
        charger = self.station.charger
        charger.set_current_limit(current_limit)
        charger.set_voltage(volts)
        charger.set_output(True)

    def discharge(self, amps: float) -> None:
        self.station.charger.set_output(False)
        load = self.station.load
        load.set_cc(amps)
        load.set_input(True)

    def idle(self) -> None:
        self.station.load.set_input(False)
        self.station.charger.set_output(False)

    def charger_current(self) -> float:
        return self.station.charger.measure_current()

    def load_current(self) -> float:
        return self.station.load.measure_current()

    def path_blocked(self, blocks: str) -> bool:
        """Whether the power path the row blocks carries (almost) no current now."""
        if blocks == "charge":
            return self.charger_current() < BLOCKED_A
        if blocks == "discharge":
            return self.load_current() < BLOCKED_A
        raise ValueError(f"no power path observation for blocks={blocks!r}")

    def drive_path(self, blocks: str) -> None:
        """Make the path a row blocks carry current, so its blocking can be seen."""
        if blocks == "charge":
            self.charge(PROBE_CURRENT_A)
        elif blocks == "discharge":
            self.discharge(PROBE_CURRENT_A)

    # --- thresholds -----------------------------------------------------------------------
    def active(self, requirement_id: str) -> bool:
        return requirement_id in self.dut.active()

    def wait_state(self, requirement_id: str, active: bool, timeout: float) -> bool:
        met, _ = self.clock.wait_until(lambda: self.active(requirement_id) == active, timeout, 0.1)
        return met

    def apply(self, req: Requirement, value: float) -> None:
        """Set the row's quantity to `value` (in the row's unit)."""
        quantity = self._quantity(req)
        quantity.apply(self, value * quantity.to_volts)

    def nominal_level(self, req: Requirement) -> float:
        """The row's quantity at nominal conditions, in the row's unit."""
        if req.quantity == "cell_voltage":
            return NOMINAL_CELL_V * 1e3
        if req.quantity == "pack_voltage":
            return NOMINAL_CELL_V * CELL_COUNT
        if req.quantity == "charger_voltage":
            return NOMINAL_CELL_V * CELL_COUNT + CHARGER_HEADROOM_V
        raise ValueError(req.quantity)

    def _quantity(self, req: Requirement) -> Quantity:
        if req.quantity not in QUANTITIES:
            raise ValueError(f"{req.id}: no stimulus for quantity {req.quantity!r} on this bench")
        return QUANTITIES[req.quantity]

    def setting_uncertainty(self, req: Requirement, value: float) -> float:
        """Expanded uncertainty (k=2, from the station's accuracy figures) of setting the stimulus."""
        if req.quantity in ("cell_voltage", "pack_voltage"):
            acc = self.station.model.instruments[self.station.cells.name].accuracy.get("voltage")
            per_cell = (
                value * self._quantity(req).to_volts / (CELL_COUNT if req.quantity == "pack_voltage" else 1)
            )
            one = acc.gain * per_cell + acc.offset if acc else 0.0
            total = one * (CELL_COUNT if req.quantity == "pack_voltage" else 1)
        else:
            acc = self.station.model.instruments[self.station.charger.name].accuracy.get("voltage")
            total = acc.gain * value + acc.offset if acc else 0.0
        return total / self._quantity(req).to_volts

    def precondition(self, req: Requirement) -> None:
        """Bring the bench to where the row's threshold can be seen (path driven, or opened)."""
        if req.quantity == "charger_voltage":
            # The BMS sees the charger's own voltage only while its charge MOSFET is open: open it
            # with a cell over-voltage, then hold the charger at the probe level.
            _set_cell1(self, OPEN_CHARGE_PATH_CELL_V)
            self.hold_charger(self.nominal_level(req))
            if not self.wait_state("CV-OVP", True, self.protection_delay_s + 1.0):
                raise BenchError("CHG-HV precondition: CV-OVP did not open the charge path")
        elif req.blocks in ("charge", "discharge"):
            self.drive_path(req.blocks)

    def rearm(self, req: Requirement) -> None:
        """Back to the untripped state by the row's normal way out, then re-drive the path."""
        self.apply(req, self.nominal_level(req) if req.quantity != "charger_voltage" else 14.0)
        if self.wait_state(req.id, False, self.protection_delay_s + 1.0):
            return
        if req.blocks == "discharge":  # under-voltage: a charge releases it
            self.charge(PROBE_CURRENT_A)
            released = self.wait_state(req.id, False, self.protection_delay_s + 1.0)
            self.drive_path("discharge")
            if released:
                return
        self.prepare()
        self.precondition(req)
        if self.active(req.id):
            raise BenchError(f"{req.id} could not be released to re-arm the probe")

    def threshold_setup(self, req: Requirement) -> ThresholdSetup:
        """The generic procedures' view of this row on this bench."""
        if req.direction is None:
            raise ValueError(f"{req.id} has no direction")
        return ThresholdSetup(
            clock=self.clock,
            apply=lambda level: self.apply(req, level),
            tripped=lambda: self.active(req.id),
            rearm=lambda: self.rearm(req),
            settle_s=self.protection_delay_s + 0.2,
            direction=req.direction,
        )


# --- release alternatives ---------------------------------------------------------------------
@dataclass(frozen=True)
class ReleaseCase:
    """One way out of a tripped protection (or one that must not work), tried on its own."""

    name: str  # a release alternative id of the spec row, or no_release_*
    expect_release: bool
    description: str
    action: Callable[[Bms12100Bench, Requirement], None]


def _level(fraction: float) -> Callable[[Bms12100Bench, Requirement], None]:
    """Set the quantity to release + fraction·(trip - release) (0: the release value, 1: the trip)."""

    def act(bench: Bms12100Bench, req: Requirement) -> None:
        assert req.trip is not None and req.release is not None
        bench.apply(req, req.release + fraction * (req.trip - req.release))

    return act


def _then(
    *steps: Callable[[Bms12100Bench, Requirement], None],
) -> Callable[[Bms12100Bench, Requirement], None]:
    def act(bench: Bms12100Bench, req: Requirement) -> None:
        for step in steps:
            step(bench, req)

    return act


def _discharge(amps: float) -> Callable[[Bms12100Bench, Requirement], None]:
    return lambda bench, req: bench.discharge(amps)


def _charge(amps: float) -> Callable[[Bms12100Bench, Requirement], None]:
    return lambda bench, req: bench.charge(amps)


def _idle(bench: Bms12100Bench, req: Requirement) -> None:
    bench.idle()


def _soc_high(bench: Bms12100Bench, req: Requirement) -> None:
    bench.dut.set_remaining_capacity(98.0)


def _power_cycle(bench: Bms12100Bench, req: Requirement) -> None:
    cells = list(bench.cell_v)
    bench.station.cells.set_output(False)
    bench.clock.sleep(1.0)
    bench.station.cells.set_output(True)
    bench.set_cells(cells)
    bench.clock.sleep(BOOT_S)


def _charger_to(volts: float) -> Callable[[Bms12100Bench, Requirement], None]:
    return lambda bench, req: bench.hold_charger(volts)


_BELOW_RELEASE = -0.2  # 20 % of the hysteresis beyond the release value
_BETWEEN = 0.5

OVP_CASES = (
    ReleaseCase(
        "recovery",
        True,
        "quantity below the release value with SOC < 96 %",
        _then(_idle, _level(_BELOW_RELEASE)),
    ),
    ReleaseCase(
        "discharge",
        True,
        "a 4 A discharge, quantity still above the release value",
        _then(_level(_BETWEEN), _discharge(4.0)),
    ),
    ReleaseCase(
        "no_release_soc",
        False,
        "below the release value but SOC set to 98 %",
        _then(_idle, _soc_high, _level(_BELOW_RELEASE)),
    ),
    ReleaseCase(
        "no_release_small_discharge",
        False,
        "a 2 A discharge (not above 3 A), quantity above release",
        _then(_level(_BETWEEN), _discharge(2.0)),
    ),
    ReleaseCase(
        "no_release_hysteresis",
        False,
        "quantity between release and trip, idle",
        _then(_idle, _level(_BETWEEN)),
    ),
)
UVP_CASES = (
    ReleaseCase(
        "charge",
        True,
        "a 1.5 A charge, quantity between trip and release",
        _then(_level(_BETWEEN), _charge(1.5)),
    ),
    ReleaseCase(
        "reboot_recheck",
        True,
        "quantity above the release value, then the BMS restarts",
        _then(_idle, _level(_BELOW_RELEASE), _power_cycle),
    ),
    ReleaseCase(
        "no_release_voltage",
        False,
        "quantity back above the release value without charge or restart",
        _then(_idle, _level(_BELOW_RELEASE)),
    ),
    ReleaseCase(
        "no_release_small_charge", False, "a 0.5 A charge (below 1 A)", _then(_level(_BETWEEN), _charge(0.5))
    ),
    ReleaseCase(
        "no_release_reboot_low",
        False,
        "the BMS restarts with the quantity still beyond the trip value",
        _then(_idle, _level(1.2), _power_cycle),
    ),
)
CHARGER_CASES = (
    ReleaseCase("below_threshold", True, "charger voltage 0.5 V below 18 V", _charger_to(17.5)),
    ReleaseCase("no_release_above", False, "charger voltage 0.3 V above 18 V", _charger_to(18.3)),
)

RELEASE_CASES: dict[str, tuple[ReleaseCase, ...]] = {
    "CV-OVP": OVP_CASES,
    "PV-OVP": OVP_CASES,
    "CV-UVP": UVP_CASES,
    "PV-UVP": UVP_CASES,
    "CHG-HV": CHARGER_CASES,
}


def trip_level(req: Requirement, margin: float) -> float:
    """A level clearly beyond the trip value (spec unit)."""
    assert req.trip is not None
    return req.trip + margin if req.direction == "above" else req.trip - margin
