"""Wall time of the 12100 plan on the simulated lab, and the probe counts of its searches.

Prints, for `hil run --profile full` (virtual time): wall time (and the plan's share of it, the
rest being start-up and the reports), virtual time covered, their ratio;
for `hil run --profile eol` with the lab paced to real time (`--hil-pace`): wall time over the
sum of mandatory dwell times (the waits the spec forces on any bench); and for each
characterising search, its probe count against log2(range/resolution).

    .venv/bin/python benchmarks/full_plan.py [--skip-eol] [--skip-full]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run(out: Path, *args: str) -> tuple[int, float]:
    cmd = [sys.executable, "-m", "hil", "run", "--out", str(out), *args]
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    return proc.returncode, time.monotonic() - start


def entries(out: Path) -> list[dict[str, Any]]:
    with (out / "record.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def virtual_span(record: list[dict[str, Any]]) -> float:
    times = [float(e["time"]) for e in record if e.get("type") == "measurement" and e.get("time") is not None]
    return max(times) - min(times) if times else 0.0


def dwell(record: list[dict[str, Any]]) -> float | None:
    for e in record:
        if e.get("type") == "dwell":
            return float(e["seconds"])
    return None


def probe_counts(record: list[dict[str, Any]]) -> list[tuple[str, str, int, int]]:
    rows = []
    for e in record:
        if e.get("type") != "measurement":
            continue
        m = re.search(r"bisection, (\d+) probes \(bound (\d+)\)", str(e.get("method", "")))
        if m:
            rows.append((str(e["requirement"]), str(e["name"]), int(m.group(1)), int(m.group(2))))
    return rows


def plan_span(record: list[dict[str, Any]]) -> float | None:
    """Wall seconds from the record's header (before the first test) to its end entry (sealed)."""
    started = record[0].get("started") if record else None
    ended = record[-1].get("ended") if record and record[-1].get("type") == "end" else None
    if not isinstance(started, str) or not isinstance(ended, str):
        return None
    return (dt.datetime.fromisoformat(ended) - dt.datetime.fromisoformat(started)).total_seconds()


def not_passed(record: list[dict[str, Any]]) -> list[str]:
    """Tests of the run that did not pass, with the last line of their message."""
    found = []
    for e in record:
        if e.get("type") == "test" and e.get("outcome") not in ("passed", "skipped"):
            lines = str(e.get("message") or "").strip().splitlines()
            found.append(f"{e.get('test')} ({e.get('outcome')}): {lines[-1] if lines else ''}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-full", action="store_true")
    parser.add_argument("--skip-eol", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_full:
            out = Path(tmp) / "full"
            code, wall = run(out, "--profile", "full")
            record = entries(out)
            span = virtual_span(record)
            print(
                f"full profile: exit {code}, wall {wall:.1f} s, virtual time covered {span:.0f} s "
                f"({span / 3600:.1f} h), virtual/wall {span / wall:.0f}x"
            )
            plan = plan_span(record)
            if plan is not None:
                print(
                    f"  of the wall time: the plan (record opened to sealed) {plan:.1f} s; start-up, lab "
                    f"start and the reports (HTML, PDF/A-3, Allure, JUnit) {wall - plan:.1f} s"
                )
            for line in not_passed(record):
                print(f"  not passed: {line}")
            counts = probe_counts(record)
            for rid, name, n, bound in counts:
                print(f"  {rid:9s} {name:14s} probes {n:3d}  log2 bound {bound:3d}")
            if counts:
                over = sum(1 for _, _, n, b in counts if n > b)
                print(f"  searches: {len(counts)}, over the log2 bound: {over}")
        if not args.skip_eol:
            out = Path(tmp) / "eol"
            code, wall = run(out, "--profile", "eol", "--", "--hil-pace")
            record = entries(out)
            waited = dwell(record)
            ratio = f"{wall / waited:.2f}" if waited else "n/a"
            print(
                f"EOL profile paced to real time: exit {code}, wall {wall:.1f} s, "
                f"mandatory dwell {waited if waited is not None else float('nan'):.1f} s, wall/dwell {ratio}"
            )
            for line in not_passed(record):
                print(f"  not passed: {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
