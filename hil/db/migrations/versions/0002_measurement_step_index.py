"""A covering index for the per-requirement first-pass yields (TFPY) of `hil db stats`.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_measurement_req_run_verdict", "measurement", ["requirement", "run_id", "verdict"])


def downgrade() -> None:
    op.drop_index("ix_measurement_req_run_verdict", table_name="measurement")
