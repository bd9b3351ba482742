"""Spec data of the 12100 BMS: complete (the reading's stable IDs), consistent, equal to the twin's defaults.

The IDs are embedded below so the check runs without the shared folder; when the careful reading
(/work/shared/specs/bms-12100.md) is present, the embedded list is checked against it too (without it,
that one comparison is skipped, saying why).
"""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from pydantic import BaseModel
from shared_docs import SHARED, ids_in_reading, require_shared

from hil.duts.bms12100 import PACKAGE_DIR
from hil.duts.bms12100.config import PARAMETERS_BY_PATH, Behaviour, Settings
from hil.duts.bms12100.config_map import ALWAYS_ON, DELAY_PATHS, ENABLE_PATHS, FLAG_ROWS, THRESHOLDS
from hil.spec import Requirement, SpecFile, load_spec

SPEC_PATH = PACKAGE_DIR / "spec.yaml"
READING_PATH = SHARED / "specs/bms-12100.md"

# The stable IDs of specs/bms-12100.md, in its order (65 today).
IDS: tuple[str, ...] = (
    # voltage
    "CV-HA", "CV-LA", "CV-OVP", "CV-UVP", "PV-HA", "PV-LA", "PV-OVP", "PV-UVP", "CHG-HV",
    # temperature
    "TC-HA", "TC-OTP", "TC-LA", "TC-UTP", "TD-HA", "TD-OTP", "TD-LA", "TD-UTP",
    "TE-HA", "TE-OTP", "TE-LA", "TE-UTP", "TP-HA", "TP-OTP",
    # current
    "IC-A", "IC-OCP", "ID-A", "ID-OCP", "ID-TOCP", "ID-TLOCK", "SCP", "SCP-LOCK", "I-EFF-C", "I-EFF-D",
    # balancing
    "BAL-START", "BAL-END", "BAL-CHG", "BAL-STBY", "BAL-HT", "BAL-LT", "CELL-FAIL",
    # capacity, SOC, cycles
    "CAP-RATED", "SOC-INIT", "SOC-ACC", "SOC-LA", "SOC-LP", "CYC",
    # precharge, power management, modes
    "PRE", "PM-SLEEP", "PM-UVSD", "PM-WAKE", "PM-SLEEP-I", "MODE-CHG", "MODE-DSG", "MODE-STBY",
    # accuracy
    "ACC-CV", "ACC-PV", "ACC-T", "ACC-I",
    # records and interfaces
    "HIST", "PARAM", "COM-485", "COM-CAN",
    # electrical
    "EL-VOP", "EL-ICONT", "EL-RDS",
)  # fmt: skip

# Rows whose `value` sits in Settings under a path other than their `setting` (a section).
VALUE_PATHS: dict[str, str] = {"BAL-START": "balancing.start_mv"}
# Rows whose `value` is a physical property or an interface figure with no firmware setting.
VALUES_WITHOUT_SETTING = frozenset(
    {"PM-SLEEP-I", "HIST", "COM-485", "COM-CAN", "EL-VOP", "EL-ICONT", "EL-RDS"}
)

# Seed numbers the spec data can only keep in notes / alternative descriptions (no structured
# field): (ID, Settings path, value, unit, text that must appear in that row's notes/alternatives).
SECONDARY_VALUES: tuple[tuple[str, str, float, str, str], ...] = (
    ("CV-OVP", "cell_overvoltage_protection.release_soc_pct", 96, "%", "96 %"),
    ("CV-OVP", "cell_overvoltage_protection.release_discharge_a", 3, "A", "> 3 A"),
    ("PV-OVP", "pack_overvoltage_protection.release_soc_pct", 96, "%", "96 %"),
    ("PV-OVP", "pack_overvoltage_protection.release_discharge_a", 3, "A", ">= 3 A"),
    ("CV-UVP", "cell_undervoltage_protection.release_charge_a", 1, "A", ">= 1 A"),
    ("PV-UVP", "pack_undervoltage_protection.release_charge_a", 1, "A", ">= 1 A"),
    ("PM-UVSD", "pack_undervoltage_protection.shutdown_after_s", 1, "min", "1 min"),
    ("BAL-START", "balancing.open_diff_mv", 30, "mV", "30 mV"),
)

