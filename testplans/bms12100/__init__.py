"""Test plan of the 12100-1203-1CA BMS, parametrised from its spec data."""
