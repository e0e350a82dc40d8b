"""Configuration of the session manager, read once at start-up from the environment."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ManagerSettings"]


class ManagerSettings(BaseSettings):
    """Every field names its environment variable and default in its description."""

    model_config = SettingsConfigDict(env_prefix="KATO_", extra="ignore", populate_by_name=True)

    host: str = Field(default="127.0.0.1", description="KATO_HOST (127.0.0.1): bind address.")
    port: int = Field(default=8080, ge=0, le=65535, description="KATO_PORT (8080): bind port.")
    state_dir: Path = Field(
        default=Path("./state"),
        description="KATO_STATE_DIR (./state): directory of sessions.sqlite3.",
    )
    api_key: str | None = Field(
        default=None,
        description="KATO_API_KEY (unset): when set, every route but /health needs "
        "`Authorization: Bearer <key>`.",
    )
    idle_timeout: float = Field(
        default=600.0,
        gt=0,
        description="KATO_IDLE_TIMEOUT (600 s): a session idle this long is hibernated.",
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
        default=8,
        ge=0,
        description="KATO_SPAWN_QUEUE (8): spawns that may wait for a slot; beyond, 503.",
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

    @property
    def registry_path(self) -> Path:
        return self.state_dir / "sessions.sqlite3"
