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
- `sim/twin/`: the firmware twin; `sim/modbus.py`: its registers (`TwinRegisters`) and pymodbus servers
  for it; `sim/canopen_node.py`: a canopen LocalNode for it; `sim/canbus.py`: that node's network on
  the simulated lab's CAN and virtual time; `sim/plant.py`: the bench's electrics around the twin.
- `family.py`: two declarations, `movicom-main-2.1` and `movicom-main-2r`, of this one implementation;
  `client.py` (Modbus RTU/TCP, CANopen), `bench.py`, `terminals.py`, `station_needs.yaml`; the plan is
  testplans/movicom_main_2/, the stations stations/*movicom-main-2*.yaml.
"""
