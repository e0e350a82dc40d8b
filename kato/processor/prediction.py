"""The prediction value object and its JSON form (spec §5.6, §5.9)."""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import orjson

from kato.processor.naming import prefixed

Events = tuple[tuple[str, ...], ...]

#: The float-valued fields of a prediction object (state snapshots, `state_schema`).
FLOAT_FIELDS = (
    "potential", "evidence", "similarity", "fragmentation", "snr", "entropy", "hamiltonian",
    "grand_hamiltonian", "confluence", "confidence", "itfdf_similarity",
)


#: Integers a snapshot may carry: what JSON encoders (orjson) and the stores keep exactly.
INT64 = (-(2**63), 2**63 - 1)


def integer(value: Any) -> int:
    """A JSON integer within 64 bits (bool rejected; ``5.0`` is one, as JSON counts it);
    anything wider could not be answered."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2.0**63:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    if not INT64[0] <= value <= INT64[1]:
        raise ValueError("integer out of the 64-bit range")
    return value


def number(value: Any) -> float:
    """A JSON number kept as is (bool rejected), for exact snapshot round trips; an integer
    wider than 64 bits is taken as the float it is closest to (JSON does not tell 1e19 from
    10000000000000000000), one beyond any float refused."""
    if isinstance(value, int) and not isinstance(value, bool):
        if INT64[0] <= value <= INT64[1]:
            return value
        try:
            return float(value)
        except OverflowError:
            raise ValueError("number out of the float range") from None
    if not isinstance(value, float):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return value


def _texts(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise TypeError("expected a list of strings")
    return tuple(value)


def _events(value: Any) -> Events:
    if not isinstance(value, list | tuple):
        raise TypeError("expected a list of events")
    return tuple(_texts(event) for event in value)


class Prediction(NamedTuple):
    """One prediction, immutable so that cached and logged lists can never be mutated by a reader
    (QUIRK-11 fix); :meth:`to_dict` builds a fresh JSON object on every call. A NamedTuple
    because tens of them are built per observation and tuple construction is the cheapest."""

    name: str
    frequency: int
    emotives: Mapping[str, float]
    matches: tuple[str, ...]
    past: Events
    present: Events
    missing: tuple[str, ...]
    extras: tuple[str, ...]
    potential: float
    evidence: float
    similarity: float
    fragmentation: float
    snr: float
    entropy: float
    hamiltonian: float
    grand_hamiltonian: float
    confluence: float
    sequence: Events
    future: Events
    confidence: float
    itfdf_similarity: float

    def to_dict(self, *, prefix: bool = True) -> dict[str, Any]:
        """The 22-key upstream object; ``name`` is ``PTRN|…`` unless ``prefix`` is False."""
        return {
            "type": "prototypical",
            "name": prefixed(self.name) if prefix else self.name,
            "frequency": self.frequency,
            "emotives": dict(self.emotives),
            "matches": list(self.matches),
            "past": [list(event) for event in self.past],
            "present": [list(event) for event in self.present],
            "missing": list(self.missing),
            "extras": list(self.extras),
            "potential": self.potential,
            "evidence": self.evidence,
            "similarity": self.similarity,
            "fragmentation": self.fragmentation,
            "snr": self.snr,
            "entropy": self.entropy,
            "hamiltonian": self.hamiltonian,
            "grand_hamiltonian": self.grand_hamiltonian,
            "confluence": self.confluence,
            "sequence": [list(event) for event in self.sequence],
            "future": [list(event) for event in self.future],
            "confidence": self.confidence,
            "itfdf_similarity": self.itfdf_similarity,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Prediction:
        """Inverse of ``to_dict(prefix=False)``; KeyError/TypeError/ValueError if malformed."""
        if data["type"] != "prototypical" or not isinstance(data["name"], str):
            raise ValueError("not a prediction object")
        floats = {key: number(data[key]) for key in FLOAT_FIELDS}
        if not isinstance(data["emotives"], dict):
            raise TypeError("expected an emotives object")
        emotives = {str(key): number(value) for key, value in data["emotives"].items()}
        return cls(
            name=data["name"],
            frequency=integer(data["frequency"]),
            emotives=emotives,
            matches=_texts(data["matches"]),
            past=_events(data["past"]),
            present=_events(data["present"]),
            missing=_texts(data["missing"]),
            extras=_texts(data["extras"]),
            sequence=_events(data["sequence"]),
            future=_events(data["future"]),
            **floats,
        )


def dumps(predictions: Sequence[Prediction]) -> bytes | None:
    """A list as JSON arrays of the fields, in field order, or None when a value would not
    survive JSON unchanged (non-finite float, huge int, non-dict emotives).

    orjson writes a non-finite float as ``null`` and no field is ever null, so any ``null`` in
    the output means "not exact" (a symbol spelling ``null`` only costs the slower fallback);
    one C-level search instead of a Python-level check of every float, which cost a fifth of a
    persisted observation.
    """
    try:
        raw = orjson.dumps([tuple(prediction) for prediction in predictions])
    except orjson.JSONEncodeError:
        return None
    return None if b"null" in raw else raw


def pack(predictions: Sequence[Prediction]) -> bytes | None:
    """A logged list as compact bytes (zlib of :func:`dumps`), or None where :func:`dumps` is.

    Logged predictions as tuples, floats and slices cost ~500 B each (bench/processor.py: ~22 MiB
    for 1,000 logged observations) and keep the cyclic GC busy; packed they take ~130 B and are
    never scanned. Level 1: the log is written on every observation and read rarely.
    """
    raw = dumps(predictions)
    return None if raw is None else zlib.compress(raw, 1)


_KEYS = ("type", *Prediction._fields)


def unpack_dicts(packed: bytes, *, prefix: bool = True) -> list[dict[str, Any]]:
    """The ``to_dict(prefix=prefix)`` objects of a :func:`pack`\\ ed list (fresh on every call)."""
    return loads_dicts(zlib.decompress(packed), prefix=prefix)


def loads_dicts(raw: bytes | memoryview, *, prefix: bool = True) -> list[dict[str, Any]]:
    """The ``to_dict(prefix=prefix)`` objects of a :func:`dumps`\\ ed list.

    :func:`dumps` writes the fields in ``Prediction._fields`` order, which is also the key order
    of :meth:`Prediction.to_dict` after ``type``.
    """
    result = []
    for fields in orjson.loads(raw):
        item = dict(zip(_KEYS, ("prototypical", *fields), strict=True))
        if prefix:
            item["name"] = prefixed(item["name"])
        result.append(item)
    return result
