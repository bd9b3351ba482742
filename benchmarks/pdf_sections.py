"""CPU of each requirement's PDF section laid out and written, in this tree and another git ref.

For a run folder with a sealed record (e.g. of `hil run --profile full --reports none`), each
tree's report code draws the figures and makes the sections' HTML, then lays out and writes every
section one after the other in one process (as the report worker does during the run); printed:
CPU seconds per section laid out, written, and spent in the cyclic garbage collector, with the
machine's load. Trees alternate with `--against`.

    .venv/bin/python benchmarks/pdf_sections.py RUN_DIR [--against main] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from gitref import add_arguments, trees

#: run in each tree (cwd, PYTHONPATH), so it imports that tree's hil: prints "sections layout write gc bytes"
PROBE = """
import gc, sys, time
from pathlib import Path
from hil.report import document, pdfparts
from hil.report.model import load_run

folder = Path(sys.argv[1])
context = document.build_context(load_run(folder), None, {})
parts, _ = document.pdf_parts(context)
sections = parts[3:-1]  # the front's three parts first, the tail last
style = document.pdf_style()
laid = [0.0]
real = pdfparts.lay_out
def lay_out(*args, **kwargs):
    t = time.process_time()
    try:
        return real(*args, **kwargs)
    finally:
        laid[0] += time.process_time() - t
pdfparts.lay_out = lay_out
collecting = [0.0, 0.0]
def collector(phase, info):
    if phase == "start":
        collecting[1] = time.process_time()
    else:
        collecting[0] += time.process_time() - collecting[1]
pdfparts.write_part(sections[0], str(folder), style)  # the stylesheet and fonts, once per process
laid[0] = 0.0
gc.callbacks.append(collector)
size, start = 0, time.process_time()
for html in sections:
    size += len(pdfparts.write_part(html, str(folder), style).pdf)
total = time.process_time() - start
print(len(sections), laid[0], total - laid[0], collecting[0], size)
"""


def measure(tree: Path, run_dir: Path) -> tuple[int, float, float, float, int]:
    """Sections, their layout, write and collector CPU seconds, and their PDF bytes, in `tree`."""
    cmd = [sys.executable, "-c", PROBE, str(run_dir)]
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(tree)}
    out = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, check=True, env=env).stdout
    n, laid, written, collected, size = out.split()[-5:]
    return int(n), float(laid), float(written), float(collected), int(size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    add_arguments(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, trees(args.against, Path(tmp)) as checkouts:
        for i in range(args.repeat):
            for name, tree in checkouts:
                n, laid, written, collected, size = measure(tree, args.run_dir.resolve())
                load = " ".join(f"{x:.1f}" for x in os.getloadavg())
                print(
                    f"{name:>10s} run {i + 1}: {n} sections, CPU per section: laid out "
                    f"{laid / n * 1000:.0f} ms, written {written / n * 1000:.0f} ms "
                    f"(in the collector {collected / n * 1000:.0f} ms of both); "
                    f"{size / 1e6:.2f} MB; load {load}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
