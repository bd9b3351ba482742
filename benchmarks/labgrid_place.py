"""What holding a labgrid place costs a run: acquire and release through a real coordinator.

Starts `labgrid-coordinator` (127.0.0.1, an ephemeral port, a temporary folder) and
`labgrid-exporter` with one group of hil resources (six raw-socket instruments, a socketcand CAN
port, a network serial port; nothing has to answer on them), creates a place matching the group
with `labgrid-client`, then times `hil.labgrid.place.acquired_place` N times: entering (session,
acquire, resources made by labgrid's target factory) and leaving (a new session, release).
Prints the median and the worst of each. Everything started is stopped again.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

BIN = Path(sys.executable).parent
GROUP = "bench-group"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="acquire/release cycles (default 20)")
    args = parser.parse_args()

    from hil.labgrid.place import acquired_place

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        group: dict[str, object] = {f"inst{i}": {"cls": "ScpiSocketInstrument", "host": "127.0.0.1",
                                                 "port": 5025 + i} for i in range(6)}  # fmt: skip
        group["can"] = {"cls": "SocketcandCanPort", "host": "127.0.0.1", "port": 29536, "channel": "can0"}
        group["rs485"] = {"cls": "NetworkSerialPort", "host": "127.0.0.1", "port": 7001, "protocol": "raw"}
        config = folder / "exporter.yaml"
        config.write_text(yaml.safe_dump({GROUP: group}), encoding="utf-8")
        procs: list[subprocess.Popen[str]] = []
        try:
            coordinator = subprocess.Popen(
                [str(BIN / "labgrid-coordinator"), "--listen", "127.0.0.1:0"],
                cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            )  # fmt: skip
            procs.append(coordinator)
            assert coordinator.stdout is not None
            port = next(
                m[1] for line in coordinator.stdout if (m := re.search(r"listening on .*:(\d+)", line))
            )
            address = f"127.0.0.1:{port}"
            procs.append(
                subprocess.Popen(
                    [str(BIN / "labgrid-exporter"), "-c", address, "-n", "bench", str(config)],
                    cwd=folder,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    text=True,
                )
            )

            def client(*more: str) -> str:
                done = subprocess.run([str(BIN / "labgrid-client"), "-x", address, *more],
                                      capture_output=True, text=True, check=False)  # fmt: skip
                return done.stdout

            while f"benchmarks/{GROUP}/NetworkSerialPort" not in client("resources"):
                time.sleep(0.5)
            client("-p", "timing", "create")
            client("-p", "timing", "add-match", f"*/{GROUP}/*")
            enter, leave = [], []
            for _ in range(args.n):
                t0 = time.perf_counter()
                with acquired_place("timing", address) as place:
                    t1 = time.perf_counter()
                    assert len(place.resources) == len(group)
                t2 = time.perf_counter()
                enter.append(t1 - t0)
                leave.append(t2 - t1)
        finally:
            for proc in reversed(procs):
                proc.terminate()
                proc.wait(10)
    print(f"labgrid place, {args.n} cycles, {len(group)} resources, coordinator on loopback")
    print(f"acquire (session + acquire + resources): median {statistics.median(enter):.3f} s, "
          f"max {max(enter):.3f} s")  # fmt: skip
    print(f"release (session + release):             median {statistics.median(leave):.3f} s, "
          f"max {max(leave):.3f} s")  # fmt: skip


if __name__ == "__main__":
    main()
