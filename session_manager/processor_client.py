"""The two processor calls the manager itself makes: `GET /state` and `PUT /state`."""

from __future__ import annotations

import aiohttp

from .errors import BadGatewayError, UpstreamTimeoutError

__all__ = ["fetch_state", "restore_state"]

_RESTORE_TIMEOUT = 60.0


async def fetch_state(client: aiohttp.ClientSession, url: str, token: str, timeout: float) -> bytes:
    """The processor's full in-memory state as the raw JSON body (never re-encoded); at most
    `timeout` seconds, so a paused container cannot hold the caller."""
    return await _call(client, "GET", url, token, None, timeout)


async def restore_state(client: aiohttp.ClientSession, url: str, token: str, state: bytes) -> None:
    await _call(client, "PUT", url, token, state, _RESTORE_TIMEOUT)


async def _call(
    client: aiohttp.ClientSession,
    method: str,
    url: str,
    token: str,
    body: bytes | None,
    timeout: float,
) -> bytes:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        async with client.request(
            method,
            f"{url}/state",
            data=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            payload = await response.read()
            if response.status != 200:
                raise BadGatewayError(
                    f"{method} /state answered {response.status}", {"status": response.status}
                )
            return payload
    except TimeoutError as exc:
        raise UpstreamTimeoutError(f"{method} /state took longer than {timeout} s") from exc
    except aiohttp.ClientError as exc:
        raise BadGatewayError(f"{method} /state failed: {type(exc).__name__}") from exc
