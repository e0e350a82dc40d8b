"""Short-term state on the store, so a crashed processor resumes where it stopped.

Every mutating call of :class:`~kato.processor.processor.KatoProcessor` describes what it changed
as one :class:`~kato.processor.store.base.StateWrite` of opaque blobs, encoded here:

* ``core``: :func:`~kato.processor.state.export_core` as JSON (genes, ``time``, STM, emotives,
  last symbols, percept), rewritten whole: it is small next to the prediction work of the same
  observation, which is itself linear in the STM;
* ``predictions``: the cached list as compact JSON (:func:`~kato.processor.prediction.dumps`),
  written only when an observation replaced it, and then only as a reference to the log entry
  written with it when there is one;
* one log entry per newly logged id, and the ids the bound evicts.

Lists are stored uncompressed: zlib took 0.3 ms of a loaded CPU per observation (bench data,
~20 KB of JSON per list); the in-memory log is still packed after the answer, as before.

The store commits the change in the transaction of the learn or clear it belongs to, or alone,
before the request is answered. :func:`restore` rebuilds the state through
:func:`~kato.processor.state.parse_state`, so the stored state is validated like a ``PUT /state``
snapshot, except the prediction log: like the patterns, it is taken from the store as written
(parsing a full log of 1,000 lists took seconds of start-up; it is read only when asked for).
"""

from __future__ import annotations

import json
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import orjson

from kato.processor.errors import InvalidStateError
from kato.processor.prediction import Prediction, dumps, loads_dicts, unpack_dicts
from kato.processor.state import Dumped, LogEntry, SessionState, export_core, parse_state
from kato.processor.store.base import StateWrite, StoredState

CORE = "core"
PREDICTIONS = "predictions"

# First byte of a stored list: how the rest is encoded.
_COMPACT = b"o"  # prediction.dumps
_PACKED = b"z"  # prediction.pack (an in-memory log entry that was already packed)
_JSON = b"j"  # to_dict objects, with NaN/Infinity tokens
_LOGGED = b"@"  # the cached list is the log entry of this id


def encode_predictions(predictions: Sequence[Prediction]) -> bytes:
    """The persisted form of a list.

    Lists that :func:`dumps` cannot carry exactly (non-finite floats) are stored as JSON with
    ``NaN``/``Infinity`` tokens, which Python's json module reads back unchanged.
    """
    raw = dumps(predictions)
    if raw is not None:
        return _COMPACT + raw
    dicts = [prediction.to_dict(prefix=False) for prediction in predictions]
    return _JSON + json.dumps(dicts).encode()


def logged_reference(unique_id: str) -> bytes:
    """A ``predictions`` part saying "the list logged for ``unique_id``" (written together)."""
    return _LOGGED + unique_id.encode()


def decode_predictions(blob: bytes, log: dict[str, bytes]) -> list[dict[str, Any]]:
    """The ``to_dict(prefix=False)`` objects of a stored list."""
    kind, body = blob[:1], blob[1:]
    if kind == _COMPACT:
        return loads_dicts(body, prefix=False)
    if kind == _PACKED:
        return unpack_dicts(body, prefix=False)
    if kind == _JSON:
        decoded: list[dict[str, Any]] = json.loads(body)
        return decoded
    if kind == _LOGGED:
        return decode_predictions(log[body.decode()], {})
    raise ValueError(f"unknown encoding {kind!r}")


def core_part(state: SessionState) -> bytes:
    return orjson.dumps(export_core(state))


def full_write(state: SessionState) -> StateWrite:
    """Everything, replacing whatever was stored (imports, clear-all)."""
    return StateWrite(
        parts={CORE: core_part(state), PREDICTIONS: encode_predictions(state.predictions)},
        log_append=[(unique_id, _log_blob(entry)) for unique_id, entry in state.log.items()],
        reset=True,
    )


def _log_blob(entry: LogEntry) -> bytes:
    if isinstance(entry, Dumped):
        return _COMPACT + entry.json.tobytes()
    return _PACKED + entry if isinstance(entry, bytes) else encode_predictions(entry)


def _log_entry(blob: bytes) -> LogEntry:
    """A stored log entry as the in-memory log holds it; compact JSON stays as read."""
    kind = blob[:1]
    if kind == _COMPACT:
        return Dumped(memoryview(blob)[1:])
    if kind == _PACKED:
        return blob[1:]
    return [Prediction.from_dict(item) for item in decode_predictions(blob, {})]


def restore(stored: StoredState) -> SessionState | None:
    """The persisted state, or None when nothing was stored; InvalidStateError if unreadable."""
    if CORE not in stored.parts:
        return None
    try:
        snapshot = orjson.loads(stored.parts[CORE])
        log = dict(stored.log)
        blob = stored.parts.get(PREDICTIONS)
        snapshot["predictions"] = decode_predictions(blob, log) if blob else []
        snapshot["prediction_log"] = []
        state = parse_state(snapshot)
        state.log = OrderedDict((unique_id, _log_entry(blob)) for unique_id, blob in stored.log)
    except (ValueError, TypeError, KeyError, zlib.error) as error:  # incl. JSONDecodeError
        raise InvalidStateError(f"Invalid stored state: {type(error).__name__}: {error}") from None
    return state
