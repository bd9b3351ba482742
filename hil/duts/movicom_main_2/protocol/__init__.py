"""Protocols of the Movicom Main 2.1 / 2R: the Modbus register map (data) and codec, CANopen, DBC."""
