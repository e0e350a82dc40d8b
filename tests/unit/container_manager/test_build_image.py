"""Base-image selection and the build_image steps, against a fake engine (no Docker needed)."""

from __future__ import annotations

import fcntl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from docker.errors import APIError, DockerException, ImageNotFound

from container_manager import ImageBuildError
from container_manager.build import image as image_module
from container_manager.build.base_image import (
    DEFAULT_BASE_IMAGE,
    LOCAL_BASE_IMAGE,
    BaseImageSource,
    choose_base_image,
)
from container_manager.build.wheelhouse import ensure_wheelhouse

BUILT_ID = "sha256:" + "ab" * 32


@dataclass
class FakeImage:
    id: str


@dataclass
class FakeImages:
    """`client.images`: `local` names exist; `pull` succeeds only when `registry` is True."""

    local: set[str] = field(default_factory=set)
    registry: bool = False
    pulls: list[str] = field(default_factory=list)

    def get(self, name: str) -> FakeImage:
        if name not in self.local:
            raise ImageNotFound(name)
        return FakeImage(BUILT_ID)

    def pull(self, repository: str, tag: str | None = None) -> FakeImage:
        name = f"{repository}:{tag}" if tag else repository
        self.pulls.append(name)
        if not self.registry:
            raise APIError("registry unreachable")
        self.local.add(name)
        return FakeImage("sha256:pulled")


