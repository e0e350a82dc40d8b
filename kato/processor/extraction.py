"""Per-candidate event segmentation (spec §5.4–§5.5), given the matching blocks.

Segmentation works on event indices: ``offsets`` holds the flattened start of every event, so
"the events overlapping the flattened span" is two bisections instead of a walk.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import NamedTuple

from kato.processor.knowledge import IndexedPattern
from kato.processor.matching import Block


class Extraction(NamedTuple):
    """What one candidate contributes before the ensemble metrics are known.

    ``first``/``end`` delimit the present events (``events[first:end]``); past and future are
    the events before and after. ``present`` is those events' symbols, flattened.
    """

    matches: tuple[str, ...]
    first: int
    end: int
    present: tuple[str, ...]
    missing: tuple[str, ...]
    extras: tuple[str, ...]
    fragmentation: float
    confidence: float


def extract(pattern: IndexedPattern, blocks: Sequence[Block], state: Sequence[str]) -> Extraction:
    """Segment one candidate given its matching blocks (no sentinel).

    ``extras`` are the state symbols not covered by any block, which the spec shows equals the
    literal upstream second diff run. Zero blocks (threshold 0.0 only) make the whole pattern
    ``present`` and the whole state ``extras``.
    """
    offsets = pattern.offsets
    if blocks:
        matches: tuple[str, ...] = ()
        extras: tuple[str, ...] = ()
        cursor = 0
        for _, j, size in blocks:  # blocks ascend in the state too
            extras += tuple(state[cursor:j])
            matches += tuple(state[j:j + size])
            cursor = j + size
        extras += tuple(state[cursor:])
        first = bisect_left(offsets, blocks[0][0])
        end = bisect_left(offsets, blocks[-1][0] + blocks[-1][2], first)
        fragmentation = float(len(blocks) - 1)
        # Boundary fix-up by value (QUIRK-3, kept for parity): the event before the present
        # joins it when it contains the first matched symbol.
        if first and matches[0] in pattern.events[first - 1]:
            first -= 1
    else:
        matches, extras = (), tuple(state)
        first, end, fragmentation = 0, bisect_left(offsets, len(pattern.flat)), -1.0
    present = pattern.flat[offsets[first]:offsets[end]]
    matched = set(matches)
    # Membership by value, ignoring multiplicity (QUIRK-4, kept for parity).
    missing = tuple(s for s in present if s not in matched)
    confidence = len(matches) / len(present) if present else 0.0
    return Extraction(matches, first, end, present, missing, extras, fragmentation, confidence)
