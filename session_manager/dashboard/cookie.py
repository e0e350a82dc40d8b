"""The dashboard's login cookie: what it holds, which paths need no key, how it is read.

The cookie holds an HMAC of the API key, not the key: a cookie that leaks (a log, a proxy)
does not give `Authorization: Bearer` access, and changing `KATO_API_KEY` ends every login.
It is HttpOnly (no script reads it) and SameSite=Strict (no other site sends it). `Secure` is
set when the login came over https; the manager itself serves plain http on 127.0.0.1, where a
`Secure` cookie would be dropped by browsers other than Chromium, so there it is left off.

Cookies do not stop a page on another port of the same host (same site) from sending them,
so a request authenticated by the cookie that changes something must also carry the
`X-KATO-Dashboard` header: a cross-origin page cannot add it without a CORS preflight, which
the manager never grants. WebSockets never authenticate with the cookie; the page's live events
(`GET /events`, an EventSource, which cannot send an `Authorization` header) do.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = [
    "COOKIE_NAME",
    "COOKIE_SCOPE_KEY",
    "CSRF_HEADER",
    "cookie_value",
    "is_open_path",
    "split_cookie",
]

COOKIE_NAME = "kato_dashboard"
CSRF_HEADER = "x-kato-dashboard"
#: The ASGI scope key where the middleware leaves the cookie it took off the headers.
COOKIE_SCOPE_KEY = "kato.dashboard_cookie"
#: The page, its assets and the login itself: the page asks for the key when the API says 401.
_OPEN_PATHS = frozenset(
    {
        "/dashboard",
        "/dashboard/docs",
        "/dashboard/login",
        "/dashboard/logout",
        "/dashboard/api/auth",
    }
)
_OPEN_PREFIX = "/dashboard/static/"


def is_open_path(path: str) -> bool:
    return path in _OPEN_PATHS or path.startswith(_OPEN_PREFIX)


def cookie_value(api_key: str) -> str:
    return hmac.new(api_key.encode(), b"kato-dashboard-login-v1", hashlib.sha256).hexdigest()


def split_cookie(header: bytes) -> tuple[bytes | None, bytes]:
    """The dashboard cookie's value (None if absent) and the `Cookie` header without it, so
    the login never travels further (the proxy forwards cookies to the processors)."""
    found: bytes | None = None
    kept: list[bytes] = []
    for part in header.split(b";"):
        name, _, value = part.strip().partition(b"=")
        if name == COOKIE_NAME.encode():
            found = value
        elif part.strip():
            kept.append(part.strip())
    return found, b"; ".join(kept)
