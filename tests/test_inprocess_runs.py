"""Plans run again and again in one process (hil line, benchmarks/soak.py) do not keep each run:
the objects the record plugin freezes out of the garbage collector for a run are unfrozen at its end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PLAN = """
import pytest

from hil.measure import info


@pytest.mark.requirement("PV-OVP")
def test_value(check):
    check(info("PV-OVP", "value", 14.5, "V", 1.0))
"""

#: three runs of the plan in one interpreter; after each, how many objects stay frozen, and at the
#: end, which runs' pytest configurations are still alive
DRIVER = """
import gc, json, sys, weakref
import pytest

plan, out = sys.argv[1], sys.argv[2]
configs, frozen = [], []


class Keep:
    def pytest_configure(self, config):
        configs.append(weakref.ref(config))


for run in range(3):
    code = pytest.main(
        [plan, f"--hil-out={out}/run{run}", "--hil-reports=none", "-p", "no:cacheprovider", "-q"],
        plugins=[Keep()],
    )
    assert int(code) == 0, code
    frozen.append(gc.get_freeze_count())
gc.collect()
print(json.dumps({"frozen": frozen, "alive": [ref() is not None for ref in configs]}))
"""


def test_repeated_runs_in_one_process_leave_nothing_frozen_and_free_each_session(tmp_path: Path) -> None:
    plan = tmp_path / "plan" / "test_plan.py"
    plan.parent.mkdir()
    plan.write_text(PLAN)
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, str(plan), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=plan.parent,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["frozen"] == [0, 0, 0]
    # the first run's configuration may stay (import-time caches); no later run's may
    assert found["alive"][1:] == [False, False]
    assert all((tmp_path / "out" / f"run{n}" / "record.jsonl").is_file() for n in range(3))


#: a plan whose test asks whether the session fixture its set-up built is still walked by the collector
FROZEN_PLAN = """
import gc

import pytest

from hil.measure import info


@pytest.fixture(scope="session")
def lab():
    return {"instruments": [[] for _ in range(3)]}  # containers: tracked by the collector


@pytest.mark.requirement("PV-OVP")
def test_value(lab, check):
    walked = {id(o) for o in gc.get_objects()}  # what a full collection would walk now
    seen = [id(o) in walked for o in (lab, *lab["instruments"])]
    check(info("PV-OVP", "walked", float(any(seen)), "", 0))
"""


def test_what_the_first_tests_set_up_built_is_out_of_the_collectors_walk(tmp_path: Path) -> None:
    """The session's fixtures (station, instruments, CAN capture) live as long as the run: frozen
    before the first test's body, so a full collection during a long capture does not walk them."""
    plan = tmp_path / "plan" / "test_plan.py"
    plan.parent.mkdir()
    plan.write_text(FROZEN_PLAN)
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(plan),
            f"--hil-out={out}",
            "--hil-reports=none",
            "-p",
            "no:cacheprovider",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=plan.parent,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    entries = [json.loads(line) for line in (out / "record.jsonl").read_text().splitlines()]
    values = [e["value"] for e in entries if e.get("name") == "walked"]
    assert values == [0.0]
