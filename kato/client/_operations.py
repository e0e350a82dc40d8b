"""Every call of the manager and processor APIs as a `Call` value, defined once.

Processor paths are those of `kato/services/routes.py` (spec §7); the same calls go to a
container directly (`ProcessorClient`) or through the manager (`Session`, under
`/session/<id>`), which forwards them unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._calls import Call
from ._models import (
    CognitionData,
    GeneResult,
    Health,
    ImportResult,
    LearnResult,
    Metrics,
    Observation,
    ObserveResult,
    ObserveSequenceResult,
    PatternResult,
    PerceptData,
    PredictionsResult,
    ProcessorStatus,
    Ready,
    SessionInfo,
    SessionPage,
    StatusMessage,
    StmResult,
)

ObservationLike = Observation | Mapping[str, Any]


def _raw(data: Any) -> Any:
    return data


def _nothing(data: Any) -> None:
    return None


def observation_body(
    strings: Sequence[str] | None,
    vectors: Sequence[Sequence[float]] | None,
    emotives: Mapping[str, float] | None,
    unique_id: str | None,
) -> dict[str, Any]:
    return Observation(
        list(strings or []),
        [list(v) for v in vectors or []],
        dict(emotives or {}),
        unique_id,
    ).to_json()


# -- processor ---------------------------------------------------------------------------------
def observe(
    strings: Sequence[str] | None = None,
    vectors: Sequence[Sequence[float]] | None = None,
    emotives: Mapping[str, float] | None = None,
    unique_id: str | None = None,
) -> Call[ObserveResult]:
    body = observation_body(strings, vectors, emotives, unique_id)
    return Call("POST", ("observe",), ObserveResult.from_dict, body, idempotent=False)


def observe_sequence(
    observations: Sequence[ObservationLike],
    *,
    learn_after_each: bool = False,
    learn_at_end: bool = False,
    clear_stm_between: bool = False,
) -> Call[ObserveSequenceResult]:
    body = {
        "observations": [
            o.to_json() if isinstance(o, Observation) else dict(o) for o in observations
        ],
        "learn_after_each": learn_after_each,
        "learn_at_end": learn_at_end,
        "clear_stm_between": clear_stm_between,
    }
    return Call(
        "POST", ("observe-sequence",), ObserveSequenceResult.from_dict, body, idempotent=False
    )


def stm() -> Call[StmResult]:
    return Call("GET", ("stm",), StmResult.from_dict)


def learn() -> Call[LearnResult]:
    return Call("POST", ("learn",), LearnResult.from_dict, idempotent=False)


def clear_stm() -> Call[StatusMessage]:
    return Call("POST", ("clear-stm",), StatusMessage.from_dict)


def clear_all() -> Call[StatusMessage]:
    return Call("POST", ("clear-all",), StatusMessage.from_dict)


def predictions(unique_id: str | None = None) -> Call[PredictionsResult]:
    params = {"unique_id": unique_id} if unique_id else {}
    return Call("GET", ("predictions",), PredictionsResult.from_dict, params=params)


def pattern(pattern_id: str) -> Call[PatternResult]:
    return Call("GET", ("pattern", pattern_id), PatternResult.from_dict)


def update_genes(genes: Mapping[str, Any]) -> Call[StatusMessage]:
    return Call("POST", ("genes", "update"), StatusMessage.from_dict, {"genes": dict(genes)})


def gene(name: str) -> Call[GeneResult]:
    return Call("GET", ("gene", name), GeneResult.from_dict)


def percept_data() -> Call[PerceptData]:
    return Call("GET", ("percept-data",), PerceptData.from_dict)


def cognition_data() -> Call[CognitionData]:
    return Call("GET", ("cognition-data",), CognitionData.from_dict)


def status() -> Call[ProcessorStatus]:
    return Call("GET", ("status",), ProcessorStatus.from_dict)


def health() -> Call[Health]:
    return Call("GET", ("health",), Health.from_dict)


def metrics() -> Call[Metrics]:
    return Call("GET", ("metrics",), Metrics.from_dict)


def get_state() -> Call[dict[str, Any]]:
    return Call("GET", ("state",), _raw)


def put_state(state: Mapping[str, Any]) -> Call[StatusMessage]:
    return Call("PUT", ("state",), StatusMessage.from_dict, dict(state))


# -- manager -----------------------------------------------------------------------------------
def create_session(
    user_id: str | None, genes: Mapping[str, Any] | None, ttl_seconds: int | None
) -> Call[SessionInfo]:
    body: dict[str, Any] = {"genes": dict(genes or {})}
    if user_id is not None:
        body["user_id"] = user_id
    if ttl_seconds is not None:
        body["ttl_seconds"] = ttl_seconds
    return Call("POST", ("session", "create"), SessionInfo.from_dict, body, idempotent=False)


#: Media type of a processor export (`GET /export`, `PUT /import`, `POST /session/import`).
EXPORT_MEDIA_TYPE = "application/x-ndjson"
#: Where the export document is, under a processor or a session.
EXPORT_PATH = ("export",)


def import_memory(document: Any) -> Call[ImportResult]:
    """`PUT /import` on a processor: bytes, or an iterable of chunks (sent once: no retry)."""
    return Call(
        "PUT",
        ("import",),
        ImportResult.from_dict,
        content=document,
        content_type=EXPORT_MEDIA_TYPE,
        idempotent=False,
    )


def import_session(
    document: Any, user_id: str | None, ttl_seconds: int | None
) -> Call[SessionInfo]:
    params = {"user_id": user_id} if user_id is not None else {}
    if ttl_seconds is not None:
        params["ttl_seconds"] = str(ttl_seconds)
    return Call(
        "POST",
        ("session", "import"),
        SessionInfo.from_dict,
        params=params,
        content=document,
        content_type=EXPORT_MEDIA_TYPE,
        idempotent=False,
    )


def fork_session(
    session_id: str, user_id: str | None, ttl_seconds: int | None
) -> Call[SessionInfo]:
    body: dict[str, Any] = {}
    if user_id is not None:
        body["user_id"] = user_id
    if ttl_seconds is not None:
        body["ttl_seconds"] = ttl_seconds
    return Call(
        "POST", ("session", session_id, "fork"), SessionInfo.from_dict, body, idempotent=False
    )


def get_session(session_id: str) -> Call[SessionInfo]:
    return Call("GET", ("session", session_id), SessionInfo.from_dict)


def list_sessions(
    user_id: str | None = None,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[SessionPage]:
    def parse(data: Any) -> SessionPage:
        data = data or {}
        sessions = (SessionInfo.from_dict(item) for item in data.get("sessions", []))
        return SessionPage(sessions, data.get("next_cursor"))

    given = {"user_id": user_id, "status": status, "limit": limit, "cursor": cursor}
    params = {name: str(value) for name, value in given.items() if value is not None}
    return Call("GET", ("sessions",), parse, params=params)


def delete_session(session_id: str) -> Call[None]:
    return Call("DELETE", ("session", session_id), _nothing)


def manager_health() -> Call[dict[str, Any]]:
    return Call("GET", ("health",), _raw)


def ready() -> Call[Ready]:
    return Call("GET", ("ready",), Ready.from_dict)
