"""Benchmarks: `python -m bench.<name>`; timing helpers shared by all of them live in bench.harness."""

from pointrend.utils.paddle_notices import ignore_ccache_notice

ignore_ccache_notice()
