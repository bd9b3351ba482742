"""Plots and the PDF's requirement sections made while the plan still runs, on the CPU it leaves idle.

A full plan's figures take seconds of matplotlib, and laying out its PDF tens of seconds of
weasyprint. `PlotPrefetch` starts a worker (`python -m hil.report.prefetch RUN_DIR`) when the
record is opened; each time all the tests of a requirement have finished, the plugin names it and
the worker reads the record so far and draws that requirement's figures. The reports use a figure
only if the inputs it was drawn from (the requirement's measurements and spec row) digest the same
as in the sealed record, so a measurement that came later only means the figure is drawn again at
the end.

With `sections` (the requirements the plan tests), one worker also writes each finished
requirement's PDF section as PDF bytes (hil.report.pdfparts) and, after the seal, writes report.pdf
itself (`finish(pdf=True)`) while the run writes the other reports: only the first pages, the tail
and the frame are written after the seal, the parts joined by pypdf (hil.report.pdfjoin), and a
section is used only if the sealed record gives the same HTML.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import queue
import resource
import select
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from hil.report import pdfparts
from hil.report.figures import PlotJob, job_digest, plot_job
from hil.report.model import load_run
from hil.report.pdfparts import Written

#: drawn figures by requirement: (digest of the inputs, PNGs)
Prefetched = dict[str, tuple[str, list[bytes]]]
FINISH_TIMEOUT_S = 120.0
MAX_WORKERS = 2
WORKER_NICE = 10
#: what the worker prints last once it has written report.pdf
PDF_WRITTEN = b"report.pdf written\n"
#: a developer's aid (benchmarks/full_plan.py): the worker appends its timeline to this file
LOG_ENV = "HIL_PREFETCH_LOG"


class PlotPrefetch:
    """The run's side of the workers: name finished requirements, collect the figures at the end.

    Requirements go to the workers in turn, so a burst of them at the end of a plan is drawn on
    every CPU. Every failure (no worker, a worker that died) leaves the figures to be drawn at
    the end as before; nothing here can stop a run.
    """

    def __init__(self, folder: Path, workers: int = 0, sections: Iterable[str] | None = None) -> None:
        count = 1 if sections is not None else workers or min(os.cpu_count() or 1, MAX_WORKERS)
        self._procs: list[subprocess.Popen[bytes]] = []
        self._turn = 0
        self._pdf: subprocess.Popen[bytes] | None = None
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
        if sections is not None:
            self._send_all({"sections": sorted(sections)})

    def _send(self, proc: subprocess.Popen[bytes], message: object) -> bool:
        try:
            assert proc.stdin is not None
            proc.stdin.write((json.dumps(message) + "\n").encode())
            proc.stdin.flush()
            return True
        except OSError:
            if proc in self._procs:
                self._procs.remove(proc)
            _stop(proc)
            return False

    def _send_all(self, message: object) -> None:
        for proc in list(self._procs):
            self._send(proc, message)

    def ran(self, requirements: Iterable[str]) -> None:
        """A test of these requirements has finished, others are to come: with one worker, it may
        draw their figures ahead while it has nothing else to do (kept if nothing changes after)."""
        wanted = list(requirements)
        if wanted and len(self._procs) == 1:
            self._send(self._procs[0], {"ran": wanted})

    def complete(self, requirements: Iterable[str]) -> None:
        """All tests of these requirements have finished: their figures can be drawn now."""
        for rid in requirements:
            if not self._procs:
                return
            proc = self._procs[self._turn % len(self._procs)]
            self._turn += 1
            self._send(proc, [rid])

    def finish(self, timeout: float = FINISH_TIMEOUT_S, pdf: bool = False) -> Prefetched:
        """The figures drawn (each worker ends its queue first); what a failed worker drew is lost.

        `pdf`: the worker that wrote sections goes on to write report.pdf from the sealed record
        (`pdf_written` waits for it); False if there is no such worker.
        """
        procs, self._procs = self._procs, []
        for proc in list(procs):  # the run is over: the reports are what is waited for now
            if not self._send(proc, {"sealed": True}):
                procs.remove(proc)
        if pdf and procs and self._send(procs[0], {"pdf": True}):
            self._pdf = procs[0]
        drawn: Prefetched = {}
        for proc in procs:  # the others go on drawing their queues meanwhile
            try:
                assert proc.stdin is not None and proc.stdout is not None
                proc.stdin.close()
                proc.stdin = None  # closed: communicate() must not flush it
                result = _read_framed(proc.stdout, time.monotonic() + timeout)
                if isinstance(result, dict):
                    drawn.update(result)
            except (OSError, AssertionError, pickle.PickleError, EOFError, ValueError, struct.error):
                if proc is self._pdf:
                    self._pdf = None
                _stop(proc)
            finally:
                if proc is not self._pdf:
                    _stop(proc)
        return drawn

    @property
    def writes_pdf(self) -> bool:
        """A worker is writing report.pdf (after `finish(pdf=True)`)."""
        return self._pdf is not None

    def pdf_written(self, timeout: float = FINISH_TIMEOUT_S) -> bool:
        """Wait for the worker writing report.pdf; False if it failed (the caller writes it then)."""
        proc, self._pdf = self._pdf, None
        if proc is None:
            return False
        try:
            assert proc.stdout is not None
            out, _ = proc.communicate(timeout=timeout)
            return proc.returncode == 0 and out.endswith(PDF_WRITTEN)
        except (OSError, AssertionError, subprocess.SubprocessError, ValueError):
            return False
        finally:
            _stop(proc)

    def close(self) -> None:
        """Stop the workers without waiting for them (a run that ends without reports)."""
        procs, self._procs = self._procs, []
        if self._pdf is not None:
            procs.append(self._pdf)
            self._pdf = None
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


def _read_exact(stream: IO[bytes], size: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left:
        ready, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise EOFError("the worker did not hand its figures over in time")
        chunk = os.read(stream.fileno(), min(left, 1 << 20))
        if not chunk:
            raise EOFError("the worker ended before its figures")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_framed(stream: IO[bytes], deadline: float) -> object:
    (size,) = struct.unpack("!Q", _read_exact(stream, 8, deadline))
    return pickle.loads(_read_exact(stream, size, deadline))


def _write_framed(stream: IO[bytes], value: object) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("!Q", len(data)) + data)
    stream.flush()


def draw(
    folder: Path,
    requirements: Iterable[str],
    into: Prefetched,
    sections: list[str] | None = None,
    written: Written | None = None,
) -> list[str]:
    """Draw the figures of `requirements` from the record in `folder` as it stands now; with
    `sections` (the tested requirements, which fix each section's number), also the HTML of their
    PDF sections: written into `written` at once, or returned if `written` is None."""
    wanted = set(requirements)
    rows = load_run(folder).requirement_rows()
    numbers = {rid: n for n, rid in enumerate((r.id for r in rows if r.id in set(sections or ())), 1)}
    pages = []
    for row in rows:
        if row.id not in wanted:
            continue
        if row.measurements:
            job: PlotJob = (row.id, row.measurements, row.spec)
            digest = job_digest(job)
            if into.get(row.id, ("", []))[0] != digest:  # drawn ahead from the same inputs: kept
                into[row.id] = (digest, plot_job(job)[1])
        if row.id in numbers and (row.measurements or row.tests):
            from hil.report import document

            section = document.section_of(row, into[row.id][1] if row.measurements else [])
            number = numbers[row.id]
            pages.append(document.section_html(section, number, number == 1))
    if written is not None:
        for html in pages:
            pdfparts.write_ahead(html, str(folder), written, _pdf_style())
        return []
    return pages


def _pdf_style() -> str:
    from hil.report import document  # weasyprint and jinja: only in the worker

    return document.pdf_style()


def write_pdf(folder: Path, drawn: Prefetched, written: Written) -> None:
    """report.pdf from the sealed record, with the sections written ahead where they still hold."""
    from hil.report import document, figures
    from hil.report.integrity import check_verdicts

    run = load_run(folder)
    check_verdicts(run.entries, run.record_path)  # a verdict its numbers do not give: no report
    plots: dict[str, list[bytes]] = {}
    figures.all_plots(run, plots, drawn)
    _log("figures of the sealed record drawn")
    processes = min(os.cpu_count() or 1, MAX_WORKERS)
    document.write_pdf(run, folder, None, plots, written, processes=processes, log=_log)


def _log(event: str) -> None:
    """One line of the worker's timeline (wall clock, its CPU seconds, what it did), if asked for."""
    path = os.environ.get(LOG_ENV)
    if path:
        with contextlib.suppress(OSError), Path(path).open("a", encoding="utf-8") as fh:
            fh.write(f"{time.time():.3f} {time.process_time():.3f} {event}\n")


def _lines(into: queue.Queue[str | None]) -> None:
    """stdin's lines into a queue, then None at EOF (so the worker can write while none waits).

    The seal puts the worker back to normal priority at once, not when its queue reaches that line:
    on a loaded machine (load 7-8) the worker at nice +10 had not handed its figures over 120 s
    after the seal in one run, and the run drew them and wrote the PDF itself. The main thread's: on
    Linux a thread's nice value is its own, and the main thread (the process ID) does the work.
    """
    for line in sys.stdin:
        if '"sealed"' in line:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, os.getpid(), 0)
            _log("seal read: back to normal priority")
        into.put(line)
    into.put(None)


