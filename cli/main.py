"""katoctl: build the processor image, spawn/list/kill processors, run the session manager.

The CLI only parses options, calls `container_manager` / `session_manager`, and prints.
Tests replace `make_manager` to run every command against a `FakeBackend`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Annotated, Any

import typer
from rich.console import Console

from container_manager import ContainerManagerError, KatoContainerManager, ProcessorNotFoundError
from container_manager.base_image import DEFAULT_BASE_IMAGE, LOCAL_BASE_IMAGE
from container_manager.image import DEFAULT_TAG

from . import portability
from .render import info_table, processors_table

__all__ = ["app", "make_manager"]

app = typer.Typer(
    help="Run KATO processors, one secure container each. Settings come from KATO_* variables "
    "(KATO_IMAGE, KATO_NETWORK, KATO_MEMORY_LIMIT, KATO_CPU_LIMIT, KATO_PIDS_LIMIT, "
    "KATO_READY_TIMEOUT, KATO_STATE_DIR, KATO_CONTAINER_PREFIX, KATO_EXTRA_LABELS).",
    no_args_is_help=True,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)

#: Builds the manager every command uses; tests monkeypatch it to inject a FakeBackend.
make_manager: Callable[[], KatoContainerManager] = KatoContainerManager


@contextmanager
def _reported_errors() -> Iterator[None]:
    """Print a `ContainerManagerError` as one clear line (plus details) and exit non-zero."""
    try:
        yield
    except ContainerManagerError as exc:
        err.print(f"[bold red]error[/] {exc.code}: {exc.message}")
        for key, value in exc.details.items():
            if key != "logs":
                err.print(f"  {key}: {value}", markup=False, highlight=False)
            elif value:
                err.print("[dim]last log lines:[/]")
                for line in value:
                    err.print(f"  {line}", markup=False, highlight=False)
        raise typer.Exit(2 if isinstance(exc, ProcessorNotFoundError) else 1) from None


def _parse_genes(pairs: list[str]) -> dict[str, Any]:
    """KEY=VALUE pairs; VALUE is read as JSON when it parses (5, 0.2, true), else as text."""
    genes: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--gene")
        try:
            genes[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            genes[key.strip()] = raw
    return genes


@app.command()
def build(
    tag: Annotated[str, typer.Option(help="Tag of the image to build.")] = DEFAULT_TAG,
    base_image: Annotated[
        str | None,
        typer.Option(
            help=f"Base image to build on (default: env KATO_BASE_IMAGE, else {DEFAULT_BASE_IMAGE} "
            f"or {LOCAL_BASE_IMAGE} if the engine has it, else {DEFAULT_BASE_IMAGE} pulled, else "
            f"{LOCAL_BASE_IMAGE} made with debootstrap).",
        ),
    ] = None,
) -> None:
    """Build the processor image (what every processor container runs)."""
    from container_manager.image import build_image  # looked up per call: tests substitute it

    def progress(line: object) -> None:
        err.print(f"[dim]›[/] {line}", highlight=False)

    with _reported_errors():
        image_id = build_image(tag, base_image=base_image, progress=progress)
    out.print(f"[green]built[/] {tag} ({image_id})")


@app.command()
def spawn(
    user_id: Annotated[str | None, typer.Option(help="User the processor belongs to.")] = None,
    session_id: Annotated[str | None, typer.Option(help="Session it serves.")] = None,
    gene: Annotated[
        list[str] | None,
        typer.Option(
            "--gene",
            help="Gene or limit as KEY=VALUE, repeatable (max_pattern_length=5, "
            "recall_threshold=0.2, persistence, max_predictions, sort, use_indexing, "
            "processor_name, memory_limit=256m, cpu_limit=0.5, pids_limit=128).",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result as one JSON object.")
    ] = False,
) -> None:
    """Start one processor container and wait until it answers /health."""
    config = _parse_genes(gene or [])
    with _reported_errors():
        manager = make_manager()
        with err.status("starting processor, waiting for /health…"):
            info = manager.create_processor(user_id=user_id, session_id=session_id, config=config)
    if as_json:
        print(json.dumps(info.to_dict()))
    else:
        out.print(info_table(info))


@app.command()
def kill(
    processor_ids: Annotated[
        list[str] | None, typer.Argument(help="Processor ids to remove (with their data).")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Remove every managed processor.")] = False,
) -> None:
    """Remove processors for good: container, data volume and record."""
    with _reported_errors():
        manager = make_manager()
        ids = list(processor_ids or [])
        if all_:
            ids += [info.processor_id for info in manager.list_processors()]
        if not ids:
            err.print("[bold red]error[/] give PROCESSOR_ID... or --all")
            raise typer.Exit(1)
        for processor_id in dict.fromkeys(ids):
            manager.remove_processor(processor_id)
            out.print(f"[green]removed[/] {processor_id}")


@app.command("ls")
def list_processors(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON array instead of a table.")
    ] = False,
) -> None:
    """List managed processors with status, port, age and memory use."""
    with _reported_errors():
        manager = make_manager()
        # By container id: manager.stats(processor_id) would look each container up again.
        rows = [
            (info, manager.backend.stats(info.container_id)) for info in manager.list_processors()
        ]
    if as_json:
        print(json.dumps([{**info.to_dict(), "stats": stats} for info, stats in rows]))
    else:
        out.print(processors_table(rows))


@app.command()
def logs(
    processor_id: Annotated[str, typer.Argument(help="Processor whose logs to print.")],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
    tail: Annotated[int, typer.Option(help="How many past lines to print.")] = 100,
) -> None:
    """Print a processor container's logs."""
    with _reported_errors(), suppress(KeyboardInterrupt):
        for line in make_manager().logs(processor_id, tail=tail, follow=follow):
            print(line, flush=follow)


@app.command()
def prune() -> None:
    """Remove managed containers that no record of this manager claims (and their volumes)."""
    with _reported_errors():
        removed = make_manager().prune()
    out.print(f"[green]pruned[/] {len(removed)} container(s)")
    for container_id in removed:
        out.print(f"  {container_id[:12]}")


@app.command()
def up(
    host: Annotated[
        str, typer.Option(envvar="KATO_HOST", help="Address to listen on (env KATO_HOST).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(envvar="KATO_PORT", help="Port to listen on (env KATO_PORT).")
    ] = 8080,
) -> None:
    """Run the session manager (sessions API + proxy to processors) in the foreground."""
    from session_manager.server import run

    run(host, port)


portability.register(app)  # export, import, fork (cli/portability.py)
