"""How a 12100 bench exercises the BMS: stimuli by quantity, observations, release actions.

This is the DUT-specific half of every procedure: the generic procedures (hil.procedures) ask
for a `ThresholdSetup`; this module builds it for a spec row from the row's quantity,
direction and what it blocks, so one procedure serves every threshold.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from hil.bench import DutBench, Stimulus
from hil.duts.bms12100 import CELL_COUNT
from hil.duts.bms12100.client import Bms12100Client, Status
from hil.duts.bms12100.ntc import NTC, resistance_ohm
from hil.errors import BenchError
from hil.instruments.roles import Switch
from hil.spec import Requirement
from hil.station.station import Station

NOMINAL_CELL_V = 3.30
NEUTRAL_C = DutBench.NEUTRAL_C
#: current through the power path while a charge- or discharge-blocking threshold is probed (A)
PROBE_CURRENT_A = 2.0
#: current below which the power path counts as blocked (A)
BLOCKED_A = 0.2
BOOT_S = 2.5
#: the discharge path precharges for 2 s whenever it turns on (PRE): wait it out before a probe
PRECHARGE_WAIT_S = 2.5
CHARGER_MAX_V = 16.0
#: the level that trips the charge path open so the charger voltage can be seen (CHG-HV)
OPEN_CHARGE_PATH_CELL_V = 3.85
#: cell level under a spread stimulus: low enough that base + 550 mV stays below CV-OVP
SPREAD_BASE_CELL_V = 3.05
#: pack currents up to this (A) are trimmed against the cell emulator's current readback (the
#: charger's and load's own accuracy, ±0.17 A and more, cannot resolve the 300/200 mA mode rows)
TRIMMED_MAX_A = 1.0
#: the reference cell channel for the pack current (in series with the pack)
REFERENCE_CELL = 0
NTC_TERMINAL = {"cell_temperature": "T_CELL1", "ambient_temperature": "T_AMB", "power_temperature": "T_MOS"}
#: settle time (s) beyond the row's delay; rows without a spec delay use the station expectation
DELAY_GUARD_S = 0.5
#: wait_state's polling: this many polls over the window, within these bounds (s)
STATE_POLLS = 20
STATE_POLL_MIN_S = 0.1
STATE_POLL_MAX_S = 1.0
#: station expectation keys (max trip delay in s) for rows the seed gives no delay for, by quantity
EXPECTATION_BY_QUANTITY = {
    "cell_voltage": "voltage_protection_delay_max_s",
    "pack_voltage": "voltage_protection_delay_max_s",
    "charger_voltage": "voltage_protection_delay_max_s",
    "cell_spread": "voltage_protection_delay_max_s",
    "cell_temperature": "temperature_protection_delay_max_s",
    "ambient_temperature": "temperature_protection_delay_max_s",
    "power_temperature": "temperature_protection_delay_max_s",
    "current": "current_alarm_delay_max_s",
    "soc": "soc_alarm_delay_max_s",
}
DEFAULT_EXPECTED_DELAY_S = 3.0
#: the fault-insertion relay (switch role) across the BMS's push-button
BUTTON_TERMINAL = "BUTTON"
#: how long one press holds the button relay closed (s): a short press by hand
BUTTON_PRESS_S = 0.3


def _set_cell1(bench: Bms12100Bench, volts: float) -> None:
    bench.set_cells([volts] + [NOMINAL_CELL_V] * (CELL_COUNT - 1))


def _set_pack(bench: Bms12100Bench, volts: float) -> None:
    bench.set_cells([volts / CELL_COUNT] * CELL_COUNT)


def _set_charger(bench: Bms12100Bench, volts: float) -> None:
    bench.station.charger.set_voltage(volts)


def _set_spread(bench: Bms12100Bench, volts: float) -> None:
    bench.set_cells([SPREAD_BASE_CELL_V + volts] + [SPREAD_BASE_CELL_V] * (CELL_COUNT - 1))


def _set_current(bench: Bms12100Bench, amps: float) -> None:
    if abs(amps) <= TRIMMED_MAX_A and amps != 0:
        bench.trimmed_current(amps)
    elif amps > 0:
        bench.charge(amps)
    elif amps < 0:
        bench.discharge(-amps)
    else:
        bench.idle()


def _drive(bench: Bms12100Bench, amps: float) -> None:
    if amps > 0:
        bench.charge(amps)
    else:
        bench.discharge(-amps)


def _set_soc(bench: Bms12100Bench, fraction: float) -> None:
    bench.dut.set_remaining_capacity(min(max(fraction, 0.0), 1.0) * bench.rated_ah)


def _temperature(quantity: str) -> Callable[[Bms12100Bench, float], None]:
    def apply(bench: Bms12100Bench, celsius: float) -> None:
        bench.station.ntc.set_temperature(NTC_TERMINAL[quantity], celsius, resistance_ohm)

    return apply


#: how this bench sets each quantity a spec row can stimulate
STIMULI: dict[str, Stimulus[Bms12100Bench]] = {
    "cell_voltage": Stimulus(_set_cell1, NOMINAL_CELL_V),
    "pack_voltage": Stimulus(_set_pack, NOMINAL_CELL_V * CELL_COUNT),
    "charger_voltage": Stimulus(_set_charger, 14.0),
    "cell_spread": Stimulus(_set_spread, 0.0),
    "current": Stimulus(_set_current, 0.0),
    "soc": Stimulus(_set_soc, 0.5),
    **{q: Stimulus(_temperature(q), NEUTRAL_C) for q in NTC_TERMINAL},
}


def driven_path(req: Requirement) -> str | None:
    """The power path that must carry current for the row to apply and its blocking to be seen."""
    if req.quantity in ("current", "charger_voltage"):
        return None  # the stimulus is the current itself / the charge path is held open
    section = (req.setting or "").split(".")[0]
    if section == "charge_temperature":
        return "charge"
    if section == "discharge_temperature":
        return "discharge"
    if req.blocks in ("charge", "both"):
        return "charge"
    if req.blocks == "discharge":
        return "discharge"
    return None


class Bms12100Bench(DutBench):
    """Stimuli and observations on a 12100 station, in the BMS's own terms."""

    NOMINAL_CELL_V = NOMINAL_CELL_V
    STIMULI = STIMULI

    ACCURACY_NEEDS = (
        ("power_supply", "voltage"),
        ("power_supply", "current"),
        ("electronic_load", "current"),
        ("cell_emulator", "voltage"),
        ("cell_emulator", "current"),
        ("temperature_emulator", "resistance"),
        ("dmm", "voltage"),
        ("dmm", "current"),
    )

    def __init__(self, station: Station, dut: Bms12100Client) -> None:
        super().__init__(station, NTC)
        self.dut = dut
        self.protection_delay_s = self.expectations.get("voltage_protection_delay_max_s", 3.0)
        self.rated_ah = 100.0
        self.cell_v = [NOMINAL_CELL_V] * CELL_COUNT
        self._driving: str | None = None  # the power path the bench drives now
        self._rest_cell_a = 0.0  # the reference cell's current with the power path idle
        self._booted_at = -math.inf  # the bench's last restart of the BMS (power cycle, button)

    # --- setting up -----------------------------------------------------------------------
    def power_up(self) -> None:
        """Cells on at nominal voltage, NTCs at 25 °C: the BMS boots from its cell supply."""
        ntc = self.station.ntc
        for terminal in ntc.info.channels:
            ntc.set_temperature(terminal, NEUTRAL_C, resistance_ohm)
        self.power_cycle()

    def neutral_inputs(self) -> None:
        """Idle, no fault inserted, neutral temperatures (what `prepare` sets before the cells).

        Load, charger and switch unit are not sent their settings again when the station's last
        `make_safe` (after the previous test) left them so and they were sent nothing since (their
        safe states are these settings). The NTCs always are: an emulator's setting is its stimulus."""
        switched = [self.station.load.name, self.station.charger.name]
        if self.has_fiu:
            switched.append(self.fiu.name)
        if self.station.untouched_since_safe(switched):
            self._driving = None
        else:
            self.idle()
            if self.has_fiu:
                self.fiu.open_all()
        ntc = self.station.ntc
        for terminal in ntc.info.channels:
            ntc.set_temperature(terminal, NEUTRAL_C, resistance_ohm)

    def prepare(self) -> Status:
        """Idle, no fault inserted, nominal cells, neutral temperatures, nothing active on the BMS
        (power cycle if needed)."""
        self.neutral_inputs()
        cells = self.station.cells
        if not all(cells.outputs_on().values()):
            self.power_cycle()
        self.set_cells([NOMINAL_CELL_V] * CELL_COUNT)
        self.clock.sleep(self.settle_s)
        status = self.dut.status()
        if status.active:
            self.power_cycle()
            status = self.dut.status()
        if status.active:
            raise BenchError(f"the BMS reports {sorted(status.active)} after a power cycle at nominal levels")
        self.wait_precharge()
        return status

    def wait_precharge(self) -> None:
        """Wait until a precharge the discharge path may have started has ended (PRE).

        The path (re)starts its precharge when the BMS boots (power cycle, button) and when it turns
        on again after a protection; the latest such moment the bench can know of is its last boot
        or the last poll that found the path open. Waiting from there is never too short, and
        costs nothing when the path has been on for longer than the precharge.
        """
        seen = self.dut.discharge_open_seen
        started = max(self._booted_at, seen if seen is not None else -math.inf)
        remaining = started + PRECHARGE_WAIT_S - self.clock.now()
        if remaining > 0:
            self.clock.sleep(remaining)

    def power_cycle(self) -> None:
        """Remove and restore the cell supply (the BMS restarts: its reset)."""
        cells = self.station.cells
        cells.set_output(False)
        self.clock.sleep(1.0)
        for cell in cells.cells:
            cells.set_current_limit(cell, 1.0)
        self.set_cells([NOMINAL_CELL_V] * CELL_COUNT)
        cells.set_output(True)
        self._booted_at = self.clock.now()
        self.clock.sleep(BOOT_S)

    def power_cycle_at(self, cell_v: float) -> None:
        """Restart the BMS with every cell at `cell_v` (SOC is then initialised from that voltage)."""
        cells = self.station.cells
        cells.set_output(False)
        self.clock.sleep(1.0)
        self.set_cells([cell_v] * CELL_COUNT)
        cells.set_output(True)
        self._booted_at = self.clock.now()
        self.clock.sleep(BOOT_S)

    # --- fault insertion and the button --------------------------------------------------------
    @property
    def has_fiu(self) -> bool:
        """Whether the station has fault-insertion relays (a switch role)."""
        return any(inst.role == "switch" for inst in self.station.model.instruments.values())

    @property
    def fiu(self) -> Switch:
        """The fault-insertion relays; BenchError on a station without them."""
        if not self.has_fiu:
            raise BenchError(f"station {self.station.model.name} has no fault-insertion relays (switch role)")
        return self.station.instrument("switch", Switch)

    def press_button(self, hold_s: float = BUTTON_PRESS_S) -> None:
        """Press the BMS's push-button: the relay across it closes for `hold_s`, then opens again.

        From shutdown it wakes the BMS (PM-WAKE); while it runs, it is the reset button of seed
        §7.3 (the firmware reboots and re-checks the under-voltage release)."""
        fiu = self.fiu
        fiu.set_closed(BUTTON_TERMINAL, True)
        try:
            self.clock.sleep(hold_s)
        finally:
            fiu.set_closed(BUTTON_TERMINAL, False)
            self._booted_at = self.clock.now()

    @contextlib.contextmanager
    def fault(self, point: str) -> Iterator[None]:
        """The fault at `point` inserted (its relay closed) for the block, removed however it ends."""
        fiu = self.fiu
        fiu.set_closed(point, True)
        try:
            yield
        finally:
            fiu.set_closed(point, False)

    def apply_current(self, amps: float) -> None:
        """Charge (positive) or discharge (negative) at `amps`; zero idles."""
        _set_current(self, amps)

    def set_cells(self, volts: list[float]) -> None:
        """Program every cell, in one message where the emulator's driver allows it (one exchange
        and one error check; no time passes between them); the driver sends only the cells that change."""
        self.station.cells.set_voltages(volts)
        self.cell_v = list(volts)

    @property
    def pack_v(self) -> float:
        return sum(self.cell_v)

    # --- power path -----------------------------------------------------------------------
    def trimmed_current(self, amps: float) -> None:
        """Charge (+) or discharge (-) at `amps`, trimmed to the cell emulator's current readback.

        The emulator channels carry the pack current plus the BMS's own supply current: that
        offset is read with the power path idle, before the first level of a sequence.
        """
        cells = self.station.cells
        reference = cells.cells[REFERENCE_CELL]
        if self._driving is None:
            self.clock.sleep(self.settle_s)
            self._rest_cell_a = cells.measure_current(reference)
        setpoint = amps
        for _ in range(2):
            _drive(self, setpoint)
            self.clock.sleep(self.settle_s)
            actual = -(cells.measure_current(reference) - self._rest_cell_a)  # into the pack = +
            setpoint += amps - actual

    def charge(self, amps: float) -> None:
        """Charge at `amps` (the charger current-limited a little above the pack voltage)."""
        self._driving = "charge"
        self.station.load.set_input(False)
        self.charge_from(self.station.charger, amps, self.pack_v, CHARGER_MAX_V)

    def hold_charger(self, volts: float, current_limit: float = 5.0) -> None:
        """The charger as a voltage source at `volts` on P+/P-."""
        self.hold_supply(self.station.charger, volts, current_limit)

    def discharge(self, amps: float) -> None:
        self._driving = "discharge"
        self.station.charger.set_output(False)
        load = self.station.load
        load.set_cc(amps)
        load.set_input(True)

    def idle(self) -> None:
        self._driving = None
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

    def wait_state(self, requirement_id: str, active: bool, timeout: float, polls: int = STATE_POLLS) -> bool:
        """Whether the row reaches the state within `timeout` (when exactly is not measured here).

        Polls `polls` times over the window (0.1 s to 1 s apart; the last poll falls on the
        timeout): each poll is an RS-485 exchange and a control-port round trip.
        """
        poll = min(STATE_POLL_MAX_S, max(STATE_POLL_MIN_S, timeout / polls))
        met, _ = self.clock.wait_until(lambda: self.active(requirement_id) == active, timeout, poll)
        return met

    def tripped(self, req: Requirement) -> bool:
        """Whether the BMS reports the row active."""
        return self.active(req.id)

    def expected_delay(self, req: Requirement) -> float:
        """The row's trip delay: the spec's, else the station's expectation for its quantity."""
        if req.delay_s is not None:
            return req.delay_s
        key = EXPECTATION_BY_QUANTITY.get(req.quantity or "", "")
        return self.expectations.get(key, DEFAULT_EXPECTED_DELAY_S)

    def settle(self, req: Requirement) -> float:
        """How long a probe level is held before the DUT's state is read."""
        return self.expected_delay(req) + DELAY_GUARD_S

    def setting_error(self, req: Requirement, value: float) -> tuple[str, float]:
        """Which instrument sets the row's stimulus and its limit of error (V, A, °C).

        Cell voltages add linearly over the stack for a pack level (correlated gain terms).
        """
        stimulated = req.quantity or ""
        if stimulated in ("cell_voltage", "pack_voltage", "cell_spread"):
            cells = CELL_COUNT if stimulated == "pack_voltage" else 1
            per_cell = value / cells if stimulated != "cell_spread" else SPREAD_BASE_CELL_V + value
            source, error = self.instrument_error(self.station.cells.name, "voltage", per_cell)
            error *= cells
            if stimulated == "cell_spread":  # the reference cell's error too
                error += self.instrument_error(self.station.cells.name, "voltage", SPREAD_BASE_CELL_V)[1]
            return source, error
        if stimulated == "charger_voltage":
            return self.instrument_error(self.station.charger.name, "voltage", value)
        if stimulated == "current" and 0 < abs(value) <= TRIMMED_MAX_A:
            name = self.station.cells.name
            acc = self.accuracy(name, "current")
            # the level and the idle offset are both read: two readings' errors
            error = acc.gain * (abs(value) + 0.05) + 2 * acc.offset if acc else 0.0
            return f"{self.instrument_label(name)} current readback (trimmed)", error
        if stimulated == "current":
            driver = self.station.charger if value > 0 else self.station.load
            return self.instrument_error(driver.name, "current", value)
        if stimulated in NTC_TERMINAL:
            return self.ntc_error(self.station.ntc.name, value)
        return "set digitally (settings interface)", 0.0

    def precondition(self, req: Requirement) -> None:
        """Bring the bench to where the row's threshold can be seen (path driven, or opened)."""
        if req.quantity == "charger_voltage":
            # The BMS sees the charger's own voltage only while its charge MOSFET is open: open it
            # with a cell over-voltage, then hold the charger at the probe level.
            _set_cell1(self, OPEN_CHARGE_PATH_CELL_V)
            self.hold_charger(self.nominal_level(req))
            if not self.wait_state("CV-OVP", True, self.protection_delay_s + 1.0):
                raise BenchError("CHG-HV precondition: CV-OVP did not open the charge path")
            return
        path = driven_path(req)
        if path is not None:
            self.drive_path(path)

    def release_by_opposite_current(self, req: Requirement) -> None:
        """A short current against the blocked direction (the way out of current protections)."""
        if req.blocks == "charge":
            self.discharge(PROBE_CURRENT_A)
        else:
            self.charge(PROBE_CURRENT_A)
        self.clock.sleep(1.0)
        self.idle()

    def rearm(self, req: Requirement) -> None:
        """Back to the untripped state by the row's normal way out, then re-drive the path."""
        self.apply(req, self.nominal_level(req))
        wait = self.settle(req) + 1.0
        if self.wait_state(req.id, False, wait):
            self.precondition_after_rearm(req)
            return
        if req.quantity == "current" or req.blocks == "discharge":
            self.release_by_opposite_current(req)
            if self.wait_state(req.id, False, wait):
                self.precondition_after_rearm(req)
                return
        self.prepare()
        self.precondition(req)
        if self.active(req.id):
            raise BenchError(f"{req.id} could not be released to re-arm the probe")

    def precondition_after_rearm(self, req: Requirement) -> None:
        if req.quantity == "current" or req.blocks in ("discharge", "both"):
            self.wait_precharge()  # the discharge path precharges after it turns on
        path = driven_path(req)
        if path is not None:
            self.drive_path(path)

    @contextlib.contextmanager
    def enabled(self, req: Requirement) -> Iterator[None]:
        """Switch a disabled-by-default function on through the settings interface, and back after."""
        path = f"{(req.setting or '').split('.')[0]}.enabled"
        before = self.dut.read_setting(path)
        self.dut.write_setting(path, True)
        try:
            yield
        finally:
            self.dut.write_setting(path, before)


