"""`hil station check`: everything wrong with a station file and its bench, one line per problem.

Static checks: the schema (every pydantic error, not only the first), drivers and roles, the DUT
family, slew limits, a real bench's declared limits, and what the family's plan needs (its
buses, roles, terminals and expectation keys, hil.station.needs). The probe then opens every
instrument of a real bench through the station's VISA library, asks its identity (`*IDN?`, or its
dialect's query) within its timeout and matches the answer to the driver; the DUT's buses are
opened. An instrument that accepts the connection and never answers is one line here; the
exception chain goes to a log file when one is given. Nothing is sent beyond the identity query.
"""

from __future__ import annotations

import contextlib
import difflib
import re
import socket
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from hil import registry
from hil.config import read_yaml, validation_problems
from hil.errors import ConfigError, HilError, InstrumentError, problem_line
from hil.station.model import InstrumentModel, StationModel
from hil.station.needs import family_needs

#: what the identity answer's fields must show for each driver (the instrument family it speaks to)
IDENTITY: dict[str, str] = {
    "keysight-n8900": r"N89\d\d",
    "itech-it8900": r"IT89\d\d",
    "keysight-n6705c": r"N670\d",
    "iet-prs202": r"PRS-?202",
    "keysight-daq970a": r"DAQ97\d",
    "keysight-34980a": r"34980",
    "espec-p300": r"\b(HUMI|TEMP)\b",  # TYPE? names the chamber type; the P-300 has no *IDN?
    "druck-pace5000": r"PACE\s?[56]000",
    "keysight-daqm907a": r"DAQ97\d",
    "feasa-led-analyser": r"^Feasa,",
}


@dataclass(frozen=True)
class Problem:
    """One thing to fix: the station field and what was expected there.

    `bench` marks the hardware's state, not the file's: an instrument or bus that refuses the
    connection, does not open or never answers (busy, off, held by another client). A wrong
    identity answer is the file's (the wrong model or address named there), as is everything else.
    """

    field: str
    expected: str
    bench: bool = False


@dataclass
class CheckResult:
    """The station (None if it did not even parse) and every problem found."""

    file: Path
    station: StationModel | None
    problems: list[Problem]

    @property
    def bench_only(self) -> bool:
        """Every problem is the bench's state: the file is sound, the bench not ready (exit 3)."""
        return bool(self.problems) and all(p.bench for p in self.problems)

    def lines(self) -> list[str]:
        return [problem_line(str(self.file), p.field, p.expected) for p in self.problems]

    def raise_first(self) -> None:
        """As one ConfigError carrying every problem (printed one line each)."""
        if self.problems:
            first, *rest = self.problems
            raise ConfigError(
                str(self.file), first.field, first.expected, [(p.field, p.expected) for p in rest]
            )


def _closest(word: str, known: list[str]) -> str:
    near = difflib.get_close_matches(word, known, n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(near)}?" if near else ""


def parse(path: Path) -> CheckResult:
    """The schema: every problem pydantic finds, one each."""
    try:
        data = read_yaml(path)
    except ConfigError as exc:
        return CheckResult(path, None, [Problem(exc.field, exc.expected)])
    try:
        station = StationModel.model_validate(data if data is not None else {})
    except ValidationError as exc:
        return CheckResult(path, None, [Problem(f, e) for f, e in validation_problems(exc)])
    return CheckResult(path, station, [])


def model_problems(station: StationModel) -> list[Problem]:
    """Drivers, roles and slew limits; the DUT family (what every loader of a station checks)."""
    found: list[Problem] = []
    for name, inst in station.instruments.items():
        found += _instrument_problems(name, inst)
    if station.dut.name not in registry.DUTS:
        known = ", ".join(sorted(registry.DUTS))
        found.append(Problem("dut.name", f"one of: {known} (got {station.dut.name!r})"))
    return found


def static_problems(station: StationModel) -> list[Problem]:
    """`model_problems`, what the family's plan needs, and a real bench's declared limits."""
    from hil.station.station import REQUIRED_LIMITS

    found = model_problems(station)
    if not station.simulated:
        if station.dut.limits is None:
            found.append(Problem("dut.limits", "the DUT's safe operating limits (required on a real bench)"))
        for name, inst in station.instruments.items():
            for key in REQUIRED_LIMITS[inst.role]:
                if getattr(inst.limits, key) is None:
                    found.append(
                        Problem(
                            f"instruments.{name}.limits.{key}",
                            f"a {key} for this {inst.role} (required on a real bench)",
                        )
                    )
    if not found:  # what the plan needs is read from sound instruments: those are fixed first
        found += needs_problems(station)
    return found