# Protection ID -> {alternative id: behaviour flag or None}, as the brief and the seed give them.
_TEMP_RECOVERY: dict[str, str | None] = {"recovery": None}
_CURRENT: dict[str, str | None] = {"opposite_current": None, "auto_60s": None}
_OVP: dict[str, str | None] = {
    "recovery": "ovp_release_on_recovery",
    "discharge": "ovp_release_on_discharge",
}
_UVP: dict[str, str | None] = {"charge": "uvp_release_on_charge", "reboot_recheck": None}
ALTERNATIVES: dict[str, dict[str, str | None]] = {
    "CV-OVP": _OVP,
    "PV-OVP": _OVP,
    "CV-UVP": _UVP,
    "PV-UVP": _UVP,
    "CHG-HV": {"below_threshold": "chg_hv_release"},
    **{rid: _TEMP_RECOVERY for rid in ("TC-OTP", "TC-UTP", "TD-OTP", "TD-UTP", "TE-OTP", "TE-UTP", "TP-OTP")},
    "IC-OCP": _CURRENT,
    "ID-OCP": _CURRENT,
    "ID-TOCP": _CURRENT,
    "SCP": _CURRENT,
    "ID-TLOCK": {"charger_connected": None},
    "SCP-LOCK": {"charger_connected": None},
    "SOC-LP": {"recovery": "soc_lp_release_on_recovery"},  # the seed gives none: our reading
}

# The rows specs/bms-12100.md marks as uncertain readings.
UNCERTAIN = frozenset({"I-EFF-C", "PRE", "PM-SLEEP-I"})

# Unit -> (dimension, factor to the dimension's base unit).
_UNITS: dict[str, tuple[str, float]] = {
    "mV": ("voltage", 1e-3),
    "V": ("voltage", 1.0),
    "mA": ("current", 1e-3),
    "A": ("current", 1.0),
    "µs": ("time", 1e-6),
    "us": ("time", 1e-6),
    "ms": ("time", 1e-3),
    "s": ("time", 1.0),
    "min": ("time", 60.0),
    "h": ("time", 3600.0),
    "°C": ("temperature", 1.0),
    "%": ("ratio", 1.0),
    "Ah": ("charge", 1.0),
    "": ("count", 1.0),
}
# Units of the Settings fields outside PARAMETERS (the not-settable sections), by name suffix.
_SUFFIX_UNITS = (
    ("_us", "us"),
    ("_ms", "ms"),
    ("_mv", "mV"),
    ("_ma", "mA"),
    ("_s", "s"),
    ("_v", "V"),
    ("_a", "A"),
)


@pytest.fixture(scope="module")
def spec() -> SpecFile:
    return load_spec(SPEC_PATH)


@pytest.fixture(scope="module")
def defaults() -> Settings:
    return Settings()


def settings_unit(path: str) -> str:
    param = PARAMETERS_BY_PATH.get(path)
    if param is not None:
        return param.unit
    name = path.partition(".")[2]
    for suffix, unit in _SUFFIX_UNITS:
        if name.endswith(suffix):
            return unit
    return ""


def convert(value: float, from_unit: str, to_unit: str) -> float:
    dim_from, factor_from = _UNITS[from_unit]
    dim_to, factor_to = _UNITS[to_unit]
    assert dim_from == dim_to, f"cannot convert {from_unit!r} to {to_unit!r}"
    return value * factor_from / factor_to


def setting_in(defaults: Settings, path: str, unit: str) -> float:
    """The default at `path`, converted to `unit`."""
    raw: Any = defaults.get(path)
    assert isinstance(raw, int | float) and not isinstance(raw, bool), f"{path} is not a number"
    return convert(float(raw), settings_unit(path), unit)


def same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def row_text(req: Requirement) -> str:
    parts = [req.title, *req.notes]
    parts += [alt.description for alt in req.release_alternatives]
    return "\n".join(parts)


# ------------------------------------------------------------------------------------- the IDs


def test_spec_file_loads(spec: SpecFile) -> None:
    assert spec.dut == "bms12100"
    assert spec.title and spec.version and spec.source and spec.notes
    assert "v1.4" in spec.source.lower()
    assert "pylontech" in " ".join(spec.notes).lower()


def test_embedded_ids_are_unique() -> None:
    assert len(IDS) == len(set(IDS))
    assert all(re.fullmatch(r"[A-Z0-9]+(-[A-Z0-9]+)*", rid) for rid in IDS)


def test_spec_has_exactly_the_ids_of_the_reading(spec: SpecFile) -> None:
    """The library's rows are the reading's; a user's own rows go into a spec overlay, not here."""
    ids = spec.ids()
    assert len(ids) == len(set(ids))
    assert set(ids) == set(IDS), (
        f"missing {sorted(set(IDS) - set(ids))}, unknown {sorted(set(ids) - set(IDS))}"
    )


