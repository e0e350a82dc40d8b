"""Export and import of a whole processor: exact round trips, and refusals that change nothing."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from kato.processor import InvalidStateError, KatoProcessor, StorageError
from kato.processor.portability import FORMAT, FORMAT_VERSION, InvalidExportError, export_chunks
from kato.processor.store.sqlite import SQLiteStore
from tests.unit.kato.processor.failing_store import FailingStore
from tests.unit.kato.processor.helpers import learn_sequence, make_processor, obs, observe_all
from tests.unit.kato.processor.portability_helpers import (
    export_bytes,
    import_bytes,
    observable,
    probe,
    read_export,
    train,
)
from tests.unit.kato.processor.reference_cases import load_cases, replay
from tests.unit.kato.processor.test_reference_conformance import InProcessDriver

CASES = load_cases()


def _trained() -> KatoProcessor:
    processor = make_processor()
    learn_sequence(processor, "a", ["b", "c"], "d")
    processor.observe(obs(["a"], emotives={"joy": 0.25}))
    learn_sequence(processor, "a", "x")
    observe_all(processor, "a", "b")
    return processor


# -- round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("exhaustive", [False, True], ids=["prefilter", "exhaustive"])
@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_reference_case_round_trip(case: dict[str, Any], exhaustive: bool) -> None:
    """After import every read answers the same, and replaying the case again on both the
    original and the copy gives the same answers op for op."""
    original, copy = InProcessDriver(exhaustive=exhaustive), InProcessDriver(exhaustive=exhaustive)
    replay(case, original)
    copy.processor.observe(obs(["left", "over"]))
    import_bytes(copy.processor, export_bytes(original.processor))
    assert observable(copy.processor) == observable(original.processor)
    assert replay(case, copy) == replay(case, original)


def test_thousands_of_patterns_round_trip_between_stores(tmp_path: Path) -> None:
    """Memory store → SQLite → memory store: same bytes out, same answers."""
    source = make_processor()
    train(source, 3000)
    data = export_bytes(source)
    sqlite_copy = make_processor(SQLiteStore(tmp_path / "b.sqlite3"))
    import_bytes(sqlite_copy, data)
    assert export_bytes(sqlite_copy) == data  # same source id "unit": byte for byte
    memory_copy = make_processor()
    import_bytes(memory_copy, export_bytes(sqlite_copy))
    assert source.pattern_count > 2900
    expected = observable(source)
    assert observable(memory_copy) == expected
    assert observable(sqlite_copy) == expected
    answers = probe(source, 60)
    assert any(answers)
    assert probe(memory_copy, 60) == answers
    assert probe(sqlite_copy, 60) == answers
    # The import is durable: a processor reopened on the copy's file has the same memory.
    sqlite_copy.close()
    reopened = make_processor(SQLiteStore(tmp_path / "b.sqlite3"))
    assert reopened.memory_image().patterns == source.memory_image().patterns
    assert reopened.memory_image().symbols == source.memory_image().symbols


def test_export_is_deterministic_and_self_describing() -> None:
    processor = _trained()
    data = export_bytes(processor)
    assert data == export_bytes(processor)
    lines = [orjson.loads(line) for line in data.splitlines()]
    header = lines[0]
    assert header["format"] == FORMAT and header["version"] == FORMAT_VERSION
    assert header["counts"] == {"patterns": 2, "symbols": 5}
    assert [next(iter(line)) for line in lines[1:]] == [
        "totals", "state", "pattern", "pattern", *["symbol"] * 5, "end"
    ]
    assert lines[-1]["end"]["lines"] == len(lines) - 1


def test_empty_processor_round_trips() -> None:
    copy = _trained()
    import_bytes(copy, export_bytes(make_processor()))
    assert copy.pattern_count == 0 and copy.stm == [] and copy.time == 0


# -- refusals -------------------------------------------------------------------------------


def _refused(target: KatoProcessor, data: bytes) -> InvalidExportError | InvalidStateError:
    before = export_bytes(target)
    with pytest.raises((InvalidExportError, InvalidStateError)) as raised:
        import_bytes(target, data)
    assert export_bytes(target) == before
    return raised.value


def test_truncation_at_any_offset_is_refused_and_changes_nothing() -> None:
    source = make_processor()
    train(source, 40)
    data = export_bytes(source)
    target = _trained()
    rng = random.Random(3)
    offsets = {0, 1, len(data) - 1, len(data) - 2, *rng.sample(range(len(data)), 60)}
    for offset in sorted(offsets):
        error = _refused(target, data[:offset])
        assert error.code == "KATO_INVALID_EXPORT" and error.status == 422
    import_bytes(target, data)
    assert observable(target) == observable(source)


def test_a_flipped_byte_is_refused() -> None:
    data = bytearray(export_bytes(_trained()))
    position = data.index(b'"frequency":') + len(b'"frequency":')
    data[position] = ord("7")
    assert "checksum" in _refused(make_processor(), bytes(data)).message


def _rewrite(data: bytes, change: Any) -> bytes:
    """Apply ``change`` to the parsed lines and re-sign the result (valid checksum)."""
    import hashlib

    lines = [orjson.loads(line) for line in data.splitlines()[:-1]]
    change(lines)
    body = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    end = {"end": {"lines": len(lines), "sha256": hashlib.sha256(body).hexdigest()}}
    return body + orjson.dumps(end) + b"\n"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda lines: lines[0].update(format="other"), "not a kato-processor-export"),
        (lambda lines: lines[0].update(version=2), "unsupported export version"),
        (lambda lines: lines[3]["pattern"].update(frequency=0), "invalid pattern"),
        (lambda lines: lines[3]["pattern"]["pattern_data"].append(["z"]), "sha1"),
        (lambda lines: lines[3]["pattern"]["pattern_data"][0].append(1), "list of lists of str"),
        (lambda lines: lines.insert(4, lines[3]), "duplicate pattern"),
        (lambda lines: lines[5]["symbol"].update(emotives={"joy": "x"}), "invalid symbol"),
        (lambda lines: lines[1]["totals"].update(total_pattern_frequencies=-1), "invalid totals"),
        (lambda lines: lines.pop(1), "unexpected 'state' line"),
        (lambda lines: lines.append(lines[3]), "unexpected 'pattern' line"),
        (lambda lines: lines[0]["counts"].update(patterns=9), "counts differ"),
        (lambda lines: lines[2].update(extra=1), "exactly one key"),
    ],
)
def test_invalid_content_is_refused(change: Any, reason: str) -> None:
    error = _refused(make_processor(), _rewrite(export_bytes(_trained()), change))
    assert reason in error.message


def test_invalid_state_is_refused() -> None:
    data = _rewrite(export_bytes(_trained()), lambda lines: lines[2]["state"].update(time=-1))
    assert _refused(make_processor(), data).code == "KATO_INVALID_STATE"


def test_data_after_the_end_line_is_refused() -> None:
    data = export_bytes(_trained())
    assert "after the end" in _refused(make_processor(), data + data).message
    assert read_export(data + b"\n \n").patterns  # blank lines after the end are fine


def test_a_failing_store_changes_nothing() -> None:
    store = FailingStore(OSError("disk full"))
    target = make_processor(store)
    learn_sequence(target, "q", "r")
    before = export_bytes(target)
    store.failing = True
    with pytest.raises(StorageError):
        import_bytes(target, export_bytes(_trained()))
    assert export_bytes(target) == before
    assert store.load().patterns == list(target.memory_image().patterns)


def test_an_export_is_the_memory_at_the_time_it_was_asked_for() -> None:
    """The service serialises outside the lock while the processor moves on: the image must not
    see later learns (re-learning replaces records, it never edits them)."""
    processor = _trained()
    image = processor.memory_image()
    expected = b"".join(export_chunks(image, "unit"))
    learn_sequence(processor, "a", ["b", "c"], "d")  # re-learn: frequency 2 now
    learn_sequence(processor, "new", "one")
    processor.update_genes({"recall_threshold": 0.5})
    assert b"".join(export_chunks(image, "unit")) == expected
    copy = make_processor()
    import_bytes(copy, expected)
    assert copy.pattern_count == 2
    assert {p.frequency for p in copy.memory_image().patterns} == {1}
