"""12100-1203-1CA 12 V 100 Ah 4S LiFePO4 BMS (seed 004): spec data, protocols, client, twin."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).parent
CELL_COUNT = 4
NTC_NAMES = ("cell1", "cell2", "ambient", "power")
