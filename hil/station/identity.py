"""What the `station` record entry says about the bench beyond *IDN?: findings for page 1 of the report.

- instrument identity mismatches: the station file's serial or model against the *IDN? answer;
- the environment as the station's ambient sensor read it (a climatic chamber's readback);
- the noise seed a simulated lab actually uses (from its endpoints line).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from hil.errors import HilError
from hil.instruments.roles import ClimaticChamber

if TYPE_CHECKING:
    from hil.station.station import Station


def idn_mismatches(instruments: dict[str, dict[str, Any]]) -> list[str]:
    """One sentence per instrument whose *IDN? answer names another serial or model than the station file."""
    found = []
    for name, info in instruments.items():
        idn = str(info.get("idn", ""))
        fields = [f.strip() for f in idn.split(",")]
        declared_serial = str(info.get("serial", "") or "")
        idn_serial = str(info.get("idn_serial", "") or "")
        if declared_serial and idn_serial and idn_serial != declared_serial:
            found.append(
                f"{name}: the station file gives serial {declared_serial}, the instrument answers "
                f"*IDN? with serial {idn_serial}"
            )
        idn_model = fields[1] if len(fields) > 1 else ""
        declared_model = str(info.get("model", "") or "")
        if idn_model and declared_model and not _same_model(declared_model, idn_model):
            found.append(
                f"{name}: the station file gives model {declared_model!r}, the instrument answers "
                f"*IDN? with model {idn_model!r}"
            )
    return found


def _same_model(declared: str, answered: str) -> bool:
    """'Keysight N8920A' declared, 'N8920A' answered; 'IET Labs PRS-202' declared, 'PRS-202-A-7-100m'
    answered (the model with its option codes): the same model."""
    a = answered.upper().replace(" ", "")
    if a and a in declared.upper().replace(" ", ""):
        return True
    tokens = [t.upper() for t in declared.split() if len(t) >= 4 and any(c.isdigit() for c in t)]
    return any(a.startswith(t) for t in tokens)


def ambient_reading(station: Station) -> dict[str, Any] | None:
    """The environment as the station's climatic chamber reads it, or None (no chamber, no answer)."""
    try:
        name, _ = station.model.by_role("climatic_chamber")
    except KeyError:
        return None
    with contextlib.suppress(HilError, OSError):
        reading = station.named(name, ClimaticChamber).monitor()
        env: dict[str, Any] = {
            "source": f"readback of the climatic chamber {name!r} at the start of the run "
            f"(mode {reading.mode})",
            "temperature_c": reading.temperature,
        }
        if reading.humidity is not None:
            env["humidity_pct"] = reading.humidity
        return env
    return None


def bench_identity(station: Station, instruments: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Extra fields of the `station` entry: identity findings, the measured environment, the lab's seed."""
    fields: dict[str, Any] = {"identity_findings": idn_mismatches(instruments)}
    env = ambient_reading(station)
    if env is not None:
        fields["environment"] = env
    if station.sim is not None and isinstance(station.sim.endpoints.get("seed"), int):
        fields["sim_seed"] = station.sim.endpoints["seed"]
    return fields