def _instrument_problems(name: str, inst: InstrumentModel) -> list[Problem]:
    if inst.driver not in registry.INSTRUMENTS:
        known = ", ".join(sorted(registry.INSTRUMENTS))
        return [Problem(f"instruments.{name}.driver", f"one of: {known} (got {inst.driver!r})")]
    kind, driver_ref, _ = registry.INSTRUMENTS[inst.driver]
    if kind != inst.role:
        return [Problem(f"instruments.{name}.role", f"{kind!r} for driver {inst.driver} (got {inst.role!r})")]
    found = []
    for quantity in ("voltage", "current"):
        if getattr(inst.limits, f"{quantity}_slew_max") is None:
            continue
        slew: frozenset[str] = getattr(registry.load(driver_ref), "SLEW", frozenset())
        if quantity not in slew:
            can = ", ".join(sorted(slew)) or "none"
            found.append(
                Problem(
                    f"instruments.{name}.limits.{quantity}_slew_max",
                    f"a slew limit the {inst.driver} driver can program (it can: {can})",
                )
            )
    return found


def needs_problems(station: StationModel) -> list[Problem]:
    """The buses, roles, terminals and expectation keys the DUT family's plan needs."""
    dut = station.dut.name
    needs = family_needs(dut)
    found: list[Problem] = []
    for bus in needs.buses:
        if getattr(station.buses, bus) is None:
            found.append(Problem(f"buses.{bus}", f"the {dut} DUT's {bus} bus (its plan talks to it)"))
    for role, terminals in needs.roles.items():
        wired: dict[str, str] = {}
        for name, inst in station.instruments.items():
            if inst.role == role:
                wired.update((t, name) for t in inst.channels)
        if not wired:
            found.append(
                Problem(
                    "instruments",
                    f"an instrument in role {role} for the {dut} plan (wiring {', '.join(terminals)})",
                )
            )
            continue
        missing = [t for t in terminals if t not in wired]
        if missing:
            names = sorted({n for n, i in station.instruments.items() if i.role == role})
            found.append(
                Problem(
                    f"instruments.{names[0]}.channels",
                    f"DUT terminal(s) {', '.join(missing)} wired to a {role} channel "
                    f"(the {dut} plan uses them)",
                )
            )
    known = sorted(needs.expectations)
    for key in station.expectations:
        if needs.expectations and key not in needs.expectations:
            found.append(
                Problem(
                    f"expectations.{key}",
                    f"an expectation the {dut} plan reads (unknown key){_closest(key, known)}",
                )
            )
    return found


def identity_problem(name: str, inst: InstrumentModel, answer: str) -> Problem | None:
    """The identity answer against the driver: the wrong instrument on that address is named."""
    pattern = IDENTITY.get(inst.driver)
    if pattern is None or re.search(pattern, answer, re.IGNORECASE):
        return None
    return Problem(
        f"instruments.{name}.driver",
        f"an instrument the {inst.driver} driver speaks to at {inst.resource} "
        f"(it identifies as {answer.strip()[:80]!r})",
    )


def _bench_line(exc: BaseException) -> str:
    if isinstance(exc, InstrumentError):
        return exc.detail
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc) or type(exc).__name__


@contextlib.contextmanager
def _logged(log: TextIO | None, what: str) -> Iterator[list[BaseException]]:
    caught: list[BaseException] = []
    try:
        yield caught
    except Exception as exc:
        caught.append(exc)
        if log is not None:
            log.write(f"--- {what}\n{''.join(traceback.format_exception(exc))}\n")


def probe_instrument(
    name: str, inst: InstrumentModel, visa_library: str, log: TextIO | None
) -> Problem | None:
    """Open one instrument, ask its identity within its timeout; a problem or None."""
    from hil.instruments.base import Instrument
    from hil.instruments.info import InstrumentInfo, Limits
    from hil.instruments.transport import VisaTransport

    field = f"instruments.{name}.resource"
    tcp = re.match(r"^TCPIP\d*::([^:]+)::(\d+)::SOCKET$", inst.resource, re.IGNORECASE)
    with _logged(log, f"{name}: connect {inst.resource}") as caught:
        if tcp:  # a refused connection says so at once, before VISA's own wording
            socket.create_connection((tcp[1], int(tcp[2])), timeout=inst.timeout_s).close()
    if caught:
        return Problem(
            field, f"an instrument reachable at {inst.resource} ({_bench_line(caught[0])})", bench=True
        )
    driver: Any = None
    with _logged(log, f"{name}: identity of {inst.resource}") as caught:
        transport = VisaTransport(name, inst.resource, timeout_s=inst.timeout_s, visa_library=visa_library)
        info = InstrumentInfo(
            role=name,
            model=inst.model,
            resource=inst.resource,
            channels=inst.channels,
            limits=Limits(),
            asset_id=inst.asset_id,
            calibration_due=inst.calibration_due.isoformat(),
            retries=0,
        )
        driver = registry.load(registry.instrument_entry(inst.driver)[1])(info, transport)
        try:
            answer = driver.idn() if isinstance(driver, Instrument) else ""
        finally:
            with contextlib.suppress(Exception):
                driver.close()
    if caught:
        exc = caught[0]
        if isinstance(exc, InstrumentError) and "no answer" in exc.detail:
            return Problem(
                field,
                f"an instrument that answers its identity query within {inst.timeout_s:g} s at "
                f"{inst.resource} (it accepted the connection and said nothing: another device on "
                "that address, or the socket held by another client?)",
                bench=True,
            )
        return Problem(field, f"an instrument reachable at {inst.resource} ({_bench_line(exc)})", bench=True)
    if log is not None:
        log.write(f"{name}: {inst.resource}: {answer}\n")
    return identity_problem(name, inst, answer)


