"""The simulated lab: SCPI instruments, CAN hub, serial port and a DUT twin behind real transports."""
