"""Climatic chamber driver: an ESPEC temperature/humidity chamber with a P-300 class controller.

Station model: ESPEC SH-242 bench-top temperature & humidity chamber (the BMU sits inside it; its
two thermistors and its humidity sensor see the chamber air). The P-300 / SCP-220 controllers
share one ASCII command set over RS-232C, GPIB or LAN; the bench example reaches the chamber's
RS-232C port through a serial-to-Ethernet gateway as a raw socket.

Followed: ESPEC's communication manual for the P-300 / SCP-220 controllers (the command set as
ESPEC North America's public P-300 and SCP-220 interface libraries use it). Facts used, each seen
in public material: every message is one ASCII line ending CR LF and gets one answer line;
settings are answered ``OK: <echo>`` or ``NA: <reason>`` (refused, nothing changed); ``TEMP, S25.0``
sets the temperature setpoint (0.1 °C), ``HUMI, S50`` the humidity setpoint (1 %RH) and ``HUMI,
SOFF`` switches humidity control off; ``MODE, CONSTANT`` runs to the setpoints, ``MODE, STANDBY``
stops heating, cooling and humidifying with the controller on, ``MODE, OFF`` switches the chamber
off; ``TEMP?`` answers ``measured,setpoint,upper alarm,lower alarm``, ``HUMI?`` the same for
humidity (setpoint ``OFF`` while not controlled), ``MON?`` answers ``temperature,humidity,mode,
alarms``, ``TYPE?`` and ``ROM?`` identify the chamber and its controller firmware. The manual's
own revision could not be read from the material consulted; see `MANUAL`.

Not SCPI: no ``*IDN?``, no error queue. Identity is ``TYPE?`` and ``ROM?`` (also what `check`
asks); each answer is checked at once (``NA:`` raises InstrumentError naming the command and the
chamber's reason). Queries (ending ``?``) only read; settings are sent once, never repeated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from hil.errors import InstrumentError
from hil.instruments.base import Instrument
from hil.instruments.roles import ChamberReading, ClimaticChamber

#: P-300 messages end CR LF: the transport adds LF, the driver the CR
CR = "\r"


def _fields(answer: str) -> list[str]:
    return [f.strip() for f in answer.split(",")]


class EspecP300(ClimaticChamber, Instrument):
    """ESPEC chamber with a P-300 / SCP-220 controller (ASCII commands, OK:/NA: answers)."""

    MANUAL = (
        "ESPEC SH-242 with P-300 controller; ESPEC P-300 / SCP-220 communication manual (RS-232C/GPIB/LAN "
        "command set: TEMP, HUMI, MODE, MON?, TYPE?, ROM?); revision not confirmed from the material "
        "consulted"
    )

    #: the P-300 has no *IDN?: TYPE? (kind, model, serial) and ROM? (controller firmware)
    IDENTITY: ClassVar[tuple[str, ...]] = ("TYPE?", "ROM?")

    def _exchange(self, command: str) -> str:
        return self.transport.query(command + CR)

    def _setting(self, command: str) -> str:
        """Send one setting and check its answer: OK: accepted, NA: refused (raises)."""
        answer = self.query(command).strip()
        if answer.upper().startswith("NA"):
            raise InstrumentError(self.name, command, f"refused by the chamber: {answer}")
        if not answer.upper().startswith("OK"):
            raise InstrumentError(self.name, command, f"expected 'OK: ...' or 'NA: ...', got {answer!r}")
        return answer

    def _ask(self, command: str, fields: int) -> list[str]:
        answer = self.query(command).strip()
        if answer.upper().startswith("NA"):
            raise InstrumentError(self.name, command, f"refused by the chamber: {answer}")
        parts = _fields(answer)
        if len(parts) < fields:
            raise InstrumentError(self.name, command, f"expected {fields} fields, got {answer!r}")
        return parts

    def _number(self, command: str, text: str) -> float:
        try:
            return float(text)
        except ValueError as exc:
            raise InstrumentError(self.name, command, f"expected a number, got {text!r}") from exc

    # --- the dialect -------------------------------------------------------------------------

    def reads_only(self, message: str) -> bool:
        """Queries end with '?' and change nothing; every other line is a setting."""
        return message.strip().endswith("?")

    def configure(self, *commands: str) -> None:
        """Send settings one by one, each checked on its own answer."""
        for command in commands:
            self._setting(command)

    def identity(self, answers: Sequence[str]) -> str:
        """Identity in *IDN?'s order (maker, model, serial, firmware) from TYPE? (kind, model, serial)
        and ROM?; the run compares the third field with the station file."""
        type_answer, rom = answers
        kind, model, serial = ([f.strip() for f in type_answer.split(",")] + ["", "", ""])[:3]
        return f"ESPEC,{model},{serial},{rom.strip()} ({kind})"

    def reset(self) -> None:
        """No *RST: standby with humidity control off is the neutral state."""
        self.configure("MODE, STANDBY", "HUMI, SOFF")

    # --- the role -----------------------------------------------------------------------------

    def set_temperature(self, celsius: float) -> None:
        value = round(celsius, 1)
        self.info.limits.check(self.name, "temperature", value)
        self._setting(f"TEMP, S{value:.1f}")

    def set_humidity(self, percent: float | None) -> None:
        if percent is None:
            self._setting("HUMI, SOFF")
            return
        value = float(round(percent))
        self.info.limits.check(self.name, "humidity", value)
        self._setting(f"HUMI, S{value:.0f}")

    def run(self) -> None:
        self._setting("MODE, CONSTANT")

    def standby(self) -> None:
        self._setting("MODE, STANDBY")

    def monitor(self) -> ChamberReading:
        """MON?: temperature, humidity (empty on a chamber without humidity), mode, alarm count."""
        command = "MON?"
        t, h, mode, alarms = self._ask(command, 4)[:4]
        return ChamberReading(
            temperature=self._number(command, t),
            humidity=self._number(command, h) if h else None,
            mode=mode.upper(),
            alarms=int(self._number(command, alarms)),
        )

    def setpoints(self) -> tuple[float, float | None]:
        """TEMP? and HUMI? setpoint fields (humidity None when its setpoint reads OFF)."""
        temp = self._number("TEMP?", self._ask("TEMP?", 4)[1])
        humi = self._ask("HUMI?", 4)[1]
        return temp, None if humi.upper() == "OFF" else self._number("HUMI?", humi)
