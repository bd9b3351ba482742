"""The bench base: the logic every DUT family's bench shares, and the hooks a family fills in.

python-can's BusABC is the model: the shared logic lives here, a family supplies its tables and a
few hooks. The generic procedures (hil.procedures) ask a bench for the `ThresholdSetup` of a spec
row; the base builds it from the family's table of stimuli (`STIMULI`: how each quantity is set,
and its level at nominal conditions) and the hooks `tripped` and `rearm`. Setting budgets come
from the hook `setting_error` (which instrument sets the row's quantity, and its limit of error),
with the accuracy arithmetic (gain·|x| + offset, the NTC's sensitivity) written here once.

The contract plans rely on, on every bench: `station`, `clock`, `expectations`, `settle_s`, `ntc`;
`power_up`, `prepare`, `apply`, `nominal_level`, `settle`, `precondition`, `tripped`, `rearm`,
`threshold_setup`, `setting_budget`, `setting_uncertainty`, `ntc_sensitivity`. A family's own
observations and sequences (its client's words) are its bench's business.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from hil.models.ntc import BetaNtc
from hil.procedures.threshold import ThresholdSetup
from hil.spec import Requirement
from hil.uncertainty import Budget, budget, rectangular

if TYPE_CHECKING:
    from hil.clock import Clock
    from hil.instruments.roles import PowerSupply
    from hil.station.model import AccuracyModel
    from hil.station.station import Station

B = TypeVar("B", bound="DutBench")

#: a spec row's unit -> the unit the stimuli take (V, A, °C, or a 0..1 fraction for SOC)
UNIT_SCALE: Mapping[str, float] = {"mV": 1e-3, "V": 1.0, "mA": 1e-3, "A": 1.0, "°C": 1.0, "%": 0.01}


@dataclass(frozen=True)
class Stimulus(Generic[B]):
    """How a family's bench sets one stimulated quantity, and the quantity's nominal level."""

    apply: Callable[[B, float], None]  # takes V, A, °C, or a 0..1 fraction (SOC): see UNIT_SCALE
    nominal: float  # value at nominal conditions, in the unit `apply` takes


def limit_of_error(accuracy: AccuracyModel | None, value: float) -> float:
    """An instrument's limit of error at `value`: gain·|value| + offset (0 without a figure)."""
    return accuracy.gain * abs(value) + accuracy.offset if accuracy else 0.0


