"""Texts of the report that the template would otherwise glue from pieces (and get wrong).

- `spec_line`: a requirement's section, set points and tolerance as one line, joined only from the
  parts the spec row has (never "; ," or "None");
- `lab_lines`, `page_one_findings`, `deviations`: the identity and findings of page 1
  (ISO/IEC 17025 §7.8.2.1; docs/iso17025-checklist.md says where each item is).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hil import registry
from hil.errors import UsageError
from hil.identity import DEFAULT_SERIAL_PATTERN, describe_environment, serial_problem
from hil.report.model import format_value

if TYPE_CHECKING:
    from hil.report.model import RunReport

#: run arguments page 1 states in their own rows (profile, decision rule)
_STATED_ELSEWHERE = ("--hil-profile", "--hil-decision-rule")
NO_SAMPLING = "the item as received; no sampling by the laboratory"


def _unit(spec: dict[str, Any]) -> str:
    unit = spec.get("unit")
    return f" {unit}" if unit else ""


def spec_line(spec: dict[str, Any]) -> str:
    """`Section 4.2; trip 3650 mV, release 3400 mV, tolerance ±20 mV (source)` from what the row has."""
    unit = _unit(spec)
    values = []
    for key in ("trip", "release", "value"):
        if spec.get(key) is not None:
            values.append(f"{key} {format_value(spec[key])}{unit}")
    if spec.get("tolerance") is not None:
        tolerance = f"tolerance ±{format_value(spec['tolerance'])}{unit}"
        if spec.get("tolerance_source"):
            tolerance += f" ({spec['tolerance_source']})"
        values.append(tolerance)
    section = f"Section {spec['section']}" if spec.get("section") else ""
    return "; ".join(part for part in (section, ", ".join(values)) if part)


def lab(station: dict[str, Any]) -> dict[str, str]:
    """The header's lab block; an older record's `lab` string is its name."""
    raw = station.get("lab")
    if isinstance(raw, str):
        return {"name": raw, "address": "", "accreditation": "", "contact": ""}
    if isinstance(raw, dict):
        return {k: str(raw.get(k) or "") for k in ("name", "address", "accreditation", "contact")}
    return {"name": "", "address": "", "accreditation": "", "contact": ""}


def environment(run: RunReport) -> str:
    """As the station's ambient sensor read it, else as the operator stated it, else not recorded."""
    measured = run.station.get("environment")
    stated = run.header.get("environment")
    return describe_environment(measured if isinstance(measured, dict) else stated)


def effective_seed(run: RunReport) -> int | None:
    """The noise seed the simulated lab used: its own endpoints line, else what the header recorded."""
    seed = run.station.get("sim_seed", run.header.get("seed"))
    return seed if isinstance(seed, int) else None


def page_one_findings(run: RunReport) -> list[str]:
    """Findings an assessor must see on page 1: instrument identities that disagree, the DUT's serial."""
    findings = [f"Instrument identity: {text}." for text in run.station.get("identity_findings") or []]
    if not findings:  # an older record: from the instruments table's data
        for info in run.instruments():
            if info.get("serial_mismatch"):
                name, declared, answered = info["name"], info.get("serial"), info.get("idn_serial")
                findings.append(
                    f"Instrument identity: {name}: the station file gives serial {declared}, "
                    f"the instrument answers *IDN? with serial {answered}."
                )
    expected = (run.header.get("dut") or {}).get("expected_serial")
    read = (run.dut or {}).get("serial")
    if run.dut is not None and (problem := serial_problem(read, _serial_pattern(run))):
        findings.append(f"DUT serial number: the unit's serial does not identify it: {problem}.")
    if expected and read is not None and str(read) != str(expected):
        findings.append(f"DUT serial: read {read!r} from the unit, the label says {expected!r}.")
    return findings


def deviations(run: RunReport, selection: list[str]) -> list[str]:
    """Additions to, deviations from and exclusions from the method (§7.8.2.1 n)."""
    out = []
    profile = run.header.get("profile")
    if profile and profile != "full":
        out.append(
            f"profile {profile}: the plan's production subset (type and long tests left out); "
            "requirements it does not test are NOT TESTED in section 2"
        )
    chosen = [a for a in selection if not a.startswith(_STATED_ELSEWHERE)]
    if chosen:
        out.append("test selection: " + " ".join(chosen))
    if run.calibration.get("allowed") and run.expired_calibrations:
        out.append("run with --allow-expired-calibration (see the banner above)")
    if run.header.get("firmware_file"):
        out.append(f"DUT configured by firmware settings file {run.header['firmware_file']}")
    return out


def _serial_pattern(run: RunReport) -> str:
    """The serial pattern of the run's DUT family (the default one for a family no longer known)."""
    try:
        return registry.dut_family(str((run.header.get("dut") or {}).get("family", ""))).serial_pattern
    except UsageError:
        return DEFAULT_SERIAL_PATTERN
