"""Error bodies compared across answers: the two fields that differ per answer are checked for
their format, then set aside (``error.timestamp`` and ``error.details.trace_id``, the W3C trace
id every request has, `kato.web.tracing`)."""

from __future__ import annotations

import copy
import re
from typing import Any

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
TRACE_ID = re.compile(r"[0-9a-f]{32}")


def stable(body: Any, *, in_request: bool = True) -> Any:
    """``body`` without its per-answer fields when it is a KATO error body, else as it is.
    ``in_request``: the body answered a request, so its trace id must be set (else it may be
    null: a body made outside any request)."""
    if not (isinstance(body, dict) and isinstance(body.get("error"), dict)):
        return body
    body = copy.deepcopy(body)
    error = body["error"]
    assert TIMESTAMP.fullmatch(error.pop("timestamp")), error
    trace_id = error["details"].pop("trace_id")
    if trace_id is None:
        assert not in_request, "an answer to a request without details.trace_id"
    else:
        assert TRACE_ID.fullmatch(trace_id), trace_id
    return body
