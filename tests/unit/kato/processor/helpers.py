"""Small builders shared by the processor unit tests."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from kato.processor import KatoProcessor, Observation, ProcessorConfig
from kato.processor.store.base import PatternStore
from kato.processor.store.memory import MemoryStore

_ids = itertools.count()


def make_processor(store: PatternStore | None = None, **config: Any) -> KatoProcessor:
    """A processor on a fresh MemoryStore (unless given) with config overrides."""
    return KatoProcessor(ProcessorConfig(processor_id="unit", **config), store or MemoryStore())


def obs(
    strings: Iterable[str] = (),
    vectors: Iterable[list[float]] = (),
    emotives: dict[str, float] | None = None,
    unique_id: str | None = None,
) -> Observation:
    """An observation with a generated unique id."""
    return Observation(
        list(strings), list(vectors), dict(emotives or {}), unique_id or f"u{next(_ids)}"
    )


def observe_all(processor: KatoProcessor, *events: str | list[str]) -> None:
    """Observe each argument as one event (a bare string is a one-symbol event)."""
    for event in events:
        processor.observe(obs([event] if isinstance(event, str) else event))


def learn_sequence(processor: KatoProcessor, *events: str | list[str]) -> str:
    """Observe the events, learn them, return the pattern name."""
    observe_all(processor, *events)
    return processor.learn()
