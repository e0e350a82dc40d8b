"""Pattern names (spec §3.3) and within-event sorting (§2.3)."""

from __future__ import annotations

import pytest

from kato.processor.naming import bare, pattern_name, prefixed, sorted_symbols


@pytest.mark.parametrize(
    ("pattern", "sha1"),
    [
        ([["a"], ["b"], ["c"]], "b98534b32c1d7489d4ce1a48724aa65aeecbdba9"),
        ([["a", "b"]], "395314cc2f2880a00c3e6e11f1e02d8b8c45a0e4"),
        ([["a"], ["b"]], "76d7efca2e96cb5eeddf4e06ac96a0f424630135"),
        ([["hello", "world"], ["bar", "foo"]], "0405596c4d7172818bfeb508925e83226d4c4971"),
        ([["it's"], ['say "hi"']], "ffff938f5b1b777eb0a54d8cb3d2100be70cca5b"),
        (
            [["both'\""], ["back\\slash", "tab\t"], ["é", "日本"]],
            "2d4cd96cb8409d42a42c2bc93d29061ef7901c47",
        ),
    ],
)
def test_pattern_name_matches_reference(pattern: list[list[str]], sha1: str) -> None:
    assert pattern_name(pattern) == sha1


def test_pattern_name_accepts_tuples_like_lists() -> None:
    assert pattern_name((("a",), ("b",))) == pattern_name([["a"], ["b"]])


def test_prefix_helpers() -> None:
    assert prefixed("abc") == "PTRN|abc"
    assert prefixed("PTRN|abc") == "PTRN|abc"
    assert bare("PTRN|abc") == "abc"
    assert bare("abc") == "abc"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["Zoo", "Apple", "apple"], ["Apple", "Zoo", "apple"]),
        (["test_2", "test_1", "test_10"], ["test_1", "test_10", "test_2"]),
        (["z", "", "a", "middle"], ["", "a", "middle", "z"]),
        (["b", "a", "b"], ["a", "b", "b"]),
    ],
)
def test_sorting_is_code_point_order_with_duplicates(
    given: list[str], expected: list[str]
) -> None:
    assert sorted_symbols(given, True) == expected


def test_sorting_off_keeps_caller_order() -> None:
    assert sorted_symbols(["b", "a"], False) == ["b", "a"]
