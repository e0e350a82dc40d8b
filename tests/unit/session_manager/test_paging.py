"""Cursors: what `encode_cursor` makes `decode_cursor` reads back exactly, and only that."""

from __future__ import annotations

import base64
import re

import pytest

from session_manager.errors import ValidationFailedError
from session_manager.paging import CURSOR, decode_cursor, encode_cursor

SID = "0123456789abcdef" * 2


@pytest.mark.parametrize("created_at", [0.0, 1.5, 1767225600.123456, 1e-7, 2.0**52 + 0.5])
def test_a_cursor_round_trips_its_key_exactly(created_at: float) -> None:
    cursor = encode_cursor((created_at, SID))
    assert decode_cursor(cursor) == (created_at, SID)
    assert "=" not in cursor and len(cursor) < 100
    assert re.match(CURSOR, cursor)


@pytest.mark.parametrize("cursor", ["", "!!!", "bnVsbA", "WzEsMiwzXQ", "WyJOYU4iLCIwIl0"])
def test_anything_else_is_a_validation_error(cursor: str) -> None:
    with pytest.raises(ValidationFailedError) as raised:
        decode_cursor(cursor)
    assert raised.value.status == 422 and raised.value.code == "KATO_VALIDATION_ERROR"


def test_an_infinite_or_boolean_time_is_refused() -> None:
    for raw in (b'[Infinity,"%s"]' % SID.encode(), b'[true,"%s"]' % SID.encode()):
        cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        with pytest.raises(ValidationFailedError):
            decode_cursor(cursor)
