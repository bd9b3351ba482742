"""The Prohelion D1000 Gen2's declaration to the core (entry point `hil.duts`, docs/families.md)."""

from pathlib import Path

from hil.family import DutFamily

#: the repository checkout this family lives in: its plan and stations sit at the top level
_REPO = Path(__file__).resolve().parents[3]

FAMILY = DutFamily(
    name="prohelion-d1000-gen2",
    title="Prohelion BMS D1000 Gen2 (BMU + 1-32 CMUs, firmware V1.2)",
    package="hil.duts.prohelion_d1000_gen2",
    config=".config:D1000Config",
    client=".client:D1000Client",
    bench=".bench:D1000Bench",
    plant=".sim.plant:D1000Plant",
    buses=("can",),
    default_station=_REPO / "stations" / "sim-prohelion-d1000-gen2.yaml",
    spec=Path("spec.yaml"),
    plan_dir=_REPO / "testplans" / "prohelion_d1000_gen2",
    config_dump=".config:dump_default",
)
