"""Fixtures every real-engine suite shares: the processor image and this run's label.

Every container, volume and image a test makes carries the run's `kato.test` label; the end
of the session removes them all and asserts nothing is left behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from container_manager.image import DEFAULT_TAG
from container_manager.testing import image_available, remove_labelled, run_label


@pytest.fixture(scope="session")
def processor_image() -> str:
    """The image `make image` builds (or `KATO_TEST_IMAGE`, for a tree built under another tag);
    without it the real-engine tests skip and say why."""
    tag = os.environ.get("KATO_TEST_IMAGE", DEFAULT_TAG)
    if not image_available(tag):
        pytest.skip(f"image {tag} is absent: build it with `katoctl build --tag {tag}`")
    return tag


@pytest.fixture(scope="session")
def test_labels(processor_image: str) -> Iterator[dict[str, str]]:
    labels = run_label()
    yield labels
    assert remove_labelled(labels) == []
