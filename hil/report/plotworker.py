"""Draws requirement plots in a separate Python process: pickled jobs on stdin, pickled PNGs on stdout.

`python -m hil.report.plotworker` - started by hil.report.figures.all_plots so that a full
plan's figures are drawn on every CPU, by a fresh interpreter that inherits nothing (threads,
sockets, the caller's __main__) from the process making the report.
"""

from __future__ import annotations

import pickle
import sys


def main() -> int:
    from hil.report.figures import plot_job

    jobs = pickle.load(sys.stdin.buffer)
    results = [plot_job(job) for job in jobs]
    pickle.dump(results, sys.stdout.buffer, protocol=pickle.HIGHEST_PROTOCOL)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
