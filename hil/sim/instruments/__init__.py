"""Simulated instruments, each speaking the SCPI dialect of the real model its driver follows."""
