"""The roles on the DUT's signal side: sensor voltages it reads and the LEDs it lights.

An analog source stands in for the DUT's analog sensors (a Hall current sensor's Vcs/Vref, a
humidity or temperature sensor's output voltage); an LED analyser looks at its indicator LEDs
through fibres and says whether each is lit, in which colour, and how fast it blinks.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from hil.instruments.roles.role import Role


class AnalogSource(Role):
    """Precision DC voltage outputs, one per DUT sensor input (terminals such as VCS, VREF, VTS).

    Safe state: every output at 0 V (the sensor unpowered), read back as the programmed voltage.
    """

    #: |V| at or below which an output counts as at 0 V in the read-back
    SAFE_V: ClassVar[float] = 1e-3

    @abstractmethod
    def set_voltage(self, terminal: str, volts: float) -> None:
        """Program one output, refused beyond the voltage limits before anything is sent."""

    @abstractmethod
    def voltage(self, terminal: str) -> float:
        """The output's programmed voltage, as the instrument reads it back."""

    @abstractmethod
    def zero(self) -> None:
        """Every output of this instrument to 0 V (never refused: 0 V is the safe state)."""

    def safe(self) -> None:
        self.zero()

    def output_state(self) -> dict[str, object]:
        return {terminal: {"voltage": self.voltage(terminal)} for terminal in self.info.channels}

    def state_is_safe(self, state: Mapping[str, object]) -> bool:
        return all(
            isinstance(v, Mapping)
            and isinstance(v.get("voltage"), float | int)
            and abs(v["voltage"]) <= self.SAFE_V
            for v in state.values()
        )


#: colour names by hue (degrees, upper bound exclusive), for a saturated light; below
#: WHITE_SATURATION the light is "white". OUR READING: bins chosen for indicator LEDs
#: (red ~625 nm, amber ~590 nm, yellow ~585 nm, green ~525 nm, blue ~470 nm), not from a standard.
HUE_NAMES: tuple[tuple[float, str], ...] = (
    (20.0, "red"),
    (45.0, "amber"),
    (70.0, "yellow"),
    (170.0, "green"),
    (200.0, "cyan"),
    (260.0, "blue"),
    (330.0, "violet"),
    (360.01, "red"),
)
WHITE_SATURATION = 25.0


def colour_name(hue: float, saturation: float) -> str:
    """A colour name for a hue (0-360°) and saturation (0-100), as `HUE_NAMES` bins them."""
    if saturation < WHITE_SATURATION:
        return "white"
    for bound, name in HUE_NAMES:
        if hue % 360.0 < bound:
            return name
    return "red"


@dataclass(frozen=True)
class LedReading:
    """One LED as the analyser saw it in its last capture."""

    terminal: str
    lit: bool
    colour: str  # a `colour_name`, or "off" when dark
    intensity: int  # the analyser's relative intensity (0 = dark or under range)
    hue: float | None = None  # degrees; None when dark
    saturation: float | None = None  # 0-100
    rgb: tuple[int, int, int] | None = None  # normalised 0-255
    wavelength_nm: float | None = None  # dominant wavelength


@dataclass(frozen=True)
class Blink:
    """An LED's on/off pattern over a sampling window."""

    lit: bool  # lit at least once in the window
    steady: bool  # never changed state in the window (steadily on, or off)
    frequency_hz: float | None  # from the rising edges; None with fewer than two
    duty: float | None  # lit fraction over whole periods; None without a period
    window_s: float


def blink_from(samples: Sequence[bool], period_s: float) -> Blink:
    """The blink of an LED from on/off samples taken every `period_s`: frequency from the first to
    the last rising edge (whole periods only), duty over those periods."""
    window = len(samples) * period_s
    rising = [i for i in range(1, len(samples)) if samples[i] and not samples[i - 1]]
    changed = any(samples[i] != samples[i - 1] for i in range(1, len(samples)))
    if len(rising) < 2:
        return Blink(any(samples), not changed, None, None, window)
    first, last = rising[0], rising[-1]
    periods = len(rising) - 1
    duty = sum(1 for s in samples[first:last] if s) / (last - first)
    return Blink(True, False, periods / ((last - first) * period_s), duty, window)


class LedAnalyser(Role):
    """Fibres over the DUT's indicator LEDs (terminals are LED names, e.g. DS3): colour, intensity,
    on/off and blink frequency per LED.

    `measure` captures and reads one LED; `blink` samples one LED's on/off pattern over a window
    and finds its frequency (2 Hz and 25 Hz are told apart with the default window and sampling).
    Safe state: an analyser drives nothing, so there is nothing to switch off.
    """

    #: intensity at or above which an LED counts as lit (analyser units)
    ON_THRESHOLD: ClassVar[int] = 200

    @abstractmethod
    def capture(self, pwm: bool = True) -> None:
        """Capture every fibre (pwm: averaged over the PWM capture's longer window, for blinking LEDs)."""

    @abstractmethod
    def read(self, terminal: str) -> LedReading:
        """One LED from the last capture."""

    @abstractmethod
    def sequence(self, terminal: str, window_s: float) -> tuple[list[bool], float]:
        """On/off samples of one LED over `window_s`, and the sampling period (s)."""

    def measure(self, terminal: str, pwm: bool = True) -> LedReading:
        """Capture, then read one LED."""
        self.capture(pwm)
        return self.read(terminal)

    def blink(self, terminal: str, window_s: float = 2.0) -> Blink:
        """The LED's blink over `window_s` (at least two periods of the slowest blink to be seen)."""
        samples, period = self.sequence(terminal, window_s)
        return blink_from(samples, period)

    def safe(self) -> None:
        """An analyser drives nothing: there is nothing to switch off."""

    def output_state(self) -> dict[str, object]:
        return {}

    def state_is_safe(self, state: Mapping[str, object]) -> bool:
        del state
        return True
