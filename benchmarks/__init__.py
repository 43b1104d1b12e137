"""Benchmark scripts: each prints a table; run them from the repository root."""
