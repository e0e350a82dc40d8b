"""Spawn benchmark: create→ready latency and idle memory of processor containers.

    .venv/bin/python bench/spawn.py [--sequential 20] [--concurrent 10] [--image kato:fastapi]
                                    [--backend docker,swarm]

Measures `KatoContainerManager.create_processor` wall time (create + start + /health ready)
for N sequential and M concurrent spawns, then the idle memory of each container (docker
stats, page cache excluded) after a short settle. Targets: p50 ≤ 1.0 s, p95 ≤ 2.0 s,
idle memory ≤ 80 MiB; on Swarm (one service per processor), p50 ≤ 2 s. Several backends run
one after the other in the same process, so their figures can be compared; the engine joins a
one-node swarm for the `swarm` run only if it is not in one, and leaves it afterwards.
Everything it makes carries a run label and is removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness import percentile
from rich.console import Console
from rich.table import Table

from container_manager import ContainerSettings, KatoContainerManager
from container_manager.testing import remove_labelled, run_label, swarm_node

MIB = 2**20
TARGETS = {"docker": "p50 ≤ 1.0 s, p95 ≤ 2.0 s", "swarm": "p50 ≤ 2.0 s"}


def timed_spawn(manager: KatoContainerManager) -> dict[str, float]:
    """Total create→ready wall time, split into the engine's launch (volume, create, start,
    address) and the app's start-up until /health answers."""
    started = time.perf_counter()
    timings = manager.create_processor(session_id="bench").timings
    return {
        "total": time.perf_counter() - started,
        "engine": timings["launch_s"],
        "app": timings["ready_s"] - timings["launch_s"],
    }


def add_row(table: Table, name: str, values: list[float], unit: str, target: str) -> None:
    table.add_row(
        name,
        str(len(values)),
        *(
            f"{v:.3f} {unit}" if unit == "s" else f"{v:.1f} {unit}"
            for v in (percentile(values, 50), percentile(values, 95), max(values))
        ),
        target,
    )


def idle_memory(manager: KatoContainerManager, settle_s: float) -> list[float]:
    time.sleep(settle_s)
    ids = [info.processor_id for info in manager.list_processors()]
    with ThreadPoolExecutor(max_workers=8) as pool:
        stats = list(pool.map(manager.stats, ids))
    return [s["memory_bytes"] / MIB for s in stats if s.get("memory_bytes")]


def remove_all(manager: KatoContainerManager) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = [info.processor_id for info in manager.list_processors()]
        list(pool.map(manager.remove_processor, ids))


def run(backend: str, args: argparse.Namespace, table: Table) -> list[str]:
    """Sequential spawns, idle memory, then concurrent spawns on one backend; rows into `table`."""
    labels = run_label()
    with (
        swarm_node() if backend == "swarm" else contextlib.nullcontext(),
        tempfile.TemporaryDirectory(prefix="kato-bench-") as state_dir,
    ):
        settings = ContainerSettings(
            backend=backend,
            image=args.image,
            state_dir=Path(state_dir),
            name_prefix="kato-bench",
            extra_labels=labels,
        )
        manager = KatoContainerManager(settings)
        try:
            sequential = [timed_spawn(manager) for _ in range(args.sequential)]
            memory = idle_memory(manager, args.settle)
            remove_all(manager)
            with ThreadPoolExecutor(max_workers=args.concurrent) as pool:
                concurrent = list(pool.map(lambda _: timed_spawn(manager), range(args.concurrent)))
            remove_all(manager)
        finally:
            left = remove_labelled(labels)
    target = TARGETS.get(backend, "")
    for scenario, runs in (("sequential", sequential), ("concurrent", concurrent)):
        totals = [r["total"] for r in runs]
        add_row(table, f"{backend}: create→ready, {scenario}", totals, "s", target)
        add_row(table, "  of which engine launch", [r["engine"] for r in runs], "s", "")
        add_row(table, "  of which app start→/health", [r["app"] for r in runs], "s", "")
    if memory:
        add_row(table, f"{backend}: idle memory per container", memory, "MiB", "≤ 80 MiB")
    return left


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequential", type=int, default=20)
    parser.add_argument("--concurrent", type=int, default=10)
    parser.add_argument("--image", default="kato:fastapi")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds before docker stats")
    parser.add_argument(
        "--backend", default="docker", help="comma-separated KATO_BACKEND names, run in turn"
    )
    args = parser.parse_args()

    table = Table(title=f"spawn benchmark ({args.image})")
    for column in ("measure", "n", "p50", "p95", "max", "target"):
        table.add_column(column)
    left = [item for backend in args.backend.split(",") for item in run(backend, args, table)]
    console = Console(width=120)
    console.print(table)
    console.print("left behind:", left or "nothing")


if __name__ == "__main__":
    main()
