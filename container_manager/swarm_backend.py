"""`Backend` on Docker Swarm: one processor = one replicated service of one task.

Chosen with `KATO_BACKEND=swarm`; the engine must be a swarm manager node. What maps to what:

* the processor's container → a service named like the container, one replica, restart on
  failure, the spec's limits as resource limits (memory also reserved, for placement) and
  every hardening setting of the spec; `kato.*` labels on the service and on its task
  containers. The handle of every operation is the service name (the spec's name);
  `ContainerState.container_id` is the service id. `launch` is create + wait for the task to
  run, with no separate start step.
* the token → a Docker secret `kato-token-<processor id>` mounted at
  `/run/secrets/kato-token` (`KATO_PROCESSOR_TOKEN_FILE`), never plain environment; made
  with the service, removed with it.
* the data volume → a node-local named volume created by the task's mount. When the first
  task runs, a secret `kato-node-<processor id>` records that node in its `kato.node` label
  (secrets are cluster-wide and outlive the service); every later service of the processor
  is pinned (`node.id==…`) there, so a hibernated session wakes where its patterns are. The
  record goes with the volume.
* the address → without `KATO_NETWORK`, a port published in `host` mode on the node
  (Swarm's ingress mesh and virtual IPs are not used: endpoint mode `dnsrr`); with
  `KATO_NETWORK` (an attachable overlay), the task's address on it as the engine reports it,
  for a manager that runs on that overlay (the stack in docker-compose.swarm.yml).

Swarm on Docker 20.10 has no `no-new-privileges` for services: the processor sets it on
itself at start-up (`kato.services.hardening`), which `/proc/1/status` shows as NoNewPrivs 1.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import suppress
from typing import Any

from docker.errors import APIError, NotFound
from docker.types import (
    EndpointSpec,
    Healthcheck,
    Mount,
    Resources,
    RestartPolicy,
    SecretReference,
    ServiceMode,
)

from kato.contract import ENV_TOKEN, ENV_TOKEN_FILE

from ._docker import NO_HEALTHCHECK, NodeBackend, engine_errors, env_of, label_filter
from .errors import (
    ContainerManagerError,
    EngineError,
    EngineUnavailableError,
    ProcessorNotFoundError,
    ProcessorStartError,
)
from .models import SERVICE_PORT, Address, ContainerState, Launched, ProcessorSpec, carries

__all__ = ["SwarmBackend"]

#: Where the task finds its token (the processor reads `KATO_PROCESSOR_TOKEN_FILE`).
TOKEN_FILE = "/run/secrets/kato-token"
LABEL_NODE = "kato.node"
_TASK_RUNNING = "running"
_TASK_STARTING = {
    "new",
    "allocated",
    "pending",
    "assigned",
    "accepted",
    "preparing",
    "ready",
    "starting",
}
#: How long a launch waits for the task to run (image pull excluded: the image is local).
_START_WAIT = 30.0
_GONE_WAIT = 15.0
_POLL = 0.05


def _secret_name(kind: str, volume: str) -> str:
    """`kato-token-<id>` / `kato-node-<id>` for the processor whose volume is kato-data-<id>."""
    return f"kato-{kind}-" + volume.removeprefix("kato-data-")


class SwarmBackend(NodeBackend):
    """Processors as Swarm services; node-level work (volumes, stats) on this node's engine."""

    def ping(self) -> None:
        with engine_errors("reach the engine", unavailable_on_api_error=True):
            info = self.client.info()
        swarm = info.get("Swarm") or {}
        if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
            raise EngineUnavailableError(
                "KATO_BACKEND=swarm needs a swarm manager node (docker swarm init)",
                {"swarm_state": swarm.get("LocalNodeState", "unknown")},
            )

    # -- launch and remove ------------------------------------------------------------------
    def launch(self, spec: ProcessorSpec) -> Launched:
        """Create the service (its task mounts the volume, making it if missing) and wait,
        bounded, until its task runs; then pin the processor's data to that node.

        The data is new while no node record exists for it."""
        new_volume = self._secret("node", spec.volume) is None
        try:
            self._create_service(spec)
            state = self._wait_running(spec.name)
        except ContainerManagerError as exc:
            raise self.discard(spec, exc, new_volume=new_volume) from exc
        return Launched(state, new_volume)

    def remove(self, name: str, volume: str, *, keep_data: bool, owner: Mapping[str, str]) -> bool:
        """The service and its token secret; unless `keep_data`, the node record and the volume
        where it is on this node (a volume on another node of a cluster stays: see
        docs/scaling.md)."""
        removed = False
        service = self._service(name)
        if service is not None and carries(_labels(service), owner):
            self._remove_service(service)
            removed = True
        self._remove_secret("token", volume, owner)
        if not keep_data:
            self._remove_secret("node", volume, owner)
            removed = self._remove_volume(volume, owner) or removed
        return removed

    # -- queries ---------------------------------------------------------------------------
    def find(self, labels: Mapping[str, str]) -> list[ContainerState]:
        filters = {"label": label_filter(labels)}
        with engine_errors("list the processor services"):
            services = self.client.services.list(filters=filters)
        return [self._state(s, self._task(str(s.id))) for s in services]

    def inspect(self, name: str) -> ContainerState | None:
        service = self._service(name)
        if service is None:
            return None
        return self._state(service, self._task(str(service.id)))

    def logs(self, name: str, *, tail: int, follow: bool) -> Iterator[str]:
        service = self._service(name)
        if service is None:
            raise ProcessorNotFoundError("cannot read a service's logs: it does not exist")
        local = _container_id(self._task(str(service.id)))
        if local is None:
            return iter([])
        return super().logs(local, tail=tail, follow=follow)

    def stats(self, name: str) -> dict[str, Any]:
        service = self._service(name)
        local = _container_id(self._task(str(service.id))) if service is not None else None
        return super().stats(local) if local else {}

    # -- steps -----------------------------------------------------------------------------
    def _create_service(self, spec: ProcessorSpec) -> str:
        """Create the processor's service (the task starts at once) with its token secret,
        pinned to the node of its data if it has any; return the service id."""
        secret = self._token_secret(spec)
        node_record = self._secret("node", spec.volume)
        node = _labels(node_record).get(LABEL_NODE) if node_record else None
        env = {k: v for k, v in spec.env.items() if k != ENV_TOKEN}
        env[ENV_TOKEN_FILE] = TOKEN_FILE
        ports: list[dict[str, Any]] = (
            []
            if spec.network
            else [{"Protocol": "tcp", "TargetPort": spec.port, "PublishMode": "host"}]
        )
        uid = spec.user.split(":")[0]
        try:
            with engine_errors("create the processor's service"):
                service = self.client.services.create(
                    spec.image,
                    name=spec.name,
                    env=[f"{k}={v}" for k, v in env.items()],
                    labels=dict(spec.labels),
                    container_labels=dict(spec.labels),
                    user=spec.user,
                    read_only=spec.read_only,
                    cap_drop=list(spec.cap_drop),
                    mounts=[
                        Mount(spec.data_dir, spec.volume, type="volume", labels=dict(spec.labels)),
                        *(
                            Mount(path, None, type="tmpfs", tmpfs_size=size)
                            for path, size in spec.tmpfs.items()
                        ),
                    ],
                    resources=_resources(spec),
                    restart_policy=RestartPolicy(condition="on-failure", delay=1_000_000_000),
                    endpoint_spec=EndpointSpec(mode="dnsrr", ports=ports),
                    mode=ServiceMode("replicated", 1),
                    networks=[spec.network] if spec.network else [],
                    secrets=[
                        SecretReference(
                            str(secret.id),
                            str(secret.name),
                            filename=TOKEN_FILE,
                            uid=uid,
                            gid=uid,
                            mode=0o400,
                        )
                    ],
                    constraints=[f"node.id=={node}"] if node else [],
                    # The manager probes /health itself; an image HEALTHCHECK would hold the
                    # task in "starting" for its interval and start an interpreter every time.
                    healthcheck=Healthcheck(test=list(NO_HEALTHCHECK)),
                    stop_grace_period=5_000_000_000,
                )
        except (EngineError, ProcessorNotFoundError) as exc:
            raise ProcessorStartError(exc.message, diagnostics=exc.diagnostics) from exc
        return str(service.id)

    def _wait_running(self, name: str) -> ContainerState:
        """Wait (bounded) for the service's task to run, record its node, return its state."""
        deadline = time.monotonic() + _START_WAIT
        while True:
            service = self._service(name)
            if service is None:
                raise ProcessorStartError("the processor's service vanished during start-up")
            task = self._task(str(service.id))
            state = _task_state(task) if task else "pending"
            if state == _TASK_RUNNING and task is not None:
                self._remember_node(service, task)
                running = self._state(service, task)
                if running.address is not None:
                    return running
            elif state not in _TASK_STARTING or time.monotonic() > deadline:
                raise ProcessorStartError(
                    f"the swarm could not start the processor's task (state {state})",
                    {"status": state},
                    [str(((task or {}).get("Status") or {}).get("Err", ""))],
                )
            if time.monotonic() > deadline:
                raise ProcessorStartError("the processor's task runs without an address")
            time.sleep(_POLL)

    def _remove_service(self, service: Any) -> None:
        """Remove the service; wait until its task container is gone (so its volume is free)."""
        service_id = str(service.id)
        with engine_errors("remove the processor's service"):
            with suppress(NotFound):
                self.client.api.remove_service(service_id)
            deadline = time.monotonic() + _GONE_WAIT
            filters: dict[str, Any] = {"label": f"com.docker.swarm.service.id={service_id}"}
            while self.client.api.containers(all=True, filters=filters):
                if time.monotonic() > deadline:
                    break
                time.sleep(_POLL)

    # -- helpers ---------------------------------------------------------------------------
    def _token_secret(self, spec: ProcessorSpec) -> Any:
        """A fresh token secret for this launch (one left by a launch that died is replaced)."""
        # A stale one can only be an earlier launch's of this name (one still mounted by a
        # running service is refused by the engine), so no owner check narrows it.
        self._remove_secret("token", spec.volume, owner={})
        token = spec.env.get(ENV_TOKEN, "")
        with engine_errors("create the processor's token secret"):
            return self.client.secrets.create(
                name=_secret_name("token", spec.volume),
                data=token.encode(),
                labels=dict(spec.labels),
            )

    def _remember_node(self, service: Any, task: Mapping[str, Any]) -> None:
        """Record once which node holds the processor's volume."""
        volume = _volume_of(service)
        if volume is None or self._secret("node", volume) is not None:
            return
        labels = {**_labels(service), LABEL_NODE: str(task["NodeID"])}
        with (
            engine_errors("record the node of the processor's volume"),
            suppress(APIError),
        ):  # 409: a concurrent call recorded it
            self.client.secrets.create(
                name=_secret_name("node", volume),
                data=str(task["NodeID"]).encode(),
                labels=labels,
            )

    def _secret(self, kind: str, volume: str) -> Any | None:
        """The named secret, matched exactly (the engine's name filter matches prefixes)."""
        name = _secret_name(kind, volume)
        with engine_errors("list secrets"):
            found = self.client.secrets.list(filters={"name": name})
        return next((s for s in found if s.name == name), None)

    def _remove_secret(self, kind: str, volume: str, owner: Mapping[str, str]) -> None:
        secret = self._secret(kind, volume)
        if secret is not None and carries(_labels(secret), owner):
            with engine_errors("remove a secret"), suppress(NotFound):
                secret.remove()

    def _task_address(self, service: Any, task: Mapping[str, Any]) -> Address | None:
        for port in (task["Status"].get("PortStatus") or {}).get("Ports") or []:
            if port.get("PublishedPort"):
                return Address(self._node_address(task["NodeID"]), int(port["PublishedPort"]), True)
        # On the overlay, the task's own address as the engine reports it. Not the service
        # name: a woken processor's new service keeps the name, and the swarm's DNS can answer
        # the removed task's address for a while (seen here: the restore then timed out).
        for attachment in task.get("NetworksAttachments") or []:
            for cidr in attachment.get("Addresses") or []:
                return Address(cidr.split("/")[0], SERVICE_PORT, published=False)
        return None

    def _node_address(self, node_id: str) -> str:
        with engine_errors("inspect a swarm node"):
            node = self.client.nodes.get(node_id)
        return str((node.attrs.get("Status") or {}).get("Addr") or "127.0.0.1")

    def _service(self, service_id: str) -> Any | None:
        with engine_errors("inspect a service"):
            try:
                return self.client.services.get(service_id)
            except NotFound:
                return None

    def _task(self, service_id: str) -> dict[str, Any] | None:
        """The service's newest task (the one the swarm wants running)."""
        with engine_errors("list a service's tasks"):
            try:
                tasks = self.client.api.tasks(filters={"service": service_id})
            except NotFound:
                return None
        if not tasks:
            return None
        return max(tasks, key=lambda t: t.get("Version", {}).get("Index", 0))

    def _state(self, service: Any, task: Mapping[str, Any] | None) -> ContainerState:
        state = _task_state(task) if task else "pending"
        status = {
            _TASK_RUNNING: "running",
            "failed": "exited",
            "rejected": "exited",
            "complete": "exited",
            "shutdown": "exited",
            "orphaned": "exited",
        }.get(state, "created")
        container = _container_spec(service)
        env = env_of(container.get("Env"))
        address = self._task_address(service, task) if status == "running" and task else None
        return ContainerState(
            container_id=str(service.id),
            name=str(service.name),
            status=status,
            labels=_labels(service),
            env=env,
            address=address,
        )


