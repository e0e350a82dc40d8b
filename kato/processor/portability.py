"""The export format of a whole processor: long-term memory plus the in-memory state, as NDJSON.

One JSON object per line, in this order::

    {"format": "kato-processor-export", "version": 1, "source": {...}, "counts": {...}}
    {"totals": {...}}
    {"state": {...}}                     # the GET /state snapshot
    {"pattern": {...}}                   # one line per pattern, learn order
    {"symbol": {...}}                    # one line per symbol, first-learned order
    {"end": {"lines": N, "sha256": "..."}}

The header says what the file is and how many records follow; the trailer counts the lines
before it and carries the SHA-256 of their bytes, so a truncated, spliced or corrupted file is
refused as a whole. Lines are produced one at a time from references to the processor's own
immutable records (:func:`export_chunks`), so a large memory is never held twice; the reader
(:class:`ExportReader`) is fed chunks as they arrive and keeps only the parsed records. Order is
preserved end to end because it decides the order of float sums in the metrics: an import is
bit-for-bit the memory that was exported.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, NoReturn

import orjson

from kato.processor.errors import KatoError
from kato.processor.naming import pattern_name
from kato.processor.prediction import number
from kato.processor.store.base import PatternRecord, SymbolRecord, Totals
from kato.processor.store.records import (
    pattern_document,
    symbol_document,
    totals_document,
)

FORMAT = "kato-processor-export"
FORMAT_VERSION = 1
MEDIA_TYPE = "application/x-ndjson"

_CHUNK_BYTES = 256 * 1024
_PATTERN_KEYS = frozenset({"name", "pattern_data", "length", "frequency", "emotives"})
_SYMBOL_KEYS = frozenset({"name", "frequency", "pattern_member_frequency", "emotives"})
_TOTALS_KEYS = frozenset(totals_document(Totals()))
_SHA1_HEX = re.compile(r"[0-9a-f]{40}")


class InvalidExportError(KatoError):
    """An import is not a complete, intact export; nothing was changed."""

    code = "KATO_INVALID_EXPORT"
    status = 422


@dataclass(frozen=True)
class MemoryImage:
    """Everything one processor holds: the store's records and the ``GET /state`` snapshot.

    The sequences hold the processor's own (immutable) records, not copies.
    """

    patterns: Sequence[PatternRecord]
    symbols: Sequence[SymbolRecord]
    totals: Totals
    state: Mapping[str, Any]


def export_chunks(image: MemoryImage, source_id: str) -> Iterator[bytes]:
    """The export document of ``image``, in chunks of about 256 KiB (for a streamed body)."""
    digest = hashlib.sha256()
    lines = 0
    buffer: list[bytes] = []
    size = 0
    for line in _lines(image, source_id):
        digest.update(line)
        lines += 1
        buffer.append(line)
        size += len(line)
        if size >= _CHUNK_BYTES:
            yield b"".join(buffer)
            buffer, size = [], 0
    buffer.append(_dump({"end": {"lines": lines, "sha256": digest.hexdigest()}}))
    yield b"".join(buffer)


def _lines(image: MemoryImage, source_id: str) -> Iterator[bytes]:
    yield _dump({
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "source": {"processor_id": source_id},
        "counts": {"patterns": len(image.patterns), "symbols": len(image.symbols)},
    })
    yield _dump({"totals": totals_document(image.totals)})
    yield _dump({"state": image.state})
    for pattern in image.patterns:
        yield _dump({"pattern": pattern_document(pattern)})
    for symbol in image.symbols:
        yield _dump({"symbol": symbol_document(symbol)})


def _dump(obj: Any) -> bytes:
    return orjson.dumps(obj) + b"\n"


class ExportReader:
    """Incremental, validating parser of an export: :meth:`feed` chunks, then :meth:`finish`.

    Every line is checked as it arrives (kind, order, field types, pattern name = sha1 of its
    data, no duplicates); :meth:`finish` checks the trailer, counts and checksum. Any problem is
    an :class:`InvalidExportError` naming the line.
    """

    def __init__(self) -> None:
        self._partial = bytearray()
        self._digest = hashlib.sha256()
        self._line_no = 0
        self._counts: dict[str, int] | None = None
        self._totals: Totals | None = None
        self._state: dict[str, Any] | None = None
        self._patterns: dict[str, PatternRecord] = {}
        self._symbols: dict[str, SymbolRecord] = {}
        self._end: dict[str, Any] | None = None

    def feed(self, chunk: bytes) -> None:
        newline = chunk.find(b"\n")
        if newline < 0:
            self._partial += chunk  # a bytearray: long lines grow in amortised linear time
            return
        self._partial += chunk[: newline + 1]
        self._line(bytes(self._partial))
        start = newline + 1
        while (newline := chunk.find(b"\n", start)) >= 0:
            self._line(chunk[start : newline + 1])
            start = newline + 1
        self._partial = bytearray(chunk[start:])

    def finish(self) -> MemoryImage:
        if self._partial.strip():
            self._fail("the last line is incomplete (truncated export?)")
        if self._end is None:
            self._fail("no end line (truncated export?)")
        assert self._counts is not None and self._totals is not None and self._state is not None
        found = {"patterns": len(self._patterns), "symbols": len(self._symbols)}
        if found != self._counts:
            self._fail("record counts differ from the header", {"header": self._counts, **found})
        return MemoryImage(
            list(self._patterns.values()), list(self._symbols.values()), self._totals, self._state
        )

    # -- one line ----------------------------------------------------------------------------

    def _line(self, raw: bytes) -> None:
        self._line_no += 1
        if self._end is not None:
            if raw.strip():
                self._fail("data after the end line")
            return
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self._fail("not a JSON line")
        if not isinstance(obj, dict):
            self._fail("not a JSON object")
        if self._counts is None:
            self._header(obj)
        elif len(obj) != 1:
            self._fail("a record line has exactly one key")
        elif "end" in obj:
            self._trailer(obj["end"])
            return
        else:
            self._record(*next(iter(obj.items())))
        self._digest.update(raw)

    def _header(self, obj: dict[str, Any]) -> None:
        if obj.get("format") != FORMAT:
            self._fail(f"not a {FORMAT} document")
        if obj.get("version") != FORMAT_VERSION:
            self._fail("unsupported export version", {"version": obj.get("version")})
        counts = obj.get("counts")
        if not isinstance(counts, dict) or set(counts) != {"patterns", "symbols"}:
            self._fail("header counts must name patterns and symbols")
        self._counts = {kind: _count(counts[kind]) for kind in ("patterns", "symbols")}

    def _record(self, kind: str, value: Any) -> None:
        expected = self._expected_kinds()
        if kind not in expected:
            self._fail(f"unexpected {kind!r} line", {"expected": sorted(expected)})
        if not isinstance(value, dict):
            self._fail(f"{kind} must be an object")
        try:
            if kind == "totals":
                if set(value) != _TOTALS_KEYS:
                    raise ValueError(f"keys must be {sorted(_TOTALS_KEYS)}")
                self._totals = Totals(**{key: _count(value[key]) for key in _TOTALS_KEYS})
            elif kind == "state":
                self._state = value
            elif kind == "pattern":
                self._add_pattern(value)
            else:
                self._add_symbol(value)
        except (KeyError, TypeError, ValueError) as error:
            self._fail(f"invalid {kind}: {type(error).__name__}: {error}")

    def _expected_kinds(self) -> set[str]:
        if self._totals is None:
            return {"totals"}
        if self._state is None:
            return {"state"}
        if self._symbols:
            return {"symbol"}
        return {"pattern", "symbol"}

    def _add_pattern(self, doc: dict[str, Any]) -> None:
        if set(doc) != _PATTERN_KEYS:
            raise ValueError(f"keys must be {sorted(_PATTERN_KEYS)}")
        name, data = doc["name"], doc["pattern_data"]
        if not isinstance(name, str) or not _SHA1_HEX.fullmatch(name):
            raise ValueError("name must be 40 lowercase hex digits")
        if not (_only(list, [data]) and _only(list, data) and _only(str, chain(*data))):
            raise TypeError("pattern_data must be a list of lists of strings")
        if pattern_name(data) != name:
            raise ValueError("name is not the sha1 of pattern_data")
        if name in self._patterns:
            raise ValueError(f"duplicate pattern {name}")
        length, frequency = _count(doc["length"]), _count(doc["frequency"])
        if length != sum(map(len, data)) or frequency < 1:
            raise ValueError("length or frequency does not fit the data")
        windows = doc["emotives"]
        if windows == {}:
            windows = []
        if not isinstance(windows, list):
            raise TypeError("emotives must be a list of objects")
        self._patterns[name] = PatternRecord(
            name, data, length, frequency, [_emotives(item) for item in windows]
        )

    def _add_symbol(self, doc: dict[str, Any]) -> None:
        if set(doc) != _SYMBOL_KEYS:
            raise ValueError(f"keys must be {sorted(_SYMBOL_KEYS)}")
        name = doc["name"]
        if not isinstance(name, str) or name in self._symbols:
            raise ValueError("name must be a string, once")
        self._symbols[name] = SymbolRecord(
            name,
            _count(doc["frequency"]),
            _count(doc["pattern_member_frequency"]),
            _emotives(doc["emotives"]),
        )

    def _trailer(self, end: Any) -> None:
        if self._state is None:
            self._fail("end line before the totals and state")
        if not isinstance(end, dict) or end.get("lines") != self._line_no - 1:
            self._fail("line count differs from the end line (spliced export?)")
        if end.get("sha256") != self._digest.hexdigest():
            self._fail("checksum mismatch (corrupted export)")
        self._end = end

    def _fail(self, message: str, details: dict[str, Any] | None = None) -> NoReturn:
        raise InvalidExportError(
            f"Invalid export, line {self._line_no}: {message}",
            {"line": self._line_no, **(details or {})},
        )


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("counts are non-negative integers")
    return value


def _only(kind: type, items: Iterable[Any]) -> bool:
    """Every item is exactly of ``kind`` (JSON gives no subclasses; type() runs at C speed)."""
    return set(map(type, items)) <= {kind}


def _emotives(value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        raise TypeError("emotives must be an object")
    result = {key: number(item) for key, item in value.items()}
    if not all(math.isfinite(item) for item in result.values()):
        raise ValueError("emotive values must be finite")
    return result


def read_chunks(chunks: Iterable[bytes]) -> MemoryImage:
    """Parse a whole export given as chunks (a file, a response body)."""
    reader = ExportReader()
    for chunk in chunks:
        reader.feed(chunk)
    return reader.finish()
