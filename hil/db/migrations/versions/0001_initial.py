"""The first schema: stations, instruments, units, runs, measurements, settings, MES outbox.

Revision ID: 0001
Revises:
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "station",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("lab", sa.Text(), nullable=True),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("name", "sha256", name="uq_station_name_sha256"),
    )
    op.create_table(
        "instrument",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "station_id", sa.Integer(), sa.ForeignKey("station.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(200), nullable=True),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("driver", sa.String(200), nullable=True),
        sa.Column("serial", sa.String(200), nullable=True),
        sa.Column("asset_id", sa.String(200), nullable=True),
        sa.Column("calibration_due", sa.Date(), nullable=True),
        sa.UniqueConstraint("station_id", "name", name="uq_instrument_station_name"),
    )
    op.create_table(
        "unit",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("serial", sa.String(200), nullable=False),
        sa.Column("part", sa.String(200), nullable=False),
        sa.Column("revision", sa.String(200), nullable=True),
        sa.UniqueConstraint("part", "serial", name="uq_unit_part_serial"),
    )
    op.create_index("ix_unit_serial", "unit", ["serial"])
    op.create_table(
        "run",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("unit.id"), nullable=True),
        sa.Column("station_id", sa.Integer(), sa.ForeignKey("station.id"), nullable=True),
        sa.Column("profile", sa.String(50), nullable=False),
        sa.Column("socket", sa.String(200), nullable=True),
        sa.Column("lot", sa.String(200), nullable=True),
        sa.Column("sampling", sa.Text(), nullable=True),
        sa.Column("operator", sa.String(200), nullable=True),
        sa.Column("host", sa.String(200), nullable=True),
        sa.Column("plan_sha256", sa.String(64), nullable=True),
        sa.Column("spec_sha256", sa.String(64), nullable=True),
        sa.Column("spec_version", sa.String(100), nullable=True),
        sa.Column("firmware", sa.String(200), nullable=True),
        sa.Column("firmware_sha256", sa.String(64), nullable=True),
        sa.Column("started", sa.DateTime(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("first_failed", sa.String(100), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("record_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("record_path", sa.Text(), nullable=False),
    )
    op.create_index("ix_run_lot", "run", ["lot"])
    op.create_index("ix_run_started", "run", ["started"])
    op.create_index("ix_run_unit_started", "run", ["unit_id", "started"])
    op.create_table(
        "measurement",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.String(64), sa.ForeignKey("run.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("test", sa.Text(), nullable=False),
        sa.Column("requirement", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("value_text", sa.Text(), nullable=True),
        sa.Column("unit", sa.String(50), nullable=False),
        sa.Column("low", sa.Float(), nullable=True),
        sa.Column("high", sa.Float(), nullable=True),
        sa.Column("expected", sa.Text(), nullable=True),
        sa.Column("uncertainty", sa.Float(), nullable=True),
        sa.Column("verdict", sa.String(20), nullable=False),
    )
    op.create_index("ix_measurement_run_id", "measurement", ["run_id"])
    op.create_index("ix_measurement_req_name", "measurement", ["requirement", "name"])
    op.create_table(
        "setting",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_table(
        "mes_outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "run_id", sa.String(64), sa.ForeignKey("run.id", ondelete="CASCADE"), nullable=False, unique=True
        ),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("next_try", sa.DateTime(), nullable=False),
        sa.Column("delivered", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_index("ix_mes_outbox_delivered", "mes_outbox", ["delivered"])


def downgrade() -> None:
    for table in ("mes_outbox", "setting", "measurement", "run", "unit", "instrument", "station"):
        op.drop_table(table)
