"""Pattern names and within-event symbol ordering (spec §2.3, §3.3)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

PATTERN_PREFIX = "PTRN|"


def pattern_name(events: Sequence[Sequence[str]]) -> str:
    """Bare sha1 of Python's ``str()`` of the pattern as a list of lists of str.

    The text must be exactly what upstream hashed, so events are converted to plain lists first
    (tuples would print with parentheses).
    """
    text = str([list(event) for event in events])
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def prefixed(name: str) -> str:
    """Public form ``PTRN|<sha1>`` of a bare or already prefixed name."""
    return name if name.startswith(PATTERN_PREFIX) else PATTERN_PREFIX + name


def bare(name: str) -> str:
    """Strip one leading ``PTRN|`` if present."""
    return name[len(PATTERN_PREFIX):] if name.startswith(PATTERN_PREFIX) else name


def sorted_symbols(symbols: Sequence[str], enabled: bool) -> list[str]:
    """Code-point order when sorting is on (duplicates kept), caller's order otherwise."""
    return sorted(symbols) if enabled else list(symbols)
