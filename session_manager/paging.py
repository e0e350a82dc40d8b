"""Pages of the session listing (`GET /sessions`, the dashboard): limits and cursors.

A listing is in creation order, oldest first, with the session id breaking ties: the key
`(created_at, session_id)` of a record never changes and a new session sorts after every
existing one, so walking the pages while sessions are created or deleted never repeats a
session nor skips one that existed throughout. The cursor is that key of a page's last
record, as unpadded base64url of JSON: opaque to clients (pass `next_cursor` back unchanged),
readable to an operator debugging one. At 10,000 sessions an unpaged listing was a
2 MB answer; a page is read with one indexed keyset query (`SessionRegistry.page`).
"""

from __future__ import annotations

import base64
import binascii
import json
import math

from .errors import ValidationFailedError
from .models import is_session_id
from .registry import PageKey

__all__ = ["CURSOR", "DEFAULT_LIMIT", "MAX_CURSOR", "MAX_LIMIT", "decode_cursor", "encode_cursor"]

#: Sessions in a page when the caller names no `limit`, and the most it may ask for.
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
#: A cursor is about 70 characters of base64url; anything much longer is not one.
MAX_CURSOR = 200
CURSOR = r"^[A-Za-z0-9_-]+$"


def encode_cursor(key: PageKey) -> str:
    raw = json.dumps([key[0], key[1]], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> PageKey:
    """The key a cursor of `encode_cursor` holds; a 422 `KATO_VALIDATION_ERROR` for anything
    else (cut, edited, or from another API)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, session_id = json.loads(raw)
        if (
            isinstance(created_at, int | float)
            and not isinstance(created_at, bool)
            and math.isfinite(created_at)
            and isinstance(session_id, str)
            and is_session_id(session_id)
        ):
            return float(created_at), session_id
    except (binascii.Error, ValueError, TypeError):
        pass
    raise ValidationFailedError(
        "malformed cursor: pass the next_cursor of an earlier page unchanged",
        {"cursor": cursor[:MAX_CURSOR]},
    )
