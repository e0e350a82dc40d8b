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

from container_manager import (
    ContainerManagerError,
    ContainerSettings,
    KatoContainerManager,
    ProcessorNotFoundError,
)
from container_manager.build.base_image import DEFAULT_BASE_IMAGE, LOCAL_BASE_IMAGE
from container_manager.build.image import DEFAULT_TAG
from kato.web.settings_errors import exit_on_bad_settings
from session_manager.settings import ManagerSettings

from . import defaults, down, portability
from .render import info_table, processors_table

__all__ = ["app", "make_manager"]

app = typer.Typer(
    help="Run KATO processors, one secure container each. Settings come from KATO_* variables "
    f"(KATO_BACKEND: docker or swarm, default {defaults.BACKEND}; KATO_IMAGE, KATO_NETWORK, "
    "KATO_MEMORY_LIMIT, KATO_CPU_LIMIT, KATO_PIDS_LIMIT, "
    "KATO_READY_TIMEOUT, KATO_STATE_DIR, KATO_CONTAINER_PREFIX, KATO_EXTRA_LABELS, "
    "KATO_DEPLOYMENT, KATO_ORPHAN_GRACE, KATO_LOG_MAX_SIZE, KATO_LOG_MAX_FILES). Every command "
    "sees only its deployment's processors: KATO_DEPLOYMENT, else the id kept in "
    "KATO_STATE_DIR/deployment (so run katoctl with the session manager's KATO_STATE_DIR to "
    "manage its processors).",
    no_args_is_help=True,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)

#: Builds the manager every command uses; tests monkeypatch it to inject a FakeBackend.
make_manager: Callable[[], KatoContainerManager] = KatoContainerManager


@contextmanager
def _reported_errors() -> Iterator[None]:
    """Print a `ContainerManagerError` as one clear line, its details and what the engine and
    the container said (katoctl is an operator's tool: diagnostics are for them), then exit
    non-zero; a bad KATO_* setting as one line naming it, exit status 2."""
    try:
        with exit_on_bad_settings("katoctl", ContainerSettings, ManagerSettings):
            yield
    except ContainerManagerError as exc:
        err.print(f"[bold red]error[/] {exc.code}: {exc.message}")
        for key, value in exc.details.items():
            err.print(f"  {key}: {value}", markup=False, highlight=False)
        if exc.diagnostics:
            err.print("[dim]engine and container said:[/]")
            for line in exc.diagnostics:
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
    from container_manager.build.image import build_image  # looked up per call: tests substitute it

    def progress(line: object) -> None:
        err.print(f"[dim]›[/] {line}", highlight=False)

    with _reported_errors():
        image_id = build_image(tag, base_image=base_image, progress=progress)
    out.print(f"[green]built[/] {tag} ({image_id})")


@app.command()
def spawn(
    user_id: Annotated[str | None, typer.Option(help="User the processor belongs to.")] = None,
    session_id: Annotated[
        str | None,
        typer.Option(
            help="Session it serves (a session the session registry does not hold makes it an "
            "orphan that reconcile and `katoctl prune` remove)."
        ),
    ] = None,
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
    all_: Annotated[
        bool, typer.Option("--all", help="Remove every processor of this deployment.")
    ] = False,
) -> None:
    """Remove processors for good: container and data volume."""
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
    """List this deployment's processors with status, port, age and memory use."""
    with _reported_errors():
        manager = make_manager()
        # By name: manager.stats(processor_id) would look each container up again.
        rows = [
            (info, manager.backend.stats(info.container_name)) for info in manager.list_processors()
        ]
        claims = _pool_claims(manager) if any(info.pooled for info, _ in rows) else {}
    if as_json:
        print(
            json.dumps(
                [
                    {**info.to_dict(), "claimed_by": claims.get(info.processor_id), "stats": s}
                    for info, s in rows
                ]
            )
        )
    else:
        out.print(processors_table(rows, manager.deployment, claims))


