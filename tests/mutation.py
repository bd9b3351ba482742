"""The mutation runner every DUT family shares (a mutant's files, the plan run against it, the IDs
it failed; tests/mutation_d1000.py, mutation_movicom.py and mutation_eol.py hold only their family's
mutants), and the non-conforming 12100 units generated from the default firmware settings.

Each mutant changes one thing: a threshold or a function limit (balancing start voltage and
temperature bans, the charge-mode charger voltage, the cycle threshold, lock counts) moved beyond
its tolerance both ways (a unit that acts too late and one that acts too early), a delay scaled
both ways, an on/off default flipped, or one twin behaviour flag broken (a release alternative, a
lock counter...). Each names the requirement ID the plan must fail on.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from hil.duts.bms12100.config import Behaviour, Settings
from hil.duts.bms12100.config_map import DELAY_PATHS, ENABLE_PATHS, FLAG_ROWS, THRESHOLDS
from hil.duts.bms12100.sim.twin import validate_settings
from hil.spec import Requirement, SpecFile

#: a threshold moves this many tolerances past the spec value
TOLERANCES = 3.0
#: floor for rows whose bench guard band exceeds 3 tolerances (the charger's low-current readback)
MIN_SHIFT: dict[str, float] = {}
DELAY_FACTOR = 3.0
#: function limits the spec states with a tolerance (row value ± tolerance), by requirement ID
FUNCTION_LIMITS: dict[str, str] = {
    "BAL-START": "balancing.start_mv",
    "BAL-END": "balancing.end_diff_mv",
    "BAL-HT": "balancing.high_temp_ban_c",
    "BAL-LT": "balancing.low_temp_ban_c",
    "CYC": "capacity.cycle_threshold_pct",
    "MODE-CHG": "fixed.charge_mode_min_charger_v",
}
#: counts the spec states exactly: moved by one both ways
COUNTS: dict[str, str] = {
    "ID-TLOCK": "transient_overcurrent_protection.lock_count",
    "SCP-LOCK": "short_circuit_protection.lock_count",
}


class UnitMutant(ABC):
    """What every family's mutant shares: a name, the requirement IDs the plan must fail it on, and
    the configuration it applies (`settings`), written as the twin's --firmware file."""

    name: str
    requirements: frozenset[str]
    #: the firmware file's name prefix (the 12100's EOL mutants: "eol-")
    FILE_PREFIX: ClassVar[str] = ""

    @property
    def requirement(self) -> str:
        return sorted(self.requirements)[0]

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """The configuration the unit applies."""

    def write(self, folder: Path) -> Path:
        """The applied configuration as the twin's --firmware file."""
        return write_yaml(folder / f"{self.FILE_PREFIX}{self.name}.yaml", self.settings())


class DeclaredMutant(UnitMutant):
    """A unit that applies one configuration while declaring another (the D1000's, the Movicom's):
    the twin runs `settings`, the plan checks `declared` (`--hil-dut-config`)."""

    dut: str

    @abstractmethod
    def declared(self) -> dict[str, Any]:
        """The configuration the unit claims."""

    def write_declared(self, folder: Path) -> Path:
        """The declared configuration as the plan's --hil-dut-config file."""
        return write_yaml(folder / f"{self.name}.declared.yaml", self.declared())

    def plan_args(self, folder: Path) -> list[str]:
        """The plan's options for this unit: its declared configuration (written into `folder`)."""
        return ["--hil-dut-config", str(self.write_declared(folder))]


Declared = TypeVar("Declared", bound=DeclaredMutant)


def valid_units(found: list[Declared], model: type[BaseModel], skipped: list[str]) -> list[Declared]:
    """The mutants whose applied and declared configurations the family's model accepts; each other
    one goes into `skipped` with the model's first complaint."""
    valid = []
    for m in found:
        try:
            model.model_validate(m.settings())
            model.model_validate(m.declared())
        except ValidationError as exc:
            skipped.append(f"{m.name}: not a valid configuration ({exc.errors()[0]['msg']})")
            continue
        valid.append(m)
    return valid


def write_yaml(file: Path, data: dict[str, Any]) -> Path:
    """A configuration dump as YAML, keys in model order."""
    file.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return file