# --- release alternatives ---------------------------------------------------------------------
@dataclass(frozen=True)
class ReleaseCase:
    """One way out of a tripped protection (or one that must not work), tried on its own."""

    name: str  # a release alternative id of the spec row, or no_release_*
    expect_release: bool
    description: str
    action: Callable[[Bms12100Bench, Requirement], None]
    wait_s: float | None = None  # how long to wait for (or hold against) a release; None: the settle time


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


def _soc_to(percent: float) -> Callable[[Bms12100Bench, Requirement], None]:
    def act(bench: Bms12100Bench, req: Requirement) -> None:
        bench.dut.set_remaining_capacity(percent / 100.0 * bench.rated_ah)

    return act


def _reset_button(bench: Bms12100Bench, req: Requirement) -> None:
    """The reset button (seed §7.3): a warm reboot that re-checks UVP against its release value.

    Not a power cycle: a fresh boot starts with every protection released and would pass a unit
    whose re-check is wrong or missing."""
    bench.press_button()
    bench.clock.sleep(BOOT_S)


def _charger_to(volts: float) -> Callable[[Bms12100Bench, Requirement], None]:
    return lambda bench, req: bench.hold_charger(volts)


def _past_release(bench: Bms12100Bench, req: Requirement) -> None:
    """Set the quantity just past the release value's far limit (release ∓ tolerance, at the spec's
    limit as simple acceptance places it): a release value moved beyond its band shows here, where
    a level 20 % of the hysteresis past it would still release such a unit."""
    assert req.trip is not None and req.release is not None and req.tolerance is not None
    towards_trip = 1.0 if req.trip > req.release else -1.0
    bench.apply(req, req.release - towards_trip * req.tolerance)


