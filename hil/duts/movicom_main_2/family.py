"""The Movicom Main 2.1 and Main 2R: two declarations to the core from one implementation.

The variants differ by data (variants.yaml) and so by the default configuration each declaration
names; the plant, client and bench read the variant from the configuration (docs/families.md).
Each declares its released firmware and parameter set for the EOL read-back (protocol/readback.py).
"""

from pathlib import Path

from hil.family import DutFamily

#: the repository checkout this family lives in: its plan and stations sit at the top level
_REPO = Path(__file__).resolve().parents[3]

FAMILY_21 = DutFamily(
    name="movicom-main-2.1",
    title="Movicom Electric BMS Main 2.1 (Modbus RTU/TCP, CANopen)",
    package="hil.duts.movicom_main_2",
    config=".config:MovicomConfig",
    client=".client:MovicomClient",
    bench=".bench:MovicomBench",
    plant=".sim.plant:MovicomPlant",
    buses=("can", "rs485", "modbus_tcp"),
    default_station=_REPO / "stations" / "sim-movicom-main-2.1.yaml",
    spec=Path("spec.yaml"),
    plan_dir=_REPO / "testplans" / "movicom_main_2",
    variant="main-2.1",
    released=Path("released-main-2.1.yaml"),
)

FAMILY_2R = DutFamily(
    name="movicom-main-2r",
    title="Movicom Electric BMS Main 2R (Modbus RTU, CANopen)",
    package="hil.duts.movicom_main_2",
    config=".config:Main2RConfig",
    client=".client:MovicomClient",
    bench=".bench:MovicomBench",
    plant=".sim.plant:MovicomPlant",
    buses=("can", "rs485"),
    default_station=_REPO / "stations" / "sim-movicom-main-2r.yaml",
    spec=Path("spec.yaml"),
    plan_dir=_REPO / "testplans" / "movicom_main_2",
    variant="main-2r",
    released=Path("released-main-2r.yaml"),
)
