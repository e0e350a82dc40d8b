"""The processor calls the manager itself makes: `GET/PUT /state`, for the warm pool
`GET /health` and `POST /genes/update`, and `GET /metrics/prometheus` for `/metrics/processors`."""

from __future__ import annotations

import json

import aiohttp

from kato.contract import GENES_UPDATE_PATH, HEALTH_PATH, METRICS_TEXT_PATH, STATE_PATH

from .errors import BadGatewayError, UpstreamTimeoutError

__all__ = [
    "GenesRejectedError",
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
            headers={"Authorization": f"Bearer {token}"},
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
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
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
    except TimeoutError as exc:
        raise UpstreamTimeoutError(f"{method} {path} took longer than {timeout} s") from exc
    except aiohttp.ClientError as exc:
        raise BadGatewayError(f"{method} {path} failed: {type(exc).__name__}") from exc
