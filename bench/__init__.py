"""Benchmarks: each measures a cryptoquant job against a baseline run side by side and
writes its section of docs/benchmarks.md (see bench/report.py)."""
