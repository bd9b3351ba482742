"""LED analyser driver: Feasa LED Analyser, functional models (3-F, 10-F, 20-F), ASCII over USB/RS-232.

Followed: *Feasa LED Analyser, User Manual for Feasa Functional Models*, Rev. 8.7 Functional
Version, September 2020 (Feasa Enterprises Ltd; public copies of its pages consulted). Confirmed
there: commands are ASCII, not case-sensitive, ended by CR or LF; answers end CR LF. ``CAPTURE``
(auto range, also ``C``), ``CAPTURE1``..``CAPTURE5`` (manual ranges) and ``CAPTUREPWM`` (``CPWM``,
for pulsed LEDs, ~2 s) capture every fibre and answer ``OK``. After a capture, for fibre ## (01-20):
``GETHSI##`` answers ``hhh.hh sss iiiii`` (hue 0-360, saturation 0-100, intensity 00000-99999),
``GETRGBI##`` ``rrr ggg bbb iiiii``, ``GETWSI##`` ``www sss iiiii`` (dominant wavelength in nm);
intensity 00000 is dark (under range: HSI ``999.99 999 00000``, RGBI ``000 000 000 00000``),
99999 over range. ``GETSERIAL`` answers the 4-character serial number; ``GETVERSION`` the firmware.
Sequence capture mode: ``PUTSEQUENCECAPTURE###`` (capture time per sample, 001-999 ms),
``PUTSEQUENCEWAIT###`` (wait between samples, 000-999 ms), ``PUTSEQUENCENUMBER####`` (samples,
up to 3500 in sequence mode 0), ``PUTSEQUENCETHRESHOLD#####`` (intensity above which a sample is 1)
each answer ``OK`` (PUT = RAM, SET = flash: this driver only PUTs); ``CAPTURESEQUENCE`` runs it and
``GETSEQUENCE##`` returns the fibre's samples as binary 0/1.

OUR READING (not confirmed from the pages consulted): ``PUTSEQUENCECHANNEL##`` selects the fibre a
sequence samples (the manual names ``setsequencechannel@@`` without its page); ``GETSEQUENCE##``
answers one sample per line, as many lines as ``PUTSEQUENCENUMBER`` asked (read here line by line);
the sampling period is capture time + wait time; the format of ``GETVERSION`` and of the wavelength
under range (read here as 0 intensity); an unknown command or fibre answers a line starting
``ERROR`` (raised as InstrumentError).

Not SCPI: identity is ``GETSERIAL`` and ``GETVERSION``; queries (``GET...``) only read and may be
asked again, captures and ``PUT...`` settings are sent once and checked on their ``OK``. The
transport adds LF after each message, which the analyser accepts as the terminator; the CR of its
CR LF answers is stripped. Terminals (LED names) map to fibre numbers in the station file.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from hil.errors import InstrumentError
from hil.instruments.base import LINK_FAULTS, Instrument
from hil.instruments.roles import LedAnalyser, LedReading, colour_name

#: sequence sampling: capture time per sample and wait between samples (ms); 2 ms per sample
#: resolves 25 Hz (40 ms period) in 20 samples and fits 2 s (four 2 Hz periods) in 1000
SEQUENCE_CAPTURE_MS = 2
SEQUENCE_WAIT_MS = 0
#: the most samples a sequence holds in sequence mode 0
SEQUENCE_MAX = 3500
FIBRES = 20


class FeasaLedAnalyser(LedAnalyser, Instrument):
    """Feasa functional LED analyser; terminals map to fibre numbers ("1".."20")."""

    MANUAL = (
        "Feasa LED Analyser User Manual for Feasa Functional Models, Rev. 8.7 Functional Version, "
        "September 2020 (capture, get data, general and sequence capture commands)"
    )

    IDENTITY: ClassVar[tuple[str, ...]] = ("GETSERIAL", "GETVERSION")

    def _fibre(self, terminal: str) -> int:
        channel = self.channel(terminal)
        try:
            fibre = int(channel)
        except ValueError:
            raise InstrumentError(
                self.name, "-", f"fibre {channel!r} of {terminal} is not a number"
            ) from None
        if not 1 <= fibre <= FIBRES:
            raise InstrumentError(self.name, "-", f"fibre {fibre} of {terminal} is outside 1..{FIBRES}")
        return fibre

    def _answer(self, command: str) -> str:
        answer = self.query(command).strip()
        if answer.upper().startswith("ERROR"):
            raise InstrumentError(self.name, command, f"refused by the analyser: {answer}")
        return answer

    def _numbers(self, command: str, count: int) -> list[float]:
        answer = self._answer(command)
        fields = answer.split()
        try:
            values = [float(f) for f in fields]
        except ValueError:
            raise InstrumentError(self.name, command, f"expected {count} numbers, got {answer!r}") from None
        if len(values) != count:
            raise InstrumentError(self.name, command, f"expected {count} numbers, got {answer!r}")
        return values

    # --- the dialect -------------------------------------------------------------------------

    def reads_only(self, message: str) -> bool:
        """GET... only reads the stored capture or settings; captures and PUT... change them."""
        return message.strip().upper().startswith("GET")

    def configure(self, *commands: str) -> None:
        """Send captures or settings one by one, each checked on its OK."""
        for command in commands:
            answer = self._answer(command)
            if answer.upper() != "OK":
                raise InstrumentError(self.name, command, f"expected 'OK', got {answer!r}")

    def identity(self, answers: Sequence[str]) -> str:
        """Maker, model (from the station file), serial (GETSERIAL), firmware (GETVERSION)."""
        serial, version = (a.strip() for a in answers)
        return f"Feasa,{self.info.model},{serial},{version}"

    def reset(self) -> None:
        """No reset command: the analyser keeps only its last capture; a fresh capture replaces it."""
        self.configure("CAPTURE")

    # --- the role -----------------------------------------------------------------------------

    def capture(self, pwm: bool = True) -> None:
        self.configure("CAPTUREPWM" if pwm else "CAPTURE")

    def read(self, terminal: str) -> LedReading:
        """GETHSI, GETRGBI and GETWSI of the terminal's fibre from the last capture."""
        fibre = self._fibre(terminal)
        hue, saturation, intensity = self._numbers(f"GETHSI{fibre:02d}", 3)
        lit = intensity >= self.ON_THRESHOLD
        if intensity <= 0:
            return LedReading(terminal, False, "off", 0)
        red, green, blue, _ = self._numbers(f"GETRGBI{fibre:02d}", 4)
        wavelength, _, _ = self._numbers(f"GETWSI{fibre:02d}", 3)
        return LedReading(
            terminal,
            lit,
            colour_name(hue, saturation) if lit else "off",
            int(intensity),
            hue,
            saturation,
            (int(red), int(green), int(blue)),
            wavelength,
        )

    def sequence(self, terminal: str, window_s: float) -> tuple[list[bool], float]:
        """A sequence capture of one fibre: samples every SEQUENCE_CAPTURE_MS + SEQUENCE_WAIT_MS,
        each 1 where the intensity passed ON_THRESHOLD."""
        fibre = self._fibre(terminal)
        period_s = (SEQUENCE_CAPTURE_MS + SEQUENCE_WAIT_MS) / 1000.0
        count = round(window_s / period_s)
        if not 2 <= count <= SEQUENCE_MAX:
            raise InstrumentError(
                self.name,
                "-",
                f"a {window_s:g} s window needs {count} samples; the analyser holds 2..{SEQUENCE_MAX}",
            )
        self.configure(
            f"PUTSEQUENCECHANNEL{fibre:02d}",
            f"PUTSEQUENCECAPTURE{SEQUENCE_CAPTURE_MS:03d}",
            f"PUTSEQUENCEWAIT{SEQUENCE_WAIT_MS:03d}",
            f"PUTSEQUENCENUMBER{count:04d}",
            f"PUTSEQUENCETHRESHOLD{self.ON_THRESHOLD:05d}",
            "CAPTURESEQUENCE",
        )
        return [self._bit(line) for line in self._lines(f"GETSEQUENCE{fibre:02d}", count)], period_s

    def _bit(self, line: str) -> bool:
        if line not in ("0", "1"):
            raise InstrumentError(self.name, "GETSEQUENCE", f"expected a 0 or 1 sample, got {line!r}")
        return line == "1"

    def _lines(self, command: str, count: int) -> list[str]:
        """A multi-line answer: the first line through the fault policy, the rest read in turn."""
        lines = [self._answer(command)]
        try:
            while len(lines) < count:
                lines.append(self.transport.read().strip())
        except LINK_FAULTS as exc:
            self.suspect = str(exc)
            raise type(exc)(
                self.name, command, f"{exc.detail} (after {len(lines)} of {count} lines)"
            ) from exc
        return lines
