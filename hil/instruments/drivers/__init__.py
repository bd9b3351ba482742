"""Drivers for named real instruments, one module per model family."""
