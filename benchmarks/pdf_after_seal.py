"""The report worker's PDF work after the seal, on a sealed record, in this tree and another git ref.

For a run folder with a sealed record (e.g. of `hil run --profile full`), each tree's worker code
(hil.report.prefetch: `draw`, then `write_pdf`) is given every figure and every requirement's PDF
section made ahead except the LEFT requirements whose last entry came last in the record (the
threshold rows of the 12100 plan, whose release tests run at the end), as a run leaves them at the
seal; then report.pdf is written from the sealed record as after the seal, and its wall and CPU
seconds (the process and every process it waited for) are printed with the machine's load.

    .venv/bin/python benchmarks/pdf_after_seal.py RUN_DIR [--left 30] [--against main] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from gitref import add_arguments, trees

#: run in each tree (cwd), so it imports that tree's hil: prints "wall cpu pages"
PROBE = """
import resource, sys, time
from pathlib import Path
from pypdf import PdfReader
from hil.report.model import load_run
from hil.report.prefetch import draw, write_pdf

folder, left = Path(sys.argv[1]), int(sys.argv[2])
run = load_run(folder)
rows = [r for r in run.requirement_rows() if r.measurements or r.tests]
tested = [r.id for r in rows]
last = {}
for n, e in enumerate(run.entries):
    rid = e.get("requirement")
    for r in ([rid] if rid else e.get("requirements") or []):
        last[str(r)] = n
finished = sorted(tested, key=lambda rid: last.get(rid, -1))
ahead, late = finished[: len(finished) - left], finished[len(finished) - left :]
drawn, parts = {}, {}
draw(folder, ahead, drawn, tested, parts)
draw(folder, late, drawn)
def cpu():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime
c0, w0 = cpu(), time.perf_counter()
write_pdf(folder, drawn, parts)
print(f"{time.perf_counter() - w0:.2f} {cpu() - c0:.2f} {len(PdfReader(folder / 'report.pdf').pages)}")
"""


def measure(tree: Path, run_dir: Path, left: int, scratch: Path) -> tuple[float, float, int]:
    """Wall and CPU seconds of `tree`'s post-seal PDF work on a copy of `run_dir`, and its pages."""
    copy = scratch / "run"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(run_dir, copy)
    (copy / "report.pdf").unlink(missing_ok=True)
    cmd = [sys.executable, "-c", PROBE, str(copy), str(left)]
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(tree)}
    out = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, check=True, env=env).stdout
    wall, cpu, pages = out.split()[-3:]
    return float(wall), float(cpu), int(pages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--left", type=int, default=30, help="requirements finished last, not made ahead")
    add_arguments(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, trees(args.against, Path(tmp)) as checkouts:
        for i in range(args.repeat):
            for name, tree in checkouts:
                wall, cpu, pages = measure(tree, args.run_dir.resolve(), args.left, Path(tmp))
                load = " ".join(f"{x:.1f}" for x in os.getloadavg())
                print(
                    f"{name:>10s} run {i + 1}: {args.left} left, wall {wall:.1f} s, CPU {cpu:.1f} s, "
                    f"{pages} pages, load {load}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
