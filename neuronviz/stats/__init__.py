"""Uncertainty and chance: bootstrap intervals, chance levels and the tests behind verdicts."""
