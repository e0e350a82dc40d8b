"""Short-term state on the store, so a crashed processor resumes where it stopped.

Every mutating call of :class:`~kato.processor.processor.KatoProcessor` describes what it changed
as one :class:`~kato.processor.store.base.StateWrite` of opaque blobs, encoded here:

* ``core``: :func:`~kato.processor.state.export_core` as JSON (genes, ``time``, STM, emotives,
  last symbols, percept), rewritten whole: it is small next to the prediction work of the same
  observation, which is itself linear in the STM;
* ``predictions``: the cached list, packed (:func:`~kato.processor.prediction.pack`), written only
  when an observation replaced it;
* one log entry per newly logged id (the same packed bytes), and the ids the bound evicts.

The store commits the change in the transaction of the learn or clear it belongs to, or alone,
before the request is answered. :func:`restore` rebuilds the state through
:func:`~kato.processor.state.parse_state`, so a persisted state is validated exactly like a
``PUT /state`` snapshot.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from typing import Any

import orjson

from kato.processor.errors import InvalidStateError
from kato.processor.prediction import Prediction, pack, unpack_dicts
from kato.processor.state import LogEntry, SessionState, export_core, parse_state
from kato.processor.store.base import StateWrite, StoredState

CORE = "core"
PREDICTIONS = "predictions"

_PACKED = b"z"
_JSON = b"j"


def encode_predictions(predictions: Sequence[Prediction]) -> tuple[bytes, bytes | None]:
    """``(blob, packed)``: the persisted form, and the packed log entry when one exists.

    Lists that :func:`pack` cannot carry exactly (non-finite floats) are stored as JSON with
    ``NaN``/``Infinity`` tokens, which Python's json module reads back unchanged.
    """
    packed = pack(predictions)
    if packed is not None:
        return _PACKED + packed, packed
    dicts = [prediction.to_dict(prefix=False) for prediction in predictions]
    return _JSON + json.dumps(dicts).encode(), None


def decode_predictions(blob: bytes) -> list[dict[str, Any]]:
    """The ``to_dict(prefix=False)`` objects of an :func:`encode_predictions` blob."""
    kind, body = blob[:1], blob[1:]
    if kind == _PACKED:
        return unpack_dicts(body, prefix=False)
    if kind == _JSON:
        decoded: list[dict[str, Any]] = json.loads(body)
        return decoded
    raise ValueError(f"unknown encoding {kind!r}")


def core_part(state: SessionState) -> bytes:
    return orjson.dumps(export_core(state))


def full_write(state: SessionState) -> StateWrite:
    """Everything, replacing whatever was stored (imports, clear-all)."""
    return StateWrite(
        parts={CORE: core_part(state), PREDICTIONS: encode_predictions(state.predictions)[0]},
        log_append=[(unique_id, _log_blob(entry)) for unique_id, entry in state.log.items()],
        reset=True,
    )


def _log_blob(entry: LogEntry) -> bytes:
    return _PACKED + entry if isinstance(entry, bytes) else encode_predictions(entry)[0]


def restore(stored: StoredState) -> SessionState | None:
    """The persisted state, or None when nothing was stored; InvalidStateError if unreadable."""
    if CORE not in stored.parts:
        return None
    try:
        snapshot = orjson.loads(stored.parts[CORE])
        blob = stored.parts.get(PREDICTIONS)
        snapshot["predictions"] = decode_predictions(blob) if blob else []
        snapshot["prediction_log"] = [
            {"unique_id": unique_id, "predictions": decode_predictions(entry)}
            for unique_id, entry in stored.log
        ]
    except (ValueError, TypeError, zlib.error) as error:  # JSONDecodeError is a ValueError
        raise InvalidStateError(f"Invalid stored state: {type(error).__name__}: {error}") from None
    return parse_state(snapshot)
