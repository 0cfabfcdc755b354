"""Benchmarks: `python -m bench.<name>`; the timing helpers they share live in bench.harness."""

from pointrend.utils.paddle_notices import ignore_ccache_notice

ignore_ccache_notice()
