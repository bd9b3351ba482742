"""Wall time of the 12100 plan on the simulated lab, and the probe counts of its searches.

Prints, for `hil run --profile full` (virtual time): wall time (and the plan's share of it, the
rest being start-up and the reports), when each report was on disk after the seal, what the
prefetch worker had made by then (its timeline, HIL_PREFETCH_LOG), virtual time covered;
for `hil run --profile eol` with the lab paced to real time (`--hil-pace`): wall time over the
sum of mandatory dwell times (the waits the spec forces on any bench); and for each
characterising search, its probe count against log2(range/resolution).

    .venv/bin/python benchmarks/full_plan.py [--skip-eol] [--skip-full]
    .venv/bin/python benchmarks/full_plan.py --skip-eol --skip-full --against main --repeat 3 --reports none

With `--against`, each run's CPU is also split by process: the lab and the test process, each as
read by itself at its exit (a `sitecustomize` in a temporary folder on the runs' PYTHONPATH).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run(out: Path, *args: str, tree: Path = ROOT) -> tuple[int, float]:
    code, wall, _ = timed(out, *args, tree=tree)
    return code, wall


#: the prefetch worker's timeline (hil.report.prefetch.LOG_ENV), kept next to the run folder
WORKER_LOG = "prefetch-worker.log"


#: env: where each process of a run appends its role and CPU seconds at exit (`_CPU_HOOK`)
CPU_LOG_ENV = "HIL_BENCH_CPU_LOG"
#: a sitecustomize that makes each Python process of a run report its own CPU (user + system)
_CPU_HOOK = f"""import atexit, os, resource, sys

def _report() -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    role = "lab" if "serve" in sys.orig_argv and "sim" in sys.orig_argv else "test process"
    if "run" in sys.orig_argv or role == "lab":
        with open(os.environ["{CPU_LOG_ENV}"], "a", encoding="utf-8") as fh:
            fh.write(f"{{role}}\\t{{usage.ru_utime + usage.ru_stime:.3f}}\\n")

if os.environ.get("{CPU_LOG_ENV}"):
    atexit.register(_report)
"""


def timed(out: Path, *args: str, tree: Path = ROOT, per_process: bool = False) -> tuple[int, float, float]:
    """`hil run` from `tree`: exit code, wall seconds, CPU seconds of it and all it waited for;
    `per_process`: each process's own CPU also goes to `cpu_by_process(out)`."""
    cmd = [sys.executable, "-m", "hil", "run", "--out", str(out), *args]
    env = {**os.environ, "HIL_PREFETCH_LOG": str(out.parent / f"{out.name}-{WORKER_LOG}")}
    if per_process:
        hook = out.parent / "cpu-hook"
        hook.mkdir(parents=True, exist_ok=True)
        (hook / "sitecustomize.py").write_text(_CPU_HOOK, encoding="utf-8")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(hook), env.get("PYTHONPATH", "")) if p)
        env[CPU_LOG_ENV] = str(_cpu_log(out))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, check=False, env=env)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc.returncode, wall, cpu


def _cpu_log(out: Path) -> Path:
    return out.parent / f"{out.name}-cpu.tsv"


def cpu_by_process(out: Path) -> dict[str, float]:
    """CPU seconds per process role of the run in `out` (lab, test process), as each read it at exit."""
    found: dict[str, float] = {}
    log = _cpu_log(out)
    for line in log.read_text(encoding="utf-8").splitlines() if log.exists() else []:
        role, seconds = line.split("\t")
        found[role] = found.get(role, 0.0) + float(seconds)
    return found