_BETWEEN = 0.5
#: how far short of the release value a no-release case stays, in margins (tolerance + setting)
_SHORT_OF_RELEASE = 1.5


def _short_of_release(bench: Bms12100Bench, req: Requirement) -> None:
    """Set the quantity `_SHORT_OF_RELEASE` margins (tolerance + stimulus uncertainty) short of the
    release value, between trip and release: a release value moved towards the trip shows here."""
    assert req.trip is not None and req.release is not None and req.tolerance is not None
    margin = req.tolerance + bench.setting_uncertainty(req, req.release)
    towards_trip = 1.0 if req.trip > req.release else -1.0
    bench.apply(req, req.release + towards_trip * _SHORT_OF_RELEASE * margin)


OVP_CASES = (
    ReleaseCase(
        "recovery",
        True,
        "quantity below the release value with SOC < 96 %",
        _then(_idle, _past_release),
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
        _then(_idle, _soc_high, _past_release),
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
        "quantity above the release value, then the reset button (warm reboot, re-check)",
        _then(_idle, _past_release, _reset_button),
    ),
    ReleaseCase(
        "no_release_reboot_short",
        False,
        "the reset button with the quantity 1.5 x (tolerance + setting uncertainty) short of release",
        _then(_idle, _short_of_release, _reset_button),
    ),
    ReleaseCase(
        "no_release_voltage",
        False,
        "quantity back above the release value without charge or restart",
        _then(_idle, _past_release),
    ),
    ReleaseCase(
        "no_release_small_charge", False, "a 0.5 A charge (below 1 A)", _then(_level(_BETWEEN), _charge(0.5))
    ),
    ReleaseCase(
        "no_release_reboot_low",
        False,
        "the reset button with the quantity still beyond the trip value",
        _then(_idle, _level(1.2), _reset_button),
    ),
)
SOC_CASES = (
    ReleaseCase(
        "recovery",
        True,
        "SOC set back to 20 % over RS-485 (above the trigger by 3 tolerances)",
        _then(_idle, _soc_to(20.0)),
    ),
)
CHARGER_CASES = (
    ReleaseCase("below_threshold", True, "charger voltage 0.5 V below 18 V", _charger_to(17.5)),
    ReleaseCase("no_release_above", False, "charger voltage 0.3 V above 18 V", _charger_to(18.3)),
)

