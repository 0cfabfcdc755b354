"""Name tables of the converters: (pattern over our state-dict name, their name from the match)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

NamePatterns = Sequence[tuple[re.Pattern, Callable[[re.Match], str]]]


def rename_by_patterns(our_name: str, patterns: NamePatterns) -> str | None:
    """The name the first fully matching pattern gives `our_name`; None when none matches."""
    for pattern, rename in patterns:
        match = pattern.fullmatch(our_name)
        if match:
            return rename(match)
    return None
