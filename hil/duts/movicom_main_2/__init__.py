"""Movicom Electric BMS Main 2.1 and Main 2R (one family, two variants told apart by data only)."""
