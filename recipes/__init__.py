"""Recipes: runnable training/evaluation setups, `python -m recipes.<name> <command>`."""
