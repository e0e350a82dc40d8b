"""The wire contract between a KATO processor and the platform that launches and calls it.

Every rule two packages must agree on lives here once: the JSON error body, which processor
ids are valid, the genes' ranges and the environment variables they travel in, the other
variables the platform sets, and the processor paths the platform calls. The processor
(``kato.processor``, ``kato.services``) and the platform (``container_manager``,
``session_manager``, ``cli``) import these names instead of repeating them: three copies of the
processor-id regex had already drifted apart (``a.b`` passed the platform's and failed the
processor's, ``Ab`` the other way round).

Standard library only: the processor image carries just the ``kato`` package, and every layer
may import this module without pulling in a framework (the role Starlette's ``status.py`` plays).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, NamedTuple

__all__ = [
    "AUTO_ACT_METHODS",
    "AUTO_ACT_THRESHOLD_RANGE",
    "ENV_DATA_DIR",
    "ENV_PROCESSOR_ID",
    "ENV_PROCESSOR_NAME",
    "ENV_SORT_ALIAS",
    "ENV_TOKEN",
    "ENV_TOKEN_FILE",
    "EXPORT_PATH",
    "GENES_UPDATE_PATH",
    "GENE_ENV",
    "HEALTH_PATH",
    "IMPORT_PATH",
    "INDEXER_TYPES",
    "LIVE_PATH",
    "METRICS_TEXT_PATH",
    "MAX_PATTERN_LENGTH_RANGE",
    "MAX_PREDICTIONS_RANGE",
    "OTEL_PROCESSOR_ENV",
    "PERSISTENCE_RANGE",
    "PLATFORM_PROCESSOR_ID_PATTERN",
    "PLATFORM_PROCESSOR_ID_RULE",
    "PROBE_PATHS",
    "PROCESSOR_ID_PATTERN",
    "PROCESSOR_ID_RULE",
    "QUIESCENCE_RANGE",
    "READY_PATH",
    "RECALL_THRESHOLD_RANGE",
    "SEARCH_DEPTH_RANGE",
    "SMOOTHNESS_RANGE",
    "STARTUP_PATH",
    "STATE_PATH",
    "WS_PATH",
    "FloatRange",
    "IntRange",
    "error_body",
    "trace_id_var",
    "is_platform_processor_id",
    "iso_time",
    "is_processor_id",
]


# -- the error body ----------------------------------------------------------------------------


#: The W3C trace id (32 hex digits) of the request being served, set by each service's request
#: middleware (`kato.web.tracing`); every error body and log line carries it.
trace_id_var: ContextVar[str | None] = ContextVar("kato_trace_id", default=None)


def iso_time(when: float) -> str:
    """``when`` (seconds since the epoch) as the API writes times: UTC, ISO 8601, milliseconds,
    ``Z`` (``2026-12-07T15:26:08.421Z``)."""
    moment = datetime.fromtimestamp(when, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def error_body(
    code: str, message: str, status: int, details: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``{"error": {"code", "message", "details", "timestamp"}, "status"}``: every failure answer
    of every KATO service (``code`` is a ``KATO_…`` constant, ``status`` the HTTP status sent
    with it, ``timestamp`` UTC ISO 8601 with milliseconds; ``details.trace_id`` is the request's
    trace id, or null outside a request). The v2 architecture's shape, a superset of v1's."""
    return {
        "error": {
            "code": code,
            "message": message,
            "details": {**(details or {}), "trace_id": trace_id_var.get()},
            "timestamp": iso_time(time.time()),
        },
        "status": status,
    }


# -- processor ids -----------------------------------------------------------------------------

#: What the processor accepts as ``PROCESSOR_ID``: the id names its SQLite file and its MongoDB
#: database, so no path separators and no dots (MongoDB forbids them in database names).
PROCESSOR_ID_PATTERN: Final = r"[A-Za-z0-9_-]{1,64}"
PROCESSOR_ID_RULE: Final = "1-64 letters, digits, '_' or '-'"

#: The ids the platform gives the processors it launches: a subset of `PROCESSOR_ID_PATTERN`,
#: so every launched processor accepts its id, narrowed to what is safe in engine object names
#: (container, volume and Swarm service ``<prefix>-<id>``, reached by name on the network):
#: lower case, because the engine's DNS lowercases names (moby/libnetwork#2394: ``kato-Ab`` and
#: ``kato-ab`` would answer for each other); a letter or digit at the end (a Swarm service name
#: must end with one) and at the start (``katoctl rm -x`` would read an option); at most 63
#: characters (a DNS label). The platform's own ids are 12 hex digits.
PLATFORM_PROCESSOR_ID_PATTERN: Final = r"[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?"
PLATFORM_PROCESSOR_ID_RULE: Final = "1-63 of a-z 0-9 _ - starting and ending with a letter or digit"

