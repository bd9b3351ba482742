"""CPU per report figure of each kind, in this tree and another git ref, and whether the PNGs are equal.

For a run folder with a sealed record (e.g. of `hil run --profile full --reports none`), each
tree's report code draws every requirement's figures as `hil.report.figures` chooses them
(stimulus and response, go/no-go levels, the timeline, results against time), REPEAT times in one
process after one figure drawn to warm up; printed per kind: figures, median and total CPU per
pass, and PNG bytes, then a digest of all the PNGs (equal digests: the same bytes), with the
machine's load. Trees alternate with `--against`.

    .venv/bin/python benchmarks/figure_cpu.py RUN_DIR [--passes 3] [--against main] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from gitref import add_arguments, trees

#: run in each tree (cwd, PYTHONPATH), so it imports that tree's hil: prints one JSON line
PROBE = """
import gc, hashlib, json, sys, time
from pathlib import Path
from hil.gcpause import collection_paused
from hil.report import plots
from hil.report.model import load_run
from hil.report.timeline import timeline

folder, passes = Path(sys.argv[1]), int(sys.argv[2])
rows = [r for r in load_run(folder).requirement_rows() if r.measurements]
kinds = {
    "stimulus_response": lambda r: plots.stimulus_response(r.id, r.measurements, r.spec),
    "go_no_go": lambda r: plots.go_no_go(r.id, r.measurements, r.spec),
    "timeline": lambda r: timeline(r.id, r.measurements),
    "results_over_time": lambda r: plots.results_over_time(r.id, r.measurements),
}
def figures(r):  # as hil.report.figures._drawn: the later kinds only when the earlier gave none
    drawn = [k for k in ("stimulus_response", "go_no_go") if kinds[k](r) is not None]
    for k in ("timeline", "results_over_time"):
        if not drawn and kinds[k](r) is not None:
            drawn.append(k)
    return drawn
chosen = [(r, k) for r in rows for k in figures(r)]
cpu, size, digest = {k: [] for k in kinds}, {k: 0 for k in kinds}, hashlib.sha256()
for n in range(passes):
    for r, kind in chosen:
        plots._DRAWN.clear()  # the per-process cache of drawn figures: every pass draws again
        with collection_paused():  # as hil.report.figures draws them
            start = time.process_time()
            png = kinds[kind](r)
            cpu[kind].append(time.process_time() - start)
        gc.collect()
        if n == 0:
            size[kind] += len(png)
            digest.update(png)
print(json.dumps({"cpu": cpu, "size": size, "digest": digest.hexdigest()[:16]}))
"""


def measure(tree: Path, run_dir: Path, passes: int) -> dict[str, object]:
    """Per kind: CPU seconds of every figure drawn, PNG bytes of one pass; the PNGs' digest."""
    cmd = [sys.executable, "-c", PROBE, str(run_dir), str(passes)]
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(tree)}
    out = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, check=True, env=env).stdout
    result: dict[str, object] = json.loads(out.splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--passes", type=int, default=3, help="times every figure is drawn per process")
    add_arguments(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, trees(args.against, Path(tmp)) as checkouts:
        for i in range(args.repeat):
            for name, tree in checkouts:
                result = measure(tree, args.run_dir.resolve(), args.passes)
                cpu: dict[str, list[float]] = result["cpu"]  # type: ignore[assignment]
                size: dict[str, int] = result["size"]  # type: ignore[assignment]
                load = " ".join(f"{x:.1f}" for x in os.getloadavg())
                kinds = "; ".join(
                    f"{kind} {len(times) // args.passes} x {statistics.median(times) * 1000:.1f} ms "
                    f"({sum(times) / args.passes:.2f} s, {size[kind] / 1e3:.0f} kB)"
                    for kind, times in cpu.items()
                    if times
                )
                total = sum(sum(times) for times in cpu.values()) / args.passes
                print(
                    f"{name:>10s} run {i + 1}: {kinds}; all {total:.2f} s per pass; "
                    f"PNGs {result['digest']}; load {load}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
