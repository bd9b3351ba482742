"""Spec data of the Prohelion BMS D1000 Gen2: complete (the 30 stable IDs) and equal to the vendor's defaults.

The IDs are embedded below so the check runs without the shared folder; the reading
(/work/shared/specs/prohelion-d1000-gen2.md) and the vendor's parameter table
(references/prohelion-d1000-gen2/Configuration_Parameters.md) are parsed too; a clone without them
skips those comparisons, saying why.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from shared_docs import SHARED, ids_in_reading, require_shared

from hil.duts.prohelion_d1000_gen2.protocol import dbc
from hil.spec import Requirement, SpecFile, load_spec

PACKAGE_DIR = Path(dbc.__file__).parents[1]
SPEC_PATH = PACKAGE_DIR / "spec.yaml"
READING_PATH = SHARED / "specs/prohelion-d1000-gen2.md"
PARAMETERS_PATH = SHARED / "references/prohelion-d1000-gen2/Configuration_Parameters.md"

# The 30 stable IDs of specs/prohelion-d1000-gen2.md, in its order.
IDS: tuple[str, ...] = (
    # hardware
    "PH-SUP-V", "PH-SUP-I", "PH-CONT", "PH-LSS", "PH-HVIL", "PH-CAN", "PH-CMU", "PH-ENV",
    # protection and control
    "PH-COV-W", "PH-COV-C", "PH-BAL", "PH-CUV-W", "PH-CUV-C", "PH-OT", "PH-UT", "PH-OCC", "PH-OCD",
    "PH-PRE-I", "PH-PRE-DV", "PH-PRE-TO", "PH-NTC", "PH-SOC",
    # state machine
    "PH-SM-START", "PH-SM-IDLE", "PH-SM-DRIVE", "PH-SM-CHARGE", "PH-SM-FAULT", "PH-SM-CMD",
    # CAN telemetry
    "PH-MSG", "PH-MSG-ACC",
)  # fmt: skip

# Protection rows: (parameter, trip, unit, direction, blocks) from the reading and the V1.2 defaults.
THRESHOLDS: dict[str, tuple[str, float, str, str, str]] = {
    "PH-COV-W": ("warningCellOverVoltage", 4.150, "V", "above", "charge"),
    "PH-COV-C": ("critCellOverVoltage", 4.200, "V", "above", "both"),
    "PH-CUV-W": ("warningCellUnderVoltage", 2.600, "V", "below", "discharge"),
    "PH-CUV-C": ("critCellUnderVoltage", 2.500, "V", "below", "both"),
    "PH-OT": ("maxCellTemperature", 60.0, "°C", "above", "both"),
    "PH-UT": ("minCellTemperature", -20.0, "°C", "below", "both"),
    "PH-OCC": ("maxChargeCurrent", 100.0, "A", "above", "both"),
    "PH-OCD": ("maxDischargeCurrent", 100.0, "A", "above", "both"),
    "PH-PRE-I": ("maxPrechargeCurrent", 3.000, "A", "above", "both"),
}
# Rows whose single value is a parameter default: (parameter, value, unit).
VALUES: dict[str, tuple[str, float, str]] = {
    "PH-BAL": ("cellBalancingVoltage", 4.100, "V"),
    "PH-PRE-DV": ("maxPrechargeVoltageDelta", 1.000, "V"),
    "PH-PRE-TO": ("prechargeTimeout", 25.000, "s"),
    "PH-NTC": ("thermistorBetaValue", 3380, "K"),
    "PH-SOC": ("packCapacity", 100.0, "Ah"),
    "PH-CAN": ("bitrate", 500, "kbit/s"),
}
# Vendor parameter units -> the unit a spec row uses for them.
PARAMETER_UNITS = {"V": "V", "°C": "°C", "A": "A", "Seconds": "s", "Ah": "Ah"}
# The CMU cell voltage accuracy (+5..+40 °C), the only DUT accuracy in the references.
CELL_ACCURACY_V = 0.002


@pytest.fixture(scope="module")
def spec() -> SpecFile:
    return load_spec(SPEC_PATH)


def parse_parameters(text: str) -> dict[str, dict[str, str]]:
    """Configuration_Parameters.md: parameter name -> {field: value} (Scale, Default, Units, Min, Max...)."""
    params: dict[str, dict[str, str]] = {}
    for section in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        name = section.splitlines()[0].strip()
        fields = dict(re.findall(r"^\|\s*\*\*(\w+)\*\*\s*\|\s*(.*?)\s*\|\s*$", section, flags=re.MULTILINE))
        if fields:
            params[name] = fields
    return params


@pytest.fixture(scope="module")
def parameters() -> dict[str, dict[str, str]]:
    require_shared(PARAMETERS_PATH, "the vendor's parameter table")
    params = parse_parameters(PARAMETERS_PATH.read_text(encoding="utf-8"))
    assert len(params) >= 30
    return params


def default_of(parameters: dict[str, dict[str, str]], name: str) -> float:
    """A parameter's default with its scale applied (0x-prefixed defaults read as hex)."""
    fields = parameters[name]
    return int(fields["Default"], 0) * float(fields["Scale"])


