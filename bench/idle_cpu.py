"""Idle CPU of N processor containers, with the image's old HEALTHCHECK and without it.

    .venv/bin/python bench/idle_cpu.py [--n 10] [--settle 10] [--window 30] [--image kato:fastapi]

Three phases, one after the other, on the same engine:

1. `baseline`: no container of ours (what else the machine does meanwhile);
2. `healthcheck`: N containers created as the image used to run them, with its HEALTHCHECK (a
   Python interpreter started every 5 s in each container to GET /health);
3. `manager`: N containers made by `KatoContainerManager` as it makes them now (no check: the
   manager probes /health itself when it starts a container).

Each phase waits until the containers answer /health, lets them settle, then measures over
`window` seconds: the whole host's busy time (/proc/stat, in % of all cores), the containers'
own CPU (their cgroups, via one-shot docker stats at both ends) and the engine daemons'
(dockerd, containerd, containerd-shim: running a check is work for them too), both in % of
one core. Everything it makes carries a run label and is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import httpx
from rich.console import Console
from rich.table import Table

from container_manager import ContainerSettings, KatoContainerManager
from container_manager.testing import remove_labelled, run_label

#: The HEALTHCHECK the image had (Dockerfile.fastapi before it was removed), in API units (ns).
OLD_HEALTHCHECK = {
    "test": [
        "CMD",
        "python",
        "-c",
        "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)",
    ],
    "interval": 5_000_000_000,
    "timeout": 3_000_000_000,
    "start_period": 10_000_000_000,
    "retries": 3,
}
ENGINE_DAEMONS = ("dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v2", "runc")
TICKS = os.sysconf("SC_CLK_TCK")


def host_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores since boot."""
    with open("/proc/stat") as stat:
        fields = [float(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def engine_seconds() -> float:
    """CPU seconds used so far by the engine daemons (every process with one of their names)."""
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                raw = stat.read()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        if name in ENGINE_DAEMONS:
            fields = raw[raw.rindex(")") + 2 :].split()
            total += (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime
    return total


def containers_seconds(client: docker.DockerClient, ids: list[str]) -> float:
    def used(container_id: str) -> float:
        raw = client.api.stats(container_id, stream=False, one_shot=True)
        return float(raw["cpu_stats"]["cpu_usage"]["total_usage"]) / 1e9

    with ThreadPoolExecutor(max_workers=8) as pool:
        return sum(pool.map(used, ids))


def measure(client: docker.DockerClient, ids: list[str], window: float) -> dict[str, float]:
    busy0, total0 = host_busy()
    engine0, containers0 = engine_seconds(), containers_seconds(client, ids) if ids else 0.0
    started = time.monotonic()
    time.sleep(window)
    elapsed = time.monotonic() - started
    busy1, total1 = host_busy()
    engine1, containers1 = engine_seconds(), containers_seconds(client, ids) if ids else 0.0
    return {
        "host_pct_all_cores": 100 * (busy1 - busy0) / (total1 - total0),
        "containers_pct_core": 100 * (containers1 - containers0) / elapsed,
        "engine_pct_core": 100 * (engine1 - engine0) / elapsed,
    }


def wait_healthy(urls: list[str]) -> None:
    deadline = time.monotonic() + 120
    pending = list(urls)
    while pending and time.monotonic() < deadline:
        try:
            if httpx.get(f"{pending[0]}/health", timeout=2).status_code == 200:
                pending.pop(0)
                continue
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    if pending:
        raise RuntimeError(f"{len(pending)} containers never answered /health")


def with_old_healthcheck(
    client: docker.DockerClient, image: str, labels: dict[str, str], n: int
) -> list[str]:
    """N hardened containers as the image used to run: its 5 s interpreter HEALTHCHECK on."""
    ids, urls = [], []
    for index in range(n):
        container = client.containers.run(
            image,
            detach=True,
            environment={"PROCESSOR_ID": f"idle{index}"},
            labels=labels,
            ports={"8000/tcp": ("127.0.0.1", None)},
            read_only=True,
            tmpfs={"/tmp": "rw,size=64m"},
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            healthcheck=OLD_HEALTHCHECK,
        )
        container.reload()
        (binding,) = container.attrs["NetworkSettings"]["Ports"]["8000/tcp"]
        ids.append(str(container.id))
        urls.append(f"http://127.0.0.1:{binding['HostPort']}")
    wait_healthy(urls)
    return ids


def from_manager(manager: KatoContainerManager, n: int) -> list[str]:
    """N containers exactly as the manager makes them (create_processor waits for /health)."""
    return [manager.create_processor(session_id="idle-bench").container_id for _ in range(n)]


def phase(
    name: str,
    make: Callable[[], list[str]],
    client: docker.DockerClient,
    labels: dict[str, str],
    args: argparse.Namespace,
) -> dict[str, float]:
    print(f"[{name}] starting containers…", flush=True)
    ids = make()
    print(
        f"[{name}] {len(ids)} running; settle {args.settle:g} s, measure {args.window:g} s",
        flush=True,
    )
    time.sleep(args.settle)
    try:
        return measure(client, ids, args.window)
    finally:
        remove_labelled(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10, help="containers per phase")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds before measuring")
    parser.add_argument("--window", type=float, default=30.0, help="seconds measured")
    parser.add_argument("--image", default="kato:fastapi")
    args = parser.parse_args()

    client = docker.from_env()
    labels = run_label()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="kato-bench-") as state_dir:
        manager = KatoContainerManager(
            ContainerSettings(
                image=args.image,
                state_dir=Path(state_dir),
                name_prefix="kato-bench",
                extra_labels=labels,
            )
        )
        try:
            results["baseline (no containers)"] = phase("baseline", list, client, labels, args)
            results[f"{args.n} idle, image HEALTHCHECK every 5 s"] = phase(
                "healthcheck",
                lambda: with_old_healthcheck(client, args.image, labels, args.n),
                client,
                labels,
                args,
            )
            results[f"{args.n} idle, as the manager makes them now"] = phase(
                "manager", lambda: from_manager(manager, args.n), client, labels, args
            )
        finally:
            left = remove_labelled(labels)

    table = Table(title=f"idle CPU ({os.cpu_count()} cores, window {args.window:g} s)")
    for column in (
        "phase",
        "host, % of all cores",
        "containers, % of a core",
        "engine, % of a core",
    ):
        table.add_column(column)
    for name, figures in results.items():
        table.add_row(
            name,
            f"{figures['host_pct_all_cores']:.1f}",
            f"{figures['containers_pct_core']:.1f}",
            f"{figures['engine_pct_core']:.1f}",
        )
    console = Console(width=120)
    console.print(table)
    console.print("left behind:", left or "nothing")


if __name__ == "__main__":
    main()
