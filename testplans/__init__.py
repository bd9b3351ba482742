"""Test plans, one package per DUT family."""