def test_embedded_ids_equal_the_reading() -> None:
    require_shared(READING_PATH, "the careful reading of the 12100 spec")
    found = ids_in_reading(READING_PATH.read_text(encoding="utf-8"))
    assert len(found) == len(set(found)), "an ID appears twice in the reading"
    assert tuple(found) == IDS


# --------------------------------------------------------------------------- row consistency


def test_thresholds_are_complete(spec: SpecFile) -> None:
    for req in spec.requirements:
        if req.kind in ("protection", "alarm") and req.trip is not None:
            assert req.direction is not None, req.id
            assert req.tolerance is not None and req.tolerance_source, req.id
            assert req.setting, req.id
            assert req.unit and req.quantity, req.id


def test_every_setting_names_a_real_section_or_field(spec: SpecFile, defaults: Settings) -> None:
    for req in spec.requirements:
        if req.setting is None:
            continue
        section, _, name = req.setting.partition(".")
        assert section in Settings.model_fields, f"{req.id}: no section {section!r} in Settings"
        sub = getattr(defaults, section)
        assert isinstance(sub, BaseModel)
        if name:
            assert name in type(sub).model_fields, f"{req.id}: no field {req.setting!r} in Settings"


def test_trip_and_release_equal_the_default_settings(spec: SpecFile, defaults: Settings) -> None:
    for req in spec.requirements:
        if req.trip is None:
            assert req.id not in THRESHOLDS, f"{req.id} lost its trip value"
            continue
        assert req.id in THRESHOLDS, f"{req.id} has a trip value but no Settings path in this test"
        assert req.unit is not None and req.setting is not None
        trip_path, release_path = THRESHOLDS[req.id]
        assert req.setting.partition(".")[0] == trip_path.partition(".")[0], req.id
        assert same(req.trip, setting_in(defaults, trip_path, req.unit)), (
            f"{req.id}: trip {req.trip} {req.unit} != Settings {trip_path}"
        )
        if release_path is None:
            assert req.release is None, req.id
        else:
            assert req.release is not None, req.id
            assert same(req.release, setting_in(defaults, release_path, req.unit)), (
                f"{req.id}: release {req.release} {req.unit} != Settings {release_path}"
            )


def test_single_values_equal_the_default_settings(spec: SpecFile, defaults: Settings) -> None:
    for req in spec.requirements:
        if not isinstance(req.value, int | float):
            continue
        if req.id in VALUES_WITHOUT_SETTING:
            assert req.setting is None, req.id
            continue
        path = VALUE_PATHS.get(req.id, req.setting)
        assert path is not None and "." in path, f"{req.id}: a value needs a dotted setting path"
        assert same(float(req.value), setting_in(defaults, path, req.unit or "")), (
            f"{req.id}: value {req.value} {req.unit} != Settings {path}"
        )


def test_delays_equal_the_default_settings(spec: SpecFile, defaults: Settings) -> None:
    with_delay = {req.id for req in spec.requirements if req.delay_s is not None}
    assert with_delay == set(DELAY_PATHS)
    for rid, path in DELAY_PATHS.items():
        delay = spec.get(rid).delay_s
        assert delay is not None
        assert same(delay, setting_in(defaults, path, "s")), f"{rid}: delay {delay} s != {path}"


def test_secondary_seed_values_equal_the_default_settings(spec: SpecFile, defaults: Settings) -> None:
    for rid, path, value, unit, text in SECONDARY_VALUES:
        assert same(setting_in(defaults, path, unit), value), f"{rid}: {path} != {value} {unit}"
        assert text in row_text(spec.get(rid)), f"{rid}: the seed's {text!r} is not in the row"


def test_auto_release_is_60_s(spec: SpecFile, defaults: Settings) -> None:
    for req in spec.requirements:
        if any(alt.id == "auto_60s" for alt in req.release_alternatives):
            assert req.setting is not None
            section = req.setting.partition(".")[0]
            assert defaults.get(f"{section}.auto_release_s") == 60, req.id


def test_default_enabled_equals_the_settings(spec: SpecFile, defaults: Settings) -> None:
    for req in spec.requirements:
        if req.id in ENABLE_PATHS:
            flag = defaults.get(ENABLE_PATHS[req.id])
            assert isinstance(flag, bool)
            assert req.default_enabled is flag, f"{req.id}: default_enabled != {ENABLE_PATHS[req.id]}"
        elif req.id in ALWAYS_ON:
            assert req.default_enabled is True, req.id
        else:
            assert req.default_enabled is None, f"{req.id}: default_enabled without a switch"
    assert spec.get("CV-HA").default_enabled is False
    assert spec.get("PV-HA").default_enabled is False
    assert spec.get("ID-TLOCK").default_enabled is False
    assert spec.get("SOC-LP").default_enabled is False


