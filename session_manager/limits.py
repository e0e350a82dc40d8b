"""How many requests per second one caller may make (the session quota is in `quotas.py`).

- **Rates** (`KATO_RATE_LIMIT_USER`, `_SESSION`, `_GLOBAL`): token buckets refilled at the
  rate, holding twice the rate (the burst). The user bucket is a token's subject's (the
  operator has none); the session bucket is the session's a request goes to (its path's id,
  `X-Session-ID`, or the token's `sid`); the global bucket takes every request but the
  probes. Buckets live in one bounded LRU table (`KATO_RATE_LIMIT_KEYS`): the least recently
  seen is forgotten, and comes back full, so memory never grows with the number of users.
  A request that one bucket refuses takes no token from the others.

**Shedding** (`KATO_SHED_INFLIGHT`, 0 = off): the manager's own queue is the number of HTTP
requests it works on at once (proxied calls included, probes not); past the bound a new request
is answered at once with 503 `KATO_OVERLOADED` and `Retry-After` (`KATO_RETRY_AFTER`), so a
flood makes callers wait and retry instead of making every request slow. A count, not a
latency: it reacts at once, is the same on every machine, and latency follows from it.

Direct container access (a session's `url` and its container token) does not pass the
manager and is outside these limits.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from kato.contract import PROBE_PATHS

from .auth import PRINCIPAL_KEY, Principal
from .errors import OverloadedError, RateLimitedError
from .logs import request_id_var
from .middleware import reject
from .models import is_session_id
from .proxy import SESSION_PREFIXES
from .settings import ManagerSettings

__all__ = ["Bucket", "RateLimitMiddleware", "RateLimits", "session_of"]


class Bucket:
    """A token bucket: `rate` tokens a second, at most `2 * rate` held."""

    __slots__ = ("capacity", "rate", "tokens", "updated")

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.capacity = 2 * rate
        self.tokens = self.capacity
        self.updated = now

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def headers(self) -> dict[str, str]:
        """The IETF draft's fields: the burst, what is left, seconds until full again."""
        return {
            "RateLimit-Limit": str(math.floor(self.capacity)),
            "RateLimit-Remaining": str(math.floor(self.tokens)),
            "RateLimit-Reset": str(math.ceil((self.capacity - self.tokens) / self.rate)),
        }

    def retry_after(self) -> int:
        return max(1, math.ceil((1 - self.tokens) / self.rate))


class RateLimits:
    """The three kinds of buckets; `take` counts one request or refuses it (429)."""

    def __init__(
        self,
        settings: ManagerSettings,
        clock: Callable[[], float] = time.monotonic,
        on_refusal: Callable[[str, str | None], None] = lambda reason, user: None,
    ) -> None:
        """`on_refusal(reason, user)`: told of each 429 (the metrics count it)."""
        self.rates = {
            "global": settings.rate_limit_global,
            "user": settings.rate_limit_user,
            "session": settings.rate_limit_session,
        }
        self.max_keys = settings.rate_limit_keys
        self.clock = clock
        self.on_refusal = on_refusal
        self._buckets: OrderedDict[tuple[str, str], Bucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return any(self.rates.values())

    def take(self, user: str | None, session_id: str | None) -> None:
        """One request of `user` (None: the operator) to `session_id` (None: no session)."""
        now = self.clock()
        wanted = [("global", ""), ("user", user), ("session", session_id)]
        buckets = [
            (kind, self._bucket(kind, key, now))
            for kind, key in wanted
            if key is not None and self.rates[kind]
        ]
        for kind, bucket in buckets:
            if bucket.tokens < 1:
                self.on_refusal(f"rate_{kind}", user)
                raise RateLimitedError(
                    f"more than {self.rates[kind]:g} requests per second ({kind})",
                    {"limit": f"KATO_RATE_LIMIT_{kind.upper()}", "rate": self.rates[kind]},
                    {"Retry-After": str(bucket.retry_after()), **bucket.headers()},
                )
        for _, bucket in buckets:
            bucket.tokens -= 1

    def _bucket(self, kind: str, key: str, now: float) -> Bucket:
        bucket = self._buckets.get((kind, key))
        if bucket is None:
            bucket = self._buckets[(kind, key)] = Bucket(self.rates[kind], now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end((kind, key))
            bucket.refill(now)
        return bucket

    def __len__(self) -> int:
        return len(self._buckets)


def session_of(scope: Scope, principal: Principal | None) -> str | None:
    """The session a request goes to, as far as its path and headers say (no lookup)."""
    path: str = scope["path"]
    for prefix in SESSION_PREFIXES:
        if path.startswith(prefix + "/"):
            segment = path[len(prefix) + 1 :].partition("/")[0]
            return segment if is_session_id(segment) else None
    for name, value in scope["headers"]:
        if name == b"x-session-id":
            given = value.decode("latin-1")
            return given if is_session_id(given) else None
    return principal.session_id if principal is not None else None


class RateLimitMiddleware:
    """Counts each request (and each WebSocket open) against the rates, after the caller is
    known (inside `RequestContextMiddleware`); a refusal is answered as every error is."""

    def __init__(
        self, app: ASGIApp, *, limits: RateLimits, shed_inflight: int = 0, retry_after: int = 1
    ) -> None:
        self.app = app
        self.limits = limits
        self.shed_inflight = shed_inflight
        self.retry_after = retry_after
        self.inflight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in PROBE_PATHS:
            await self.app(scope, receive, send)
            return
        principal: Principal | None = scope.get(PRINCIPAL_KEY)
        user = principal.subject if principal is not None else None
        try:
            if self.shed_inflight and self.inflight >= self.shed_inflight:
                self.limits.on_refusal("overload", user)
                raise OverloadedError(
                    f"the manager works on {self.shed_inflight} requests already",
                    self.retry_after,
                    {"limit": "KATO_SHED_INFLIGHT", "max": self.shed_inflight},
                )
            if self.limits.enabled:
                self.limits.take(user, session_of(scope, principal))
        except (OverloadedError, RateLimitedError) as exc:
            await reject(scope, send, exc, request_id_var.get() or "")
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.inflight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.inflight -= 1