class DutBench(ABC):
    """The DUT-specific half of the procedures: how this bench powers, stimulates and observes the DUT.

    A family declares its data as class attributes (`STIMULI`, `NOMINAL_CELL_V`, ...) and fills
    the abstract hooks; everything else here is shared.
    """

    #: (instrument role, accuracy quantity) the plan's uncertainty budgets need from the station
    #: file: checked before the run (a missing figure is a station-file error, not a result without U)
    ACCURACY_NEEDS: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: the family's cell voltage at nominal conditions (V)
    NOMINAL_CELL_V: ClassVar[float]
    #: the temperature every thermistor input is set to at nominal conditions (°C)
    NEUTRAL_C: ClassVar[float] = 25.0
    #: the charger is set this far above the pack so it runs current-limited (CC) into it (V)
    CHARGER_HEADROOM_V: ClassVar[float] = 2.0
    #: settle time after a stimulus (s) when the station file gives no `settle_s` expectation
    SETTLE_S: ClassVar[float] = 0.2
    #: quantity (a spec row's `quantity`) -> how this bench sets it
    STIMULI: ClassVar[Mapping[str, Stimulus[Any]]] = {}

    def __init__(self, station: Station, ntc: BetaNtc) -> None:
        self.station = station
        self.clock: Clock = station.clock
        self.expectations = station.model.expectations
        self.settle_s: float = self.expectations.get("settle_s", self.SETTLE_S)
        self.ntc = ntc  # the NTC the DUT's thermistor inputs are programmed as

    # --- hooks: the family's code ------------------------------------------------------------
    @abstractmethod
    def power_up(self) -> None:
        """Bring the DUT from a bench with every output off to running and answering."""

    @abstractmethod
    def prepare(self) -> Any:
        """Nominal conditions before a test: outputs idle, nothing active on the DUT."""

    @abstractmethod
    def tripped(self, req: Requirement) -> bool:
        """Whether the DUT shows the row's threshold as reached now."""

    @abstractmethod
    def rearm(self, req: Requirement) -> None:
        """Back to the untripped state by the row's normal way out, ready for the next probe."""

    @abstractmethod
    def settle(self, req: Requirement) -> float:
        """How long a probe level is held before the DUT's state is read (s)."""

    @abstractmethod
    def setting_error(self, req: Requirement, value: float) -> tuple[str, float]:
        """Which instrument sets the row's quantity to `value` (in the unit the stimuli take, see
        UNIT_SCALE) and its limit of error there, in that unit; `instrument_error` does the sums."""

    def precondition(self, req: Requirement) -> None:
        """Bring the bench to where the row's threshold can be seen (nothing by default)."""
        del req

    def rest_between_tests(self) -> frozenset[str]:
        """Leave the DUT at rest between two passed tests of an EOL run; the instruments (station
        names) to keep as they are instead of making them safe: the DUT's own supply, an instrument
        still travelling to the next test's level. Default: none (every output safe, cells kept)."""
        return frozenset()

    # --- stimuli ------------------------------------------------------------------------------
    def stimulus(self, req: Requirement) -> Stimulus[Any]:
        """How this bench sets the row's quantity; ValueError if it cannot."""
        found = self.STIMULI.get(req.quantity or "")
        if found is None:
            raise ValueError(f"{req.id}: no stimulus for quantity {req.quantity!r} on this bench")
        return found

    @staticmethod
    def scale(req: Requirement) -> float:
        """The factor from the row's unit to the unit the stimuli take."""
        factor = UNIT_SCALE.get(req.unit or "")
        if factor is None:
            raise ValueError(f"{req.id}: no stimulus scale for unit {req.unit!r}")
        return factor

    def apply(self, req: Requirement, value: float) -> None:
        """Set the row's quantity to `value` (in the row's unit)."""
        self.stimulus(req).apply(self, value * self.scale(req))

    def nominal_level(self, req: Requirement) -> float:
        """The row's quantity at nominal conditions, in the row's unit."""
        return self.stimulus(req).nominal / self.scale(req)

    def threshold_setup(self, req: Requirement) -> ThresholdSetup:
        """The generic procedures' view of this row on this bench."""
        if req.direction is None:
            raise ValueError(f"{req.id} has no direction")
        return ThresholdSetup(
            clock=self.clock,
            apply=lambda level: self.apply(req, level),
            tripped=lambda: self.tripped(req),
            rearm=lambda: self.rearm(req),
            settle_s=self.settle(req),
            direction=req.direction,
        )

    @staticmethod
    def hold_supply(supply: PowerSupply, volts: float, current_limit: float) -> None:
        """A power supply as a voltage source at `volts`, limited to `current_limit`, output on."""
        supply.set_current_limit(current_limit)
        supply.set_voltage(volts)
        supply.set_output(True)

    def charge_from(
        self, charger: PowerSupply, amps: float, pack_v: float, max_v: float = float("inf")
    ) -> None:
        """Charge at `amps`: the charger current-limited (CC) a headroom above `pack_v` (at most `max_v`)."""
        self.hold_supply(charger, min(pack_v + self.CHARGER_HEADROOM_V, max_v), amps)

    # --- uncertainty of the stimuli ------------------------------------------------------------
    def setting_uncertainty(self, req: Requirement, value: float) -> float:
        """Limit of error of setting the stimulus to `value` (row unit), from the station file."""
        return self._setting_error(req, value)[1]

    def setting_budget(self, req: Requirement, value: float) -> Budget:
        """The stimulus level's uncertainty budget (row unit): its limit of error as a rectangular term."""
        source, error = self._setting_error(req, value)
        return budget(rectangular(f"{source}: setting {value:g} {req.unit}", error), unit=req.unit or "")

    def _setting_error(self, req: Requirement, value: float) -> tuple[str, float]:
        scale = self.scale(req)
        source, error = self.setting_error(req, value * scale)
        return source, error / scale

    def instrument_label(self, name: str) -> str:
        """A station instrument as a budget names it: its station name and model."""
        return f"{name} ({self.station.model.instruments[name].model})"

    def accuracy(self, name: str, function: str) -> AccuracyModel | None:
        """The station file's accuracy of instrument `name` for `function` (voltage, current...)."""
        return self.station.model.instruments[name].accuracy.get(function)

    def instrument_error(self, name: str, function: str, value: float) -> tuple[str, float]:
        """The station instrument `name` and its limit of error for `function` at `value`."""
        return self.instrument_label(name), limit_of_error(self.accuracy(name, function), value)

    def ntc_error(self, name: str, celsius: float) -> tuple[str, float]:
        """The resistance emulator `name` and its limit of error as °C when it emulates the NTC at
        `celsius` (its relative resistance error over the NTC's sensitivity)."""
        acc = self.accuracy(name, "resistance")
        rel = (acc.gain + acc.offset / self.ntc.resistance_ohm(celsius)) if acc else 0.0
        return self.instrument_label(name), rel / self.ntc_sensitivity(celsius)

    def ntc_sensitivity(self, celsius: float) -> float:
        """|dR/R| per °C of the DUT's NTC at `celsius`."""
        return self.ntc.sensitivity(celsius)
