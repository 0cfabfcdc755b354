"""Recipes: runnable training/evaluation setups, `python -m recipes.<name> <command>`."""

from pointrend.utils.paddle_notices import ignore_ccache_notice

ignore_ccache_notice()
