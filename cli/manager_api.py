"""What katoctl's commands that talk to the session manager's HTTP API share: the
``--manager-url`` and ``--api-key`` options, the client, and one way to report a refusal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import httpx
import typer
from rich.console import Console

__all__ = [
    "ApiKey",
    "CommandFailed",
    "ManagerUrl",
    "make_http",
    "manager_headers",
    "raise_for",
    "reported",
]

err = Console(stderr=True)

_TIMEOUT = httpx.Timeout(60.0, read=600.0)

#: Builds the HTTP client every command uses; tests substitute an in-process transport.
make_http: Callable[[], httpx.Client] = lambda: httpx.Client(timeout=_TIMEOUT)  # noqa: E731

ManagerUrl = Annotated[
    str,
    typer.Option(
        envvar="KATO_MANAGER_URL", help="Session manager base URL (env KATO_MANAGER_URL)."
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option(envvar="KATO_API_KEY", help="The manager's API key (env KATO_API_KEY)."),
]


class CommandFailed(Exception):
    """A request was refused or could not be made; printed as one line, exit code 1."""


def manager_headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def raise_for(response: httpx.Response) -> None:
    """`CommandFailed` with the manager's error code and message unless it succeeded."""
    if response.is_success:
        return
    response.read()
    try:
        error = response.json()["error"]
        message = f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        message = f"HTTP {response.status_code}: {response.text[:200]}"
    raise CommandFailed(message)


@contextmanager
def reported() -> Iterator[None]:
    """Refusals and unreachable services as one clear line and exit code 1 (and what
    `main._reported_errors` reports: engine errors, bad settings)."""
    from . import main

    try:
        with main._reported_errors():
            yield
    except CommandFailed as exc:
        err.print(f"[bold red]error[/] {exc}", highlight=False)
        raise typer.Exit(1) from None
    except httpx.HTTPError as exc:
        err.print(f"[bold red]error[/] {type(exc).__name__}: {exc}", highlight=False)
        raise typer.Exit(1) from None
