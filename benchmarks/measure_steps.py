"""Where a recorded measurement's cost goes, step by step, inside one process (no pytest around it).

The steps of `check(within(...))` and of indexing the sealed run, timed as CPU per measurement:

- record: `within`, `judged` under the run's rule, `Recorder.measurement` (keep on, as `hil run`
  with a results database opens it);
- written: `Recorder.written()` (the file's SHA-256 against the bytes written);
- summarise: `hil.db.summary.summarise` from the kept entries (status, failed requirements, rows);
- insert: `ResultsDB.insert` of that summary into a fresh SQLite file (schema made beforehand).

Each step is the least of `--repeat` runs (the machine is shared: the least is the least disturbed).
It imports the `hil` of the interpreter that runs it, so another checkout's interpreter measures
that checkout's code (`/work/main/.venv/bin/python benchmarks/measure_steps.py`).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hil.db.store import ResultsDB, default_url
from hil.db.summary import summarise
from hil.measure import DecisionRule, within
from hil.record import Recorder

HEADER: dict[str, Any] = {
    "title": "measure_steps",
    "started": "2026-12-07T12:00:00+00:00",
    "spec": {"dut": "bench", "requirements": [{"id": "CV-OVP", "title": "over-voltage"}]},
    "station": {"name": "bench", "sha256": "0" * 64, "simulated": True, "instruments": {}},
}


def _cpu(step: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.process_time()
    result = step()
    return time.process_time() - t0, result


def one_run(folder: Path, n: int, db: ResultsDB) -> dict[str, float]:
    """CPU seconds of each step for one run of `n` measurements in `folder`."""
    rec = Recorder(folder / "record.jsonl", keep=True)
    rec.write("header", **HEADER)
    rule = DecisionRule()
    test = "test_cost.py::test_measurements"

    def record() -> None:
        for i in range(n):
            m = within("CV-OVP", f"m{i}", 1.0 + i * 1e-6, "V", 0.0, low=0.0, high=2.0)
            if not m.decision_rule:
                m = m.judged(rule)
            rec.measurement(m, test)

    times: dict[str, float] = {}
    times["record"], _ = _cpu(record)
    rec.write("test", test=test, outcome="passed", phase="call", requirements=["CV-OVP"])
    rec.write("end", status="completed", ended="2026-12-07T12:01:00+00:00")
    rec.close()
    times["written"], written = _cpu(rec.written)
    if written is None:
        raise SystemExit("written() gave None: the record was not kept")
    times["summarise"], summary = _cpu(lambda: summarise(folder, written))
    times["insert"], inserted = _cpu(lambda: db.insert(summary))
    if inserted != 1 or len(summary.measurements) != n:
        raise SystemExit(f"the run was not indexed whole ({inserted}, {len(summary.measurements)} rows)")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000, help="measurements per run (N)")
    parser.add_argument("--repeat", type=int, default=3, help="runs (the least of each step is taken)")
    parser.add_argument("--dir", help="work folder (default: a temporary folder on the real disk)")
    args = parser.parse_args()
    root = Path(args.dir) if args.dir else Path(__file__).resolve().parents[1] / "reports" / "bench-steps"
    root.mkdir(parents=True, exist_ok=True)
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        db = ResultsDB(default_url(Path(tmp)))
        try:
            for r in range(args.repeat):
                gc.collect()
                for step, seconds in one_run(Path(tmp) / f"run-{r}", args.count, db).items():
                    best[step] = min(best.get(step, seconds), seconds)
        finally:
            db.close()
    load = os.getloadavg()
    import hil

    print(
        f"CPU µs per measurement (least of {args.repeat}, N={args.count}, load {load[0]:.2f} {load[1]:.2f}, "
        f"hil from {Path(hil.__file__).parents[1]}):"
    )
    for step, seconds in best.items():
        print(f"  {step:10s} {seconds / args.count * 1e6:7.2f}")
    print(f"  {'total':10s} {sum(best.values()) / args.count * 1e6:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
