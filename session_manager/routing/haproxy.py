"""The `haproxy` router (`KATO_ROUTER=haproxy`): HAProxy from the Debian package carries
running sessions' traffic; the manager adds and removes its routes through the runtime API.

HAProxy is started by the manager as a daemon of its own (`haproxy -D`, files under
KATO_STATE_DIR/haproxy, see `haproxy_config.HaproxyLayout`): it listens on the public address,
and it outlives the manager, so running sessions keep answering while the manager restarts or
after it was killed (requests for anything else answer 503 `KATO_MANAGER_UNAVAILABLE` with
`Retry-After` meanwhile). The next manager on the same state directory adopts it: the same
configuration is kept as it runs (its routes included), a changed one is reloaded with
`-sf` (the old process finishes its requests; the routes it had are written to the map file
first, so the new one starts with them) and `SessionService.sync_routes` makes the routes the
registry's either way.

A route is `ip|port|token` in `routes.map` under the session id; only containers reached at an
IPv4 address (the Docker backend's loopback ports) can be routed: another (a Swarm service
name) is left to the manager's own proxy, which serves it as before. Activity comes from the
`kato_activity` stick table: `gpt0` the time of the session's last routed request, `conn_cur`
its requests and sockets open now, `http_req_cnt` all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import shutil
import signal
import time
from pathlib import Path
from urllib.parse import urlsplit

from .haproxy_config import (
    ACTIVITY_TABLE,
    HaproxyLayout,
    HaproxyParams,
    error_files,
    render_config,
)
from .haproxy_runtime import RuntimeApi, RuntimeApiError
from .router import Activity, RouteTarget

__all__ = [
    "HaproxyRouter",
    "RouteNotRoutable",
    "RuntimeApiError",
    "map_value",
    "stop_haproxy",
]

log = logging.getLogger("session_manager.routing")

#: The longest path a unix socket can have (sun_path, 108 bytes with its NUL).
_MAX_SOCKET_PATH = 107
_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class RouteNotRoutable(ValueError):
    """A container HAProxy cannot be pointed at (not an IPv4 address, or an odd token)."""


def map_value(target: RouteTarget) -> str:
    """`ip|port|token` for the route map; `RouteNotRoutable` when it has no such form."""
    parts = urlsplit(target.internal_url)
    try:
        address = ipaddress.IPv4Address(parts.hostname or "")
        port = parts.port
    except ValueError as exc:
        raise RouteNotRoutable(f"{target.internal_url!r} is not an IPv4 address") from exc
    if parts.scheme != "http" or port is None:
        raise RouteNotRoutable(f"{target.internal_url!r} is not http://<ipv4>:<port>")
    if not target.token or not set(target.token) <= _TOKEN_CHARS or len(target.token) > 256:
        raise RouteNotRoutable("the container token is not URL-safe base64")
    return f"{address}|{port}|{target.token}"


def _target_of(session_id: str, value: str) -> RouteTarget | None:
    address, _, rest = value.partition("|")
    port, _, token = rest.partition("|")
    if not (address and port.isdigit() and token):
        return None
    return RouteTarget(session_id, f"http://{address}:{port}", token)


class HaproxyRouter:
    """HAProxy in front; see the module docstring."""

    external = True

    def __init__(
        self,
        *,
        state_dir: Path,
        params: HaproxyParams,
        binary: str | None = None,
    ) -> None:
        self.layout = HaproxyLayout(Path(state_dir).resolve() / "haproxy")
        self.params = params
        self._binary = binary
        self.api = RuntimeApi(self.layout.socket)
        if len(str(self.layout.socket)) > _MAX_SOCKET_PATH:
            raise ValueError(
                f"KATO_STATE_DIR is too long for HAProxy's admin socket {self.layout.socket} "
                f"(at most {_MAX_SOCKET_PATH} characters): choose a shorter state directory"
            )
        if any(c.isspace() for c in str(self.layout.directory)):
            raise ValueError("KATO_STATE_DIR must not contain spaces with KATO_ROUTER=haproxy")

    # -- the process ---------------------------------------------------------------------

    @property
    def binary(self) -> str:
        found = self._binary or shutil.which("haproxy")
        if found is None:
            raise RuntimeError(
                "KATO_ROUTER=haproxy: the haproxy binary is not on PATH; install it with "
                "`bash scripts/ensure-haproxy.sh` (Debian package haproxy)"
            )
        return found

    def pid(self) -> int | None:
        """The pid of this router's HAProxy when it runs."""
        return _running_pid(self.layout)

    async def start(self) -> None:
        """Adopt the HAProxy a previous manager left running, or start one."""
        directory = self.layout.directory
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(directory, 0o700)
        for path, content in error_files(self.params, self.layout).items():
            _write(path, content)
        config = render_config(self.params, self.layout)
        running = self.pid()
        if running is not None and await self.api.alive():
            if _read(self.layout.config) == config:
                log.info("haproxy router adopted", extra={"pid": running})
                return
            await self._save_routes()  # the new process starts with the old one's routes
            _write(self.layout.config, config.encode())
            await self._launch("-sf", str(running))
            log.info("haproxy router reloaded", extra={"pid": self.pid(), "replaced": running})
            return
        _write(self.layout.routes, b"")  # a dead router's routes are stale: sync adds them
        _write(self.layout.config, config.encode())
        await self._launch()
        log.info(
            "haproxy router started",
            extra={"pid": self.pid(), "port": self.params.public_port},
        )

    async def _launch(self, *extra: str) -> None:
        with open(self.layout.stderr, "wb") as errors:
            process = await asyncio.create_subprocess_exec(
                self.binary,
                "-D",
                "-f",
                str(self.layout.config),
                "-p",
                str(self.layout.pidfile),
                *extra,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=errors,
                stderr=errors,
                cwd=self.layout.directory,
                start_new_session=True,
            )
            code = await process.wait()
        if code != 0:
            said = self.layout.stderr.read_text(errors="replace").strip()[-2000:]
            raise RuntimeError(f"haproxy did not start (exit {code}): {said}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _START_TIMEOUT
        while not await self.api.alive():
            if loop.time() > deadline:
                raise RuntimeError(f"haproxy started but {self.layout.socket} does not answer")
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        """The manager stops; HAProxy goes on serving its routes (`stop` ends it)."""
        return None

    async def stop(self) -> bool:
        """End this router's HAProxy; False if none ran (see `stop_haproxy`)."""
        return await asyncio.to_thread(stop_haproxy, self.layout.directory.parent)

    async def _save_routes(self) -> None:
        entries = await self.api.entries(self.layout.routes)
        _write(self.layout.routes, "".join(f"{k} {v}\n" for k, v in entries.items()).encode())

    # -- the Router seam -----------------------------------------------------------------

    async def add_route(self, target: RouteTarget) -> None:
        try:
            value = map_value(target)
        except RouteNotRoutable as exc:
            # The manager's own proxy serves it: make sure no stale entry points elsewhere.
            log.info("route left to the manager: %s", exc, extra={"session_id": target.session_id})
            await self.api.del_entry(self.layout.routes, target.session_id)
            return
        await self.api.set_entry(self.layout.routes, target.session_id, value)

    async def remove_route(self, session_id: str) -> None:
        await self.api.del_entry(self.layout.routes, session_id)

    async def routes(self) -> dict[str, RouteTarget]:
        found: dict[str, RouteTarget] = {}
        for session_id, value in (await self.api.entries(self.layout.routes)).items():
            target = _target_of(session_id, value)
            if target is not None:
                found[session_id] = target
        return found

    async def activity(self) -> dict[str, Activity]:
        rows = await self.api.table(ACTIVITY_TABLE)
        return {session_id: _activity(row) for session_id, row in rows.items()}

    async def activity_of(self, session_id: str) -> Activity | None:
        """The stick table's one entry (`show table … key <id>`), not the whole table."""
        row = (await self.api.table(ACTIVITY_TABLE, key=session_id)).get(session_id)
        return None if row is None else _activity(row)


def _running_pid(layout: HaproxyLayout) -> int | None:
    """The pid in the router's pidfile when that process is its HAProxy (not a reused pid)."""
    try:
        pid = int(layout.pidfile.read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return None
    return pid if str(layout.config).encode() in cmdline else None


def stop_haproxy(state_dir: Path) -> bool:
    """End the HAProxy of the router on `state_dir` (`katoctl down`, the tests): its
    requests in flight are cut. False if none ran."""
    layout = HaproxyLayout(Path(state_dir).resolve() / "haproxy")
    pid = _running_pid(layout)
    if pid is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + _STOP_TIMEOUT
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def _activity(row: dict[str, str]) -> Activity:
    last = _int(row.get("gpt0"))
    return Activity(
        last_request=float(last) if last else None,
        open=_int(row.get("conn_cur")),
        requests=_int(row.get("http_req_cnt")),
    )


def _int(text: str | None) -> int:
    return int(text) if text is not None and text.isdigit() else 0


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _write(path: Path, content: bytes) -> None:
    """Write `content` whole (a temporary file renamed over), readable by the owner only."""
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(content)
    os.replace(temporary, path)

