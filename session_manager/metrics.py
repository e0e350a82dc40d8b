"""Prometheus metrics on the manager's own registry (never the global default one).

`deploy/prometheus/rules.yml` and `deploy/grafana/kato.json` are built on these names; a test
(tests/integration/monitoring) checks every query of both against a real manager.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = [
    "ENGINE_PING_TIMEOUT",
    "REAP_KINDS",
    "REJECTION_USER_LABELS",
    "SPAWN_REASONS",
    "ManagerMetrics",
]

#: Seconds a scrape waits for the engine's ping before it reports `kato_engine_up 0`.
ENGINE_PING_TIMEOUT = 2.0
#: The `reason` of `kato_spawns_total` and `kato_spawn_duration_seconds`.
SPAWN_REASONS = ("create", "wake")
#: The `kind` of `kato_reaps_total` and `kato_reap_failures_total`.
REAP_KINDS = ("hibernation", "expiry")
#: Users that get their own `user` label on `kato_rejections_total`; later ones are `other`.
REJECTION_USER_LABELS = 20
_SPAWN_BUCKETS = (0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60)
_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)


class _SessionsByStatus(Collector):
    """Read at scrape time from the registry, so the gauge can never drift from the records."""

    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily("kato_sessions", "Sessions by status.", labels=["status"])
        for status, count in self._counts().items():
            gauge.add_metric([status], count)
        yield gauge


class _QuotaUsage(Collector):
    """The quota's use without a label per user: the most sessions one user owns, and how
    many users are at `KATO_MAX_SESSIONS_PER_USER` (read at scrape time from the registry)."""

    def __init__(self, owned: Callable[[], list[int]], limit: int) -> None:
        self._owned = owned
        self._limit = limit

    def collect(self) -> Iterator[Metric]:
        owned = self._owned()
        yield GaugeMetricFamily(
            "kato_quota_user_sessions_max",
            "Sessions owned by the user who owns the most.",
            value=max(owned, default=0),
        )
        yield GaugeMetricFamily(
            "kato_quota_users_at_limit",
            "Users owning KATO_MAX_SESSIONS_PER_USER sessions (0 when there is no limit).",
            value=sum(1 for n in owned if n >= self._limit) if self._limit else 0,
        )


class _RouterActivity(Collector):
    """What an external router (`KATO_ROUTER=haproxy`) carried, as last read by the reaper:
    per running session (bounded by KATO_MAX_SESSIONS) its requests and what is open now."""

    def __init__(self, seen: Callable[[], Mapping[str, tuple[int, int]]]) -> None:
        self._seen = seen

    def collect(self) -> Iterator[Metric]:
        requests = GaugeMetricFamily(
            "kato_router_session_requests",
            "Requests the router carried to a running session (HAProxy's count since the "
            "session was first routed by this router, as of the last reap).",
            labels=["session_id"],
        )
        open_now = GaugeMetricFamily(
            "kato_router_session_open",
            "Requests and WebSockets of a running session open at the router (last reap).",
            labels=["session_id"],
        )
        for session_id, (count, opened) in sorted(self._seen().items()):
            requests.add_metric([session_id], count)
            open_now.add_metric([session_id], opened)
        yield requests
        yield open_now


class _EngineUp(Collector):
    """`kato_engine_up`: 1 when the engine answered a ping within `timeout` at this scrape.

    The ping runs on its own daemon thread, so a hung engine (the Docker client waits up to
    60 s) costs a scrape `timeout` seconds, not the scrape; while a ping still hangs, later
    scrapes wait on that one instead of starting another.
    """

    def __init__(self, ping: Callable[[], None], timeout: float) -> None:
        self._ping = ping
        self._timeout = timeout
        self._lock = threading.Lock()
        self._pending: Future[None] | None = None

    def collect(self) -> Iterator[Metric]:
        try:
            self._current().result(timeout=self._timeout)
            up = 1
        except Exception:  # an engine error or no answer in time: both mean unreachable
            up = 0
        yield GaugeMetricFamily(
            "kato_engine_up",
            "1 when the container engine answered a ping at this scrape, else 0.",
            value=up,
        )

    def _current(self) -> Future[None]:
        with self._lock:
            if self._pending is None or self._pending.done():
                self._pending = Future()
                threading.Thread(
                    target=self._run, args=(self._pending,), name="kato-engine-ping", daemon=True
                ).start()
            return self._pending

    def _run(self, future: Future[None]) -> None:
        try:
            self._ping()
        except BaseException as exc:
            future.set_exception(exc)
        else:
            future.set_result(None)


class ManagerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.spawns = Counter(
            "kato_spawns",
            "Containers started, by reason (create, wake) and outcome (ok, error).",
            ["reason", "outcome"],
            registry=self.registry,
        )
        self.spawn_seconds = Histogram(
            "kato_spawn_duration_seconds",
            "Time from spawn request to a ready container.",
            ["reason"],
            buckets=_SPAWN_BUCKETS,
            registry=self.registry,
        )
        self.proxied = Counter(
            "kato_proxied_requests",
            "Requests proxied to processors, by HTTP status.",
            ["status"],
            registry=self.registry,
        )
        self._proxied_by_status: dict[int, Counter] = {}
        self.proxy_seconds = Histogram(
            "kato_proxy_latency_seconds",
            "Time to proxy one request (container time included).",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.reaps = Counter(
            "kato_reaps",
            "Sessions reaped, by kind (hibernation, expiry).",
            ["kind"],
            registry=self.registry,
        )

        self.reap_failures = Counter(
            "kato_reap_failures",
            "Reaper attempts that failed (snapshot timeout or error, engine error), by kind "
            "(hibernation, expiry); the session is left as it was and retried after a back-off.",
            ["kind"],
            registry=self.registry,
        )

        self.pool_desired = Gauge(
            "kato_pool_desired",
            "Warm pool size asked for (KATO_POOL_SIZE).",
            registry=self.registry,
        )
        self.pool_ready = Gauge(
            "kato_pool_ready", "Pooled processors ready to be claimed.", registry=self.registry
        )
        self.pool_starting = Gauge(
            "kato_pool_starting", "Pooled processors being started.", registry=self.registry
        )
        self.pool_claims = Counter(
            "kato_pool_claims",
            "Creates by pool result: hit (a pooled processor claimed), miss (cold start).",
            ["result"],
            registry=self.registry,
        )
        self.pool_refill_seconds = Histogram(
            "kato_pool_refill_duration_seconds",
            "Time to start one pooled processor.",
            buckets=_SPAWN_BUCKETS,
            registry=self.registry,
        )
        self.evictions = Counter(
            "kato_evictions",
            "Idle sessions hibernated to make room for a create or wake at KATO_MAX_SESSIONS.",
            registry=self.registry,
        )
        self.admission_waiting = Gauge(
            "kato_admission_waiting",
            "Creates and wakes waiting for room (at KATO_MAX_SESSIONS).",
            registry=self.registry,
        )
        self.admission_wait_seconds = Histogram(
            "kato_admission_wait_seconds",
            "Time a create or wake waited for room, by outcome (admitted, refused).",
            ["outcome"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

        self.max_sessions = Gauge(
            "kato_max_sessions",
            "Running containers at most (KATO_MAX_SESSIONS): sessions plus pooled processors.",
            registry=self.registry,
        )

        self.rejections = Counter(
            "kato_rejections",
            "Requests refused by a quota, rate limit or shedding, by reason (quota, "
            "rate_global, rate_user, rate_session, overload) and user (`operator`; the first "
            f"{REJECTION_USER_LABELS} users by name, then `other`).",
            ["reason", "user"],
            registry=self.registry,
        )
        self.quota_limit = Gauge(
            "kato_quota_max_sessions_per_user",
            "Sessions one user may own (KATO_MAX_SESSIONS_PER_USER; 0: no limit).",
            registry=self.registry,
        )
        self.rate_limit_buckets = Gauge(
            "kato_rate_limit_buckets",
            "Rate-limit buckets kept now (users and sessions; at most KATO_RATE_LIMIT_KEYS).",
            registry=self.registry,
        )
        self._rejection_users: set[str] = set()

        self._zero_known_labels()

    def proxied_with(self, status: int) -> Counter:
        """`kato_proxied_requests{status}`'s child for `status`, looked up once per status:
        `labels()` validates and locks on every call (~3 µs of each proxied request)."""
        child = self._proxied_by_status.get(status)
        if child is None:
            child = self._proxied_by_status[status] = self.proxied.labels(str(status))
        return child

    def rejected(self, reason: str, user: str | None) -> None:
        """Count one refusal; the `user` label's values stay few (see `kato_rejections`)."""
        label = "operator" if user is None else user
        if user is not None and user not in self._rejection_users:
            if len(self._rejection_users) < REJECTION_USER_LABELS:
                self._rejection_users.add(user)
            else:
                label = "other"
        self.rejections.labels(reason, label).inc()

    def _zero_known_labels(self) -> None:
        """Export every known label value from the start, at 0: a series that first appears
        at 1 is invisible to `rate`/`increase`, and a rule over a missing series never fires
        (deploy/prometheus/rules.yml alerts on the first spawn or reap failure)."""
        for reason in SPAWN_REASONS:
            self.spawn_seconds.labels(reason)
            for outcome in ("ok", "error"):
                self.spawns.labels(reason, outcome)
        for kind in REAP_KINDS:
            self.reaps.labels(kind)
            self.reap_failures.labels(kind)
        for result in ("hit", "miss"):
            self.pool_claims.labels(result)
        for outcome in ("admitted", "refused"):
            self.admission_wait_seconds.labels(outcome)

    def watch_sessions(self, counts: Callable[[], dict[str, int]]) -> None:
        self.registry.register(_SessionsByStatus(counts))

    def watch_quota(self, owned: Callable[[], list[int]], limit: int) -> None:
        self.registry.register(_QuotaUsage(owned, limit))

    def watch_router(self, seen: Callable[[], Mapping[str, tuple[int, int]]]) -> None:
        """Per running session: (requests, open) at the router (`_RouterActivity`)."""
        self.registry.register(_RouterActivity(seen))

    def watch_engine(self, ping: Callable[[], None], timeout: float = ENGINE_PING_TIMEOUT) -> None:
        """Ping the engine at each scrape (`kato_engine_up`); `ping` raises when it cannot."""
        self.registry.register(_EngineUp(ping, timeout))

    def render(self) -> bytes:
        return generate_latest(self.registry)
