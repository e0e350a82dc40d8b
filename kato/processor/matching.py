"""Ratcliff/Obershelp matching blocks, identical to ``difflib.SequenceMatcher(None, a, b,
autojunk=False).get_matching_blocks()`` (sentinel omitted), specialised for KATO's inputs.

difflib scans every element of ``a`` for every window. Patterns and states are short and share
few symbols, so this version starts from the list of equal pairs ``(i, j)`` (``a[i] == b[j]``),
which the caller builds from position indexes, and only ever looks at those. The decomposition
rule is difflib's: in each window take the longest run, ties to the smallest ``i`` then the
smallest ``j``; recurse left and right; sort; merge blocks adjacent in both sequences.
A unit test checks equality with difflib on random inputs.
"""

from __future__ import annotations

from collections.abc import Sequence

Block = tuple[int, int, int]


def matching_blocks(
    a: Sequence[str], b: Sequence[str], pairs: Sequence[tuple[int, int]]
) -> list[Block]:
    """Blocks ``(i, j, size)`` of ``a`` vs ``b``; ``pairs`` = every equal pair sorted by (i, j)."""
    if len(pairs) < 2:
        return [(pairs[0][0], pairs[0][1], 1)] if pairs else []
    found: list[Block] = []
    windows = [(0, len(a), 0, len(b))]
    while windows:
        alo, ahi, blo, bhi = windows.pop()
        best_i = best_j = best_k = 0
        for i, j in pairs:
            if i < alo or j < blo or j >= bhi:
                continue
            if i >= ahi:
                break
            k = 1
            while i + k < ahi and j + k < bhi and a[i + k] == b[j + k]:
                k += 1
            if k > best_k:
                best_i, best_j, best_k = i, j, k
        if best_k:
            found.append((best_i, best_j, best_k))
            if alo < best_i and blo < best_j:
                windows.append((alo, best_i, blo, best_j))
            if best_i + best_k < ahi and best_j + best_k < bhi:
                windows.append((best_i + best_k, ahi, best_j + best_k, bhi))
    found.sort()
    merged: list[Block] = []
    i1, j1, k1 = found[0]
    for i2, j2, k2 in found[1:]:
        if i1 + k1 == i2 and j1 + k1 == j2:
            k1 += k2
        else:
            merged.append((i1, j1, k1))
            i1, j1, k1 = i2, j2, k2
    merged.append((i1, j1, k1))
    return merged


def positions(sequence: Sequence[str]) -> dict[str, list[int]]:
    """Every symbol's indexes in ``sequence``, ascending (what :func:`equal_pairs` takes)."""
    found: dict[str, list[int]] = {}
    for index, symbol in enumerate(sequence):
        found.setdefault(symbol, []).append(index)
    return found


def equal_pairs(
    pattern_positions: dict[str, tuple[int, ...]], state_positions: dict[str, list[int]]
) -> list[tuple[int, int]]:
    """Every ``(i, j)`` with ``pattern[i] == state[j]``, sorted, from two position indexes."""
    pairs = [
        (i, j)
        for symbol, js in state_positions.items()
        if (is_ := pattern_positions.get(symbol))
        for i in is_
        for j in js
    ]
    pairs.sort()
    return pairs
