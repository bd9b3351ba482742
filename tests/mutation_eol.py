"""The 12100's EOL mutants: every per-unit hardware fault and every single-parameter change.

The EOL profile must fail each with the right requirement ID: a hardware fault (settings section
`hardware`, SIM-ONLY) on the `unit` row whose test sees that hardware, a parameter changed by one
wire step on a row the parameter governs (the read-back names it). Behaviour flags and `fixed`
values are not generated here: they are a different firmware image, which the protocol (our
reading) cannot show without an image checksum; the full profile's mutants cover them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from mutation import UnitMutant

from hil.duts.bms12100.config import PARAMETERS, Settings, from_wire, to_wire
from hil.duts.bms12100.sim.twin import validate_settings
from hil.eol import governed_rows
from hil.spec import SpecFile

#: one fault of each kind the issue names, the rows whose EOL test must see it, and its settings
HARDWARE_FAULTS: dict[str, tuple[frozenset[str], dict[str, Any]]] = {
    "cell2-offset": (frozenset({"ACC-CV"}), {"cell_channel": 2, "cell_offset_mv": 40.0}),
    "cell3-gain": (frozenset({"ACC-CV"}), {"cell_channel": 3, "cell_gain": 0.02}),
    "current-gain": (frozenset({"ACC-I"}), {"current_gain": 0.05}),
    "current-offset": (frozenset({"ACC-I"}), {"current_offset_a": 0.5}),
    "path-resistance": (frozenset({"EL-RDS"}), {"path_extra_mohm": 2.0}),
    "charge-fet-stuck-on": (frozenset({"CV-OVP"}), {"charge_fet_stuck_on": True}),
    "discharge-fet-stuck-on": (frozenset({"CV-UVP", "SCP"}), {"discharge_fet_stuck_on": True}),
    "short-circuit-comparator": (frozenset({"SCP"}), {"short_circuit_level_a": -1200.0}),
    "sleep-current": (frozenset({"PM-SLEEP-I"}), {"sleep_current_ua": 50.0}),
    "bleed-open-cell1": (frozenset({"BAL-CHG"}), {"open_bleed_cell": 1}),
    "bleed-open-cell2": (frozenset({"BAL-CHG"}), {"open_bleed_cell": 2}),
    "bleed-open-cell3": (frozenset({"BAL-CHG"}), {"open_bleed_cell": 3}),
    "bleed-open-cell4": (frozenset({"BAL-CHG"}), {"open_bleed_cell": 4}),
    "ntc-ambient-offset": (frozenset({"ACC-T"}), {"ntc_channel": 3, "ntc_offset_c": 4.0}),
}


@dataclass(frozen=True)
class EolMutant(UnitMutant):
    """One unit: changes to the default settings (dotted paths) and the IDs EOL must fail it on."""

    name: str
    requirements: frozenset[str]
    changes: tuple[tuple[str, Any], ...]
    kind: str  # "hardware" or "parameter"
    FILE_PREFIX: ClassVar[str] = "eol-"

    def settings(self) -> dict[str, Any]:
        s = Settings()
        for path, value in self.changes:
            s.set(path, value)
        data: dict[str, Any] = s.model_dump(mode="json")
        return data


def hardware_mutants() -> list[EolMutant]:
    return [
        EolMutant(f"hw-{name}", rows, tuple((f"hardware.{k}", v) for k, v in changes.items()), "hardware")
        for name, (rows, changes) in HARDWARE_FAULTS.items()
    ]


def parameter_mutants(spec: SpecFile) -> tuple[list[EolMutant], list[str]]:
    """Each parameter moved one wire step (a flag flipped); invalid sets are listed as left out."""
    defaults = Settings()
    found: list[EolMutant] = []
    skipped: list[str] = []
    for param in PARAMETERS:
        value = defaults.get(param.path)
        # a value the firmware does not use (None, sent as 0) gets one: the read-back must see it
        changed = not value if isinstance(value, bool) else from_wire(param, to_wire(defaults, param) + 1)
        mutant = EolMutant(
            f"param-{param.path}",
            frozenset(governed_rows(spec, param.path)),
            ((param.path, changed),),
            "parameter",
        )
        problems = validate_settings(Settings.model_validate(mutant.settings()))
        if problems:
            # one step up is refused: try one step down
            if isinstance(value, bool):
                skipped.append(f"{mutant.name}: not a valid unit ({problems[0]})")
                continue
            changed = from_wire(param, to_wire(defaults, param) - 1)
            mutant = EolMutant(mutant.name, mutant.requirements, ((param.path, changed),), "parameter")
            problems = validate_settings(Settings.model_validate(mutant.settings()))
            if problems:
                skipped.append(f"{mutant.name}: not a valid unit either way ({problems[0]})")
                continue
        found.append(mutant)
    return found, skipped


def eol_mutants(spec: SpecFile) -> tuple[list[EolMutant], list[str]]:
    """Every EOL mutant of the 12100, and the ones left out (with why)."""
    params, skipped = parameter_mutants(spec)
    return hardware_mutants() + params, skipped
