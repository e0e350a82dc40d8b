"""Rich rendering of processors for katoctl (tables, ages, sizes); no logic beyond display."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from rich.table import Table

from container_manager import ProcessorInfo

__all__ = ["format_age", "format_bytes", "info_table", "processors_table"]


def format_age(created_at: str, now: datetime | None = None) -> str:
    """ "42s", "3m", "5h", "2d" since an ISO 8601 time; "?" if it cannot be parsed."""
    try:
        created = datetime.fromisoformat(created_at)
    except ValueError:
        return "?"
    seconds = max(int(((now or datetime.now(UTC)) - created).total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def format_bytes(value: int | None) -> str:
    if not value:
        return "-"
    return f"{value / 2**20:.1f} MiB"


def info_table(info: ProcessorInfo) -> Table:
    """One processor as a two-column table (the result of `katoctl spawn`)."""
    table = Table(show_header=False, title=f"processor {info.processor_id}")
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in info.to_dict().items():
        if key == "timings":
            value = ", ".join(f"{name}={seconds:.3f}" for name, seconds in value.items())
        table.add_row(key, "-" if value in (None, "") else str(value))
    return table


def processors_table(
    rows: Iterable[tuple[ProcessorInfo, Mapping[str, Any]]],
    deployment: str,
    claims: Mapping[str, str] | None = None,
) -> Table:
    """The `katoctl ls` table: one row per processor with its memory use. A warm-pool
    processor shows as `pool` until a session claims it (`claims`: processor id → session id,
    from the session registry, since a claim is not a label), then as `<session> (pool)`."""
    claims = claims or {}
    table = Table(title=f"KATO processors of deployment {deployment}")
    for column in ("id", "session", "user", "status", "port", "age", "memory"):
        table.add_column(column)
    for info, stats in rows:
        table.add_row(
            info.processor_id,
            _session_cell(info, claims),
            info.user_id or "-",
            info.status,
            str(info.port) if info.port else "-",
            format_age(info.created_at),
            format_bytes(stats.get("memory_bytes")),
        )
    return table


def _session_cell(info: ProcessorInfo, claims: Mapping[str, str]) -> str:
    if not info.pooled:
        return info.session_id or "-"
    claimed = claims.get(info.processor_id)
    return f"{claimed} (pool)" if claimed else "pool"