SPECIAL_CASES: dict[str, tuple[ReleaseCase, ...]] = {
    "CV-OVP": OVP_CASES,
    "PV-OVP": OVP_CASES,
    "CV-UVP": UVP_CASES,
    "PV-UVP": UVP_CASES,
    "SOC-LP": SOC_CASES,
    "CHG-HV": CHARGER_CASES,
}
#: automatic release of the current protections (seed: "automatically recovered after 60 S")
AUTO_RELEASE_S = 60.0
AUTO_GUARD_S = 5.0

RECOVERY_CASES = (
    ReleaseCase("recovery", True, "quantity back beyond the release value", _past_release),
    ReleaseCase("no_release_hysteresis", False, "quantity between release and trip", _level(_BETWEEN)),
)
OPPOSITE_CASE = ReleaseCase(
    "opposite_current",
    True,
    "a 2 A current in the opposite direction",
    lambda bench, req: bench.release_by_opposite_current(req),
)
AUTO_CASES = (
    ReleaseCase(
        "auto_60s",
        True,
        "no current: released automatically after 60 s",
        _idle,
        AUTO_RELEASE_S + AUTO_GUARD_S,
    ),
    ReleaseCase(
        "no_release_before_60s", False, "no current for 50 s: still protected", _idle, AUTO_RELEASE_S - 10.0
    ),
)


def release_cases(req: Requirement) -> tuple[ReleaseCase, ...]:
    """Every way out of the row's tripped state to try, and the ones that must not work."""
    if req.id in SPECIAL_CASES:
        return SPECIAL_CASES[req.id]
    alternatives = {a.id for a in req.release_alternatives}
    cases: list[ReleaseCase] = []
    if req.release is not None and (req.kind == "alarm" or "recovery" in alternatives):
        cases += RECOVERY_CASES
    if "opposite_current" in alternatives:
        cases.append(OPPOSITE_CASE)
    if "auto_60s" in alternatives:
        cases += AUTO_CASES
    return tuple(cases)


def eol_release_case(req: Requirement) -> ReleaseCase | None:
    """The one release the EOL profile tries per row: the quickest alternative that must release.

    The cases that must not release, and the slower alternatives, are firmware logic the same on
    every unit: the full profile tries them all.
    """
    releasing = [case for case in release_cases(req) if case.expect_release]
    return min(releasing, key=lambda case: case.wait_s or 0.0, default=None)


def trip_level(req: Requirement, margin: float) -> float:
    """A level clearly beyond the trip value (spec unit)."""
    assert req.trip is not None
    return req.trip + margin if req.direction == "above" else req.trip - margin
