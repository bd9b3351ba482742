"""One index for both requirement-led queries of `hil db stats`, instead of two.

`(requirement, name)` (a measurement's trend) and `(requirement, run_id, verdict)` (the TFPY, read
from the index alone) become `(requirement, name, run_id, verdict)`: the trend seeks its prefix and
the TFPY still reads the index alone, and every measurement row a run inserts updates one index fewer.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_measurement_req_name_run_verdict", "measurement", ["requirement", "name", "run_id", "verdict"]
    )
    op.drop_index("ix_measurement_req_run_verdict", table_name="measurement")
    op.drop_index("ix_measurement_req_name", table_name="measurement")


def downgrade() -> None:
    op.create_index("ix_measurement_req_name", "measurement", ["requirement", "name"])
    op.create_index("ix_measurement_req_run_verdict", "measurement", ["requirement", "run_id", "verdict"])
    op.drop_index("ix_measurement_req_name_run_verdict", table_name="measurement")
