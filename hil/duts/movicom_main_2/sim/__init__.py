"""Simulator side of the Movicom Main 2.1 / 2R family: the firmware twin, Modbus server, CANopen node."""
