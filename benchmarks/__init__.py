"""Benchmarks of the graphgpo engine against plain-Python baselines (``python -m benchmarks.run``)."""
