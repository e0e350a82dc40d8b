"""HAProxy's configuration for the `haproxy` router: rendered from the manager's settings,
never from anything a client sent.

One frontend on the public address (KATO_HOST:KATO_PORT) decides, per request, between two
backends:

- `kato_sessions`: a proxied processor path (`/session/<id>/<path>`, `/v2/sessions/<id>/<path>`
  except the manager's own `hibernate`, `export` and `fork`) of a session with a route in
  `routes.map`, from a caller with the API key, with a body within KATO_MAX_BODY_BYTES and no
  dashboard cookie. The target address, port and container token come from the map entry and
  nothing else (`set-dst` on a `0.0.0.0:0` server); the prefix is cut off the path; the
  client's `Authorization` is replaced with the container's token.
- `kato_manager`: everything else: the manager's own routes, misses (the manager wakes the
  session, serves the request and adds the route), user tokens, the dashboard cookie,
  chunked or oversized bodies, HEAD and unusual methods. The manager applies all its rules
  to those, so the router refuses everything the manager refuses by handing it over.

The session id is only ever the raw path segment matched by `[0-9a-f]{32}` (a %-encoded id
is no id, as in the builtin proxy). The API key is compared by its SHA-256 (the file holds
the digest, not the key). A routed request is tracked in the `kato_activity` stick table
under its session id before the route it is forwarded by is read, so a request on its way to
a container is counted in `conn_cur` until it ends, and its time is kept in `gpt0` (what the
reaper reads).

Errors HAProxy answers itself are the platform's JSON errors (`error_file`): 502
`KATO_PROCESSOR_UNAVAILABLE` when a routed container does not accept the connection, 504
`KATO_UPSTREAM_TIMEOUT` past KATO_PROXY_TIMEOUT, 503 `KATO_MANAGER_UNAVAILABLE` with
`Retry-After` while the manager is down (routed sessions keep answering).
"""

from __future__ import annotations

import hashlib
import resource
from dataclasses import dataclass
from pathlib import Path

import orjson

__all__ = [
    "HaproxyLayout",
    "HaproxyParams",
    "default_maxconn",
    "error_file",
    "error_files",
    "render_config",
]

#: The stick table of per-session activity, and its key length (a session id).
ACTIVITY_TABLE = "kato_activity"
#: HAProxy's Prometheus endpoint on the public address (the API key required).
METRICS_PATH = "/router/metrics"
#: The manager's own paths under a session's prefix (the rest is the processor's).
_MANAGER_PATHS = "hibernate|export|fork"
_PROXIED_METHODS = "GET POST PUT PATCH DELETE OPTIONS"
_REQUEST_ID = "^[!-~]{1,128}$"  # kato.web.request_id.CLIENT_ID


@dataclass(frozen=True)
class HaproxyLayout:
    """The files of one router under its directory (KATO_STATE_DIR/haproxy)."""

    directory: Path

    @property
    def config(self) -> Path:
        return self.directory / "haproxy.cfg"

    @property
    def socket(self) -> Path:
        return self.directory / "admin.sock"

    @property
    def pidfile(self) -> Path:
        return self.directory / "haproxy.pid"

    @property
    def routes(self) -> Path:
        return self.directory / "routes.map"

    @property
    def stderr(self) -> Path:
        return self.directory / "haproxy.stderr"

    def error(self, name: str) -> Path:
        return self.directory / f"{name}.http"


@dataclass(frozen=True)
class HaproxyParams:
    """What the configuration depends on (all from the manager's settings)."""

    public_host: str
    public_port: int
    manager_host: str
    manager_port: int
    api_key: str | None
    max_body_bytes: int
    proxy_timeout: float
    retry_after: int
    max_sessions: int
    #: Connections at once (each takes two file descriptors): `default_maxconn()`.
    maxconn: int = 4096