def _labels(obj: Any) -> dict[str, str]:
    return dict((obj.attrs.get("Spec") or {}).get("Labels") or {})


def _volume_of(service: Any) -> str | None:
    mounts = _container_spec(service).get("Mounts") or []
    return next((m["Source"] for m in mounts if m.get("Type") == "volume"), None)


def _container_spec(service: Any) -> dict[str, Any]:
    return dict(service.attrs["Spec"].get("TaskTemplate", {}).get("ContainerSpec") or {})


def _task_state(task: Mapping[str, Any] | None) -> str:
    return str(((task or {}).get("Status") or {}).get("State", "pending"))


def _container_id(task: Mapping[str, Any] | None) -> str | None:
    status = (task or {}).get("Status") or {}
    return (status.get("ContainerStatus") or {}).get("ContainerID") or None


def _resources(spec: ProcessorSpec) -> Resources:
    """The spec's limits; memory is also reserved so the scheduler places by it. docker-py's
    `Resources` has no pids field, the API (1.41) has: it is a dict, so add it."""
    resources = Resources(
        cpu_limit=spec.limits.nano_cpus,
        mem_limit=spec.limits.memory_bytes,
        mem_reservation=spec.limits.memory_bytes,
    )
    resources["Limits"]["Pids"] = spec.limits.pids
    return resources
