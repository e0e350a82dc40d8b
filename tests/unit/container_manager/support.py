"""Helpers shared by the container manager unit tests."""

from __future__ import annotations

import time
from collections.abc import Callable

from container_manager import ContainerSettings, FakeBackend, KatoContainerManager

__all__ = ["on_fake"]


def on_fake(
    settings: ContainerSettings, fake: FakeBackend, clock: Callable[[], float] = time.time
) -> KatoContainerManager:
    """A manager on `fake`, probing readiness through the fake's in-memory transport."""
    return KatoContainerManager(settings, fake, clock, http_transport=fake.transport())
