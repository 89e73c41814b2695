"""Readers for real datasets and the one sequence interface they share (numpy, no torch)."""
