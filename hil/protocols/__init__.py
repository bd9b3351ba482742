"""Wire protocols shared by DUT clients and the simulated lab's firmware twins."""
