"""Reusable test procedures: one implementation serves every threshold, delay and recovery."""