def put(data: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted path (list items by index) in a configuration dump."""
    *parents, key = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(key)] = value
    else:
        node[key] = value


@dataclass(frozen=True)
class Mutant(UnitMutant):
    """One non-conforming 12100 unit: a settings path, its new value, the IDs the plan may name for it."""

    name: str
    requirements: frozenset[str]
    path: str
    value: Any

    def settings(self) -> dict[str, Any]:
        s = Settings()
        s.set(self.path, self.value)
        data: dict[str, Any] = s.model_dump(mode="json")
        return data


@dataclass(frozen=True)
class MutantRun:
    """The plan's answer to one mutant: exit code, the requirement IDs that failed, wall time."""

    mutant: UnitMutant
    exit_code: int
    failing: frozenset[str]
    wall_s: float
    #: judged results naming one of the mutant's IDs (a missed mutant's evidence: all accepted)
    judged: int = 0

    @property
    def caught(self) -> bool:
        """The run failed and named one of the mutant's requirement IDs."""
        return self.exit_code == 1 and bool(self.failing & self.mutant.requirements)


def _measurements(out: Path) -> list[dict[str, Any]]:
    record = out / "record.jsonl"
    if not record.exists():
        return []
    entries = (json.loads(line) for line in record.read_text(encoding="utf-8").splitlines())
    return [e for e in entries if e.get("type") == "measurement"]


def failing_ids(out: Path) -> frozenset[str]:
    """Requirement IDs with a failing (or conditional) measurement in a run's record."""
    accepted = ("pass", "info", "conditional-pass")
    return frozenset(
        str(e.get("requirement")) for e in _measurements(out) if e.get("verdict") not in accepted
    )


def broken_tests(out: Path) -> list[str]:
    """Tests of a run's record that neither passed nor were skipped, each with the first line of
    its message: why a run exited non-zero with no failing requirement (an error, not a verdict)."""
    record = out / "record.jsonl"
    if not record.exists():
        return ["no record"]
    found: list[str] = []
    for line in record.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line) if line.strip() else {}
        if entry.get("type") == "test" and entry.get("outcome") not in ("passed", "skipped"):
            message = str(entry.get("message") or "").strip().splitlines()
            found.append(f"{entry.get('test')} {entry.get('outcome')}: {message[0] if message else ''}")
    return found


def judged_count(out: Path, ids: frozenset[str]) -> int:
    """How many judged (not info) measurements of a run's record name one of `ids`."""
    return sum(1 for e in _measurements(out) if e.get("requirement") in ids and e.get("verdict") != "info")


#: how a mutant run selects the plan's tests; benchmarks/mutants.py prints it beside the score
FOCUS = "focus: only the tests of the mutant's IDs"
WHOLE_PLAN = "whole plan: every test of the profile"


def _plan_command(firmware: Path, profile: str, dut: str) -> list[str]:
    """`hil run` of the DUT family's `profile` with the twin configured by `firmware`."""
    cmd = [sys.executable, "-m", "hil", "run", "--dut", dut, "--firmware", str(firmware)]
    return [*cmd, "--profile", profile]


def focus_selection(mutant: UnitMutant) -> list[str]:
    """The plan options that select the tests marked with one of the mutant's requirement IDs.

    A test tracing to many rows (the EOL read-back names every row a parameter governs) is among
    them for each of its rows."""
    return [arg for rid in sorted(mutant.requirements) for arg in ("--hil-requirement", rid)]


def focus_tests(
    mutant: UnitMutant,
    folder: Path,
    root: Path,
    profile: str = "full",
    dut: str = "bms12100",
    plan_args: Sequence[str] = (),
) -> list[str]:
    """The tests a focused run of the mutant selects (`hil run --list`: collected, nothing run)."""
    cmd = [*_plan_command(mutant.write(folder), profile, dut), "--list", "--", *plan_args]
    listed = subprocess.run(
        [*cmd, *focus_selection(mutant)], cwd=root, capture_output=True, text=True, check=True
    ).stdout
    tests = [line.strip() for line in listed.splitlines() if line.startswith("  ")]
    return list(dict.fromkeys(tests))  # a test of two of the IDs is listed under each


def run_mutant(
    mutant: UnitMutant,
    folder: Path,
    root: Path,
    profile: str = "full",
    dut: str = "bms12100",
    plan_args: Sequence[str] = (),
    focus: bool = True,
) -> MutantRun:
    """Run the plan against the twin configured as that unit: the tests of the mutant's IDs
    (`focus`), or every test of the profile (to check that the focus loses no catch).

    `dut` is the family `hil run --dut` takes; `plan_args` go to the plan after `--` (the D1000's
    `--hil-dut-config declared.yaml`: the configuration the unit claims, which the plan checks).
    """
    firmware = mutant.write(folder)
    out = folder / f"out-{profile}-{'focus' if focus else 'whole'}-{mutant.name}"  # --profile both
    selection = focus_selection(mutant) if focus else []
    # the verdicts are read from the record: the reports would only cost time
    cmd = [*_plan_command(firmware, profile, dut), "--reports", "none", "--out", str(out)]
    start = time.monotonic()
    proc = subprocess.run(
        [*cmd, "--", *plan_args, *selection], cwd=root, capture_output=True, text=True, check=False
    )
    wall = time.monotonic() - start
    return MutantRun(mutant, proc.returncode, failing_ids(out), wall, judged_count(out, mutant.requirements))


def run_declared(
    mutant: DeclaredMutant, folder: Path, root: Path, profile: str = "full", focus: bool = True
) -> MutantRun:
    """`run_mutant` of a unit that declares another configuration than it applies: the twin applies
    the mutant, the plan checks the declared file."""
    return run_mutant(mutant, folder, root, profile, mutant.dut, mutant.plan_args(folder), focus)


