"""Prohelion BMS D1000 Gen2 (distributed BMS: one BMU, 1-32 CMUs of up to 14 cells, CAN only)."""
