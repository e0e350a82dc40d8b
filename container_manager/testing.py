"""Helpers for tests that use the real Docker engine (ours and the session manager's).

Every container a test makes carries a per-run label (via `KATO_EXTRA_LABELS`); at the end
of the run `remove_labelled` deletes every container and volume with that label and reports
anything it could not remove, so the test session can assert nothing is left behind.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import docker
import httpx
from docker.errors import APIError, ImageNotFound, NotFound
from docker.models.containers import Container

from kato.web.wait import WaitTimeout, wait_until

from ._docker import label_filter
from .models import ProcessorInfo

__all__ = [
    "image_available",
    "labelled_containers",
    "processor_http",
    "remove_labelled",
    "run_label",
    "swarm_node",
]


def run_label() -> dict[str, str]:
    """A label unique to this test run: `{"kato.test": "run-<hex>"}`."""
    return {"kato.test": f"run-{uuid.uuid4().hex[:12]}"}


def processor_http(info: ProcessorInfo, timeout: float = 10) -> httpx.Client:
    """A plain HTTP client on a processor the manager started, its bearer token set."""
    return httpx.Client(
        base_url=info.internal_url,
        headers={"Authorization": f"Bearer {info.token}"},
        timeout=timeout,
    )


def image_available(image: str) -> bool:
    """Whether the engine has `image` locally (tests skip with a reason when it does not)."""
    try:
        docker.from_env().images.get(image)
    except ImageNotFound:
        return False
    return True


def labelled_containers(
    labels: Mapping[str, str],
    client: docker.DockerClient | None = None,
    *,
    stopped: bool = True,
) -> list[Container]:
    """The containers carrying `labels` that exist now (with `stopped=False`, only running
    ones), each inspected.

    `containers.list` inspects every container it lists and raises `NotFound` for one that a
    background loop (reconcile, the pool, a Swarm task's end) removes between the listing and
    its inspection; a container removed in that moment is simply not in the answer here.
    """
    engine = client or docker.from_env()
    filters: dict[str, Any] = {"label": label_filter(labels)}
    found: list[Container] = []
    try:
        for summary in engine.api.containers(all=stopped, filters=filters):
            with contextlib.suppress(NotFound):
                found.append(engine.containers.get(summary["Id"]))
    finally:
        if client is None:
            engine.close()
    return found


def remove_labelled(labels: Mapping[str, str], settle: float = 30.0) -> list[str]:
    """Remove Swarm services and secrets, containers (with their anonymous volumes, which carry
    no labels), then volumes and images carrying `labels`; return what is left.

    A container the engine is already removing (a Swarm task of a removed service, a
    manager's reconcile) answers 409 or 404 here: it is given up to `settle` seconds to go
    before it counts as left behind.
    """
    client = docker.from_env()
    filters: dict[str, Any] = {"label": label_filter(labels)}
    if client.info()["Swarm"].get("ControlAvailable"):
        for service in client.services.list(filters=filters):
            with contextlib.suppress(NotFound):
                service.remove()
        for secret in client.secrets.list(filters=filters):
            with contextlib.suppress(NotFound, APIError):
                secret.remove()

    def containers_gone() -> bool:
        for container in labelled_containers(labels, client):
            with contextlib.suppress(NotFound, APIError):
                container.remove(force=True, v=True)
        return not client.api.containers(all=True, filters=filters)

    with contextlib.suppress(WaitTimeout):
        wait_until("labelled containers removed", containers_gone, timeout=settle)
    for volume in client.volumes.list(filters=filters):
        with contextlib.suppress(NotFound, APIError):
            volume.remove(force=True)
    for image in client.images.list(filters=filters):
        with contextlib.suppress(NotFound, APIError):
            client.images.remove(str(image.id), force=True)
    left = [f"container {c.name}" for c in labelled_containers(labels, client)]
    left += [f"volume {v.name}" for v in client.volumes.list(filters=filters)]
    left += [f"image {i.id}" for i in client.images.list(filters=filters)]
    return left


@contextlib.contextmanager
def swarm_node() -> Iterator[str]:
    """This engine as a one-node swarm (advertised on 127.0.0.1) for the duration; the node
    id is yielded. A swarm that existed before is used and left as it was."""
    client = docker.from_env()
    created = client.info()["Swarm"].get("LocalNodeState") != "active"
    if created:
        client.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377")
    try:
        yield str(client.info()["Swarm"]["NodeID"])
    finally:
        if created:
            client.swarm.leave(force=True)
        client.close()
