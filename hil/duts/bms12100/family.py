"""The 12100 BMS's declaration to the core (entry point `hil.duts`: bms12100, docs/families.md)."""

from pathlib import Path

from hil.family import DutFamily

#: the repository checkout this family lives in: its plan and stations sit at the top level
_REPO = Path(__file__).resolve().parents[3]

FAMILY = DutFamily(
    name="bms12100",
    title="12100-1203-1CA 12 V 100 Ah 4S LiFePO4 BMS",
    package="hil.duts.bms12100",
    config=".config:Bms12100Config",
    client=".client:Bms12100Client",
    bench=".bench:Bms12100Bench",
    plant=".sim.plant:Bms12100Plant",
    buses=("can", "rs485"),
    default_station=_REPO / "stations" / "sim-bms12100.yaml",
    spec=Path("spec.yaml"),
    plan_dir=_REPO / "testplans" / "bms12100",
    released=Path("released.yaml"),
)
