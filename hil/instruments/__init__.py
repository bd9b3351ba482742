"""Instrument roles (abstract interfaces) and SCPI drivers for named real instruments."""