def verdicts(record: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """Every measurement's (requirement, name, verdict) and every test's outcome, in record order."""
    out = []
    for e in record:
        if e.get("type") == "measurement":
            out.append((str(e.get("requirement")), str(e.get("name")), str(e.get("verdict"))))
        elif e.get("type") == "test":
            out.append(("test", str(e.get("test")), str(e.get("outcome"))))
    return out


def load() -> str:
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def side_by_side(ref: str, repeat: int, tmp: Path, extra: tuple[str, ...] = ()) -> None:
    """The full profile from REF and from this tree, alternating; their figures and verdicts
    (`extra`: more `hil run` options, e.g. `--reports none`)."""
    tree = tmp / "ref"
    add = ["git", "worktree", "add", "--detach", str(tree), ref]
    subprocess.run(add, cwd=ROOT, check=True, capture_output=True)
    try:
        records: dict[str, list[tuple[str, str, str]]] = {}
        for i in range(repeat):
            for name, where in ((ref, tree), ("this tree", ROOT)):
                out = tmp / f"{name.replace(' ', '-')}-{i}"
                before = load()
                code, wall, cpu = timed(out, "--profile", "full", *extra, tree=where, per_process=True)
                record = entries(out)
                plan = plan_span(record)
                rest = f"{wall - plan:.1f}" if plan is not None else "?"
                split = ", ".join(f"{role} {sec:.2f} s" for role, sec in sorted(cpu_by_process(out).items()))
                print(
                    f"{name:>10s} run {i + 1}: exit {code}, wall {wall:.1f} s "
                    f"(plan {plan or float('nan'):.1f} s, start-up and reports {rest} s), "
                    f"CPU {cpu:.1f} s ({split}), {before} before",
                    flush=True,
                )
                print(after_seal(out, record), flush=True)
                records.setdefault(name, verdicts(record))
                if records[name] != verdicts(record):
                    print(f"  {name}: verdicts differ between its own runs")
        same = records[ref] == records["this tree"]
        word = "the same" if same else "DIFFERENT"
        print(f"verdicts of {ref} and this tree: {word} ({len(records[ref])} rows)")
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)


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


def after_seal(out: Path, record: list[dict[str, Any]]) -> str:
    """When each report was on disk, in seconds after the seal; what the prefetch worker had done by
    the seal and what it did after (its CPU seconds), from its timeline if it wrote one."""
    ended = record[-1].get("ended") if record and record[-1].get("type") == "end" else None
    if not isinstance(ended, str):
        return "  (no end entry)"
    sealed = dt.datetime.fromisoformat(ended).timestamp()
    files = ("report.html", "allure-results", "junit.xml", "report.pdf")
    on_disk = [name for name in files if (out / name).exists()]
    done = [f"{name} +{(out / name).stat().st_mtime - sealed:.1f} s" for name in on_disk]
    lines = ["  after the seal: " + ", ".join(done)]
    log = out.parent / f"{out.name}-{WORKER_LOG}"
    if log.exists():
        events = [line.split(" ", 2) for line in log.read_text(encoding="utf-8").splitlines()]
        before = [(float(c), e) for t, c, e in events if float(t) <= sealed]
        cpu_at_seal = before[-1][0] if before else 0.0
        cpu_end = float(events[-1][1]) if events else 0.0
        laid = sum(1 for _, e in before if e.startswith(("section laid out", "section written")))
        ahead = sum(len(e.split(":", 1)[1].split()) for _, e in before if e.startswith("figures drawn ahead"))
        pending = [e for _, _, e in events if e.startswith("sealed:")]
        lines.append(
            f"  prefetch worker: by the seal {cpu_at_seal:.1f} s CPU, {laid} sections made, "
            f"{ahead} requirements' figures drawn ahead; at its end of input "
            f"{pending[0].removeprefix('sealed: ') if pending else '?'}; after the seal "
            f"{cpu_end - cpu_at_seal:.1f} s CPU"
        )
    return "\n".join(lines)


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
    parser.add_argument("--against", metavar="REF", help="also run the full profile from this git ref")
    parser.add_argument("--repeat", type=int, default=1, help="--against: runs of each, alternating")
    parser.add_argument(
        "--reports", metavar="FORMATS", help="--against: the runs' `hil run --reports` (none: the plan only)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.against:
            extra = ("--reports", args.reports) if args.reports else ()
            side_by_side(args.against, args.repeat, Path(tmp), extra)
        if not args.skip_full:
            out = Path(tmp) / "full"
            code, wall, cpu = timed(out, "--profile", "full")
            record = entries(out)
            span = virtual_span(record)
            print(
                f"full profile: exit {code}, wall {wall:.1f} s, CPU {cpu:.1f} s, virtual time covered "
                f"{span:.0f} s ({span / 3600:.1f} h), virtual/wall {span / wall:.0f}x, {load()}"
            )
            plan = plan_span(record)
            if plan is not None:
                print(
                    f"  of the wall time: the plan (record opened to sealed) {plan:.1f} s; start-up, lab "
                    f"start and the reports (HTML, PDF/A-3, Allure, JUnit) {wall - plan:.1f} s"
                )
            print(after_seal(out, record))
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
