"""katoctl export / import / fork: move a whole processor memory in and out, as one file.

Sessions go through the session manager's HTTP API (``--manager-url``, env ``KATO_MANAGER_URL``,
default http://127.0.0.1:8080; ``--api-key``, env ``KATO_API_KEY``). Processors started with
``katoctl spawn`` have no session: their own URL and token (from the container manager) are used.
Files are streamed both ways with a progress bar on stderr, so stdout can be redirected.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
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

from container_manager import ContainerManagerError, ProcessorInfo
from kato import contract

from .defaults import MANAGER_URL
from .manager_api import ApiKey, ManagerUrl, make_http, manager_headers, raise_for, reported
from .render import info_table

__all__ = ["make_http", "register"]

err = Console(stderr=True)
out = Console()

_CHUNK = 256 * 1024

AsJson = Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")]
_SESSION_COLUMNS = ("session_id", "processor_id", "user_id", "status", "url")


def register(app: typer.Typer) -> None:
    """Add the three commands to katoctl."""
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
    with reported(), make_http() as http:
        url, headers = _export_source(_checked(target), manager_url, api_key)
        with http.stream("GET", url, headers=headers) as response:
            raise_for(response)
            sink: IO[bytes] = output.open("wb") if output else sys.stdout.buffer
            try:
                with _progress() as progress:
                    task = progress.add_task("export", total=None)
                    for chunk in response.iter_bytes(_CHUNK):
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
    with reported(), make_http() as http:
        if processor:
            info = _import_into_new_processor(http, file, user_id)
            _show(info.to_dict(), as_json, info)
            return
        params = {k: v for k, v in (("user_id", user_id), ("ttl_seconds", ttl_seconds)) if v}
        url = httpx.URL(manager_url).join("/session/import").copy_merge_params(params)
        response = http.post(str(url), content=_upload(file), headers=manager_headers(api_key))
        raise_for(response)
        _show(response.json(), as_json)


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
    with reported(), make_http() as http:
        url = httpx.URL(manager_url).join(f"/session/{_checked(session_id)}/fork")
        body = {k: v for k, v in (("user_id", user_id), ("ttl_seconds", ttl_seconds)) if v}
        with err.status("forking…"):
            response = http.post(str(url), json=body, headers=manager_headers(api_key))
        raise_for(response)
        _show(response.json(), as_json)


# -- helpers ----------------------------------------------------------------------------------


def _export_source(
    target: str, manager_url: str, api_key: str | None
) -> tuple[str, dict[str, str]]:
    """URL and headers: a spawned processor's own ``GET /export`` when TARGET is one, else the
    manager's ``GET /session/TARGET/export``."""
    info = _processor(target)
    if info is not None:
        return _processor_url(info, contract.EXPORT_PATH), _bearer(info)
    url = httpx.URL(manager_url).join(f"/session/{target}/export")
    return str(url), manager_headers(api_key)


def _processor(processor_id: str) -> ProcessorInfo | None:
    """The `spawn`ed processor of that id; None when there is none, or no Docker engine here
    (a session on a remote manager needs none)."""
    from . import main  # looked up per call: tests substitute make_manager

    try:
        return main.make_manager().get_processor(processor_id)
    except ContainerManagerError:
        return None


def _import_into_new_processor(
    http: httpx.Client, file: Path, user_id: str | None
) -> ProcessorInfo:
    from . import main

    manager = main.make_manager()
    with err.status("starting processor, waiting for /health…"):
        info = manager.create_processor(user_id=user_id)
    try:
        response = http.put(
            _processor_url(info, contract.IMPORT_PATH), content=_upload(file), headers=_bearer(info)
        )
        raise_for(response)
    except BaseException:
        manager.remove_processor(info.processor_id)
        raise
    return info


def _processor_url(info: ProcessorInfo, path: str) -> str:
    return str(httpx.URL(info.external_url or info.internal_url).copy_with(path=path))


def _bearer(info: ProcessorInfo) -> dict[str, str]:
    return {"Authorization": f"Bearer {info.token}"}


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