def _pool_claims(manager: KatoContainerManager) -> dict[str, str]:
    """Processor id → session id from the session registry (a pooled processor's claim is
    recorded there only); {} when this state directory has no registry."""
    from session_manager.registry import SessionRegistry

    path = ManagerSettings(state_dir=manager.settings.state_dir).registry_path
    if not path.exists():
        return {}
    registry = SessionRegistry(path)
    try:
        return {record.processor_id: record.session_id for record in registry.all()}
    finally:
        registry.close()


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
    """Remove this deployment's orphans: processors serving a session that the session registry
    in KATO_STATE_DIR does not hold. Their containers go at once, their data volumes only once
    unclaimed for KATO_ORPHAN_GRACE seconds (kept and listed until then). Processors started
    by `katoctl spawn` without a session are never orphans (remove them with `katoctl kill`)."""
    from session_manager.registry import SessionRegistry

    with _reported_errors():
        manager = make_manager()
        path = ManagerSettings(state_dir=manager.settings.state_dir).registry_path
        if not path.exists():
            err.print(
                f"[bold red]error[/] no session registry at {path}: run katoctl prune with the "
                "session manager's KATO_STATE_DIR (without it every session would look lost)"
            )
            raise typer.Exit(1)
        registry = SessionRegistry(path)
        try:
            report = manager.prune(registry.processor_ids)
        finally:
            registry.close()
    out.print(f"[green]pruned[/] {len(report.containers_removed)} container(s)")
    for container_id in report.containers_removed:
        out.print(f"  {container_id[:12]}")
    for title, names in (
        ("orphan volume(s) kept for the grace period", report.volumes_kept),
        ("orphan volume(s) removed after the grace period", report.volumes_removed),
    ):
        if names:
            out.print(f"{len(names)} {title}")
            for name in names:
                out.print(f"  {name}")


@app.command()
def deploy(
    name: Annotated[str, typer.Option(help="Stack name.")] = "kato",
    port: Annotated[
        int, typer.Option(envvar="KATO_MANAGER_PORT", help="Host port of the manager.")
    ] = 8080,
    api_key: Annotated[
        str,
        typer.Option(
            envvar="KATO_API_KEY",
            prompt=True,
            hide_input=True,
            help="API key the manager requires (env KATO_API_KEY); Swarm publishes on every "
            "interface of the node, so it is mandatory.",
        ),
    ] = "",
) -> None:
    """Run the session manager on this swarm as a stack (docker-compose.swarm.yml), with
    KATO_BACKEND=swarm: one service per session on the overlay kato-swarm-net."""
    from container_manager.deploy.stack import deploy_stack

    with _reported_errors():
        out.print(f"[bold]deploying[/] stack {name} (manager on port {port})")
        output = deploy_stack(name, {"KATO_MANAGER_PORT": str(port), "KATO_API_KEY": api_key})
    out.print(output, markup=False, highlight=False)
    out.print(f"[green]deployed[/] {name}: `docker stack ps {name}` shows its task")


@app.command()
def undeploy(name: Annotated[str, typer.Option(help="Stack name.")] = "kato") -> None:
    """Remove the manager stack; sessions' services stay, and are adopted on redeploy."""
    from container_manager.deploy.stack import remove_stack

    with _reported_errors():
        out.print(remove_stack(name), markup=False, highlight=False)


@app.command()
def up(
    host: Annotated[
        str | None,
        typer.Option(
            help=f"Address to listen on (default: env KATO_HOST, else {defaults.MANAGER_HOST}).",
            show_default=False,
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            help=f"Port to listen on (default: env KATO_PORT, else {defaults.MANAGER_PORT}).",
            show_default=False,
        ),
    ] = None,
    router: Annotated[
        str | None,
        typer.Option(
            help="What carries running sessions' traffic: `builtin` (the manager's own proxy) "
            "or `haproxy` (HAProxy on --port, started by the manager and outliving it; the "
            "manager's API moves to 127.0.0.1:--api-port). Default: env KATO_ROUTER, else "
            "builtin. See docs/routing.md.",
            show_default=False,
        ),
    ] = None,
    api_port: Annotated[
        int | None,
        typer.Option(
            help="With --router haproxy: the manager's own loopback port (default: env "
            "KATO_API_PORT, else --port + 1).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the session manager (sessions API + proxy to processors) in the foreground. Every
    KATO_* setting is checked first: a bad one is one line naming it, exit status 2."""
    from session_manager.server import run

    run(host, port, router=router, api_port=api_port)


# export, import, fork; make_manager looked up per call (tests replace it)
portability.register(app, lambda: make_manager(), _reported_errors)
down.register(app)  # drain the warm pool of a stopped deployment (cli/down.py)
