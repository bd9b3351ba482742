"""Plots drawn while the plan still runs, on the CPU the run leaves idle.

A full plan's figures take seconds of matplotlib. `PlotPrefetch` starts a worker
(`python -m hil.report.prefetch RUN_DIR`) when the record is opened; each time all the tests of a
requirement have finished, the plugin names it and the worker reads the record so far and draws
that requirement's figures. The reports use a figure only if the inputs it was drawn from (the
requirement's measurements and spec row) digest the same as in the sealed record, so a
measurement that came later only means the figure is drawn again at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hil.report.figures import PlotJob, job_digest, plot_job
from hil.report.model import load_run

#: drawn figures by requirement: (digest of the inputs, PNGs)
Prefetched = dict[str, tuple[str, list[bytes]]]
FINISH_TIMEOUT_S = 120.0
MAX_WORKERS = 2
WORKER_NICE = 10


class PlotPrefetch:
    """The run's side of the workers: name finished requirements, collect the figures at the end.

    Requirements go to the workers in turn, so a burst of them at the end of a plan is drawn on
    every CPU. Every failure (no worker, a worker that died) leaves the figures to be drawn at
    the end as before; nothing here can stop a run.
    """

    def __init__(self, folder: Path, workers: int = 0) -> None:
        count = workers or min(os.cpu_count() or 1, MAX_WORKERS)
        self._procs: list[subprocess.Popen[bytes]] = []
        self._turn = 0
        for _ in range(count):
            try:
                self._procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "hil.report.prefetch", str(folder)],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL,
                        env={**os.environ, "MPLBACKEND": "Agg"},
                    )
                )
            except OSError:
                break

    def complete(self, requirements: Iterable[str]) -> None:
        """All tests of these requirements have finished: their figures can be drawn now."""
        for rid in requirements:
            if not self._procs:
                return
            proc = self._procs[self._turn % len(self._procs)]
            self._turn += 1
            try:
                assert proc.stdin is not None
                proc.stdin.write((json.dumps([rid]) + "\n").encode())
                proc.stdin.flush()
            except OSError:
                self._procs.remove(proc)
                _stop(proc)

    def finish(self, timeout: float = FINISH_TIMEOUT_S) -> Prefetched:
        """The figures drawn (each worker ends its queue first); what a failed worker drew is lost."""
        procs, self._procs = self._procs, []
        drawn: Prefetched = {}
        for proc in procs:  # the others go on drawing their queues meanwhile
            try:
                out, _ = proc.communicate(timeout=timeout)
                result = pickle.loads(out) if proc.returncode == 0 else {}
                if isinstance(result, dict):
                    drawn.update(result)
            except (OSError, subprocess.SubprocessError, pickle.PickleError, EOFError, ValueError):
                pass
            finally:
                _stop(proc)
        return drawn

    def close(self) -> None:
        """Stop the workers without waiting for them (a run that ends without reports)."""
        procs, self._procs = self._procs, []
        for proc in procs:
            _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def draw(folder: Path, requirements: Iterable[str], into: Prefetched) -> None:
    """Draw the figures of `requirements` from the record in `folder` as it stands now."""
    wanted = set(requirements)
    for row in load_run(folder).requirement_rows():
        if row.id in wanted and row.measurements:
            job: PlotJob = (row.id, row.measurements, row.spec)
            into[row.id] = (job_digest(job), plot_job(job)[1])


def main(argv: list[str]) -> int:
    """The worker: a JSON list of requirement IDs per line on stdin; the pickled figures at EOF."""
    folder = Path(argv[0])
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICE)  # the run comes first
    drawn: Prefetched = {}
    while line := sys.stdin.readline():
        try:
            ids: Any = json.loads(line)
            draw(folder, [str(i) for i in ids], drawn)
        except Exception:  # a torn record or odd data: those figures are drawn at the end
            continue
    pickle.dump(drawn, sys.stdout.buffer, protocol=pickle.HIGHEST_PROTOCOL)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
