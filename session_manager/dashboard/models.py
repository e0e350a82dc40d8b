"""Pydantic models at the dashboard's HTTP edge (its JSON API under `/dashboard/api`); the
sampler's own dataclasses (`Point`, `EngineState`) are serialized as they are."""

from __future__ import annotations

from pydantic import BaseModel, Field

from .sampler import EngineState
from .samples import Point

__all__ = ["AuthState", "Login", "MachineView", "Overview", "PoolView", "SessionRow"]


class Login(BaseModel):
    api_key: str = Field(min_length=1, max_length=512)


class AuthState(BaseModel):
    required: bool = Field(description="False when the manager runs without KATO_API_KEY.")
    authenticated: bool


class SessionRow(BaseModel):
    """Times are Unix seconds, so the page computes ages against its own clock."""

    session_id: str
    processor_id: str
    user_id: str | None
    status: str
    created_at: float
    last_activity: float
    memory_bytes: int | None = Field(description="Container memory at the last sample.")


class PoolView(BaseModel):
    """The warm pool (KATO_POOL_SIZE): processors started before anyone asked."""

    desired: int
    ready: int
    starting: int


class MachineView(BaseModel):
    running: int
    max_sessions: int
    spawning: int
    pool: PoolView
    engine: EngineState = Field(description="None until the first check; the error code only.")


class Overview(BaseModel):
    now: float
    sessions: list[SessionRow] = Field(description="One page, oldest first.")
    next_cursor: str | None = Field(description="The next page's `cursor`; null on the last.")
    total: int = Field(description="Sessions in the registry, whatever the filters.")
    machine: MachineView
    series: list[Point]
    sample_interval: float
    events: bool = Field(description="True when the manager serves `GET /events`.")
    event_types: list[str] = Field(description="The event types `GET /events` sends.")