def same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def row_text(req: Requirement) -> str:
    return "\n".join([req.title, *req.notes, req.untestable_reason or ""])


# ------------------------------------------------------------------------------------- the IDs


def test_spec_file_loads(spec: SpecFile) -> None:
    assert spec.dut == "prohelion_d1000_gen2"
    assert spec.title and spec.version and spec.notes
    assert "V1.2" in spec.source and "Configuration_Parameters.md" in spec.source


def test_embedded_ids_are_30_and_unique() -> None:
    assert len(IDS) == len(set(IDS)) == 30
    assert all(re.fullmatch(r"[A-Z0-9]+(-[A-Z0-9]+)*", rid) for rid in IDS)


def test_spec_has_exactly_the_ids(spec: SpecFile) -> None:
    assert tuple(spec.ids()) == IDS


def test_embedded_ids_equal_the_reading() -> None:
    require_shared(READING_PATH, "the reading of the D1000 spec")
    found = ids_in_reading(READING_PATH.read_text(encoding="utf-8"))
    assert len(found) == len(set(found)), "an ID appears twice in the reading"
    assert tuple(found) == IDS


# ------------------------------------------------------------------ values from the parameters


def test_every_setting_is_a_vendor_parameter(spec: SpecFile, parameters: dict[str, dict[str, str]]) -> None:
    named = [req for req in spec.requirements if req.setting is not None]
    assert named
    for req in named:
        assert req.setting in parameters, f"{req.id}: {req.setting!r} is not a V1.2 parameter"


def test_thresholds_equal_the_parameter_defaults(
    spec: SpecFile, parameters: dict[str, dict[str, str]]
) -> None:
    for rid, (param, trip, unit, direction, blocks) in THRESHOLDS.items():
        req = spec.get(rid)
        assert (req.kind, req.setting, req.unit, req.direction, req.blocks) == (
            "protection",
            param,
            unit,
            direction,
            blocks,
        ), rid
        assert req.trip is not None and same(req.trip, trip), rid
        assert same(req.trip, default_of(parameters, param)), f"{rid}: trip != {param} default"
        assert PARAMETER_UNITS[parameters[param]["Units"]] == unit, rid
    with_trip = {req.id for req in spec.requirements if req.trip is not None}
    assert with_trip == set(THRESHOLDS)


def test_values_equal_the_parameter_defaults(spec: SpecFile, parameters: dict[str, dict[str, str]]) -> None:
    for rid, (param, value, unit) in VALUES.items():
        req = spec.get(rid)
        assert (req.setting, req.unit) == (param, unit), rid
        assert isinstance(req.value, int | float) and same(float(req.value), value), rid
        assert same(float(req.value), default_of(parameters, param)), f"{rid}: value != {param} default"
        vendor_unit = parameters[param].get("Units")
        if vendor_unit in PARAMETER_UNITS:
            assert PARAMETER_UNITS[vendor_unit] == unit, rid
    numeric_with_setting = {
        req.id for req in spec.requirements if req.setting is not None and isinstance(req.value, int | float)
    }
    assert numeric_with_setting == set(VALUES)


def test_textual_values_name_their_parameters(spec: SpecFile, parameters: dict[str, dict[str, str]]) -> None:
    assert spec.get("PH-CONT").value == parameters["contactorConfigAuxEnable"]["Default"] == "0x11111"
    assert "0x00000" in row_text(spec.get("PH-CONT")) and "contactorConfigTypes" in row_text(
        spec.get("PH-CONT")
    )
    sup_v = row_text(spec.get("PH-SUP-V"))
    assert spec.get("PH-SUP-V").setting == "deviceID" and "4472" in sup_v and "4476" in sup_v
    cmu = row_text(spec.get("PH-CMU"))
    for param in ("numCMUNodes", "nodeNumCells", "nodeNumTemp"):
        assert param in cmu and param in parameters, param
    assert (
        spec.get("PH-CMU").value
        == 32 * 14
        == int(parameters["numCMUNodes"]["Max"]) * int(parameters["nodeNumCells"]["Max"])
    )


