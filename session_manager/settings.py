"""Configuration of the session manager, read once at start-up from the environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from container_manager.settings import ContainerSettings

__all__ = ["ManagerSettings"]


class ManagerSettings(BaseSettings):
    """Every field names its environment variable and default in its description."""

    model_config = SettingsConfigDict(env_prefix="KATO_", extra="ignore", populate_by_name=True)

    host: str = Field(default="127.0.0.1", description="KATO_HOST (127.0.0.1): bind address.")
    port: int = Field(default=8080, ge=0, le=65535, description="KATO_PORT (8080): bind port.")
    # -- the data plane (session_manager/routing/) --------------------------------------------
    router: Literal["builtin", "haproxy"] = Field(
        default="builtin",
        description="KATO_ROUTER (builtin): what carries running sessions' traffic. `builtin`: "
        "the manager's own proxy. `haproxy`: HAProxy (started and configured by the manager, "
        "outliving it) listens on KATO_HOST:KATO_PORT and the manager's API moves to "
        "127.0.0.1:KATO_API_PORT.",
    )
    api_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="KATO_API_PORT (KATO_PORT + 1): the manager's own loopback port with "
        "KATO_ROUTER=haproxy (where HAProxy sends what it does not route itself).",
    )
    state_dir: Path = Field(
        default=Path("./state"),
        description="KATO_STATE_DIR (./state): directory of sessions.sqlite3.",
    )
    api_key: str | None = Field(
        default=None,
        description="KATO_API_KEY (unset): when set, every route but /health needs "
        "`Authorization: Bearer <key>`.",
    )
    # -- user tokens, quotas and rate limits (session_manager/auth.py, access.py, limits.py) --
    jwt_secret: str | None = Field(
        default=None,
        min_length=32,
        max_length=4096,
        description="KATO_JWT_SECRET (unset): HS256 key of user tokens (at least 32 characters); "
        "needs KATO_API_KEY.",
    )
    jwt_public_key: Path | None = Field(
        default=None,
        description="KATO_JWT_PUBLIC_KEY (unset): PEM file of the RSA (RS256) or EC P-256 "
        "(ES256) public key of user tokens; needs KATO_API_KEY.",
    )
    jwt_audience: str | None = Field(
        default=None,
        max_length=512,
        description="KATO_JWT_AUDIENCE (unset): when set, a user token's `aud` must name it.",
    )
    jwt_issuer: str | None = Field(
        default=None,
        max_length=512,
        description="KATO_JWT_ISSUER (unset): when set, a user token's `iss` must be it.",
    )
    jwt_leeway: float = Field(
        default=30.0,
        ge=0,
        le=300,
        description="KATO_JWT_LEEWAY (30 s): clock skew tolerated on `exp`, `nbf` and `iat`.",
    )
    max_sessions_per_user: int = Field(
        default=0,
        ge=0,
        description="KATO_MAX_SESSIONS_PER_USER (0 = no limit): sessions one user_id may own, "
        "hibernated ones included; a create beyond is 429 KATO_QUOTA_EXCEEDED.",
    )
    rate_limit_session: float = Field(
        default=0.0,
        ge=0,
        description="KATO_RATE_LIMIT_SESSION (0 = off): requests per second to one session "
        "(burst twice that); beyond, 429 KATO_RATE_LIMITED.",
    )
    rate_limit_user: float = Field(
        default=0.0,
        ge=0,
        description="KATO_RATE_LIMIT_USER (0 = off): requests per second of one token subject "
        "(burst twice that); beyond, 429 KATO_RATE_LIMITED.",
    )
    rate_limit_global: float = Field(
        default=0.0,
        ge=0,
        description="KATO_RATE_LIMIT_GLOBAL (0 = off): requests per second to the whole manager "
        "(burst twice that); beyond, 429 KATO_RATE_LIMITED.",
    )
    shed_inflight: int = Field(
        default=0,
        ge=0,
        le=1_000_000,
        description="KATO_SHED_INFLIGHT (0 = off): HTTP requests the manager works on at once "
        "at most; a new one beyond is answered 503 KATO_OVERLOADED with Retry-After at once.",
    )
    rate_limit_keys: int = Field(
        default=10_000,
        ge=1,
        le=10_000_000,
        description="KATO_RATE_LIMIT_KEYS (10000): users and sessions whose buckets are kept; "
        "the least recently seen is forgotten beyond (it starts again with a full burst).",
    )
    idle_timeout: float = Field(
        default=600.0,
        gt=0,
        description="KATO_IDLE_TIMEOUT (600 s): a session idle this long is hibernated.",
    )
    pause_after: float = Field(
        default=60.0,
        ge=0,
        le=365 * 86400,
        description="KATO_PAUSE_AFTER (60 s; 0 = off): a running session idle this long is "
        "paused in place (`docker pause`: memory kept, no CPU) until its next request or "
        "KATO_IDLE_TIMEOUT; not at or above KATO_IDLE_TIMEOUT, and off on Swarm.",
    )
    expired_retention: float = Field(
        default=86400.0,
        ge=0,
        le=10 * 365 * 86400,
        description="KATO_EXPIRED_RETENTION (86400 s): how long the id of a session deleted for "
        "its TTL answers 410 KATO_SESSION_EXPIRED instead of 404 (0: 404 at once).",
    )
    reap_interval: float = Field(
        default=30.0, gt=0, description="KATO_REAP_INTERVAL (30 s): how often the reaper runs."
    )
    reconcile_interval: float = Field(
        default=60.0,
        gt=0,
        description="KATO_RECONCILE_INTERVAL (60 s): how often records and containers are "
        "compared (adopt, remove orphans, mark vanished).",
    )
    max_sessions: int = Field(
        default=50, gt=0, description="KATO_MAX_SESSIONS (50): running containers at most."
    )
    max_concurrent_spawns: int = Field(
        default_factory=lambda: 2 * (os.cpu_count() or 1),
        gt=0,
        description="KATO_MAX_CONCURRENT_SPAWNS (2 x CPU count): containers started at once.",
    )
    spawn_queue: int = Field(
        default=64,
        ge=0,
        description="KATO_SPAWN_QUEUE (64): spawns that may wait for a slot (each at most "
        "KATO_SPAWN_WAIT); beyond, 503 at once.",
    )
    pool_size: int = Field(
        default=2,
        ge=0,
        le=1000,
        description="KATO_POOL_SIZE (2): processors kept started and unclaimed, so a create is "
        "a claim (~ms) instead of a start (~0.6 s); 0 turns the warm pool off. Sessions plus "
        "pooled processors never exceed KATO_MAX_SESSIONS.",
    )
    evict_min_idle: float = Field(
        default=60.0,
        ge=0,
        description="KATO_EVICT_MIN_IDLE (60 s): at KATO_MAX_SESSIONS, a create or wake first "
        "hibernates the least recently used session idle at least this long.",
    )
    spawn_wait: float = Field(
        default=10.0,
        ge=0,
        le=600,
        description="KATO_SPAWN_WAIT (10 s): how long a create or wake that finds no room waits "
        "in a first-come first-served queue before a 503; 0 answers 503 at once.",
    )
    max_body_bytes: int = Field(
        default=4 * 2**20,
        gt=0,
        description="KATO_MAX_BODY_BYTES (4 MiB): larger request bodies get 413.",
    )
    max_import_bytes: int = Field(
        default=256 * 2**20,
        gt=0,
        description="KATO_MAX_IMPORT_BYTES (256 MiB): body limit of POST /session/import.",
    )
    retry_after: int = Field(
        default=5, gt=0, description="KATO_RETRY_AFTER (5 s): Retry-After sent with 503."
    )
    proxy_timeout: float = Field(
        default=60.0,
        gt=0,
        description="KATO_PROXY_TIMEOUT (60 s): total time for one proxied request.",
    )
    snapshot_timeout: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="KATO_SNAPSHOT_TIMEOUT (30 s): time one GET /state of a hibernation may take; "
        "past it the session stays running and is retried later (back-off).",
    )
    reap_concurrency: int = Field(
        default=4,
        gt=0,
        le=64,
        description="KATO_REAP_CONCURRENCY (4): sessions hibernated or expired at once.",
    )
    reap_backoff_max: float = Field(
        default=3600.0,
        gt=0,
        description="KATO_REAP_BACKOFF_MAX (3600 s): longest wait before the reaper retries a "
        "session whose snapshot failed (doubling from KATO_REAP_INTERVAL).",
    )
    log_level: str = Field(
        default="INFO",
        validation_alias="LOG_LEVEL",
        description="LOG_LEVEL (INFO): level of the JSON logs.",
    )

    # -- lifecycle events and webhooks (session_manager/events.py, webhooks.py) ---------------
    event_backlog: int = Field(
        default=10_000,
        ge=1,
        le=10_000_000,
        description="KATO_EVENT_BACKLOG (10000): newest events kept for `GET /events` resume.",
    )
    events_keepalive: float = Field(
        default=15.0,
        gt=0,
        le=3600,
        description="KATO_EVENTS_KEEPALIVE (15 s): idle time before a `GET /events` stream "
        "sends a keep-alive comment.",
    )
    events_stream: bool = Field(
        default=True,
        description="KATO_EVENTS_STREAM (true): serve `GET /events`; false leaves the lifecycle "
        "events to the log and the webhooks (the dashboard's events panel then says so).",
    )
    webhook_url: str = Field(
        default="",
        max_length=8192,
        description="KATO_WEBHOOK_URL (unset): one or more http(s) URLs, comma-separated, each "
        "POSTed every lifecycle event.",
    )
    webhook_secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=1024,
        description="KATO_WEBHOOK_SECRET (unset): HMAC-SHA256 key of X-Kato-Signature; "
        "required when KATO_WEBHOOK_URL is set.",
    )
    webhook_max_attempts: int = Field(
        default=15,
        ge=1,
        le=100,
        description="KATO_WEBHOOK_MAX_ATTEMPTS (15): deliveries tried per event and URL before "
        "the event is dropped for that URL.",
    )
    webhook_backoff: float = Field(
        default=1.0,
        gt=0,
        le=3600,
        description="KATO_WEBHOOK_BACKOFF (1 s): wait after the first failed attempt; doubles "
        "after each further one.",
    )
    webhook_backoff_max: float = Field(
        default=300.0,
        gt=0,
        le=86400,
        description="KATO_WEBHOOK_BACKOFF_MAX (300 s): longest wait between two attempts.",
    )
    webhook_timeout: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="KATO_WEBHOOK_TIMEOUT (10 s): time a receiver has to answer one delivery.",
    )

    @property
    def webhook_urls(self) -> tuple[str, ...]:
        return tuple(url.strip() for url in self.webhook_url.split(",") if url.strip())

    @property
    def tokens_enabled(self) -> bool:
        return self.jwt_secret is not None or self.jwt_public_key is not None

    @model_validator(mode="after")
    def _check_tokens(self) -> ManagerSettings:
        if self.tokens_enabled and self.api_key is None:
            # Without a key every caller would be the operator, tokens or not.
            raise ValueError("KATO_JWT_SECRET / KATO_JWT_PUBLIC_KEY need KATO_API_KEY too")
        if self.jwt_public_key is not None and not self.jwt_public_key.is_file():
            raise ValueError(f"KATO_JWT_PUBLIC_KEY: no file {str(self.jwt_public_key)[:200]}")
        return self

    @model_validator(mode="after")
    def _check_webhooks(self) -> ManagerSettings:
        urls = self.webhook_urls
        if len(urls) > 16:
            raise ValueError("KATO_WEBHOOK_URL: at most 16 URLs")
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"KATO_WEBHOOK_URL: not an http(s) URL: {url[:200]!r}")
        if urls and not self.webhook_secret:
            raise ValueError("KATO_WEBHOOK_URL is set: KATO_WEBHOOK_SECRET is required too")
        return self

    @property
    def api_address(self) -> tuple[str, int]:
        """Where the manager's own app listens: KATO_HOST:KATO_PORT with the builtin router;
        with HAProxy in front, 127.0.0.1:KATO_API_PORT (KATO_PORT + 1 unset)."""
        if self.router == "builtin":
            return self.host, self.port
        return "127.0.0.1", self.api_port or self.port + 1

    @model_validator(mode="after")
    def _check_router(self) -> ManagerSettings:
        if self.router != "haproxy":
            return self
        if self.port == 0:
            raise ValueError("KATO_ROUTER=haproxy needs a fixed KATO_PORT (not 0)")
        if self.api_address[1] in (self.port, 65536):
            raise ValueError("KATO_API_PORT must differ from KATO_PORT (and be at most 65535)")
        limits = {
            "KATO_RATE_LIMIT_SESSION": self.rate_limit_session,
            "KATO_RATE_LIMIT_GLOBAL": self.rate_limit_global,
            "KATO_SHED_INFLIGHT": self.shed_inflight,
        }
        on = [name for name, value in limits.items() if value]
        if on:
            raise ValueError(
                f"KATO_ROUTER=haproxy does not apply {', '.join(on)} to the requests it routes "
                "(only the builtin router does): unset them, or use KATO_ROUTER=builtin"
            )
        return self

    def container_settings(self) -> ContainerSettings:
        """The settings of this manager's containers: KATO_* from the environment, and its
        state directory (deployment id, token key and orphan ledger live beside the registry)."""
        return ContainerSettings(state_dir=self.state_dir)

    @property
    def registry_path(self) -> Path:
        return self.state_dir / "sessions.sqlite3"

    @property
    def events_path(self) -> Path:
        return self.state_dir / "events.sqlite3"
