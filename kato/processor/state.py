"""Everything a processor holds only in memory, and its JSON snapshot (export/import).

The snapshot is what a hibernated container needs to resume exactly where it stopped; long-term
memory lives in the store and is not part of it. :func:`parse_state` validates a whole snapshot
before anything is built, so an import either fully succeeds or changes nothing.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kato.processor.errors import InvalidStateError, KatoError
from kato.processor.genes import GENE_KEYS, GENES, validate_updates
from kato.processor.prediction import (
    FLOAT_FIELDS,
    INT64,
    Prediction,
    integer,
    loads_dicts,
    number,
    pack,
    unpack_dicts,
)

STATE_VERSION = 1


@dataclass(frozen=True)
class Dumped:
    """A log entry restored from the store: :func:`~kato.processor.prediction.dumps` JSON, a
    view of the row as read (not copied, compressed or parsed again), so a full log costs no
    start-up time and no second copy."""

    json: memoryview


# A prediction-log entry: packed bytes (see prediction.pack), the objects until compacted, or
# as restored from the store.
LogEntry = bytes | list[Prediction] | Dumped


@dataclass(frozen=True)
class Percept:
    """The most recent observation input, echoed by ``percept_data`` (strings unsorted)."""

    strings: list[str]
    vectors: list[list[float]]
    emotives: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """Fresh ``strings``/``vectors``/``emotives`` object (snapshot and ``percept_data``)."""
        return {
            "strings": list(self.strings),
            "vectors": [list(vector) for vector in self.vectors],
            "emotives": dict(self.emotives),
        }


@dataclass
class SessionState:
    """Short-term state of one processor (spec §1, "in memory")."""

    genes: dict[str, Any]
    time: int = 0
    stm: list[list[str]] = field(default_factory=list)
    accumulator: list[dict[str, float]] = field(default_factory=list)
    current_emotives: dict[str, float] = field(default_factory=dict)
    last_symbols: list[str] = field(default_factory=list)
    predictions: list[Prediction] = field(default_factory=list)
    percept: Percept | None = None
    log: OrderedDict[str, LogEntry] = field(default_factory=OrderedDict)

    def reset_short_term(self) -> None:
        """clear-STM (spec §4.6); time, genes and the prediction log survive."""
        self.stm = []
        self.accumulator = []
        self.current_emotives = {}
        self.last_symbols = []
        self.predictions = []
        self.percept = None

    def logs(self, unique_id: str, predictions: list[Prediction], bound: int) -> bool:
        """Whether :meth:`record_predictions` would add an entry: a non-empty list of an id not
        logged yet (the first record of an id wins, as upstream's lookup), in a log that keeps
        any at all."""
        return bound > 0 and bool(predictions) and unique_id not in self.log

    def evicted(self, bound: int, added: int) -> list[str]:
        """Ids dropped when ``added`` entries join a log that keeps ``bound`` of them."""
        return list(itertools.islice(self.log, max(0, len(self.log) + added - bound)))

    def record_predictions(self, unique_id: str, predictions: list[Prediction], bound: int) -> None:
        """Log a list if :meth:`logs` says so; only the ``bound`` most recently added ids are kept
        (QUIRK-21 fix)."""
        if not self.logs(unique_id, predictions, bound):
            return
        self.log[unique_id] = predictions
        while len(self.log) > bound:
            self.log.popitem(last=False)

    @property
    def log_pending(self) -> bool:
        """True when the newest log entry is still held as objects (see :meth:`compact_log`)."""
        return bool(self.log) and isinstance(next(reversed(self.log.values())), list)

    def compact_log(self) -> None:
        """Pack the entries logged since the last call. New entries are appended, so they form
        the tail of the log; an entry that cannot be packed exactly stays as objects."""
        pending: list[tuple[str, list[Prediction]]] = []
        for unique_id, entry in reversed(self.log.items()):
            if not isinstance(entry, list):
                break
            pending.append((unique_id, entry))
        for unique_id, predictions in pending:
            packed = pack(predictions)
            if packed is not None:
                self.log[unique_id] = packed

    def logged(self, unique_id: str) -> list[dict[str, Any]]:
        """Fresh ``to_dict`` objects of the list logged for ``unique_id`` (``[]`` if none)."""
        return _entry_dicts(self.log.get(unique_id, []), True)


def _entry_dicts(entry: LogEntry, prefix: bool) -> list[dict[str, Any]]:
    if isinstance(entry, Dumped):
        return loads_dicts(entry.json, prefix=prefix)
    if isinstance(entry, bytes):
        return unpack_dicts(entry, prefix=prefix)
    return [prediction.to_dict(prefix=prefix) for prediction in entry]


def export_core(state: SessionState) -> dict[str, Any]:
    """The snapshot without ``predictions`` and ``prediction_log`` (the parts that are small
    or change with every request; :mod:`kato.processor.durable` persists it whole)."""
    return {
        "version": STATE_VERSION,
        "genes": dict(state.genes),
        "time": state.time,
        "stm": [list(event) for event in state.stm],
        "emotive_accumulator": [dict(item) for item in state.accumulator],
        "current_emotives": dict(state.current_emotives),
        "last_symbols": list(state.last_symbols),
        "percept_data": None if state.percept is None else state.percept.to_dict(),
    }


def export_state(state: SessionState) -> dict[str, Any]:
    """JSON-serialisable snapshot; prediction names are bare, as stored."""
    return {
        **export_core(state),
        "predictions": [p.to_dict(prefix=False) for p in state.predictions],
        "prediction_log": [
            {"unique_id": uid, "predictions": _entry_dicts(entry, False)}
            for uid, entry in state.log.items()
        ],
    }


def state_schema() -> dict[str, Any]:
    """The JSON schema of exactly the snapshots :func:`parse_state` accepts (what
    :func:`export_state` writes): for the API's documentation of ``GET``/``PUT /state``."""
    integer_ = {"type": "integer", "minimum": INT64[0], "maximum": INT64[1]}
    number_ = {"type": "number"}
    texts = {"type": "array", "items": {"type": "string"}}
    events = {"type": "array", "items": texts}
    emotives = {"type": "object", "additionalProperties": number_}
    prediction = _object(
        {
            "type": {"const": "prototypical"},
            "name": {"type": "string"},
            "frequency": integer_,
            "emotives": emotives,
            **{key: texts for key in ("matches", "missing", "extras")},
            **{key: events for key in ("past", "present", "sequence", "future")},
            **dict.fromkeys(FLOAT_FIELDS, number_),
        },
        extra=True,
    )
    predictions = {"type": "array", "items": prediction}
    genes = {gene.key: dict(gene.schema) for gene in GENES.values()}
    percept = _object(
        {"strings": texts, "vectors": {"type": "array", "items": {"type": "array",
                                                                "items": number_}},
         "emotives": emotives},
        extra=True,
    )
    return _object(
        {
            "version": {"const": STATE_VERSION},
            "genes": _object({key: genes[key] for key in sorted(GENE_KEYS)}, extra=False),
            "time": {**integer_, "minimum": 0},
            "stm": events,
            "emotive_accumulator": {"type": "array", "items": emotives},
            "current_emotives": emotives,
            "last_symbols": texts,
            "percept_data": {"anyOf": [{"type": "null"}, percept]},
            "predictions": predictions,
            "prediction_log": {
                "type": "array",
                "items": _object(
                    {"unique_id": {"type": "string"}, "predictions": predictions}, extra=True
                ),
            },
        },
        extra=True,
    )


def _object(properties: dict[str, Any], *, extra: bool) -> dict[str, Any]:
    """An object with every one of `properties` required (and others allowed if `extra`)."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": extra,
    }


def parse_state(data: Mapping[str, Any]) -> SessionState:
    """Inverse of :func:`export_state`; raises InvalidStateError naming the bad part."""
    try:
        return _parse(data)
    except KatoError as error:
        raise InvalidStateError(f"Invalid state: {error.message}", error.details) from None
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise InvalidStateError(f"Invalid state: {type(error).__name__}: {error}") from None


def _parse(data: Mapping[str, Any]) -> SessionState:
    if data["version"] != STATE_VERSION:
        raise ValueError(f"unsupported version {data['version']!r}")
    if set(_dict(data["genes"])) != GENE_KEYS:
        raise ValueError(f"genes must have exactly the keys {sorted(GENE_KEYS)}")
    genes = validate_updates(data["genes"])
    time = integer(data["time"])
    if time < 0:
        raise ValueError("time must be a non-negative integer")
    percept = data["percept_data"]
    return SessionState(
        genes=genes,
        time=time,
        stm=[_strings(event) for event in _list(data["stm"])],
        accumulator=[_emotives(item) for item in _list(data["emotive_accumulator"])],
        current_emotives=_emotives(data["current_emotives"]),
        last_symbols=_strings(data["last_symbols"]),
        predictions=[Prediction.from_dict(_dict(p)) for p in _list(data["predictions"])],
        percept=None if percept is None else Percept(
            strings=_strings(_dict(percept)["strings"]),
            vectors=[[number(x) for x in _list(vector)] for vector in _list(percept["vectors"])],
            emotives=_emotives(percept["emotives"]),
        ),
        log=OrderedDict(_log_entry(_dict(entry)) for entry in _list(data["prediction_log"])),
    )


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value


def _dict(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return value


def _log_entry(entry: Mapping[str, Any]) -> tuple[str, LogEntry]:
    """A snapshot's log entry, packed right away (imports run off the event loop)."""
    unique_id = _string(entry["unique_id"])
    predictions = [Prediction.from_dict(_dict(p)) for p in _list(entry["predictions"])]
    packed = pack(predictions)
    return unique_id, predictions if packed is None else packed


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _strings(values: Any) -> list[str]:
    if not isinstance(values, list):
        raise TypeError("expected a list of strings")
    return [_string(value) for value in values]


def _emotives(values: Any) -> dict[str, float]:
    if not isinstance(values, dict):
        raise TypeError("expected an emotives object")
    return {_string(key): number(value) for key, value in values.items()}
