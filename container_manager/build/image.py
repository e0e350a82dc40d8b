"""Build the processor image `kato:fastapi` (what `katoctl build` runs).

    image_id = build_image(progress=print)        # or: python -m container_manager.build.image

Four steps, each announced through `progress` as `[step] …` and each failing with
`ImageBuildError(details={"step": step})`:

1. `engine`     – the Docker engine answers a ping;
2. `wheelhouse` – host-built wheels in build/wheelhouse (see `wheelhouse`), reused when unchanged;
3. `base`       – the base image (see `base_image`), created locally once if no registry answers;
4. `build`      – `docker build -f Dockerfile.fastapi` with `BASE_IMAGE`, output streamed.

With nothing changed a rebuild reuses both wheel sets and every Docker layer: it takes seconds.
"""

from __future__ import annotations

import argparse
import fcntl
import subprocess
import sys
import tomllib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docker
from docker.errors import DockerException

from ..errors import ImageBuildError
from ..settings import ContainerSettings
from .base_image import BaseImage, choose_base_image
from .wheelhouse import Runner, ensure_wheelhouse

__all__ = ["DEFAULT_TAG", "DOCKERFILE", "build_image", "default_context"]

#: What is built by default is what processors run by default (KATO_IMAGE's default).
DEFAULT_TAG: str = ContainerSettings.model_fields["image"].default
DOCKERFILE = "Dockerfile.fastapi"
BASE_IMAGE_SCRIPT = Path("scripts") / "make-base-image.sh"

Progress = Callable[[str], None]


def build_image(
    tag: str = DEFAULT_TAG,
    *,
    context: Path | None = None,
    base_image: str | None = None,
    progress: Progress | None = None,
) -> str:
    """Build `tag` from `context` (default: the project checkout) and return the image id."""
    context = (context or default_context()).resolve()
    report = progress or (lambda _line: None)
    client = _engine(report)
    with _exclusive(context, report):
        _wheelhouse(context, report)
        base = _base(client, context, base_image, report)
        return _docker_build(client, context, tag, base, report)


def default_context() -> Path:
    """The checkout this package lives in (an editable install), else the working directory."""
    checkout = Path(__file__).resolve().parents[2]
    return checkout if (checkout / DOCKERFILE).is_file() else Path.cwd()


@contextmanager
def _exclusive(context: Path, report: Progress) -> Iterator[None]:
    """One build per context at a time: a second one would rewrite the wheelhouse being sent."""
    lock_path = context / "build" / ".image-build.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            report("[wheelhouse] another build of this checkout is running: waiting for it")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _engine(report: Progress) -> docker.DockerClient:
    report("[engine] checking the Docker engine")
    try:
        client = docker.from_env()
        client.ping()
    except DockerException as exc:
        raise ImageBuildError(
            f"the Docker engine does not answer: {exc} (run scripts/ensure-docker.sh)",
            details={"step": "engine"},
        ) from exc
    return client


def _wheelhouse(context: Path, report: Progress) -> None:
    report("[wheelhouse] checking build/wheelhouse")
    try:
        result = ensure_wheelhouse(context, _runner("wheelhouse", report))
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        raise ImageBuildError(
            f"cannot prepare the wheelhouse in {context}: {exc!r} (is it the project checkout?)",
            details={"step": "wheelhouse"},
        ) from exc
    report(f"[wheelhouse] dependency wheels: {'cached' if result.deps_cached else 'built'}")
    report(f"[wheelhouse] project wheel: {'cached' if result.project_cached else 'built'}")


def _base(
    client: docker.DockerClient, context: Path, requested: str | None, report: Progress
) -> BaseImage:
    report("[base] choosing the base image")
    script = context / BASE_IMAGE_SCRIPT

    def create_local(tag: str) -> None:
        report(f"[base] no registry answers: creating {tag} with debootstrap (once)")
        _runner("base", report)(["bash", str(script), tag])

    base = choose_base_image(client.images, requested, create_local, announce=report)
    report(f"[base] {base.name} ({base.source.value})")
    return base


def _docker_build(
    client: docker.DockerClient, context: Path, tag: str, base: BaseImage, report: Progress
) -> str:
    report(f"[build] docker build -f {DOCKERFILE} -t {tag} (BASE_IMAGE={base.name})")
    try:
        chunks = client.api.build(
            path=str(context),
            dockerfile=DOCKERFILE,
            tag=tag,
            buildargs={"BASE_IMAGE": base.name},
            rm=True,
            forcerm=True,
            decode=True,
        )
        _stream_build(chunks, report)
        image_id = str(client.images.get(tag).id)
    except DockerException as exc:
        raise ImageBuildError(f"docker build failed: {exc}", details={"step": "build"}) from exc
    report(f"[build] {tag} is {image_id}")
    return image_id


def _stream_build(chunks: Iterable[dict[str, Any]], report: Progress) -> None:
    """Forward build output line by line; an `error` chunk ends the build with its message."""
    for chunk in chunks:
        if "error" in chunk:
            raise ImageBuildError(
                f"docker build failed: {str(chunk['error']).strip()}",
                details={"step": "build", "error": chunk.get("errorDetail", {})},
            )
        for line in str(chunk.get("stream", "")).splitlines():
            if line.strip():
                report(f"[build] {line.rstrip()}")


def _runner(step: str, report: Progress) -> Runner:
    """A `Runner` that streams a command's output to `report` and fails as `step`."""

    def run(command: Sequence[str]) -> None:
        report(f"[{step}] $ {' '.join(command)}")
        try:
            process = subprocess.Popen(
                list(command),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        except OSError as exc:
            message = f"cannot run {command[0]}: {exc}"
            raise ImageBuildError(message, details={"step": step}) from exc
        assert process.stdout is not None
        tail: deque[str] = deque(maxlen=20)
        for line in process.stdout:
            report(f"[{step}] {line.rstrip()}")
            tail.append(line.rstrip())
        if process.wait() != 0:
            raise ImageBuildError(
                f"{' '.join(command[:4])} … failed (exit {process.returncode})",
                details={"step": step, "output": list(tail)},
            )

    return run


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m container_manager.build.image [--tag T] [--base-image B] [--context DIR]`."""
    parser = argparse.ArgumentParser(
        prog="python -m container_manager.build.image", description=__doc__
    )
    parser.add_argument("--tag", default=DEFAULT_TAG)
    parser.add_argument("--base-image", default=None)
    parser.add_argument("--context", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        image_id = build_image(
            args.tag,
            context=args.context,
            base_image=args.base_image,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
    except ImageBuildError as exc:
        print(f"error [{exc.details.get('step')}]: {exc.message}", file=sys.stderr)
        return 1
    print(image_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
