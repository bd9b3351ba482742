"""Simulated Feasa 20-F LED analyser: fibres over the DUT's LEDs, answering the Feasa ASCII commands.

Not SCPI (see the driver, hil/instruments/drivers/feasa_led_analyser.py): this instrument answers
every line itself. What each fibre sees comes from a plain-Python source the plant (or a test)
sets per terminal with `set_light`: an `LedLight` (colour, intensity while lit, blink frequency,
duty, phase), or a callable of lab time returning one. Nothing here knows a DUT.

Captures integrate the light over their capture time from the lab's clock (auto 350 ms, ranges
1-5: 650/200/22/4/2 ms, PWM 2 s, as the manual's capture-time tables give), sampled every
millisecond: a blinking LED reads its average intensity. A sequence capture samples the fibre
every capture + wait time from now. Intensity gets a seeded ±1 % error; 99999 is over range.
OUR MODEL: a capture costs no lab time (the clock does not advance while the analyser captures);
the per-colour hue, saturation, RGB and dominant wavelength in `COLOURS` are typical indicator-LED
values, not measured ones.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from hil.sim.instruments.base import SimInstrument

#: colour -> (hue °, saturation, (r, g, b), dominant wavelength nm): typical indicator LEDs
COLOURS: dict[str, tuple[float, int, tuple[int, int, int], int]] = {
    "red": (2.5, 98, (250, 5, 0), 625),
    "amber": (38.0, 99, (255, 160, 0), 592),
    "yellow": (55.0, 97, (240, 225, 10), 585),
    "green": (125.0, 92, (10, 240, 45), 525),
    "blue": (235.0, 96, (5, 25, 250), 470),
    "white": (60.0, 8, (235, 235, 225), 570),
}
#: capture time (s) of each capture command: auto, manual ranges 1-5, PWM
CAPTURE_S = {"": 0.350, "1": 0.650, "2": 0.200, "3": 0.022, "4": 0.004, "5": 0.002, "PWM": 2.0}
FIBRES = 20
OVER_RANGE = 99999
SEQUENCE_MAX = 3500
INTENSITY_ERROR = 0.01


@dataclass(frozen=True)
class LedLight:
    """What one LED emits: its colour, its intensity while lit, and its blink (None: steady)."""

    colour: str = "red"
    intensity: float = 0.0  # analyser units while lit; 0: dark
    blink_hz: float | None = None
    duty: float = 0.5
    phase_t0: float = 0.0  # a blink starts lit at this lab time

    def lit(self, t: float) -> bool:
        if self.intensity <= 0:
            return False
        if self.blink_hz is None:
            return True
        return math.fmod((t - self.phase_t0) * self.blink_hz, 1.0) < self.duty


DARK = LedLight()
LightSource = LedLight | Callable[[float], LedLight]

_PARAM = re.compile(
    r"^(GETHSI|GETRGBI|GETWSI|GETINTENSITY|GETSEQUENCE|PUTSEQUENCECHANNEL|PUTSEQUENCECAPTURE|"
    r"PUTSEQUENCEWAIT|PUTSEQUENCENUMBER|PUTSEQUENCETHRESHOLD)(\d+)$"
)
_CAPTURE = re.compile(r"^(?:CAPTURE|C)([1-5]?)(PWM)?$")


@dataclass
class _Capture:
    """The last capture of one fibre: mean intensity and the colour seen."""

    intensity: int
    colour: str


class SimFeasaLedAnalyser(SimInstrument):
    """A Feasa 20-F; `set_light(terminal, source)` says what the fibre over that LED sees."""

    VENDOR = "Feasa"
    MODEL = "20-F"
    FIRMWARE = "F208"

    def __init__(self, role: str, channels: dict[str, str], seed: int = 0, serial: str = "") -> None:
        self._sources: dict[int, LightSource] = {}
        self._captured: dict[int, _Capture] = {}
        self._sequence: dict[str, int] = {}
        self._samples: list[str] = []
        super().__init__(role, channels, seed, serial or "7A3C")
        self._fibres = {point: int(ch) for point, ch in self.channels.items()}

    def reset(self) -> None:
        """Power-on: no capture stored, sequence settings at 1 ms / 0 ms / 100 samples / 1000."""
        self._captured = {}
        self._sequence = {"CHANNEL": 1, "CAPTURE": 1, "WAIT": 0, "NUMBER": 100, "THRESHOLD": 1000}
        self._samples = []

    # --- the plant's side ---------------------------------------------------------------------
    def set_light(self, terminal: str, source: LightSource) -> None:
        """What the fibre over a DUT LED sees from now on: a light, or a callable of lab time."""
        if terminal not in self._fibres:
            raise KeyError(f"{self.role}: no fibre over {terminal}")
        self._sources[self._fibres[terminal]] = source

    def light(self, fibre: int, t: float) -> LedLight:
        source = self._sources.get(fibre, DARK)
        return source(t) if callable(source) else source

    def outputs(self) -> dict[str, object]:
        return {}

    # --- the protocol -------------------------------------------------------------------------
    def execute(self, line: str) -> str | None:
        self.at(self.now())
        text = line.strip().upper()
        try:
            answer = self._run(text)
        except ValueError as exc:
            return f"ERROR: {exc}"
        if not text.startswith("GET"):
            self.engine.count_command()
        return answer

    def _run(self, text: str) -> str:
        if text == "GETSERIAL":
            return self.serial
        if text == "GETVERSION":
            return self.FIRMWARE
        capture = _CAPTURE.match(text)
        if capture:
            self._capture(CAPTURE_S["PWM" if capture.group(2) else capture.group(1)])
            return "OK"
        if text == "CAPTURESEQUENCE":
            self._capture_sequence()
            return "OK"
        m = _PARAM.match(text)
        if not m:
            raise ValueError("command not recognised")
        head, number = m.group(1), int(m.group(2))
        if head.startswith("PUTSEQUENCE"):
            return self._put(head.removeprefix("PUTSEQUENCE"), number)
        if not 1 <= number <= FIBRES:
            raise ValueError(f"no fibre {number:02d}")
        if head == "GETSEQUENCE":
            if not self._samples or number != self._sequence["CHANNEL"]:
                raise ValueError(f"no sequence captured on fibre {number:02d}")
            return "\n".join(self._samples)
        return self._get(head, number)

    def _put(self, what: str, value: int) -> str:
        limits = {
            "CHANNEL": (1, FIBRES),
            "CAPTURE": (1, 999),
            "WAIT": (0, 999),
            "NUMBER": (1, SEQUENCE_MAX),
            "THRESHOLD": (0, OVER_RANGE),
        }
        low, high = limits[what]
        if not low <= value <= high:
            raise ValueError(f"{what.lower()} {value} outside {low}..{high}")
        self._sequence[what] = value
        return "OK"

    def _capture(self, duration_s: float) -> None:
        t0 = self.now()
        steps = max(1, round(duration_s * 1000))
        for fibre in range(1, FIBRES + 1):
            total, colour = 0.0, "red"
            if fibre in self._sources:
                for k in range(steps):
                    t = t0 + k / 1000.0
                    light = self.light(fibre, t)
                    if light.lit(t):
                        total, colour = total + light.intensity, light.colour
            mean = total / steps
            measured = mean * (1.0 + self.rng.uniform(-1.0, 1.0) * INTENSITY_ERROR) if mean > 0 else 0.0
            self._captured[fibre] = _Capture(min(OVER_RANGE, round(measured)), colour)

    def _capture_sequence(self) -> None:
        seq = self._sequence
        period = (seq["CAPTURE"] + seq["WAIT"]) / 1000.0
        t0 = self.now()
        fibre = seq["CHANNEL"]
        samples = []
        for k in range(seq["NUMBER"]):
            t = t0 + k * period
            light = self.light(fibre, t)
            samples.append("1" if light.lit(t) and light.intensity > seq["THRESHOLD"] else "0")
        self._samples = samples

    def _get(self, head: str, fibre: int) -> str:
        seen = self._captured.get(fibre, _Capture(0, "red"))
        hue, saturation, (r, g, b), wavelength = COLOURS.get(seen.colour, COLOURS["white"])
        i = seen.intensity
        if head == "GETINTENSITY":
            return f"{i:05d}"
        if head == "GETHSI":
            return f"999.99 999 {i:05d}" if i <= 0 else f"{hue:06.2f} {saturation:03d} {i:05d}"
        if head == "GETRGBI":
            return f"000 000 000 {i:05d}" if i <= 0 else f"{r:03d} {g:03d} {b:03d} {i:05d}"
        return f"000 000 {i:05d}" if i <= 0 else f"{wavelength:03d} {saturation:03d} {i:05d}"
