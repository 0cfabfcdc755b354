"""Benchmarks: `python -m bench.<name>`; timing helpers shared by all of them live in bench.harness."""
