"""The results database's tables (SQLAlchemy 2 declarative): an index of sealed run records.

Every row can be rebuilt from the records (`hil db import`); the record stays the evidence.
Times are stored as naive UTC (SQLite keeps no time zone); `started` of a run is its header's.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    """The metadata Alembic migrates."""


class Station(Base):
    """One station configuration: a station file as it was (its SHA-256) when a run used it."""

    __tablename__ = "station"
    __table_args__ = (UniqueConstraint("name", "sha256", name="uq_station_name_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    file: Mapped[str] = mapped_column(Text, default="")
    lab: Mapped[str | None] = mapped_column(Text)
    simulated: Mapped[bool] = mapped_column(default=False)
    instruments: Mapped[list[Instrument]] = relationship(back_populates="station")


class Instrument(Base):
    """An instrument of a station configuration, with its calibration due date."""

    __tablename__ = "instrument"
    __table_args__ = (UniqueConstraint("station_id", "name", name="uq_instrument_station_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    driver: Mapped[str | None] = mapped_column(String(200))
    serial: Mapped[str | None] = mapped_column(String(200))
    asset_id: Mapped[str | None] = mapped_column(String(200))
    calibration_due: Mapped[dt.date | None] = mapped_column(Date)
    station: Mapped[Station] = relationship(back_populates="instruments")


class Unit(Base):
    """A DUT as labelled: its serial within a part (the DUT family) and its hardware revision."""

    __tablename__ = "unit"
    __table_args__ = (UniqueConstraint("part", "serial", name="uq_unit_part_serial"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    serial: Mapped[str] = mapped_column(String(200), index=True)
    part: Mapped[str] = mapped_column(String(200))
    revision: Mapped[str | None] = mapped_column(String(200))


class Run(Base):
    """One sealed record: who, where, what, when, and its outcome."""

    __tablename__ = "run"
    __table_args__ = (
        Index("ix_run_unit_started", "unit_id", "started"),
        Index("ix_run_started", "started"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the record's run_id
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("station.id"))
    profile: Mapped[str] = mapped_column(String(50), default="")
    socket: Mapped[str | None] = mapped_column(String(200))
    lot: Mapped[str | None] = mapped_column(String(200), index=True)
    sampling: Mapped[str | None] = mapped_column(Text)
    operator: Mapped[str | None] = mapped_column(String(200))
    host: Mapped[str | None] = mapped_column(String(200))
    plan_sha256: Mapped[str | None] = mapped_column(String(64))
    spec_sha256: Mapped[str | None] = mapped_column(String(64))
    spec_version: Mapped[str | None] = mapped_column(String(100))
    firmware: Mapped[str | None] = mapped_column(String(200))
    firmware_sha256: Mapped[str | None] = mapped_column(String(64))
    started: Mapped[dt.datetime] = mapped_column(DateTime)
    duration_s: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20))  # pass, fail, incomplete, error
    first_failed: Mapped[str | None] = mapped_column(String(100))  # requirement ID
    attempt: Mapped[int] = mapped_column(Integer, default=1)  # 1 = the unit's first run
    record_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    record_path: Mapped[str] = mapped_column(Text)
    unit: Mapped[Unit | None] = relationship()
    station: Mapped[Station | None] = relationship()


class MeasurementRow(Base):
    """One measurement entry of a record."""

    __tablename__ = "measurement"
    __table_args__ = (
        # a measurement's trend (its prefix) and the TFPY (read from the index alone), in one index
        Index("ix_measurement_req_name_run_verdict", "requirement", "name", "run_id", "verdict"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)  # the entry's position in the record
    test: Mapped[str] = mapped_column(Text, default="")
    requirement: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    value: Mapped[float | None] = mapped_column(Float)  # numeric results
    value_text: Mapped[str | None] = mapped_column(Text)  # other results (states, strings, booleans)
    unit: Mapped[str] = mapped_column(String(50), default="")
    low: Mapped[float | None] = mapped_column(Float)
    high: Mapped[float | None] = mapped_column(Float)
    expected: Mapped[str | None] = mapped_column(Text)
    uncertainty: Mapped[float | None] = mapped_column(Float)  # expanded U
    verdict: Mapped[str] = mapped_column(String(20))


class Setting(Base):
    """Configuration kept in the database itself (the MES endpoint)."""

    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class MesOutbox(Base):
    """A unit result waiting for (or delivered to) the MES; delivered strictly in `id` order."""

    __tablename__ = "mes_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), unique=True)
    payload: Mapped[str] = mapped_column(Text)  # JSON, as sent
    created: Mapped[dt.datetime] = mapped_column(DateTime)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_try: Mapped[dt.datetime] = mapped_column(DateTime)
    delivered: Mapped[dt.datetime | None] = mapped_column(DateTime, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
