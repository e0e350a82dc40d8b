"""The two processor calls the manager itself makes: `GET /state` and `PUT /state`."""

from __future__ import annotations

import aiohttp

from .errors import BadGatewayError

__all__ = ["fetch_state", "restore_state"]

_STATE_TIMEOUT = aiohttp.ClientTimeout(total=60)


async def fetch_state(client: aiohttp.ClientSession, url: str, token: str) -> bytes:
    """The processor's full in-memory state as the raw JSON body (never re-encoded)."""
    return await _call(client, "GET", url, token, None)


async def restore_state(client: aiohttp.ClientSession, url: str, token: str, state: bytes) -> None:
    await _call(client, "PUT", url, token, state)


async def _call(
    client: aiohttp.ClientSession, method: str, url: str, token: str, body: bytes | None
) -> bytes:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        async with client.request(
            method, f"{url}/state", data=body, headers=headers, timeout=_STATE_TIMEOUT
        ) as response:
            payload = await response.read()
            if response.status != 200:
                raise BadGatewayError(
                    f"{method} /state answered {response.status}",
                    {"status": response.status, "body": payload[:500].decode(errors="replace")},
                )
            return payload
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise BadGatewayError(f"{method} /state failed: {type(exc).__name__}") from exc
