"""The results database: an index of sealed run records (SQLAlchemy 2 + Alembic; SQLite or PostgreSQL).

The record stays the evidence; every row can be rebuilt from the records with `hil db import`.
SQLAlchemy is imported on first use, so `hil` itself starts as fast as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hil.db.store import Attempt, ResultsDB, default_url

__all__ = ["Attempt", "ResultsDB", "default_url"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from hil.db import store

        return getattr(store, name)
    raise AttributeError(f"module 'hil.db' has no attribute {name!r}")
