"""Choosing the engine: `KATO_BACKEND` names a backend registered in the `kato.backends`
entry-point group (the way `jupyterhub.spawners` works), so another package can add one
without editing this project:

    [project.entry-points."kato.backends"]
    nomad = "my_package.nomad:NomadBackend"

This project registers `docker` (one engine) and `swarm` (Docker Swarm services).
"""

from __future__ import annotations

from importlib.metadata import entry_points

from .backend import Backend
from .errors import ConfigValidationError

__all__ = ["GROUP", "available_backends", "load_backend"]

GROUP = "kato.backends"


def available_backends() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=GROUP))


def load_backend(name: str) -> Backend:
    """A new instance of the backend registered as `name` (its constructor takes no argument)."""
    found = entry_points(group=GROUP, name=name)
    if not found:
        raise ConfigValidationError(
            f"unknown KATO_BACKEND {name!r}",
            {"backend": name, "available": available_backends()},
        )
    backend_class = next(iter(found)).load()
    backend = backend_class()
    if not isinstance(backend, Backend):
        raise ConfigValidationError(
            f"KATO_BACKEND {name!r} is not a container_manager.Backend", {"backend": name}
        )
    return backend
