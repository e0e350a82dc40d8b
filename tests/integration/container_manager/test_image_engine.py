"""The real image on the real engine: build cache, non-root, hardened run, /health, no HEALTHCHECK.

`build_image()` runs here (seconds when `katoctl build` already ran), under `KATO_TEST_IMAGE` when
set so that a tree testing its own build never retags the shared image; every container carries
this run's `kato.test` label and is removed, with its anonymous /data volume, at the end.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import docker
import httpx
import pytest
from docker.models.containers import Container

from container_manager.build.image import DEFAULT_TAG, build_image
from container_manager.testing import remove_labelled, run_label
from kato.web.wait import wait_until

pytestmark = pytest.mark.docker

HARDENED: dict[str, Any] = {
    "read_only": True,
    "tmpfs": {"/tmp": "rw,size=16m"},
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges"],
}


@pytest.fixture(scope="module")
def tag() -> str:
    return os.environ.get("KATO_TEST_IMAGE", DEFAULT_TAG)


@pytest.fixture(scope="module")
def image_id(tag: str) -> str:
    return build_image(tag)


@pytest.fixture(scope="module")
def labels() -> Iterator[dict[str, str]]:
    labels = run_label()
    yield labels
    assert remove_labelled(labels) == []


@pytest.fixture(scope="module")
def processor(image_id: str, labels: dict[str, str]) -> Container:
    """One hardened processor container, published on a Docker-chosen loopback port."""
    loopback_any_port: dict[str, Any] = {"8000/tcp": ("127.0.0.1", None)}
    container = docker.from_env().containers.run(
        image_id,
        detach=True,
        environment={"PROCESSOR_ID": "t"},
        labels=labels,
        ports=loopback_any_port,
        **HARDENED,
    )
    container.reload()
    return container


def health_url(container: Container) -> str:
    (binding,) = container.attrs["NetworkSettings"]["Ports"]["8000/tcp"]
    return f"http://127.0.0.1:{binding['HostPort']}/health"


def answers_health(url: str) -> httpx.Response | None:
    try:
        response = httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return None
    return response if response.status_code == 200 else None


def test_second_build_reuses_wheels_base_and_every_layer(image_id: str, tag: str) -> None:
    lines: list[str] = []
    again = build_image(tag, progress=lines.append)

    assert again == image_id
    assert "[wheelhouse] dependency wheels: cached" in lines
    assert "[wheelhouse] project wheel: cached" in lines
    assert any(re.fullmatch(r"\[base\] \S+ \((local|given)\)", line) for line in lines)
    steps = [line for line in lines if re.match(r"\[build\] Step \d+/\d+ : ", line)]
    layered = [step for step in steps if not re.search(r" : (ARG|FROM) ", step)]
    cached = [line for line in lines if line.endswith("---> Using cache")]
    assert layered and len(cached) == len(layered)  # the pre-FROM ARG and FROM make no layer


def test_image_runs_as_uid_10001_with_a_read_only_workdir(
    image_id: str, labels: dict[str, str]
) -> None:
    client = docker.from_env()
    config = client.images.get(image_id).attrs["Config"]
    assert config["User"] == "10001:10001"
    assert "8000/tcp" in config["ExposedPorts"]
    assert "/data" in config["Volumes"]
    assert "KATO_DATA_DIR=/data" in config["Env"]

    script = "id -u; touch . 2>/dev/null || echo workdir-read-only; touch /data/p && echo ok"
    # Not remove=True: docker-py would leave the anonymous /data volume behind; `labels` cleans up.
    container = client.containers.run(
        image_id, ["sh", "-c", script], detach=True, labels=labels, **HARDENED
    )
    assert container.wait(timeout=60)["StatusCode"] == 0
    assert container.logs().decode().split() == ["10001", "workdir-read-only", "ok"]


def test_hardened_container_answers_health_without_a_token(processor: Container) -> None:
    response = wait_until("GET /health answers", lambda: answers_health(health_url(processor)))

    assert response.headers["content-type"].startswith("application/json")
    assert isinstance(response.json(), dict)


def test_image_has_no_healthcheck_starting_an_interpreter(
    image_id: str, processor: Container
) -> None:
    """An interpreter every 5 s in every container was a third of two cores for 30 idle ones."""
    check = docker.from_env().images.get(image_id).attrs["Config"].get("Healthcheck")
    assert check is None or check["Test"] == ["NONE"]
    wait_until("GET /health answers", lambda: answers_health(health_url(processor)))
    processor.reload()
    assert "Health" not in processor.attrs["State"]
