"""Alembic environment: migrates the connection that `hil.db.ResultsDB` hands over (never a URL here)."""

from __future__ import annotations

from alembic import context

from hil.db.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
