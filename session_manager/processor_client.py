"""The processor calls the manager itself makes: `GET/PUT /state`, for the warm pool
`GET /health` and `POST /genes/update`, and `GET /metrics/prometheus` for `/metrics/processors`.

It also holds the one error map of a call to a processor. A processor that did not answer
(`unanswered_error`, every call site: these calls, the proxy, export/import/fork) is a 504 when
it ran out of time (`UpstreamTimeoutError`: the call may still be applied), else a 502
(`BadGatewayError`). One that answered an error: on a client's behalf (export/import/fork,
`answered_error`) its refusal (4xx) is passed on with its code and status and its failure (5xx)
is a 502; on the manager's own behalf (state, genes, metrics) any error is a 502 with the
status, since the client's request did not cause it."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import aiohttp
import orjson

from kato.contract import GENES_UPDATE_PATH, HEALTH_PATH, METRICS_TEXT_PATH, STATE_PATH
from kato.web import tracing

from .errors import BadGatewayError, SessionError, UpstreamTimeoutError
from .upstream import UpstreamError

__all__ = [
    "GenesRejectedError",
    "answered_error",
    "unanswered_error",
    "check_health",
    "fetch_metrics",
    "fetch_state",
    "restore_state",
    "update_genes",
]

_RESTORE_TIMEOUT = 60.0


async def fetch_state(client: aiohttp.ClientSession, url: str, token: str, timeout: float) -> bytes:
    """The processor's full in-memory state as the raw JSON body (never re-encoded); at most
    `timeout` seconds, so a paused container cannot hold the caller."""
    return await _call(client, "GET", url, token, None, timeout)


async def fetch_metrics(
    client: aiohttp.ClientSession, url: str, token: str, timeout: float
) -> bytes:
    """The processor's Prometheus text (exposition format 0.0.4), within `timeout` seconds."""
    return await _call(client, "GET", url, token, None, timeout, path=METRICS_TEXT_PATH)


async def restore_state(client: aiohttp.ClientSession, url: str, token: str, state: bytes) -> None:
    await _call(client, "PUT", url, token, state, _RESTORE_TIMEOUT)


class GenesRejectedError(Exception):
    """The processor refused the genes (4xx): nothing changed (its update is atomic)."""


async def check_health(client: aiohttp.ClientSession, url: str, token: str, timeout: float) -> bool:
    """True when the processor answers `GET /health` with 200 within `timeout`."""
    try:
        async with client.get(
            f"{url}{HEALTH_PATH}",
            headers={"Authorization": f"Bearer {token}", **tracing.outgoing_headers()},
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            await response.read()
            return response.status == 200
    except (TimeoutError, aiohttp.ClientError):
        return False


async def update_genes(
    client: aiohttp.ClientSession, url: str, token: str, genes: dict[str, object], timeout: float
) -> None:
    """Apply genes to a running processor; `GenesRejectedError` on a 4xx, `BadGatewayError`
    (or `UpstreamTimeoutError`) when it does not answer properly."""
    body = json.dumps({"genes": genes}).encode()
    try:
        await _call(client, "POST", url, token, body, timeout, path=GENES_UPDATE_PATH)
    except BadGatewayError as exc:
        status = exc.details.get("status")
        if isinstance(status, int) and 400 <= status < 500:
            raise GenesRejectedError(f"genes refused ({status})") from exc
        raise


async def _call(
    client: aiohttp.ClientSession,
    method: str,
    url: str,
    token: str,
    body: bytes | None,
    timeout: float,
    *,
    path: str = STATE_PATH,
) -> bytes:
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        **tracing.outgoing_headers(),
    }
    try:
        async with client.request(
            method,
            f"{url}{path}",
            data=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            payload = await response.read()
            if response.status != 200:
                raise BadGatewayError(
                    f"{method} {path} answered {response.status}", {"status": response.status}
                )
            return payload
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise unanswered_error(f"{method} {path}", exc, timeout) from exc


def unanswered_error(
    call: str,
    exc: TimeoutError | aiohttp.ClientError | UpstreamError,
    timeout: float | None,
    details: dict[str, Any] | None = None,
) -> SessionError:
    """The client's view of a processor that did not answer `call`: 504 when it ran out of
    `timeout` (the call may still be applied, it is never retried), else 502."""
    if isinstance(exc, TimeoutError):  # aiohttp's own timeouts subclass it
        return UpstreamTimeoutError(
            f"{call}: the session container did not answer within {timeout} s; the request "
            "may still be applied, it is not retried",
            {**(details or {}), "timeout_seconds": timeout},
        )
    return BadGatewayError(
        f"{call}: the session container did not answer: {type(exc).__name__}", details
    )


def answered_error(call: str, status: int, payload: bytes) -> SessionError:
    """The processor's own JSON error (code, message, details, status) when it refused the
    call (4xx); a processor that failed at it (5xx, or a non-JSON answer) is a 502 naming the
    call and the processor's code, never a 500 of the manager's ("An unexpected error
    occurred" told the client the manager had failed)."""
    error: Any = None
    with contextlib.suppress(orjson.JSONDecodeError):
        error = orjson.loads(payload).get("error") if payload.startswith(b"{") else None
    if status >= 500:
        code = error.get("code") if isinstance(error, dict) else None
        details: dict[str, Any] = {"status": status}
        if isinstance(code, str):
            details["processor_code"] = code[:64]
        return BadGatewayError(f"{call} failed in the session's processor ({status})", details)
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        return SessionError(
            str(error.get("message", call)),
            error.get("details") if isinstance(error.get("details"), dict) else {},
            status=status,
            code=error["code"],
        )
    return BadGatewayError(f"{call} answered {status}", {"status": status})
