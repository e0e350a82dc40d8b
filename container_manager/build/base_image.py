"""Choose the base image of the processor image, creating a local one when no registry answers.

Order (first that works wins):

1. the image the caller names (argument, else env `KATO_BASE_IMAGE`), used as given;
2. `python:3.11-slim` if the engine already has it;
3. `kato-base:bookworm-py311` (our debootstrap base) if the engine already has it;
4. `python:3.11-slim` pulled from the registry;
5. `kato-base:bookworm-py311` created by `scripts/make-base-image.sh` (debootstrap, once).

Local images come before any pull so that a rebuild never touches the network and always
lands on the same base (which keeps Docker's layer cache valid).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from docker.errors import DockerException

__all__ = [
    "DEFAULT_BASE_IMAGE",
    "LOCAL_BASE_IMAGE",
    "BaseImage",
    "BaseImageSource",
    "ImageStore",
    "choose_base_image",
]

DEFAULT_BASE_IMAGE = "python:3.11-slim"
LOCAL_BASE_IMAGE = "kato-base:bookworm-py311"


class ImageStore(Protocol):
    """The slice of `docker.DockerClient.images` this module needs (fakes implement it in tests)."""

    def get(self, name: str) -> object: ...

    def pull(self, repository: str, tag: str | None = None) -> object: ...


class BaseImageSource(StrEnum):
    """How the chosen base image was obtained (reported to the user, asserted in tests)."""

    GIVEN = "given"
    LOCAL = "local"
    PULLED = "pulled"
    CREATED = "created"


@dataclass(frozen=True)
class BaseImage:
    name: str
    source: BaseImageSource


def choose_base_image(
    images: ImageStore,
    requested: str | None,
    create_local: Callable[[str], None],
    announce: Callable[[str], None] = lambda _line: None,
) -> BaseImage:
    """Pick the base (see module docstring); `create_local(tag)` builds the debootstrap base.

    `announce` hears about the slow paths (a pull) before they start.
    """
    given = requested or os.environ.get("KATO_BASE_IMAGE")
    if given:
        return BaseImage(given, BaseImageSource.GIVEN)
    for name in (DEFAULT_BASE_IMAGE, LOCAL_BASE_IMAGE):
        if _exists(images, name):
            return BaseImage(name, BaseImageSource.LOCAL)
    announce(f"[base] trying to pull {DEFAULT_BASE_IMAGE}")
    if _pulled(images, DEFAULT_BASE_IMAGE):
        return BaseImage(DEFAULT_BASE_IMAGE, BaseImageSource.PULLED)
    create_local(LOCAL_BASE_IMAGE)
    return BaseImage(LOCAL_BASE_IMAGE, BaseImageSource.CREATED)


def _exists(images: ImageStore, name: str) -> bool:
    try:
        images.get(name)
    except DockerException:
        return False
    return True


def _pulled(images: ImageStore, name: str) -> bool:
    repository, _, tag = name.partition(":")
    try:
        images.pull(repository, tag=tag or None)
    except DockerException:
        return False
    return True
