"""katoctl down: stop a deployment cleanly (its warm pool drained, its sessions optionally
hibernated first).

A manager stopped with SIGTERM (or killed) keeps its pooled, unclaimed processors running so
that its next start on the same state directory adopts them; stopped for good, nothing would
ever remove them (they serve no session, so they are not orphans for `prune`). `down` removes
them, with their volumes (they hold no one's data), and only them: this deployment's
(label `kato.deployment`) processors labelled `kato.pool=true` that no session record in
KATO_STATE_DIR claims. It does so only while no manager runs on that state directory
(`session_manager/state_lock.py`): a running one would refill the pool, and could be claiming
one of them at that moment.

`--hibernate` first hibernates every running session through the manager's API (so the
manager must be up at `--manager-url`), then waits until the manager is stopped, then drains.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from container_manager import ContainerManagerError, KatoContainerManager, ProcessorInfo
from kato.web.wait import WaitTimeout, wait_until

from . import manager_api
from .defaults import MANAGER_URL
from .manager_api import ApiKey, CommandFailed, ManagerUrl, manager_headers, raise_for, reported

__all__ = ["down", "register"]

err = Console(stderr=True)
out = Console()

_POLL = 0.5
_PROBE_TIMEOUT = 5.0


@dataclass(frozen=True)
class Row:
    """One line of the summary: what it was, its id, what happened to it."""

    kind: str
    ident: str
    result: str
    ok: bool = True


def register(app: typer.Typer) -> None:
    app.command("down")(down)


def down(
    hibernate: Annotated[
        bool,
        typer.Option(
            "--hibernate",
            help="First hibernate every running session through the manager's API (it must "
            "answer at --manager-url), then wait for the manager to be stopped, then drain.",
        ),
    ] = False,
    wait: Annotated[
        float,
        typer.Option(
            min=0,
            help="With --hibernate: seconds to wait for the manager to stop once its sessions "
            "are hibernated (stop it with SIGTERM); past them nothing is drained, exit 1.",
        ),
    ] = 600.0,
    manager_url: ManagerUrl = MANAGER_URL,
    api_key: ApiKey = None,
) -> None:
    """Stop this deployment cleanly: remove its warm pool (pooled processors no session
    claims, with their volumes), which a stopped manager leaves running for its next start,
    and the HAProxy router of `KATO_ROUTER=haproxy`, which it leaves serving.
    Run it with the session manager's KATO_STATE_DIR (its registry says what is claimed), once
    no manager runs on it. Session containers, hibernated sessions' volumes and `katoctl spawn`
    processors are left as they are (listed as kept)."""
    from session_manager import state_lock
    from session_manager.pool import drainable
    from session_manager.registry import SessionRegistry

    from . import main

    rows: list[Row] = []
    with reported():
        manager = main.make_manager()
        state_dir = manager.settings.state_dir
        registry_path = _registry_path(state_dir)
        if hibernate:
            rows += _hibernate_sessions(manager_url, api_key)
            _wait_for_stop(state_dir, wait)
        try:
            with state_lock.exclusive(state_dir):
                registry = SessionRegistry(registry_path)
                try:
                    free = drainable(manager, registry.processor_ids)
                    claims = {r.processor_id: r.session_id for r in registry.all()}
                finally:
                    registry.close()
                drained = _drain(manager, free)
                rows += drained + _kept(manager.list_processors(), claims)
                rows += _stop_router(state_dir)
        except state_lock.ManagerRunning:
            raise CommandFailed(
                f"a session manager runs on KATO_STATE_DIR={state_dir}: it owns its warm pool "
                "(it refills it and may be claiming one now). Stop it (SIGTERM) and run katoctl "
                "down again, or run `katoctl down --hibernate` to hibernate its sessions first "
                "and drain once it has stopped"
            ) from None
    out.print(_table(rows, manager.deployment))
    removed = sum(1 for row in drained if row.ok)
    out.print(f"[green]down[/] {removed} pooled processor(s) removed")
    if not all(row.ok for row in rows):
        raise typer.Exit(1)


def _registry_path(state_dir: Path) -> Path:
    """The session registry of this state directory; without one every claim would look lost."""
    from session_manager.settings import ManagerSettings

    path = ManagerSettings(state_dir=state_dir).registry_path
    if not path.exists():
        raise CommandFailed(
            f"no session registry at {path}: run katoctl down with the session manager's "
            "KATO_STATE_DIR (without it every pooled processor would look unclaimed)"
        )
    return path


def _hibernate_sessions(manager_url: str, api_key: str | None) -> list[Row]:
    """Every running session hibernated through `POST /session/{id}/hibernate`; refused
    before anything changes when the manager does not answer."""
    headers = manager_headers(api_key)
    base = httpx.URL(manager_url)
    with manager_api.make_http() as http:
        try:
            running = _running_sessions(http, base, headers)
        except httpx.HTTPError as exc:
            raise CommandFailed(
                f"--hibernate needs the session manager's API, and nothing answers at "
                f"{manager_url} ({type(exc).__name__}): start it, or pass its --manager-url; "
                "nothing was changed"
            ) from None
        rows = []
        with _progress() as progress:
            task = progress.add_task("hibernating sessions", total=len(running))
            for session_id in running:
                rows.append(_hibernate_one(http, base, headers, session_id))
                progress.advance(task)
    return rows


def _running_sessions(http: httpx.Client, base: httpx.URL, headers: dict[str, str]) -> list[str]:
    """The ids of every running session, listed a page at a time (`GET /sessions` pages)."""
    running: list[str] = []
    params: dict[str, str] = {"status": "running", "limit": "1000"}
    while True:
        response = http.get(str(base.join("/sessions")), headers=headers, params=params)
        raise_for(response)
        page = response.json()
        running += [s["session_id"] for s in page["sessions"] if s["status"] == "running"]
        if not page.get("next_cursor"):
            return running
        params["cursor"] = page["next_cursor"]


def _hibernate_one(
    http: httpx.Client, base: httpx.URL, headers: dict[str, str], session_id: str
) -> Row:
    try:
        response = http.post(str(base.join(f"/session/{session_id}/hibernate")), headers=headers)
        raise_for(response)
    except (CommandFailed, httpx.HTTPError) as exc:
        return Row("session", session_id, f"not hibernated: {exc}", ok=False)
    return Row("session", session_id, "hibernated")


def _wait_for_stop(state_dir: Path, timeout: float) -> None:
    """Until no manager runs on `state_dir` (polled: `flock` has no wait with a deadline)."""
    from session_manager import state_lock

    def stopped() -> bool:
        try:
            with state_lock.exclusive(state_dir):
                return True
        except state_lock.ManagerRunning:
            return False

    err.print(
        f"sessions hibernated; stop the session manager now (SIGTERM): waiting up to {timeout:g}s"
        " for it to stop, then the pool is drained",
        highlight=False,
    )
    try:
        with err.status("waiting for the session manager to stop…"):
            wait_until("the session manager stops", stopped, timeout=timeout, interval=_POLL)
    except WaitTimeout:
        raise CommandFailed(
            f"the session manager still runs on {state_dir} after {timeout:g}s: its sessions "
            "are hibernated, its pool is kept; stop it and run katoctl down"
        ) from None


def _drain(manager: KatoContainerManager, free: list[ProcessorInfo]) -> list[Row]:
    rows = []
    with _progress() as progress:
        task = progress.add_task("removing pooled processors", total=len(free))
        for info in free:
            try:
                manager.remove_processor(info.processor_id)
                rows.append(Row("pool", info.processor_id, "removed (with its volume)"))
            except ContainerManagerError as exc:
                rows.append(Row("pool", info.processor_id, f"not removed: {exc.message}", False))
            progress.advance(task)
    return rows


def _stop_router(state_dir: Path) -> list[Row]:
    """The HAProxy router a `KATO_ROUTER=haproxy` manager left serving (it outlives the
    manager by design), ended now that no manager runs on the state directory."""
    from session_manager.routing.haproxy import stop_haproxy

    if not stop_haproxy(state_dir):
        return []
    return [Row("router", "haproxy", "stopped (its routes no longer serve)")]


def _kept(left: list[ProcessorInfo], claims: dict[str, str]) -> list[Row]:
    """What `down` leaves, and why (a restart of the manager adopts sessions' containers)."""
    rows = []
    for info in left:
        session = info.session_id or claims.get(info.processor_id)
        if info.pooled and info.processor_id not in claims:
            continue  # one that could not be removed: already a row
        reason = f"kept: session {session}" if session else "kept: not a session's (katoctl spawn)"
        kind = "pool" if info.pooled else "processor"
        rows.append(Row(kind, info.processor_id, f"{reason} ({info.status})"))
    return rows


def _table(rows: list[Row], deployment: str) -> Table:
    table = Table(title=f"katoctl down: deployment {deployment}")
    for column in ("kind", "id", "result"):
        table.add_column(column)
    for row in rows:
        table.add_row(row.kind, row.ident, Text(row.result, style="" if row.ok else "red"))
    return table


@contextmanager
def _progress() -> Iterator[Progress]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        yield progress