def test_environment_limits_and_the_swapped_temperature_defaults(
    spec: SpecFile, parameters: dict[str, dict[str, str]]
) -> None:
    env = spec.get("PH-ENV")
    text = row_text(env)
    assert env.uncertain and "swapped" in text
    for param in ("bmuTemperatureMin", "bmuTemperatureMax", "bmuPressureMin", "bmuPressureMax"):
        assert param in text and param in parameters, param
    assert "bmuHumidityMin" in text and "bmuHumidityMax" in text
    # The vendor's defaults really are swapped (the reason for the note) ...
    assert default_of(parameters, "bmuTemperatureMin") == 60.0
    assert default_of(parameters, "bmuTemperatureMax") == -20.0
    # ... and the row states the range as read, with the other limits as documented.
    assert env.value == "-20.0..60.0 °C; 0.0..120.0 kPa; 0.0..90.0 %RH"
    assert default_of(parameters, "bmuPressureMax") == 120.0
    assert default_of(parameters, "bmuHumidityMax") == 90.0


def test_can_constants_of_the_dbc_follow_the_parameters(parameters: dict[str, dict[str, str]]) -> None:
    node_id = parameters["nodeID"]
    assert int(node_id["Default"], 0) == dbc.DEFAULT_BASE_ID
    assert (int(node_id["Min"], 0), int(node_id["Max"], 0)) == (dbc.BASE_ID_MIN, dbc.BASE_ID_MAX)
    nodes = parameters["numCMUNodes"]
    assert int(nodes["Default"]) == dbc.DEFAULT_NODE_COUNT
    assert (int(nodes["Min"]), int(nodes["Max"])) == (dbc.NODE_COUNT_MIN, dbc.NODE_COUNT_MAX)


# ----------------------------------------------------------------------- tolerances and notes


def test_cell_voltage_rows_carry_the_cmu_accuracy(spec: SpecFile) -> None:
    for req in spec.requirements:
        if req.quantity == "cell_voltage" and req.kind != "accuracy":
            assert req.tolerance is not None and same(req.tolerance, CELL_ACCURACY_V), req.id
            assert req.tolerance_source and "Cell_Management_Unit.md" in req.tolerance_source, req.id
    acc = spec.get("PH-MSG-ACC")
    assert (acc.kind, acc.unit, acc.tolerance) == ("accuracy", "mV", 2)


def test_thresholds_without_a_documented_accuracy_say_so(spec: SpecFile) -> None:
    for rid in ("PH-OT", "PH-UT", "PH-OCC", "PH-OCD", "PH-PRE-I"):
        req = spec.get(rid)
        assert req.tolerance is None, rid
        assert "No temperature accuracy" in row_text(req) or "No current accuracy" in row_text(req), rid
    for rid in THRESHOLDS:
        assert "No trip delay is documented" in row_text(spec.get(rid)), rid


def test_documented_times(spec: SpecFile) -> None:
    assert spec.get("PH-SM-FAULT").delay_s == 2.0
    charge = spec.get("PH-SM-CHARGE")
    assert (charge.delay_s, charge.value, charge.unit) == (20.0, 5.0, "A")
    assert "chargingMethod = 2" in row_text(charge)
    assert spec.get("PH-PRE-TO").delay_s == 25.0


def test_the_id_collision_is_in_the_spec_and_matches_the_dbc(spec: SpecFile) -> None:
    text = row_text(spec.get("PH-MSG"))
    assert "Node27Diagnostics" in text and "HVILInfo" in text and "0x6EF" in text
    assert "CanIdCollisionError" in text
    assert dbc.max_node_count(dbc.DEFAULT_BASE_ID) == 27
    assert "at most 27 CMU nodes" in " ".join(spec.notes)
    assert "Only 27 nodes" in row_text(spec.get("PH-CMU"))
    with pytest.raises(dbc.CanIdCollisionError):
        dbc.layout(dbc.DEFAULT_BASE_ID, 28)


def test_vendor_table_defects_stay_visible(spec: SpecFile) -> None:
    notes = " ".join(spec.notes)
    assert "deviceID" in notes and "chargingMethod" in notes and "[0x1]" in notes
    assert "CHARGE_CONNECT" in row_text(spec.get("PH-SM-DRIVE"))
    assert "a number of seconds" in row_text(spec.get("PH-SM-CMD"))


def test_uncertain_and_untestable_rows_explain_themselves(spec: SpecFile) -> None:
    assert {req.id for req in spec.requirements if req.uncertain} == {"PH-ENV", "PH-SM-CMD", "PH-MSG"}
    for req in spec.requirements:
        if req.uncertain:
            assert req.notes, req.id
        if req.testable:
            assert req.untestable_reason is None, req.id
        else:
            assert req.untestable_reason and req.untestable_reason.strip(), req.id
    assert [req.id for req in spec.requirements if not req.testable] == ["PH-LSS"]