_PROCESSOR_ID = re.compile(PROCESSOR_ID_PATTERN)
_PLATFORM_PROCESSOR_ID = re.compile(PLATFORM_PROCESSOR_ID_PATTERN)


def is_processor_id(value: str) -> bool:
    """True when the processor accepts ``value`` as its id."""
    return _PROCESSOR_ID.fullmatch(value) is not None


def is_platform_processor_id(value: str) -> bool:
    """True when the platform may launch a processor under ``value`` (implies `is_processor_id`)."""
    return _PLATFORM_PROCESSOR_ID.fullmatch(value) is not None


# -- genes: inclusive ranges -------------------------------------------------------------------


class IntRange(NamedTuple):
    low: int
    high: int


class FloatRange(NamedTuple):
    low: float
    high: float


#: Upper bound 2**31 - 1: any STM longer than this is far beyond memory anyway, and the bound
#: keeps every gene a 32-bit value that JSON, SQLite and MongoDB carry exactly (an unbounded
#: integer once made ``GET /state`` and ``GET /gene`` fail).
MAX_PATTERN_LENGTH_RANGE: Final = IntRange(0, 2**31 - 1)
PERSISTENCE_RANGE: Final = IntRange(1, 100)
RECALL_THRESHOLD_RANGE: Final = FloatRange(0.0, 1.0)
MAX_PREDICTIONS_RANGE: Final = IntRange(1, 10000)
SMOOTHNESS_RANGE: Final = IntRange(1, 10)
QUIESCENCE_RANGE: Final = IntRange(0, 100)
SEARCH_DEPTH_RANGE: Final = IntRange(1, 100)
AUTO_ACT_THRESHOLD_RANGE: Final = FloatRange(0.0, 1.0)
AUTO_ACT_METHODS: Final = ("none", "threshold", "adaptive")
INDEXER_TYPES: Final = ("VI",)


# -- environment the platform sets and the processor reads at start-up -------------------------

ENV_PROCESSOR_ID: Final = "PROCESSOR_ID"
ENV_PROCESSOR_NAME: Final = "PROCESSOR_NAME"
ENV_DATA_DIR: Final = "KATO_DATA_DIR"
ENV_TOKEN: Final = "KATO_PROCESSOR_TOKEN"
#: A file holding the token (a Docker secret on Swarm); it takes the place of `ENV_TOKEN`.
ENV_TOKEN_FILE: Final = "KATO_PROCESSOR_TOKEN_FILE"

#: Start-up gene -> the variable that carries it (spec §6.1).
GENE_ENV: Final[Mapping[str, str]] = MappingProxyType(
    {
        "max_pattern_length": "MAX_PATTERN_LENGTH",
        "persistence": "PERSISTENCE",
        "recall_threshold": "RECALL_THRESHOLD",
        "max_predictions": "MAX_PREDICTIONS",
        "sort": "SORT_SYMBOLS",
        "use_indexing": "KATO_USE_INDEXING",
        "processor_name": ENV_PROCESSOR_NAME,
    }
)
#: Also read for ``sort`` (the documented name, which upstream ignores: QUIRK-9).
ENV_SORT_ALIAS: Final = "SORT"

#: The standard OpenTelemetry variables the platform passes from its own environment to the
#: processors it launches, when the operator set them (`kato.web.tracing` reads them). Not
#: passed: ``OTEL_SERVICE_NAME`` (a processor names itself ``kato-processor``), the
#: ``*_HEADERS`` (collector credentials would show in ``docker inspect``) and the
#: ``*_CERTIFICATE``/``*_CLIENT_*`` file paths (files of the manager's host, not the container's).
OTEL_PROCESSOR_ENV: Final = (
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_PROPAGATORS",
)


# -- processor paths the platform calls --------------------------------------------------------

#: Open (no token): readiness probes.
HEALTH_PATH: Final = "/health"
#: The probes both services answer, open like ``HEALTH_PATH`` (Kubernetes' three kinds):
#: live = the process answers; ready = it can serve a request now; startup = its start-up work
#: is done (the container manager waits on this one).
LIVE_PATH: Final = "/health/live"
READY_PATH: Final = "/health/ready"
STARTUP_PATH: Final = "/health/startup"
PROBE_PATHS: Final = frozenset({HEALTH_PATH, LIVE_PATH, READY_PATH, STARTUP_PATH})
#: ``GET`` the whole in-memory state to hibernate, ``PUT`` it back to wake.
STATE_PATH: Final = "/state"
#: Prometheus text whatever the ``Accept`` header (the manager's ``/metrics/processors`` reads it).
METRICS_TEXT_PATH: Final = "/metrics/prometheus"
GENES_UPDATE_PATH: Final = "/genes/update"
EXPORT_PATH: Final = "/export"
IMPORT_PATH: Final = "/import"
WS_PATH: Final = "/ws"
