"""Movicom Electric BMS Main 2.1 and Main 2R: one family, two variants told apart by data only.

An I/O-heavy main controller: cell voltages and temperatures come from BMS Logic boards on an internal
RS-485 link (protocol not public), it reports over Modbus RTU/TCP and CANopen, and acts through 4
relays, 4 discrete inputs, 4 discrete outputs and LEDs.

- `spec.yaml`: the 19 MM-* requirements (hil/spec.py schema); `variants.yaml` / `variants.py`: what
  differs between the 2.1 and the 2R (supply range, relay ratings, headers, LEDs, sensors, CAN2, map).
- `config.py` + `configs/`: the unit's configuration (protections, charge control, heater, input and
  output functions, CAN, Modbus); the vendor defaults are not public, the shipped file is an example.
- `protocol/`: the Modbus register maps as data (`maps/*.yaml`, provisional rows marked) and their
  codec on pymodbus's converters; the CANopen object dictionary (TPDO1/TPDO2), its DBC and EDS export.
- `sim/twin/`: the firmware twin; `sim/modbus.py`: pymodbus servers for it; `sim/canopen_node.py`: a
  canopen LocalNode for it.

Not yet here (the family contract of issue 16 is being rebuilt): client, bench, plant, stations, plans.
"""
