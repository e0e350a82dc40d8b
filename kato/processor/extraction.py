"""Per-candidate matching and event segmentation (spec §5.3–§5.5).

Matching blocks come from :class:`difflib.SequenceMatcher` with ``autojunk=False`` and the
pattern as the FIRST sequence: that is the Ratcliff/Obershelp decomposition upstream ships, so
using the standard library gives bit-for-bit parity. The state is set once as the second
sequence (difflib caches its index) and every candidate is swapped in as the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from difflib import Match

from kato.processor.prediction import Events


@dataclass(frozen=True, slots=True)
class Extraction:
    """What one candidate contributes before the ensemble metrics are known."""

    matches: tuple[str, ...]
    past: Events
    present: Events
    future: Events
    missing: tuple[str, ...]
    extras: tuple[str, ...]
    fragmentation: float
    confidence: float


def extract(
    events: Events, pattern_length: int, blocks: Sequence[Match], state: Sequence[str]
) -> Extraction:
    """Segment one candidate given its matching blocks (sentinel removed).

    ``extras`` are the state symbols not covered by any block, which the spec shows equals the
    literal upstream second diff run. Zero blocks (threshold 0.0 only) make the whole pattern
    ``present`` and the whole state ``extras``.
    """
    if blocks:
        matches = tuple(s for block in blocks for s in state[block.b:block.b + block.size])
        covered = {j for block in blocks for j in range(block.b, block.b + block.size)}
        extras = tuple(s for j, s in enumerate(state) if j not in covered)
        past_len = blocks[0].a
        span_end = blocks[-1].a + blocks[-1].size
        fragmentation = float(len(blocks) - 1)
    else:
        matches, extras = (), tuple(state)
        past_len, span_end, fragmentation = 0, pattern_length, -1.0
    past, present, future = _segment(events, past_len, span_end)
    # Boundary fix-up by value (QUIRK-3, kept for parity).
    if past and matches and matches[0] in past[-1]:
        present = (past[-1], *present)
        past = past[:-1]
    matched = set(matches)
    # Membership by value, ignoring multiplicity (QUIRK-4, kept for parity).
    missing = tuple(s for event in present for s in event if s not in matched)
    present_len = sum(len(event) for event in present)
    confidence = len(matches) / present_len if present_len else 0.0
    return Extraction(matches, past, present, future, missing, extras, fragmentation, confidence)


def _segment(events: Events, past_len: int, span_end: int) -> tuple[Events, Events, Events]:
    """Whole events before / overlapping / after the flattened span ``[past_len, span_end)``."""
    count = index = 0
    while count < past_len:
        count += len(events[index])
        index += 1
    first = index
    while count < span_end:
        count += len(events[index])
        index += 1
    return events[:first], events[first:index], events[index:]
