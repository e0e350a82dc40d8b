"""Pydantic models at the dashboard's HTTP edge (its JSON API under `/dashboard/api`)."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["AuthState", "EngineView", "Login", "MachineView", "Overview", "PointView", "SessionRow"]


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


class EngineView(BaseModel):
    reachable: bool | None = Field(description="None until the first check.")
    code: str | None = Field(description="Error code when unreachable (details are logged).")
    checked_at: float | None


class MachineView(BaseModel):
    running: int
    max_sessions: int
    spawning: int
    engine: EngineView


class PointView(BaseModel):
    time: float
    requests_per_second: float
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    spawn_seconds: float | None
    wake_seconds: float | None
    hibernations_per_minute: float
    wakes_per_minute: float


class Overview(BaseModel):
    now: float
    sessions: list[SessionRow]
    machine: MachineView
    series: list[PointView]
    sample_interval: float
    events: bool = Field(description="True when the manager serves a lifecycle event stream.")
