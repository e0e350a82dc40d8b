"""The pair-based matcher equals difflib's matching blocks (autojunk off, pattern first)."""

from __future__ import annotations

import difflib
import random

import pytest

from kato.processor.matching import equal_pairs, matching_blocks, positions


@pytest.mark.parametrize("alphabet", ["ab", "abc", "abcdefgh", "abcdefghijklmnopqrst"])
def test_equals_difflib_on_random_sequences(alphabet: str) -> None:
    rng = random.Random(alphabet)
    for _ in range(3000):
        a = [rng.choice(alphabet) for _ in range(rng.randint(0, 30))]
        b = [rng.choice(alphabet) for _ in range(rng.randint(0, 30))]
        expected = [
            tuple(block)
            for block in difflib.SequenceMatcher(None, a, b, autojunk=False)
            .get_matching_blocks()[:-1]
        ]
        pattern_positions = {k: tuple(v) for k, v in positions(a).items()}
        pairs = equal_pairs(pattern_positions, positions(b))
        assert matching_blocks(a, b, pairs) == expected


def test_long_state_differs_from_autojunk_default() -> None:
    """Inputs of ≥ 200 symbols, where difflib's default autojunk would change the answer."""
    a = ["x"] * 5 + ["y"]
    b = ["x"] * 250 + ["y"]
    pairs = equal_pairs({k: tuple(v) for k, v in positions(a).items()}, positions(b))
    expected = difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()[:-1]
    assert matching_blocks(a, b, pairs) == [tuple(m) for m in expected]
