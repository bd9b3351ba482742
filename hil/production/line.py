"""The line file: which sockets (each a station) test which DUT family, for which lot, and how.

A line file is YAML validated by `LineModel`; a bad one is refused with one line naming the file
and the field (`hil.config.load_model`). `hil eol --station FILE` makes a one-socket line.
Relative paths in the file (stations, firmware, out) are relative to the line file's folder.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hil import registry
from hil.config import load_model
from hil.errors import ConfigError
from hil.station.station import load_station


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SocketModel(_Strict):
    """One socket of the line: a station that tests one unit at a time."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
    station: str = Field(description="station file")
    firmware: str | None = Field(
        default=None, description="firmware settings of the simulated twin (sim stations only)"
    )
    pytest_args: list[str] = Field(default=[], description="extra pytest arguments for this socket")


class MesModel(_Strict):
    url: str = Field(pattern=r"^https?://")


class LineModel(_Strict):
    """A production line as the operator station runs it."""

    name: str
    dut: str
    lot: str = Field(min_length=1)
    sockets: list[SocketModel] = Field(min_length=1)
    profile: str = Field(default="eol", pattern=r"^(eol|full)$")
    audit_every: int = Field(default=0, ge=0, description="every Nth unit of the lot runs the audit profile")
    audit_sampling: str = Field(default="", description="what the audit samples (added to --sampling)")
    max_retests: int = Field(default=2, ge=0, description="further attempts per serial after the first")
    cycle_time_s: float = Field(default=60.0, gt=0, description="expected wall time per unit")
    db: str | None = None
    mes: MesModel | None = None
    out: str = Field(default="reports/line", description="runs folder (one folder per unit run)")
    pytest_args: list[str] = Field(
        default=[], description="extra pytest arguments for every unit, e.g. a requirement subset"
    )

    @field_validator("dut")
    @classmethod
    def _known_dut(cls, value: str) -> str:
        if value not in registry.DUTS:
            raise ValueError(f"one of: {', '.join(sorted(registry.DUTS))}")
        return value

    @field_validator("sockets")
    @classmethod
    def _unique_sockets(cls, value: list[SocketModel]) -> list[SocketModel]:
        names = [s.name for s in value]
        if len(set(names)) != len(names):
            raise ValueError(f"socket names that differ (got {names})")
        return value


def load_line(path: Path) -> LineModel:
    """Read and check a line file: the model, then each socket's station (its DUT must be the line's)."""
    line = load_model(path, LineModel)
    base = path.parent
    for i, sock in enumerate(line.sockets):
        station_file = resolve(base, sock.station)
        where = f"sockets.{i}.station"
        if not station_file.exists():
            raise ConfigError(str(path), where, f"an existing station file (got {sock.station!r})")
        station = load_station(station_file)
        if station.dut.name != line.dut:
            raise ConfigError(str(path), where, f"a station for {line.dut} (it is for {station.dut.name})")
        if sock.firmware is not None:
            if not station.simulated:
                raise ConfigError(str(path), f"sockets.{i}.firmware", "no firmware on a real station")
            if not resolve(base, sock.firmware).exists():
                raise ConfigError(str(path), f"sockets.{i}.firmware", f"an existing file ({sock.firmware!r})")
    return line


def one_socket_line(station_file: Path, lot: str, out: Path | None) -> LineModel:
    """The line of `hil eol --station FILE`: one socket named after the station."""
    station = load_station(station_file)
    return LineModel(
        name=station.name,
        dut=station.dut.name,
        lot=lot,
        sockets=[SocketModel(name="S1", station=str(station_file.resolve()))],
        out=str(out) if out else "reports/line",
    )


def resolve(base: Path, value: str) -> Path:
    """A path from the line file: absolute, or relative to the line file's folder."""
    path = Path(value)
    return path if path.is_absolute() else (base / path).resolve()


def check_serial(dut: str, serial: str) -> str | None:
    """Why a scanned serial is refused for this DUT family (its `serial_pattern`), or None."""
    pattern = registry.dut_family(dut).serial_pattern
    if not serial:
        return "no serial number given"
    if re.fullmatch(pattern, serial) is None:
        return f"serial {serial!r} does not match the {dut} serial pattern {pattern}"
    return None