def main(argv: list[str]) -> int:
    """The worker: on stdin, per line, a JSON list of finished requirement IDs, or {"sections": [...]}
    (lay out their PDF sections too), {"ran": [...]} (requirements with tests still to run),
    {"sealed": true} (the run is over: back to normal priority) or {"pdf": true} (write
    report.pdf after the figures); at EOF, the figures (length-prefixed
    pickle) on stdout, then report.pdf if asked for.

    Finished requirements come first; while no line waits, a section is written and the figures
    of requirements still running are drawn, in turns (a final record with the same inputs keeps
    them, other inputs mean they are drawn again). The sections still waiting at EOF are written
    with the rest of the PDF.
    """
    folder = Path(argv[0])
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICE)  # the run comes first
    _log("start")  # at low priority from here on
    drawn: Prefetched = {}
    sections: list[str] | None = None
    written: Written = {}
    waiting: list[str] = []  # sections' HTML not written yet
    ahead: dict[str, None] = {}  # requirements with tests still to run: drawn when nothing else waits
    # sections to write and figures to draw ahead take turns: the figures drawn after the seal hold
    # up every report (on a loaded machine the threshold rows' 30 were all left to the seal)
    figures_turn = False
    pdf = False
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_lines, args=(lines,), daemon=True).start()
    while True:
        try:
            line = lines.get_nowait() if waiting or ahead else lines.get()
        except queue.Empty:
            with contextlib.suppress(Exception):  # odd data: that section is written at the end
                if waiting and not (ahead and figures_turn):
                    pdfparts.write_ahead(waiting.pop(0), str(folder), written, _pdf_style())
                    _log("section written")
                else:
                    rids = list(ahead)
                    ahead.clear()
                    draw(folder, rids, drawn)  # figures only: a section is written once it is final
                    _log(f"figures drawn ahead: {' '.join(rids)}")
            figures_turn = not figures_turn
            continue
        if line is None:
            _log(f"sealed: {len(waiting)} section(s) not written")
            break
        try:
            message: Any = json.loads(line)
            if isinstance(message, dict):
                sections = [str(i) for i in message["sections"]] if "sections" in message else sections
                pdf = pdf or bool(message.get("pdf"))  # {"sealed": true}: `_lines` saw to the priority
                ahead.update(dict.fromkeys(str(i) for i in message.get("ran", ())))
                continue
            for rid in message:
                ahead.pop(str(rid), None)
            waiting += draw(folder, [str(i) for i in message], drawn, sections)
            _log(f"figures drawn: {' '.join(map(str, message))}")
        except Exception:  # a torn record or odd data: those figures are drawn at the end
            continue
    _write_framed(sys.stdout.buffer, drawn)
    _log("figures handed over")
    if pdf:
        write_pdf(folder, drawn, written)
        forked = resource.getrusage(resource.RUSAGE_CHILDREN)  # the processes that wrote parts
        _log(
            f"report.pdf written (peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB, "
            f"forked writers {forked.ru_utime + forked.ru_stime:.1f} s CPU)"
        )
        sys.stdout.buffer.write(PDF_WRITTEN)
        sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