@dataclass
class FakeAPI:
    images: FakeImages
    chunks: list[dict[str, Any]]
    calls: list[dict[str, Any]] = field(default_factory=list)

    def build(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        self.calls.append(kwargs)
        if not any("error" in chunk for chunk in self.chunks):
            self.images.local.add(kwargs["tag"])
        return iter(self.chunks)


class FakeClient:
    def __init__(self, images: FakeImages, chunks: list[dict[str, Any]]) -> None:
        self.images = images
        self.api = FakeAPI(images, chunks)

    def ping(self) -> bool:
        return True


class Creator:
    """Stands in for scripts/make-base-image.sh: records the tags it was asked to create."""

    def __init__(self) -> None:
        self.created: list[str] = []

    def __call__(self, tag: str) -> None:
        self.created.append(tag)


@pytest.fixture(autouse=True)
def _no_base_image_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KATO_BASE_IMAGE", raising=False)


# --- base image selection --------------------------------------------------------------------


def test_requested_base_is_used_as_given_without_lookups() -> None:
    images, create = FakeImages(), Creator()
    base = choose_base_image(images, "debian-python:test", create)

    assert (base.name, base.source) == ("debian-python:test", BaseImageSource.GIVEN)
    assert images.pulls == [] and create.created == []


def test_env_names_the_base_when_the_argument_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KATO_BASE_IMAGE", "from-env:1")
    base = choose_base_image(FakeImages(), None, Creator())

    assert (base.name, base.source) == ("from-env:1", BaseImageSource.GIVEN)


def test_local_python_slim_comes_first() -> None:
    images = FakeImages(local={DEFAULT_BASE_IMAGE, LOCAL_BASE_IMAGE})
    base = choose_base_image(images, None, Creator())

    assert (base.name, base.source) == (DEFAULT_BASE_IMAGE, BaseImageSource.LOCAL)


def test_existing_debootstrap_base_is_reused_without_trying_the_registry() -> None:
    images, create = FakeImages(local={LOCAL_BASE_IMAGE}, registry=True), Creator()
    base = choose_base_image(images, None, create)

    assert (base.name, base.source) == (LOCAL_BASE_IMAGE, BaseImageSource.LOCAL)
    assert images.pulls == [] and create.created == []


def test_python_slim_is_pulled_when_the_registry_answers() -> None:
    images, create = FakeImages(registry=True), Creator()
    base = choose_base_image(images, None, create)

    assert (base.name, base.source) == (DEFAULT_BASE_IMAGE, BaseImageSource.PULLED)
    assert images.pulls == [DEFAULT_BASE_IMAGE] and create.created == []


def test_debootstrap_base_is_created_when_nothing_else_works() -> None:
    images, create = FakeImages(), Creator()
    base = choose_base_image(images, None, create)

    assert (base.name, base.source) == (LOCAL_BASE_IMAGE, BaseImageSource.CREATED)
    assert images.pulls == [DEFAULT_BASE_IMAGE]
    assert create.created == [LOCAL_BASE_IMAGE]


# --- build_image -----------------------------------------------------------------------------


@pytest.fixture
def context(tmp_path: Path) -> Path:
    """A build context whose wheelhouse is already up to date (so no pip runs)."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\ndependencies = []\n')
    (tmp_path / "kato").mkdir()
    (tmp_path / "kato" / "__init__.py").write_text("")
    ensure_wheelhouse(tmp_path, lambda command: None, pip=["pip"])
    return tmp_path


def fake_engine(
    monkeypatch: pytest.MonkeyPatch, chunks: list[dict[str, Any]], local: set[str]
) -> FakeClient:
    client = FakeClient(FakeImages(local=set(local)), chunks)
    monkeypatch.setattr(image_module.docker, "from_env", lambda: client)
    return client


def test_build_reports_each_step_and_returns_the_image_id(
    monkeypatch: pytest.MonkeyPatch, context: Path
) -> None:
    chunks = [{"stream": "Step 1/2 : FROM base\n"}, {"stream": " ---> Using cache\n"}]
    client = fake_engine(monkeypatch, chunks, {LOCAL_BASE_IMAGE})
    lines: list[str] = []

    image_id = image_module.build_image("kato:unit", context=context, progress=lines.append)

    assert image_id == BUILT_ID
    assert "[wheelhouse] dependency wheels: cached" in lines
    assert "[wheelhouse] project wheel: cached" in lines
    assert f"[base] {LOCAL_BASE_IMAGE} (local)" in lines
    assert "[build]  ---> Using cache" in lines
    steps = [line[1 : line.index("]")] for line in lines]
    assert steps == sorted(steps, key=["engine", "wheelhouse", "base", "build"].index)
    (call,) = client.api.calls
    assert call["buildargs"] == {"BASE_IMAGE": LOCAL_BASE_IMAGE}
    assert (call["dockerfile"], call["tag"], call["path"]) == (
        "Dockerfile.fastapi",
        "kato:unit",
        str(context),
    )


def test_build_error_chunk_fails_the_build_step(
    monkeypatch: pytest.MonkeyPatch, context: Path
) -> None:
    chunks = [{"stream": "Step 1/2\n"}, {"error": "COPY failed: no such file\n"}]
    fake_engine(monkeypatch, chunks, {DEFAULT_BASE_IMAGE})

    with pytest.raises(ImageBuildError) as caught:
        image_module.build_image("kato:unit", context=context)

    assert caught.value.details["step"] == "build"
    assert "COPY failed" in caught.value.message
    assert caught.value.code == "KATO_IMAGE_BUILD_FAILED"


def test_unreachable_engine_fails_the_engine_step(
    monkeypatch: pytest.MonkeyPatch, context: Path
) -> None:
    def no_engine() -> FakeClient:
        raise DockerException("connection refused")

    monkeypatch.setattr(image_module.docker, "from_env", no_engine)

    with pytest.raises(ImageBuildError) as caught:
        image_module.build_image(context=context)

    assert caught.value.details["step"] == "engine"


def test_failing_command_fails_its_step_with_the_output_tail() -> None:
    lines: list[str] = []
    run = image_module._runner("wheelhouse", lines.append)

    with pytest.raises(ImageBuildError) as caught:
        run(["sh", "-c", "echo first; echo boom >&2; exit 3"])

    assert caught.value.details["step"] == "wheelhouse"
    assert caught.value.details["output"] == ["first", "boom"]
    assert "[wheelhouse] boom" in lines


def test_missing_program_fails_its_step() -> None:
    run = image_module._runner("base", lambda line: None)

    with pytest.raises(ImageBuildError) as caught:
        run(["/nonexistent/kato-no-such-program"])

    assert caught.value.details["step"] == "base"


def test_a_second_build_of_the_same_checkout_waits_for_the_first(
    monkeypatch: pytest.MonkeyPatch, context: Path
) -> None:
    client = fake_engine(monkeypatch, [{"stream": "Step 1/1 : FROM base\n"}], {LOCAL_BASE_IMAGE})
    lines: list[str] = []
    with (context / "build" / ".image-build.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        builder = threading.Thread(
            target=image_module.build_image, kwargs={"context": context, "progress": lines.append}
        )
        builder.start()
        waiting = "[wheelhouse] another build of this checkout is running: waiting for it"
        deadline = time.monotonic() + 10
        while waiting not in lines:
            assert builder.is_alive() and time.monotonic() < deadline
            time.sleep(0.01)
        assert client.api.calls == []
        fcntl.flock(held, fcntl.LOCK_UN)
    builder.join(timeout=10)

    assert not builder.is_alive()
    assert len(client.api.calls) == 1


def test_a_context_without_pyproject_fails_the_wheelhouse_step(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_engine(monkeypatch, [], {LOCAL_BASE_IMAGE})

    with pytest.raises(ImageBuildError) as caught:
        image_module.build_image(context=tmp_path)

    assert caught.value.details["step"] == "wheelhouse"
