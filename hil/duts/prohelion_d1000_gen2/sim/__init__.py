"""The simulator side of this family: plant and firmware twin (never imported by plans)."""
