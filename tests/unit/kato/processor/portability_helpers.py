"""Export/import helpers shared by the portability tests (unit and integration)."""

from __future__ import annotations

import random
from typing import Any

from kato.processor import KatoProcessor, Observation
from kato.processor.genes import GENE_KEYS
from kato.processor.portability import MemoryImage, export_chunks, read_chunks


def export_bytes(processor: KatoProcessor) -> bytes:
    return b"".join(export_chunks(processor.memory_image(), processor.processor_id))


def read_export(data: bytes, chunk_size: int = 4096) -> MemoryImage:
    """Parse ``data`` fed in chunks of ``chunk_size`` (lines cut anywhere, as on the wire)."""
    starts = range(0, len(data), chunk_size)
    return read_chunks(data[start : start + chunk_size] for start in starts)


def import_bytes(processor: KatoProcessor, data: bytes) -> None:
    processor.replace_memory(read_export(data))


def observable(processor: KatoProcessor) -> dict[str, Any]:
    """What the spec endpoints answer, read through the public API."""
    state = processor.export_state()
    names = [pattern.name for pattern in processor.memory_image().patterns]
    return {
        "stm": processor.stm,
        "time": processor.time,
        "predictions": processor.get_predictions(),
        "logged": {
            entry["unique_id"]: processor.get_predictions(entry["unique_id"])
            for entry in state["prediction_log"]
        },
        "patterns": [processor.get_pattern(name) for name in names],
        "genes": {key: processor.get_gene(key) for key in sorted(GENE_KEYS)},
        "percept": processor.percept_data(),
        "cognition": processor.cognition_data(),
        "state": state,
    }


def train(processor: KatoProcessor, patterns: int, seed: int = 7) -> None:
    """Learn ``patterns`` random sequences (some with emotives) and leave a partly observed
    STM with predictions behind. Predicting is off while learning: it is not what is tested."""
    rng = random.Random(seed)
    vocabulary = [f"s{i}" for i in range(max(50, patterns // 2))]
    processor.update_genes({"predict": False})
    for index in range(patterns):
        emotives = {"joy": rng.uniform(-1, 1)} if index % 3 == 0 else {}
        for _ in range(rng.randint(2, 6)):
            strings = rng.sample(vocabulary, rng.randint(1, 3))
            processor.observe(Observation(strings, [], emotives, f"t{index}-{rng.random()}"))
        processor.learn()
    processor.update_genes({"predict": True})
    for _ in range(3):
        processor.observe(Observation(rng.sample(vocabulary, 2), [], {"joy": 0.5}, "last"))


def probe(processor: KatoProcessor, rounds: int, seed: int = 11) -> list[Any]:
    """Observe the same random events and collect every prediction list."""
    rng = random.Random(seed)
    vocabulary = sorted({s for p in processor.memory_image().patterns for e in p.pattern_data
                         for s in e})
    answers = []
    for index in range(rounds):
        strings = rng.sample(vocabulary, min(2, len(vocabulary)))
        processor.observe(Observation(strings, [], {}, f"probe-{index}"))
        answers.append(processor.get_predictions())
    return answers
