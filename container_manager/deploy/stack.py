"""The session manager as a Docker Swarm stack (`docker-compose.swarm.yml`).

`docker stack deploy` is the engine's own tool for this, so the stack is handed to the docker
CLI rather than rebuilt from SDK calls; this module only fills in what the file needs from this
node (the Docker socket's group) and checks the engine is a swarm manager first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from ..build.image import default_context
from ..errors import StackError
from ..swarm_backend import SwarmBackend

__all__ = ["STACK_FILE", "deploy_stack", "remove_stack"]

STACK_FILE = "docker-compose.swarm.yml"
DOCKER_SOCKET = Path("/var/run/docker.sock")


def deploy_stack(name: str, env: Mapping[str, str], *, context: Path | None = None) -> str:
    """`docker stack deploy` of the manager stack; returns the CLI's output."""
    SwarmBackend().ping()  # a clear error when this node is not a swarm manager
    stack_file = (context or default_context()) / STACK_FILE
    if not stack_file.is_file():
        raise StackError(
            f"{STACK_FILE} not found in {stack_file.parent}", {"file": str(stack_file)}
        )
    full_env = {
        "KATO_EXTRA_LABELS": "{}",
        **os.environ,
        "KATO_DOCKER_GID": str(DOCKER_SOCKET.stat().st_gid),
        **env,
    }
    return _docker(["stack", "deploy", "--compose-file", str(stack_file), name], full_env)


def remove_stack(name: str) -> str:
    return _docker(["stack", "rm", name], dict(os.environ))


def _docker(arguments: list[str], env: Mapping[str, str]) -> str:
    docker = shutil.which("docker")
    if docker is None:
        raise StackError("the docker CLI is not installed (scripts/ensure-docker.sh)")
    result = subprocess.run(
        [docker, *arguments], env=dict(env), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise StackError(
            f"docker {arguments[0]} {arguments[1]} failed",
            {"stderr": result.stderr.strip().splitlines()[-5:]},
        )
    return result.stdout
