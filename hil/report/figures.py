"""The figures of a report: which plots a requirement gets, drawn here or in worker processes.

A `PlotJob` is one requirement's inputs to its figures (ID, measurements, spec row); its digest
tells whether a figure drawn earlier (hil.report.prefetch, during the run) is still the right one.
Both the report (document.py) and the prefetch workers draw through this module, so neither
imports the other.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import subprocess
import sys
from typing import Any

from hil.gcpause import collection_paused
from hil.measure import Measurement
from hil.report.model import RequirementRow, RunReport

#: plots drawn in worker processes when there are at least this many per worker
PLOTS_PER_WORKER = 8
MAX_WORKERS = 4
WORKER_TIMEOUT_S = 600


def _plots_of(requirement: str, measurements: list[Measurement], spec: dict[str, Any]) -> list[bytes]:
    """A requirement's figures, drawn with the cyclic collector paused (matplotlib's artists set
    off collections of the whole heap: a sixth of the drawing's CPU; their cycles are freed after)."""
    with collection_paused():
        return _drawn(requirement, measurements, spec)


def _drawn(requirement: str, measurements: list[Measurement], spec: dict[str, Any]) -> list[bytes]:
    from hil.report import plots  # matplotlib: only when there is something to draw

    images = []
    for figure in (
        plots.stimulus_response(requirement, measurements, spec),
        plots.go_no_go(requirement, measurements, spec),
    ):
        if figure is not None:
            images.append(figure)
    if not images:  # yes/no results after a stimulus the plan declared: stimulus and response in time
        from hil.report.timeline import timeline

        drawn = timeline(requirement, measurements)
        if drawn is not None:
            images.append(drawn)
    if not images:  # a stimulus that left no level series: the results it gave, against time
        results = plots.results_over_time(requirement, measurements)
        if results is not None:
            images.append(results)
    return images


def requirement_plots(row: RequirementRow) -> list[bytes]:
    """The PNG plots of one requirement: stimulus and response against time (from the probes)."""
    return _plots_of(row.id, row.measurements, row.spec)


PlotJob = tuple[str, list[Measurement], dict[str, Any]]


def plot_job(job: PlotJob) -> tuple[str, list[bytes]]:
    return job[0], _plots_of(*job)


def job_digest(job: PlotJob) -> str:
    """SHA-256 of a plot job's inputs in a canonical form (equal inputs, equal digest)."""
    rid, measurements, spec = job
    canonical = json.dumps(
        [rid, [dataclasses.asdict(m) for m in measurements], spec], sort_keys=True, default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _in_workers(jobs: list[PlotJob], workers: int) -> list[tuple[str, list[bytes]]] | None:
    """Run the jobs in `workers` fresh interpreters (python -m hil.report.plotworker); None if that failed."""
    shares = [jobs[i::workers] for i in range(workers)]
    procs = []
    try:
        for share in shares:
            proc = subprocess.Popen(
                [sys.executable, "-m", "hil.report.plotworker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={**os.environ, "MPLBACKEND": "Agg"},
            )
            procs.append((proc, pickle.dumps(share, protocol=pickle.HIGHEST_PROTOCOL)))
        results: list[tuple[str, list[bytes]]] = []
        for proc, payload in procs:
            out, _ = proc.communicate(payload, timeout=WORKER_TIMEOUT_S)
            if proc.returncode != 0:
                return None
            results.extend(pickle.loads(out))
        return results
    except (OSError, subprocess.SubprocessError, pickle.PickleError, EOFError):
        return None
    finally:
        for proc, _ in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def all_plots(
    run: RunReport,
    cache: dict[str, list[bytes]],
    prefetched: dict[str, tuple[str, list[bytes]]] | None = None,
) -> dict[str, list[bytes]]:
    """The plots of every requirement with measurements, into `cache`; in worker processes when many.

    Matplotlib takes 0.1-0.3 s per figure: a full plan's 60-odd figures are spread over the CPUs,
    and drawn here if the workers cannot run. A figure in `prefetched` (hil.report.prefetch: drawn
    during the run) is used when the digest of its inputs matches.
    """
    jobs = []
    for r in run.requirement_rows():
        if not r.measurements or r.id in cache:
            continue
        job: PlotJob = (r.id, r.measurements, r.spec)
        early = (prefetched or {}).get(r.id)
        if early is not None and early[0] == job_digest(job):
            cache[r.id] = early[1]
        else:
            jobs.append(job)
    workers = min(len(jobs) // PLOTS_PER_WORKER, os.cpu_count() or 1, MAX_WORKERS)
    done = _in_workers(jobs, workers) if workers >= 2 else None
    if done is None:
        done = [plot_job(job) for job in jobs]
    cache.update(done)
    return cache
