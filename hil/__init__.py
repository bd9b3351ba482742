"""HIL test framework for battery management systems."""

__version__ = "0.1.0"
