"""Cold start of a processor container: engine start → first /health 200, its CPU, idle memory.

    .venv/bin/python bench/coldstart.py [--images kato:before,kato:fastapi] [--rounds 3]

Starts one container of each image in turn (``--read-only``, tmpfs ``/tmp``, as the manager runs
them), ``--rounds`` times, so every image sees the same minutes of a shared machine. Prints each
start: wall time from ``docker run`` to the first 200 on ``/health``, the CPU seconds the
container burned by then (cgroup ``cpu_usage.total_usage``) and its memory 5 s later (usage
less inactive page cache), then the medians per image. Issue 24 targets: start-up CPU halved,
idle memory ≤ 30 MiB. Every container carries the label ``kato-bench-coldstart`` and is removed.
"""

from __future__ import annotations

import argparse
import statistics
import time

import docker
import httpx

MIB = 2**20


def _ready(port: str) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def cold_start(client: docker.DockerClient, image: str, name: str) -> tuple[float, float, float]:
    started = time.perf_counter()
    container = client.containers.run(
        image, detach=True, environment={"PROCESSOR_ID": name}, ports={"8000/tcp": None},
        labels={"kato-bench-coldstart": "1"}, read_only=True, tmpfs={"/tmp": ""},
    )
    try:
        while True:
            container.reload()
            port = (container.ports.get("8000/tcp") or [{}])[0].get("HostPort")
            if port and _ready(port):
                break
            time.sleep(0.01)
        ready = time.perf_counter() - started
        stats = client.api.stats(container.id, stream=False, one_shot=True)
        cpu = stats["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9
        time.sleep(5)
        memory = client.api.stats(container.id, stream=False, one_shot=True)["memory_stats"]
        idle = (memory["usage"] - memory.get("stats", {}).get("inactive_file", 0)) / MIB
        return ready, cpu, idle
    finally:
        container.remove(force=True, v=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", default="kato:fastapi", help="comma-separated, run in turn")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    client = docker.from_env()
    results: dict[str, list[tuple[float, float, float]]] = {}
    for round_index in range(args.rounds):
        for image in args.images.split(","):
            row = cold_start(client, image, f"coldstart-{round_index}")
            results.setdefault(image, []).append(row)
            print(f"{image}: ready {row[0]:.3f} s, CPU {row[1]:.3f} s, idle {row[2]:.1f} MiB")
    for image, rows in results.items():
        ready, cpu, idle = (statistics.median(row[i] for row in rows) for i in range(3))
        print(f"{image} median: ready {ready:.3f} s, CPU {cpu:.3f} s, idle {idle:.1f} MiB")


if __name__ == "__main__":
    main()
