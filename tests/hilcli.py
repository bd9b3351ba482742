"""The `hil` command run as a user runs it, for the tests that check it from the outside."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _python_m(
    module: str, args: list[str], cwd: Path, timeout: float, env: Mapping[str, str] | None
) -> subprocess.CompletedProcess[str]:
    """`python -m MODULE ARGS` in `cwd` (in `env`, default this process's environment), stdin
    closed, output captured, never raising on exit codes."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )


def hil(
    *args: str, cwd: Path = ROOT, timeout: float = 60, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m hil ARGS` from the repository root, output captured, never raising on exit codes."""
    return _python_m("hil", list(args), cwd, timeout, env)


def own_plan(
    plan: Path, *args: str, timeout: float = 300, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """A user's own plan file run with plain pytest and the hil plugin (`python -m pytest PLAN
    ARGS`, rooted in its folder, no cache), output captured, never raising on exit codes."""
    pytest = [str(plan), f"--rootdir={plan.parent}", "-p", "no:cacheprovider", "-q", *args]
    return _python_m("pytest", pytest, plan.parent, timeout, env)


def settings_file(folder: Path, name: str, dut: str, change: dict[str, Any]) -> Path:
    """A configuration file made the documented way: `hil dut config DUT`, then `change` merged in."""
    result = hil("dut", "config", dut)
    result.check_returncode()
    text = result.stdout
    if change:
        data = yaml.safe_load(text)
        for key, value in change.items():
            if isinstance(value, dict):
                data[key].update(value)
            else:
                data[key] = value
        text = yaml.safe_dump(data, sort_keys=False)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Run:
    """One `hil run` started in the background, and what it left in its out folder."""

    out: Path
    future: Future[subprocess.CompletedProcess[str]]

    @property
    def code(self) -> int:
        return self.future.result().returncode

    @property
    def stdout(self) -> str:
        return self.future.result().stdout

    @property
    def output(self) -> str:
        result = self.future.result()
        return result.stdout + result.stderr

    def entries(self) -> list[dict[str, Any]]:
        self.future.result()
        lines = (self.out / "record.jsonl").read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines]

    def measurements(self) -> list[dict[str, Any]]:
        return [e for e in self.entries() if e["type"] == "measurement"]

    def failed_requirements(self) -> set[str]:
        return {m["requirement"] for m in self.measurements() if m["verdict"] not in ("pass", "info")}

    def junit(self) -> ET.Element:
        self.future.result()
        return ET.parse(self.out / "junit.xml").getroot()


def start_runs(pool: Executor, base: Path, plans: dict[str, list[str]], timeout: float) -> dict[str, Run]:
    """Start `hil run ARGS --out base/NAME` for each plan (the --out goes before any `--`)."""
    started: dict[str, Run] = {}
    for name, args in plans.items():
        out = base / name
        cut = args.index("--") if "--" in args else len(args)
        full = ["run", *args[:cut], "--out", str(out), *args[cut:]]
        started[name] = Run(out, pool.submit(partial(hil, *full, timeout=timeout)))
    return started
