"""Benchmarks of the monthly cycle with same-run baselines (``python -m bench.run``)."""