def room_of(req: Requirement) -> float:
    """A threshold row's hysteresis |trip - release| (0 without a release value)."""
    return 0.0 if req.trip is None or req.release is None else abs(req.trip - req.release)


def _unsafe_sign(direction: str | None) -> float:
    return 1.0 if direction == "above" else -1.0


def mutants(spec: SpecFile) -> tuple[list[Mutant], list[str]]:
    """Every single-change mutant of the default settings, and the ones left out (with why)."""
    defaults = Settings()
    found: list[Mutant] = []
    skipped: list[str] = []
    for rid, (trip_path, release_path) in THRESHOLDS.items():
        req = spec.get(rid)
        if req.tolerance is None:
            continue
        shift = max(TOLERANCES * req.tolerance, MIN_SHIFT.get(rid, 0.0)) * _unsafe_sign(req.direction)
        found.append(Mutant(f"{rid}-trip", frozenset({rid}), trip_path, defaults.get(trip_path) + shift))
        # and the other way: a unit that trips too early (inside the limit), short of its release value
        hysteresis = room_of(req)  # none (CHG-HV): the release moves along with the trip
        early = min(abs(shift), 0.8 * hysteresis) if hysteresis else abs(shift)
        if early < 1.5 * req.tolerance:
            skipped.append(f"{rid}-trip-early: hysteresis {hysteresis:g} too small to move beyond tolerance")
        else:
            value = defaults.get(trip_path) - early * _unsafe_sign(req.direction)
            found.append(Mutant(f"{rid}-trip-early", frozenset({rid}), trip_path, value))
        if release_path and release_path != trip_path and req.release is not None and req.trip is not None:
            # a release that comes too early: moved towards the trip value, never past it
            room = abs(req.trip - req.release)
            step = min(abs(shift), 0.8 * room)
            late = defaults.get(release_path) - abs(shift) * _unsafe_sign(req.direction)
            found.append(Mutant(f"{rid}-release-late", frozenset({rid}), release_path, late))
            if step < 1.5 * req.tolerance:
                skipped.append(f"{rid}-release: hysteresis {room:g} too small to move beyond tolerance")
                continue
            value = defaults.get(release_path) + step * _unsafe_sign(req.direction)
            found.append(Mutant(f"{rid}-release", frozenset({rid}), release_path, value))
    for rid, path in FUNCTION_LIMITS.items():
        req = spec.get(rid)
        if req.tolerance is None:
            continue
        value = defaults.get(path)
        for way, sign in (("raised", 1.0), ("lowered", -1.0)):
            moved = type(value)(value + sign * TOLERANCES * req.tolerance)
            found.append(Mutant(f"{rid}-{way}", frozenset({rid}), path, moved))
    for rid, path in COUNTS.items():
        value = defaults.get(path)
        found += [
            Mutant(f"{rid}-{way}", frozenset({rid}), path, value + d)
            for way, d in (("more", 1), ("fewer", -1))
        ]
    for rid, path in DELAY_PATHS.items():
        value = defaults.get(path)
        found.append(Mutant(f"{rid}-delay", frozenset({rid}), path, type(value)(value * DELAY_FACTOR)))
        found.append(Mutant(f"{rid}-delay-short", frozenset({rid}), path, type(value)(value / DELAY_FACTOR)))
    for section, rid in (
        ("cell_overvoltage_protection", "CV-OVP"),
        ("cell_undervoltage_protection", "CV-UVP"),
        ("pack_overvoltage_protection", "PV-OVP"),
        ("pack_undervoltage_protection", "PV-UVP"),
    ):
        path = f"{section}.delay_ms"
        found.append(Mutant(f"{rid}-voltage-delay", frozenset({rid}), path, int(defaults.get(path) * 4)))
    by_path: dict[str, set[str]] = {}
    for rid, path in ENABLE_PATHS.items():
        by_path.setdefault(path, set()).add(rid)
    for path, rids in by_path.items():
        found.append(Mutant(f"{path}-flipped", frozenset(rids), path, not defaults.get(path)))
    flag_rows: dict[str, set[str]] = {}
    for req in spec.requirements:
        for alt in req.release_alternatives:
            if alt.behaviour_flag:
                flag_rows.setdefault(alt.behaviour_flag, set()).add(req.id)
    for flag in Behaviour.model_fields:
        named = frozenset(flag_rows.get(flag, ())) or FLAG_ROWS.get(flag, frozenset())
        if not named:
            skipped.append(f"flag-{flag}: no requirement row names it")
            continue
        found.append(Mutant(f"flag-{flag}", named, f"behaviour.{flag}", False))
    valid = []
    for m in _unique(found):
        problems = validate_settings(Settings.model_validate(m.settings()))
        if problems:
            skipped.append(f"{m.name}: not a valid unit ({problems[0]})")
        else:
            valid.append(m)
    return valid, skipped


def _unique(items: list[Mutant]) -> list[Mutant]:
    seen: set[tuple[str, str]] = set()
    out = []
    for m in items:
        key = (m.path, str(m.value))
        if key not in seen:
            seen.add(key)
            out.append(m)
    return out
