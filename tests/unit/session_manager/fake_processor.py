"""A tiny stand-in for a processor container, served by aiohttp on loopback in its own thread.

Every fake container of a `FakeBackend` is pointed at this one server; state is kept per
bearer token, so a recreated container (new token) starts empty until `PUT /state`.
`/health` answers 200 and `POST /genes/update` records the genes in the state (refusing, as the
processor does, a `max_pattern_length` above `GENE_LIMIT`: a value the manager lets through).
`/stall` and the `GET /state` of tokens in `stalled_tokens` answer only once `release` is set
(a paused container, as far as the manager can tell). `/metrics/prometheus` answers a
counter and the STM size in Prometheus text, or 503 while `metrics_down` is set.
`/hop-by-hop` answers with hop-by-hop headers and the token it was sent (a proxy drops them).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import defaultdict
from typing import Any

from aiohttp import WSMsgType, web

from kato.contract import error_body, trace_id_var
from kato.web.tracing import parse_traceparent

__all__ = ["GENE_LIMIT", "FakeProcessor"]

GENE_LIMIT = 10**6


class FakeProcessor:
    def __init__(self) -> None:
        self.state: dict[str, dict[str, Any]] = defaultdict(lambda: {"stm": []})
        self.requests: list[dict[str, Any]] = []
        self.ws_close_codes: list[int | None] = []
        self.ws_headers: list[dict[str, str]] = []
        self.port = 0
        self.stalled_tokens: set[str] = set()
        self.metrics_down = False
        self.release = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(5)

    def stop(self) -> None:
        self.release.set()
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/ws", self._ws)
        # Any path, newlines included (`.*` stops at one, and aiohttp's own 404 is text, where
        # a processor answers every path with its JSON error body).
        app.router.add_route("*", r"/{tail:[\s\S]*}", self._http)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _http(self, request: web.Request) -> web.Response:
        body = await request.read()
        token = request.headers.get("Authorization", "")
        self.requests.append(
            {
                "method": request.method,
                "raw_path": request.raw_path,
                "headers": dict(request.headers),
                "body": body,
            }
        )
        state = self.state[token]
        path = request.path
        if path == "/stall" or (path == "/state" and token in self.stalled_tokens):
            while not self.release.is_set():
                await asyncio.sleep(0.01)
        if path == "/state" and request.method == "GET":
            return web.json_response(state)
        if path == "/state" and request.method == "PUT":
            restored = _json(body)
            if not isinstance(restored.get("stm"), list):
                return _error(request, "KATO_VALIDATION_ERROR", "not a state", 422)
            self.state[token] = restored
            return web.json_response({"message": "state-restored"})
        if path == "/health":
            return web.json_response({"status": "healthy"})
        if path == "/metrics/prometheus":
            if self.metrics_down:
                return web.Response(status=503)
            text = (
                "# TYPE kato_http_requests_total counter\n"
                f'kato_http_requests_total{{route="/stm"}} {len(self.requests)}\n'
                f"# TYPE kato_stm_size gauge\nkato_stm_size {len(state['stm'])}\n"
            )
            return web.Response(text=text, content_type="text/plain")
        if path == "/genes/update" and request.method == "POST":
            genes = _json(body).get("genes")
            if not isinstance(genes, dict):
                return _error(request, "KATO_VALIDATION_ERROR", "bad", 422)
            if genes.get("max_pattern_length", 0) > GENE_LIMIT:
                return _error(request, "KATO_INVALID_GENE_VALUE", "too large", 400)
            state.setdefault("genes", {}).update(genes)
            return web.json_response({"status": "okay", "message": "genes-updated"})
        if path == "/observe" and request.method == "POST":
            strings = _json(body).get("strings")
            if not isinstance(strings, list):
                return _error(request, "KATO_VALIDATION_ERROR", "bad", 422)
            state["stm"].append(strings)
            return web.json_response({"status": "okay", "time": len(state["stm"])})
        if path == "/stm":
            return web.json_response({"stm": state["stm"]})
        if path == "/import" and request.method == "PUT":  # never a real export here
            return _error(request, "KATO_INVALID_EXPORT", "not an export", 422)
        if path == "/hop-by-hop":  # what a proxy must not pass back, the token included
            hop = {"Keep-Alive": "timeout=5", "Proxy-Authenticate": "Basic", "Trailer": "X-T"}
            hop |= {"Upgrade": "h2c", "Authorization": token, "Traceparent": "00-x", "X-Kept": "1"}
            return web.Response(status=200, body=b"{}", headers=hop)
        if path.startswith("/teapot"):
            return web.Response(status=418, body=b"short and stout", headers={"X-Tea": "yes"})
        return _error(request, "KATO_NOT_FOUND", path, 404)

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        self.ws_headers.append(dict(request.headers))
        await ws.prepare(request)
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                if message.data == "close-4001":
                    await ws.close(code=4001, message=b"asked to")
                    break
                await ws.send_str(f"echo:{message.data}")
            elif message.type == WSMsgType.BINARY:
                await ws.send_bytes(message.data[::-1])
        self.ws_close_codes.append(ws.close_code)
        return ws


def _error(request: web.Request, code: str, message: str, status: int) -> web.Response:
    """An error answered the way every processor answers one (kato.contract's body, under the
    trace id of the request's `traceparent`)."""
    parent = parse_traceparent(request.headers.get("traceparent"))
    token = trace_id_var.set(parent.trace_id if parent else None)
    try:
        body = error_body(code, message, status)
    finally:
        trace_id_var.reset(token)
    return web.json_response(body, status=status)


def _json(body: bytes) -> dict[str, Any]:
    """The body's JSON object, or {} when it is not one (a processor answers 422 then)."""
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