def test_release_alternatives_and_behaviour_flags(spec: SpecFile) -> None:
    flags = set(Behaviour.model_fields)
    used: set[str] = set()
    for req in spec.requirements:
        got = {alt.id: alt.behaviour_flag for alt in req.release_alternatives}
        if req.kind == "protection":
            assert req.id in ALTERNATIVES, f"{req.id}: protection without expected alternatives"
            assert got == ALTERNATIVES[req.id], req.id
        else:
            assert not got, f"{req.id}: only protections have release alternatives"
        for alt in req.release_alternatives:
            assert alt.description.strip(), f"{req.id}.{alt.id}"
            if alt.behaviour_flag is not None:
                assert alt.behaviour_flag in flags, f"{req.id}: unknown flag {alt.behaviour_flag}"
                used.add(alt.behaviour_flag)
    unused = flags - used - set(FLAG_ROWS)
    assert not unused, f"behaviour flags neither a row nor FLAG_ROWS names: {sorted(unused)}"


def _expected_tolerance(spec: SpecFile, req: Requirement, x: float) -> float | None:
    """The tolerance at `x` (row unit) by the accuracy row named in tolerance_source."""
    source = (req.tolerance_source or "").split(":")[0].split()[0]
    unit = req.unit or ""
    if source == "ACC-CV":
        per_cell = convert(spec.get("ACC-CV").tolerance or 0.0, "mV", unit)
        return 2 * per_cell if req.quantity == "cell_spread" else per_cell
    if source == "ACC-PV":
        return abs(x) * (spec.get("ACC-PV").tolerance or 0.0) / 100
    if source == "ACC-T":
        return spec.get("ACC-T").tolerance
    if source == "ACC-I" and unit in ("A", "mA"):
        amps = abs(convert(x, unit, "A"))
        percent = 1.0 if amps >= 10 else (spec.get("ACC-I").tolerance or 0.0)  # ±1 % at/above 10 A
        # below 10 A the reported current's 0.01 A resolution is added where the row says so
        rounding = convert(0.005, "A", unit) if "resolution" in (req.tolerance_source or "") else 0.0
        return abs(x) * percent / 100 + rounding
    if source == "SOC-ACC":
        return spec.get("SOC-ACC").tolerance
    return None


def test_tolerances_follow_the_accuracy_rows(spec: SpecFile) -> None:
    checked: set[str] = set()
    for req in spec.requirements:
        if req.tolerance is None or req.kind == "accuracy":
            continue
        assert req.tolerance_source, req.id
        x = req.trip if req.trip is not None else req.value
        assert isinstance(x, int | float), req.id
        expected = _expected_tolerance(spec, req, float(x))
        if req.id == "CYC":  # accumulated discharge: ±1 % (>= 10 A) of 80 % of the rated capacity
            expected = 0.01 * float(x)
        assert expected is not None, f"{req.id}: no rule for {req.tolerance_source!r}"
        assert same(req.tolerance, expected), f"{req.id}: tolerance {req.tolerance} != {expected}"
        checked.add(req.id)
    assert set(THRESHOLDS) <= checked


def test_uncertain_rows_are_the_readings_marked_uncertain(spec: SpecFile) -> None:
    assert {req.id for req in spec.requirements if req.uncertain} == UNCERTAIN
    for rid in UNCERTAIN:
        assert spec.get(rid).notes, rid


def test_ambiguities_stay_visible(spec: SpecFile) -> None:
    assert "> 3 A" in row_text(spec.get("CV-OVP")) and ">= 3 A" in row_text(spec.get("PV-OVP"))
    assert "garbled" in row_text(spec.get("I-EFF-C"))
    pre = row_text(spec.get("PRE"))
    assert "0-5000 ms" in pre and "1 s to 7 s" in pre
    assert "1 0 uA" in row_text(spec.get("PM-SLEEP-I"))
    assert "55" in row_text(spec.get("TE-OTP"))
    assert "reboot re-check" in row_text(spec.get("CV-UVP"))
    for rid in ("CV-OVP", "PV-UVP", "TC-OTP", "TP-HA"):
        assert "No trip delay is given" in row_text(spec.get(rid)), rid


def test_untestable_rows_have_a_reason(spec: SpecFile) -> None:
    for req in spec.requirements:
        if req.testable:
            assert req.untestable_reason is None, req.id
        else:
            assert req.untestable_reason and req.untestable_reason.strip(), req.id
