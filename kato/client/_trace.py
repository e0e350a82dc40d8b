"""The caller's OpenTelemetry context on every request, when the caller has one.

The client depends on no tracing package: when the application never imported
``opentelemetry`` there can be no current span, so nothing is looked up (one dict read); when
it did, the current span's context goes out as a W3C ``traceparent`` (and ``tracestate``) through
the application's own propagator, so the manager and the processor join the caller's trace.
"""

from __future__ import annotations

import sys

__all__ = ["trace_headers"]


def trace_headers() -> dict[str, str]:
    """The headers that carry the current span's context; empty without a valid current span."""
    if "opentelemetry.trace" not in sys.modules:
        return {}
    from opentelemetry import propagate, trace

    if not trace.get_current_span().get_span_context().is_valid:
        return {}
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier
