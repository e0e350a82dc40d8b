"""katoctl export / import / fork: move a whole processor memory in and out, as one file.

Sessions go through the session manager's HTTP API (``--manager-url``, env ``KATO_MANAGER_URL``,
default http://127.0.0.1:8080; ``--api-key``, env ``KATO_API_KEY``). Processors started with
``katoctl spawn`` have no session: their own URL and token (from the container manager) are used.
Files are streamed both ways with a progress bar on stderr, so stdout can be redirected. Every
call goes through `kato.client`, which knows the paths, the bodies and the error answers.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from container_manager import ContainerManagerError, KatoContainerManager, ProcessorInfo
from kato import contract
from kato.client import KatoClient, KatoError, ProcessorClient, SessionInfo

from .defaults import MANAGER_URL
from .manager_api import ApiKey, ManagerUrl
from .render import info_table

__all__ = ["Katoctl", "register"]

err = Console(stderr=True)
out = Console()

_CHUNK = 256 * 1024
_TIMEOUT = httpx.Timeout(60.0, read=600.0)

AsJson = Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")]
_SESSION_COLUMNS = ("session_id", "processor_id", "user_id", "status", "url")


@dataclass
class Katoctl:
    """What these commands take from katoctl, handed over by `register` (so this module does
    not import cli.main): its container manager, its error printer, and the HTTP transport of
    every client (None: the network; tests substitute an in-process one)."""

    make_manager: Callable[[], KatoContainerManager] = KatoContainerManager
    reported_errors: Callable[[], AbstractContextManager[None]] = nullcontext
    transport: httpx.BaseTransport | None = None

    def manager_client(self, url: str, api_key: str | None) -> KatoClient:
        return KatoClient(url, api_key, timeout=_TIMEOUT, transport=self.transport)

    def processor_client(self, url: str, token: str | None) -> ProcessorClient:
        return ProcessorClient(url, token, timeout=_TIMEOUT, transport=self.transport)


katoctl = Katoctl()


def register(
    app: typer.Typer,
    make_manager: Callable[[], KatoContainerManager],
    reported_errors: Callable[[], AbstractContextManager[None]],
) -> None:
    """Add the three commands to katoctl."""
    katoctl.make_manager, katoctl.reported_errors = make_manager, reported_errors
    app.command("export")(export)
    app.command("import")(import_file)
    app.command("fork")(fork)


def export(
    target: Annotated[str, typer.Argument(help="Session id, or a processor id from `spawn`.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    manager_url: ManagerUrl = MANAGER_URL,
    api_key: ApiKey = None,
) -> None:
    """Write a session's or processor's whole memory (patterns, statistics, STM, genes) as one
    NDJSON document; a hibernated session is woken for it."""
    with _reported(), _export_source(_checked(target), manager_url, api_key) as source:
        chunks = source.export()
        first = next(chunks, b"")  # a refusal raises here, before the output file is made
        sink: IO[bytes] = output.open("wb") if output else sys.stdout.buffer
        try:
            with _progress() as progress:
                task = progress.add_task("export", total=None)
                for chunk in itertools.chain([first], chunks):
                    sink.write(chunk)
                    progress.advance(task, len(chunk))
        finally:
            if output:
                sink.close()
            else:
                sink.flush()


def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="An export file.")],
    user_id: Annotated[str | None, typer.Option(help="Owner of the new session.")] = None,
    ttl_seconds: Annotated[
        int | None, typer.Option(min=1, help="Delete the new session this many seconds after.")
    ] = None,
    processor: Annotated[
        bool,
        typer.Option("--processor", help="Make a bare processor (as `spawn`), not a session."),
    ] = False,
    manager_url: ManagerUrl = MANAGER_URL,
    api_key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """Create a new session (or processor) holding the memory of FILE."""
    with _reported():
        if processor:
            info = _import_into_new_processor(file, user_id)
            _show(info.to_dict(), as_json, info)
            return
        with katoctl.manager_client(manager_url, api_key) as kato:
            session = kato.import_session(_upload(file), user_id or None, ttl_seconds)
        _show(_view(session.info), as_json)


def fork(
    session_id: Annotated[str, typer.Argument(help="Session to copy (it keeps running).")],
    user_id: Annotated[str | None, typer.Option(help="Owner (default: the source's).")] = None,
    ttl_seconds: Annotated[
        int | None, typer.Option(min=1, help="Delete the fork this many seconds after.")
    ] = None,
    manager_url: ManagerUrl = MANAGER_URL,
    api_key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """A new session with a copy of SESSION_ID's memory; both then evolve independently."""
    with _reported(), katoctl.manager_client(manager_url, api_key) as kato:
        with err.status("forking…"):
            forked = kato.fork_session(_checked(session_id), user_id or None, ttl_seconds)
        _show(_view(forked.info), as_json)


