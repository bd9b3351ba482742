"""Shared fixtures for driver tests: a module defines `sim`; these serve it and open a wire to it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from plain_visa import plain_visa
from pyvisa.resources import MessageBasedResource

from hil.instruments.transport import RecordingTransport, VisaTransport
from hil.sim.instruments.base import SimInstrument
from hil.sim.tcp import scpi_server_thread


@pytest.fixture
def resource(sim: SimInstrument) -> Iterator[str]:
    """The module's simulated instrument served on a local socket; its VISA resource string."""
    with scpi_server_thread(sim) as name:
        yield name
        time.sleep(0.1)  # let the server see every client's EOF before its loop stops


@pytest.fixture
def wire(resource: str, sim: SimInstrument) -> Iterator[RecordingTransport]:
    """A real pyvisa-py transport to the simulated instrument that records what is sent."""
    transport = RecordingTransport(VisaTransport(sim.role, resource))
    yield transport
    transport.close()


@pytest.fixture
def visa(resource: str) -> Iterator[MessageBasedResource]:
    """A plain PyVISA session to the simulated instrument (no driver), as a user's script opens one."""
    with plain_visa(resource) as inst:
        yield inst
