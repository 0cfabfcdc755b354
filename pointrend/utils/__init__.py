"""Helpers that import nothing else from pointrend."""
