"""`integer_range_pattern`: a regular expression matching exactly the decimal integers in
[low, high] (no sign, no leading zeros), so that a bound on a number written in a string (a
memory limit such as `512m`) can be stated in a JSON schema.

The range is split into pieces of the form "digits fixed up to a position, then one digit in a
range, then any digits" (the construction of the `to-regex-range` family of tools).
"""

from __future__ import annotations

__all__ = ["integer_range_pattern"]


def integer_range_pattern(low: int, high: int) -> str:
    """A regex (no anchors) for the integers low..high, both included; `(?!)` if empty."""
    if low < 0 or high < low:
        return "(?!)"
    return "(?:" + "|".join(_pieces(low, high)) + ")"


def _pieces(low: int, high: int) -> list[str]:
    pieces: list[str] = []
    if low == 0:  # 0 is aligned on every power of ten: its own piece
        pieces.append("0")
        low = 1
    while low <= high:
        # The largest block [low, low + 10^k - 1] aligned on 10^k that stays within high.
        span = 1
        while low % (span * 10) == 0 and low + span * 10 - 1 <= high:
            span *= 10
        top = low + span - 1
        pieces.append(_block(low, top))
        low = top + 1
    return pieces


def _block(low: int, high: int) -> str:
    """low..high: the same number of digits, equal but for one digit that ranges and the
    trailing ones that take any value."""
    a, b = str(low), str(high)
    out = ""
    for da, db in zip(a, b, strict=True):
        out += da if da == db else (f"[{da}-{db}]" if (da, db) != ("0", "9") else "[0-9]")
    return out
