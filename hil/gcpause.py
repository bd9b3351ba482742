"""Cyclic garbage collection paused around work that builds many short-lived objects at once.

Indexing a run (its rows, its results) or laying out and writing a PDF part (weasyprint's styles,
boxes and pages: about 24,000 objects in cycles per requirement's section) allocates enough to
set off collections of every generation many times over, each walking the whole heap of the
process; paused, reference counting still frees what is not in a cycle, and the cycles left are
collected once, by the first collection after the pause.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic garbage collection inside (nested pauses keep it off until the outermost ends)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
