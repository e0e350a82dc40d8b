"""Which request ids a service takes from its client (``X-Trace-ID``, ``X-Request-ID``).

A client's id is echoed in the answer and written in every log line, so it is kept only when it
is 1-128 visible ASCII characters; anything else (a 16 KB header that overflowed the answer's
headers into a 502, control characters) is replaced by one the service generates.
"""

from __future__ import annotations

import re

__all__ = ["CLIENT_ID"]

#: Use ``CLIENT_ID.fullmatch(value)`` on the raw header value.
CLIENT_ID = re.compile(rb"[\x21-\x7e]{1,128}")
