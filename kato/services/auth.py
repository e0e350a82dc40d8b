"""Optional bearer-token protection (``KATO_PROCESSOR_TOKEN``); unset means an open API.

The probes (``/health``, ``/health/live|ready|startup``) stay open so orchestrators can probe
the container without the secret. WebSockets may
send the token in ``Authorization`` or as ``?token=`` (browsers cannot set WS headers).
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs

from kato.contract import PROBE_PATHS

OPEN_PATHS = PROBE_PATHS


class TokenCheck:
    """Constant-time comparison of the presented token with the configured one."""

    def __init__(self, token: str | None) -> None:
        self._expected = f"Bearer {token}".encode() if token else None
        self._token = token.encode() if token else None

    @property
    def enabled(self) -> bool:
        return self._expected is not None

    def exempt(self, path: str, method: str) -> bool:
        """Paths anyone may call; CORS preflights carry no credentials by design."""
        return path in OPEN_PATHS or method == "OPTIONS"

    def header_ok(self, headers: list[tuple[bytes, bytes]]) -> bool:
        if self._expected is None:
            return True
        for name, value in headers:
            if name == b"authorization" and hmac.compare_digest(value, self._expected):
                return True
        return False

    def websocket_ok(self, headers: list[tuple[bytes, bytes]], query_string: bytes) -> bool:
        if self._token is None or self.header_ok(headers):
            return True
        presented = parse_qs(query_string.decode("latin-1")).get("token", [])
        return any(hmac.compare_digest(value.encode(), self._token) for value in presented)
