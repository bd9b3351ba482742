"""SCPI round-trip latency to the simulated lab's instruments, through the framework and plain pyvisa.

Starts the simulated lab (virtual time, ephemeral ports) and, for every instrument, times two
exchanges N times each:

* ``*IDN?`` — one query, one answer;
* a typical configure — one command, then the error-queue query a driver sends after it
  (``VOLT 3.3,(@1)`` + ``SYST:ERR?`` on the supplies; the same shape in the dialect of the load,
  the DAQ and the resistance decades, which have no ``VOLT`` command).

Each instrument is opened twice: with `hil.instruments.transport.VisaTransport` (what the drivers
use; it sets TCP_NODELAY) and with plain pyvisa (`open_resource` with '\\n' terminations and
nothing else). Prints median, p95, p99 and max in µs.

    .venv/bin/python benchmarks/scpi_latency.py            # 1000 iterations each
    .venv/bin/python benchmarks/scpi_latency.py -n 200
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyvisa

from hil.instruments.transport import VisaTransport
from hil.sim.client import SimProcess

ROOT = Path(__file__).resolve().parents[1]
STATION = ROOT / "stations" / "sim-bms12100.yaml"
DEFAULT_ITERATIONS = 1000
WARM_UP = 20

# A typical configure per instrument: (command, error query). Supplies take `VOLT 3.3,(@1)`; the
# others get the equivalent one-parameter setting of their dialect.
CONFIGURE: dict[str, tuple[str, str]] = {
    "charger": ("VOLT 3.3,(@1)", "SYST:ERR?"),
    "cells": ("VOLT 3.3,(@1)", "SYST:ERR?"),
    "load": ("CURR 1", "SYST:ERR?"),
    "daq": ("CONF:VOLT:DC AUTO,DEF,(@101)", "SYST:ERR?"),
    "ntc": ("SOUR:DATA 0000100000", "SYST:ERR?"),  # the decade at the controller's power-on address
}
DEFAULT_CONFIGURE = ("VOLT 3.3,(@1)", "SYST:ERR?")


class _Plain:
    """A plain pyvisa resource behind the same write/query calls as VisaTransport."""

    def __init__(self, resource: str) -> None:
        # pyvisa shares one resource-manager session per VISA library: closing it (as
        # VisaTransport.close does) closes every resource in the process, so open one per client.
        self._rm = pyvisa.ResourceManager("@py")
        self._res: Any = self._rm.open_resource(resource, read_termination="\n", write_termination="\n")
        self._res.timeout = 5000

    def write(self, message: str) -> None:
        self._res.write(message)

    def query(self, message: str) -> str:
        return str(self._res.query(message)).strip()

    def close(self) -> None:
        self._res.close()
        self._rm.close()


def _percentile(ordered: Sequence[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _time(exchange: Callable[[], str], iterations: int, check: Callable[[str], bool]) -> dict[str, float]:
    """Microsecond statistics of `iterations` calls; raises if an answer fails `check`."""
    for _ in range(WARM_UP):
        exchange()
    samples: list[float] = []
    bad = 0
    for _ in range(iterations):
        start = time.perf_counter_ns()
        answer = exchange()
        samples.append((time.perf_counter_ns() - start) / 1e3)
        bad += not check(answer)
    if bad:
        raise RuntimeError(f"{bad} of {iterations} answers were wrong (last {answer!r})")
    samples.sort()
    return {
        "median": statistics.median(samples),
        "p95": _percentile(samples, 95),
        "p99": _percentile(samples, 99),
        "max": samples[-1],
    }


def measure(client: Any, instrument: str, iterations: int) -> dict[str, dict[str, float]]:
    command, error_query = CONFIGURE.get(instrument, DEFAULT_CONFIGURE)

    def configure() -> str:
        client.write(command)
        return str(client.query(error_query))

    return {
        "*IDN?": _time(lambda: str(client.query("*IDN?")), iterations, lambda a: a.count(",") >= 3),
        "configure": _time(configure, iterations, lambda a: a.split(",")[0].strip() in ("0", "+0")),
    }


def run(iterations: int) -> list[tuple[str, str, str, dict[str, float]]]:
    rows: list[tuple[str, str, str, dict[str, float]]] = []
    sim = SimProcess(STATION)
    try:
        for name, resource in sim.endpoints["instruments"].items():
            for api in ("VisaTransport", "plain pyvisa"):
                client = VisaTransport(name, resource) if api == "VisaTransport" else _Plain(resource)
                try:
                    for op, stats in measure(client, name, iterations).items():
                        rows.append((name, api, op, stats))
                        print(_row(name, api, op, stats), flush=True)
                finally:
                    client.close()
    finally:
        sim.stop()
    return rows


def _row(name: str, api: str, op: str, stats: dict[str, float]) -> str:
    figures = "".join(f"{stats[k]:>10.0f}" for k in ("median", "p95", "p99", "max"))
    return f"{name:<9}{api:<15}{op:<11}{figures}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "-n", "--iterations", type=int, default=DEFAULT_ITERATIONS, help="per exchange (default 1000)"
    )
    args = parser.parse_args(argv)
    print(f"SCPI round trips to the simulated lab, {args.iterations} iterations each (µs)")
    print(f"{'':<9}{'API':<15}{'exchange':<11}{'median':>10}{'p95':>10}{'p99':>10}{'max':>10}")
    run(args.iterations)
    print("configure = " + "; ".join(f"{n}: {c} + {q}" for n, (c, q) in CONFIGURE.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
