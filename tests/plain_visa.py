"""A plain PyVISA session to a simulated instrument, as a user's own script opens one (no driver)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pyvisa
from pyvisa.resources import MessageBasedResource


@contextlib.contextmanager
def plain_visa(resource: str) -> Iterator[MessageBasedResource]:
    """pyvisa-py's session to `resource` (newline-terminated, 5 s timeout), closed after."""
    rm = pyvisa.ResourceManager("@py")
    try:
        inst = rm.open_resource(resource, read_termination="\n", write_termination="\n", timeout=5000)
        assert isinstance(inst, MessageBasedResource)
        try:
            yield inst
        finally:
            inst.close()
    finally:
        rm.close()
