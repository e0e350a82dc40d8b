"""Tracing on for one test, every span in memory: the ``spans`` fixture (`kato.web.tracing`'s
`use_exporter` with the SDK's in-memory exporter), and helpers to read what was recorded."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kato.web import tracing

__all__ = ["by_name", "hex_trace_id", "parent_of", "spans"]


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.use_exporter(exporter)
    yield exporter
    tracing.shutdown()


def by_name(recorded: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in recorded if s.name == name]
    assert len(found) == 1, (name, [s.name for s in recorded])
    return found[0]


def parent_of(span: ReadableSpan, recorded: Sequence[ReadableSpan]) -> ReadableSpan | None:
    if span.parent is None:
        return None
    return next((s for s in recorded if s.context.span_id == span.parent.span_id), None)


def hex_trace_id(span: ReadableSpan) -> str:
    return f"{span.context.trace_id:032x}"