def probe_buses(station: StationModel, log: TextIO | None) -> list[Problem]:
    """The DUT's buses open (nothing is sent)."""
    import serial

    from hil.can_monitor import open_station_bus

    found: list[Problem] = []
    can_bus = station.buses.can
    if can_bus is not None:
        with _logged(log, "buses.can") as caught:
            if can_bus.interface == "socketcand":  # python-can waits for the greeting without a timeout
                _socketcand_greets(str(can_bus.host), int(can_bus.port or 0))
            bus = open_station_bus(can_bus)
            with contextlib.suppress(Exception):
                bus.shutdown()
        if caught:
            found.append(Problem("buses.can", f"a CAN bus that opens ({_bench_line(caught[0])})", bench=True))
    rs485 = station.buses.rs485
    if rs485 is not None:
        with _logged(log, "buses.rs485") as caught:
            serial.serial_for_url(rs485.url, baudrate=rs485.baudrate, timeout=rs485.timeout_s).close()
        if caught:
            found.append(
                Problem("buses.rs485.url", f"a serial port that opens ({_bench_line(caught[0])})", bench=True)
            )
    modbus = station.buses.modbus_tcp
    if modbus is not None:
        with _logged(log, "buses.modbus_tcp") as caught:
            _modbus_connects(modbus.host, modbus.port, modbus.timeout_s)
        if caught:
            line = f"a Modbus TCP endpoint that accepts a connection ({_bench_line(caught[0])})"
            found.append(Problem("buses.modbus_tcp", line, bench=True))
    return found


def _modbus_connects(host: str, port: int, timeout_s: float) -> None:
    """The Modbus TCP endpoint accepts a TCP connection (nothing is sent); raises if it does not."""
    with socket.create_connection((host, port), timeout=timeout_s):
        pass


#: how long a socketcand server may take to greet (s)
GREETING_TIMEOUT_S = 3.0


def _socketcand_greets(host: str, port: int) -> None:
    """A socketcand server says `< hi >` on connecting; something else on that port does not."""
    with socket.create_connection((host, port), timeout=GREETING_TIMEOUT_S) as sock:
        try:
            greeting = sock.recv(64)
        except TimeoutError:
            raise OSError(
                f"no socketcand greeting within {GREETING_TIMEOUT_S:g} s at {host}:{port}"
            ) from None
    if not greeting.startswith(b"< hi >"):
        raise OSError(f"{host}:{port} is not a socketcand server (it said {greeting[:20]!r})")


def visa_library_problem(visa_library: str, log: TextIO | None) -> Problem | None:
    """The station's VISA library loads on this computer (the file's choice: exit 2, not 3)."""
    import pyvisa

    with _logged(log, f"visa_library {visa_library}") as caught:
        pyvisa.ResourceManager(visa_library)
    if not caught:
        return None
    return Problem(
        "visa_library",
        f"a VISA library installed on this computer: '@py' (pyvisa-py), '@ivi' (NI or Keysight "
        f"VISA) or its path (got {visa_library!r}: {_bench_line(caught[0])})",
    )


def probe(station: StationModel, log: TextIO | None = None) -> list[Problem]:
    """Every instrument's identity and the DUT's buses (a real bench, or a lab already running)."""
    library = visa_library_problem(station.visa_library, log)
    if library is not None:  # no instrument can be opened without it: one line, not one each
        return [library]
    found: list[Problem] = []
    for name, inst in station.instruments.items():
        problem = probe_instrument(name, inst, station.visa_library, log)
        if problem is not None:
            found.append(problem)
    return found + probe_buses(station, log)


def check(path: Path, probe_bench: bool = True, log_file: Path | None = None) -> CheckResult:
    """Every problem of the station file; with `probe_bench`, of a real bench's instruments too.

    The probe runs only when the file itself is sound (it would otherwise open the wrong things).
    A simulated station's lab is started by the run; its instruments are checked there.
    """
    result = parse(path)
    if result.station is None:
        return result
    result.problems += static_problems(result.station)
    if result.problems or not probe_bench or result.station.simulated:
        return result
    result.problems += probe_logged(result.station, log_file)
    return result


def probe_logged(station: StationModel, log_file: Path | None) -> list[Problem]:
    """`probe`, its details (exception chains, identity answers) written to `log_file`."""
    log: TextIO | None = None
    try:
        if log_file is not None:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            log = log_file.open("w", encoding="utf-8")
        try:
            return probe(station, log)
        except HilError as exc:  # e.g. no such VISA library: the file names what is not installed
            return [Problem("visa_library", str(exc))]
    finally:
        if log is not None:
            log.close()