# -- helpers ----------------------------------------------------------------------------------


def _export_source(target: str, manager_url: str, api_key: str | None) -> ProcessorClient:
    """A spawned processor's own client when TARGET is one, else the session's processor
    calls through the manager (``/session/TARGET/…``, as `kato.client.Session` makes them)."""
    info = _processor(target)
    if info is not None:
        return katoctl.processor_client(_processor_url(info), info.token)
    return katoctl.processor_client(f"{manager_url.rstrip('/')}/session/{target}", api_key)


def _processor(processor_id: str) -> ProcessorInfo | None:
    """The `spawn`ed processor of that id; None when there is none, or no Docker engine here
    (a session on a remote manager needs none)."""
    try:
        return katoctl.make_manager().get_processor(processor_id)
    except ContainerManagerError:
        return None


def _import_into_new_processor(file: Path, user_id: str | None) -> ProcessorInfo:
    manager = katoctl.make_manager()
    with err.status("starting processor, waiting for /health…"):
        info = manager.create_processor(user_id=user_id)
    try:
        with katoctl.processor_client(_processor_url(info), info.token) as processor:
            processor.import_memory(_upload(file))
    except BaseException:
        manager.remove_processor(info.processor_id)
        raise
    return info


def _processor_url(info: ProcessorInfo) -> str:
    return info.external_url or info.internal_url


def _upload(file: Path) -> Iterator[bytes]:
    """The file in chunks, advancing a progress bar sized to it."""
    with _progress() as progress, file.open("rb") as source:
        task = progress.add_task("import", total=file.stat().st_size)
        while chunk := source.read(_CHUNK):
            progress.advance(task, len(chunk))
            yield chunk


@contextmanager
def _progress() -> Iterator[Progress]:
    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        yield progress


def _checked(identifier: str) -> str:
    if not contract.is_processor_id(identifier):  # session ids (32 hex) pass it too
        raise typer.BadParameter(f"ids are {contract.PROCESSOR_ID_RULE}")
    return identifier


def _view(info: SessionInfo) -> dict[str, Any]:
    """The session as the manager's JSON shows it (times to the millisecond, UTC as `Z`)."""
    return {
        name: _iso(value) if isinstance(value, datetime) else value
        for name, value in asdict(info).items()
    }


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _show(view: dict[str, Any], as_json: bool, info: ProcessorInfo | None = None) -> None:
    if as_json:
        print(json.dumps(view))
    elif info is not None:
        out.print(info_table(info))
    else:
        table = Table(title="new session")
        for column in _SESSION_COLUMNS:
            table.add_column(column)
        table.add_row(*(str(view.get(column) or "-") for column in _SESSION_COLUMNS))
        out.print(table)


@contextmanager
def _reported() -> Iterator[None]:
    """Refusals and unreachable services as one clear line and exit code 1."""
    try:
        with katoctl.reported_errors():
            yield
    except KatoError as exc:
        err.print(f"[bold red]error[/] {exc.code}: {exc.message}", highlight=False)
        raise typer.Exit(1) from None
