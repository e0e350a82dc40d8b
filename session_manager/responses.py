"""The error answers the manager's routes document in OpenAPI, with what each status means.

Every route lists the statuses it can answer with `error_responses(...)`; listing 422 also
replaces FastAPI's default `HTTPValidationError` with the `ErrorBody` the manager really sends.
"""

from __future__ import annotations

from typing import Any

from .models import ErrorBody

__all__ = ["MEANING", "error_responses", "with_errors"]


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody, "description": MEANING[status]} for status in statuses}


def with_errors(
    answers: dict[int | str, dict[str, Any]], *statuses: int
) -> dict[int | str, dict[str, Any]]:
    return {**answers, **error_responses(*statuses)}


MEANING = {
    400: "Malformed request.",
    401: "Missing or bad API key (only when KATO_API_KEY is set), or a user token that is "
    "expired (KATO_TOKEN_EXPIRED) or not valid (KATO_TOKEN_INVALID).",
    403: "A user token may not do this (KATO_FORBIDDEN): a scope it lacks, an operator route, "
    "another user_id, or a create with a `sid` token.",
    404: "Unknown session (or an id not of the manager's format) or path.",
    405: "Method not allowed here; `Allow` lists those that are.",
    409: "The session cannot change now (KATO_SESSION_BUSY: a request is in flight, or it is "
    "starting or stopped); nothing was changed.",
    410: "The session was deleted because its TTL passed (KATO_SESSION_EXPIRED), for "
    "KATO_EXPIRED_RETENTION after that; an unknown session (404) from then on.",
    413: "Request body larger than KATO_MAX_BODY_BYTES.",
    422: "Invalid input (KATO_VALIDATION_ERROR, details.errors lists each problem).",
    429: "Over a quota (KATO_QUOTA_EXCEEDED, naming the limit) or a rate limit "
    "(KATO_RATE_LIMITED, with Retry-After and RateLimit-Limit/-Remaining/-Reset).",
    502: "The session's container could not be started or did not answer.",
    503: "No room (KATO_CAPACITY), the queue of container starts full (KATO_SPAWN_BUSY), the "
    "manager at KATO_SHED_INFLIGHT (KATO_OVERLOADED), all with Retry-After, or the container "
    "engine is unavailable.",
    504: "The session's container did not answer in time (KATO_UPSTREAM_TIMEOUT); the request "
    "may still be applied and is not retried.",
}
