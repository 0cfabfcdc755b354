"""The configuration layer: recipes as plain dataclasses and their overrides. Imports nothing else
from pointrend, so every other layer may depend on it."""
