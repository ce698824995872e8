"""Hiding secret variable values in everything a run prints."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MASK", "Masker"]

MASK = "***"


class Masker:
    """One regex alternation, longest value first, so overlapping secrets mask in one pass.

    A multi-line value is also masked line by line: logs arrive one line at a time, and the
    whole value would never appear inside a single line. Whitespace-only values and fragments are
    skipped: they reveal nothing and masking them would mangle every line.
    """

    def __init__(self, secret_values: Iterable[str]) -> None:
        fragments: set[str] = set()
        for value in secret_values:
            if not value or not value.strip():
                continue
            fragments.add(value)
            fragments.update(line for line in value.splitlines() if line.strip())
        ordered = sorted(fragments, key=lambda fragment: (-len(fragment), fragment))
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def mask(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)
