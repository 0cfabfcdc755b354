"""Errors whose message names settings in the terms of the layer that raised them.

A layer below the application names what the user can change as it knows it: the dotted path
of a settings object it was given (`optim.lr`) or one of its own parameters
(`on_bad_sample`). The application knows what its users typed to set each of them (the
command line: a flag) and rewrites the names listed in `fields`; nothing else in the message
changes.
"""

from __future__ import annotations

from collections.abc import Sequence


class NamesSettings(Exception):
    """Base of errors that name settings; `fields`: those names, as the message writes them."""

    def __init__(self, message: str, fields: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.fields = tuple(fields)
