"""Tracing benchmark: what distributed tracing costs per proxied request, off and on.

    .venv/bin/python bench/tracing.py [--requests 2000] [--middleware 20000]

Two stacks side by side on loopback, each a real manager (`ProcessManagerProcess`: the
manager's app under uvicorn, its engine a fake whose one container is a real processor
process) in front of a real processor (`ServiceProcess`): one with no `OTEL_*` variable
(tracing off: trace ids and `traceparent` only), one exporting both services' spans over
OTLP/HTTP to a receiver on loopback that takes and drops them (`OtlpReceiver(decode=False)`).
The same requests (POST /observe, GET /stm) go through both managers, interleaved in one run so
both see the same load: p50 and p99 per request, and the ratio on/off.

Then the middleware alone, in this process: `TracingMiddleware` around an ASGI app that
answers at once, called `--middleware` times off and on (spans to an exporter that drops them,
through the `BatchSpanProcessor` `setup` uses): µs per request beyond the bare app's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from harness import percentile
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from proxy import Target, measured, ms
from rich.console import Console
from rich.table import Table

from kato.services.testing import ServiceProcess
from kato.web import tracing
from session_manager.testing import OtlpReceiver, ProcessManagerProcess


def _stack(
    stack: ExitStack, tmp: Path, name: str, otel: dict[str, str]
) -> tuple[ProcessManagerProcess, str]:
    """A processor and a manager in front of it; returns the manager and a session's base."""
    processor = ServiceProcess(
        {"PROCESSOR_ID": f"bench-{name}", "KATO_DATA_DIR": str(tmp / name / "data"), **otel},
        tmp / f"{name}-processor.log",
    )
    stack.enter_context(processor)
    manager = ProcessManagerProcess(tmp / name / "state", processor.port, **otel)
    stack.enter_context(manager)
    with httpx.Client(base_url=manager.url, timeout=60) as http:
        session = http.post("/session/create", json={}).json()
    return manager, f"{manager.url}/session/{session['session_id']}"


class _Dropped(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


async def _middleware_us(calls: int, *, wrapped: bool = True) -> float:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        return None

    layer = tracing.TracingMiddleware(app, service="bench") if wrapped else app
    headers = [(b"host", b"x"), (b"traceparent", f"00-{'a' * 32}-{'b' * 16}-01".encode())]
    scope = {"type": "http", "method": "GET", "path": "/stm", "headers": headers}
    started = time.perf_counter()
    for _ in range(calls):
        await layer(dict(scope), receive, send)
    return (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per side and concurrency")
    parser.add_argument("--middleware", type=int, default=20000, help="in-process calls")
    args = parser.parse_args()
    leaked = sorted(name for name in os.environ if name.startswith("OTEL_"))
    if leaked:
        raise SystemExit(f"unset {leaked} first: the 'off' stack must have no OTEL_* variable")
    console = Console()
    receiver = OtlpReceiver(decode=False).start()
    otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        _, off_base = _stack(stack, Path(tmp), "off", {})
        _, on_base = _stack(stack, Path(tmp), "on", otel)
        table = Table(title=f"per proxied request ({args.requests} requests per side)")
        for column in ("concurrency", "off p50/p99 ms", "on p50/p99 ms", "ratio p50", "ratio p99"):
            table.add_column(column, justify="right")
        for concurrency in (1, 10):
            f, n = measured(Target(off_base, {}), Target(on_base, {}), args.requests, concurrency)
            table.add_row(
                str(concurrency),
                f"{ms(percentile(f, 50))} / {ms(percentile(f, 99))}",
                f"{ms(percentile(n, 50))} / {ms(percentile(n, 99))}",
                f"{percentile(n, 50) / percentile(f, 50):.2f}",
                f"{percentile(n, 99) / percentile(f, 99):.2f}",
            )
        console.print(table)
    receiver.stop()
    console.print(f"OTLP export requests received from the 'on' stack: {receiver.requests}")
    bare_us = asyncio.run(_middleware_us(args.middleware, wrapped=False))
    off_us = asyncio.run(_middleware_us(args.middleware))
    tracing.use_exporter(_Dropped(), batch=True)
    try:
        on_us = asyncio.run(_middleware_us(args.middleware))
    finally:
        tracing.shutdown()
    console.print(
        f"TracingMiddleware alone, per request beyond the bare app ({bare_us:.1f} µs): "
        f"off {off_us - bare_us:.1f} µs, on {on_us - bare_us:.1f} µs ({args.middleware} calls each)"
    )


if __name__ == "__main__":
    main()