def default_maxconn() -> int:
    """As many connections as the process's file-descriptor limit allows, at most 20,000."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        return 20_000
    return max(256, min(20_000, (hard - 100) // 2))


def error_file(status: int, reason: str, code: str, message: str, *, retry_after: int = 0) -> bytes:
    """A raw HTTP answer (HAProxy's `errorfile`) carrying the platform's JSON error."""
    body = orjson.dumps(
        {"error": {"code": code, "message": message, "details": {}}, "status": status}
    )
    head = [
        f"HTTP/1.1 {status} {reason}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Cache-Control: no-cache",
        "Connection: close",
    ]
    if retry_after:
        head.append(f"Retry-After: {retry_after}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def _key_check(api_key: str | None) -> list[str]:
    """The lines that set `key_ok`: the bearer credential's SHA-256 is the API key's."""
    if api_key is None:
        return ["    acl key_ok always_true"]
    digest = hashlib.sha256(api_key.encode()).hexdigest().upper()
    return [
        # `Authorization: Bearer <key>`, the scheme in any case (as the middleware reads it).
        "    http-request set-var(txn.cred) "
        "req.fhdr(authorization),regsub(^[Bb][Ee][Aa][Rr][Ee][Rr][[:space:]]+,)",
        f"    acl key_ok var(txn.cred),sha2(256),hex -m str {digest}",
    ]


def render_config(params: HaproxyParams, layout: HaproxyLayout) -> str:
    """The whole `haproxy.cfg` of a router."""
    d = layout
    timeout_ms = max(1, round(params.proxy_timeout * 1000))
    table_size = max(1024, params.max_sessions * 4)
    lines = [
        "# Written by the KATO session manager (session_manager/routing/haproxy_config.py);",
        "# rewritten at each start: edit the manager's settings, not this file.",
        "global",
        "    daemon",
        f"    stats socket {d.socket} mode 600 level admin",
        "    stats timeout 30s",
        f"    maxconn {params.maxconn}",
        "    hard-stop-after 60s",
        "",
        "defaults",
        "    mode http",
        "    option http-keep-alive",
        "    timeout connect 5s",
        "    timeout client 60s",
        "    timeout http-request 10s",
        "    timeout http-keep-alive 60s",
        "    timeout tunnel 1h",
        "    timeout client-fin 5s",
        f"    errorfile 400 {d.error('bad-request-400')}",
        f"    errorfile 408 {d.error('timeout-408')}",
        f"    errorfile 500 {d.error('internal-500')}",
        "",
        "frontend kato",
        f"    bind {params.public_host}:{params.public_port}",
        # The request id: the client's when sane (X-Request-ID, else X-Trace-ID), else new.
        f"    acl rid_ok req.fhdr(x-request-id) -m reg {_REQUEST_ID}",
        f"    acl tid_ok req.fhdr(x-trace-id) -m reg {_REQUEST_ID}",
        "    http-request set-var(txn.rid) req.fhdr(x-request-id) if rid_ok",
        "    http-request set-var(txn.rid) req.fhdr(x-trace-id) if !rid_ok tid_ok",
        "    http-request set-var(txn.rid) uuid(4),regsub(-,,g) if !rid_ok !tid_ok",
        # Passed on, so the manager (which takes a sane client id) answers under the same id.
        "    http-request set-header X-Request-ID %[var(txn.rid)]",
        "    http-after-response set-header X-Request-ID %[var(txn.rid)]",
        # A processor path of a session id as the manager writes them.
        f"    acl v1 path_reg ^/session/[0-9a-f]{{32}}/(?!(?:{_MANAGER_PATHS})(?:/|$))[^/]",
        f"    acl v2 path_reg ^/v2/sessions/[0-9a-f]{{32}}/(?!(?:{_MANAGER_PATHS})(?:/|$))[^/]",
        "    http-request set-var(txn.sid) path,field(3,/) if v1",
        "    http-request set-var(txn.sid) path,field(4,/) if v2",
        "    acl has_sid var(txn.sid) -m found",
        f"    acl proxied_method method {_PROXIED_METHODS}",
        "    acl chunked req.hdr(transfer-encoding) -m found",
        f"    acl too_big req.hdr_val(content-length) gt {params.max_body_bytes}",
        "    acl dashboard_cookie req.cook(kato_dashboard) -m found",
        *_key_check(params.api_key),
        # HAProxy's own Prometheus exporter (requests, latency, errors per frontend/backend).
        f"    http-request use-service prometheus-exporter if {{ path {METRICS_PATH} }} key_ok",
        # Tracked when it has a route, before the route is read for forwarding: a request
        # forwarded to a container is in conn_cur from before that second read, so after
        # `del map`, conn_cur == 0 means none is on its way (one that misses the second read
        # goes to the manager, counted: the safe side); a miss is not tracked at all.
        f"    acl has_route var(txn.sid),map({d.routes}) -m found",
        f"    http-request track-sc0 var(txn.sid) table {ACTIVITY_TABLE} "
        "if has_sid proxied_method key_ok !chunked !too_big !dashboard_cookie has_route",
        "    acl tracked sc_tracked(0)",
        "    http-request sc-set-gpt0(0) date if tracked",
        f"    http-request set-var(txn.route) var(txn.sid),map({d.routes}) if tracked",
        "    acl routed var(txn.route) -m found",
        "    use_backend kato_sessions if routed",
        "    default_backend kato_manager",
        "",
        "backend kato_sessions",
        f"    timeout server {timeout_ms}",
        "    retries 0",
        "    http-request set-dst var(txn.route),field(1,|)",
        "    http-request set-dst-port var(txn.route),field(2,|)",
        '    http-request set-header Authorization "Bearer %[var(txn.route),field(3,|)]"',
        "    http-request del-header Proxy-Authorization",
        "    http-request set-path %[path,regsub(^/session/[0-9a-f]+,)] if { path_beg /session/ }",
        "    http-request set-path %[path,regsub(^/v2/sessions/[0-9a-f]+,)] "
        "if { path_beg /v2/sessions/ }",
        # The processor logs under the manager's request id (as through the builtin proxy).
        "    http-request set-header X-Trace-ID %[var(txn.rid)] "
        "unless { req.hdr(x-trace-id) -m found }",
        f"    errorfile 502 {d.error('processor-502')}",
        f"    errorfile 503 {d.error('processor-502')}",
        f"    errorfile 504 {d.error('processor-504')}",
        "    server processor 0.0.0.0:0",
        "",
        "backend kato_manager",
        # The manager's own routes include waits (creates, wakes) and streams (/events).
        "    timeout server 24h",
        f"    errorfile 503 {d.error('manager-503')}",
        f"    server manager {params.manager_host}:{params.manager_port}",
        "",
        f"backend {ACTIVITY_TABLE}",
        f"    stick-table type string len 32 size {table_size} expire 1d "
        "store gpt0,conn_cur,http_req_cnt",
        "",
    ]
    return "\n".join(lines)


def error_files(params: HaproxyParams, layout: HaproxyLayout) -> dict[Path, bytes]:
    """The answers HAProxy gives itself, by file."""
    return {
        layout.error("bad-request-400"): error_file(
            400, "Bad Request", "KATO_HTTP_ERROR", "the request is not valid HTTP"
        ),
        layout.error("timeout-408"): error_file(
            408, "Request Timeout", "KATO_HTTP_ERROR", "the request did not arrive in time"
        ),
        layout.error("internal-500"): error_file(
            500, "Internal Server Error", "KATO_INTERNAL_ERROR", "the router failed"
        ),
        layout.error("processor-502"): error_file(
            502,
            "Bad Gateway",
            "KATO_PROCESSOR_UNAVAILABLE",
            "the session container did not answer (the next request checks it again)",
        ),
        layout.error("processor-504"): error_file(
            504,
            "Gateway Timeout",
            "KATO_UPSTREAM_TIMEOUT",
            f"the session container did not answer within {params.proxy_timeout} s; the "
            "request may still be applied, it is not retried",
        ),
        layout.error("manager-503"): error_file(
            503,
            "Service Unavailable",
            "KATO_MANAGER_UNAVAILABLE",
            "the session manager is not answering; running sessions are still served, "
            "retry this request shortly",
            retry_after=params.retry_after,
        ),
    }
