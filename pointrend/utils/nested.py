"""Comparing nested dicts, such as two recipes as stored in checkpoints."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def leaf_differences(
    saved: Mapping[str, Any], current: Mapping[str, Any], prefix: str = ""
) -> list[str]:
    """Leaf fields whose values differ between two nested dicts, as 'a.b=saved (here current)'."""
    differences = []
    for key in sorted(set(saved) | set(current)):
        left, right = saved.get(key), current.get(key)
        if isinstance(left, dict) and isinstance(right, dict):
            differences += leaf_differences(left, right, f"{prefix}{key}.")
        elif left != right:
            differences.append(f"{prefix}{key}={left!r} (here {right!r})")
    return differences
