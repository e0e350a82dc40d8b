"""Vector observations -> one ``VCTR|<sha1>`` symbol (spec §2.4, parity mode).

numpy is imported only here and only when an observation carries vectors: it keeps container
start-up fast and idle memory low for text-only workloads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from kato.processor.errors import ValidationError

VECTOR_PREFIX = "VCTR|"


def validate_vectors(vectors: Sequence[Sequence[float]]) -> None:
    """Reject vectors of unequal length (QUIRK-14 fix) instead of numpy-broadcasting them."""
    lengths = {len(vector) for vector in vectors}
    if len(lengths) > 1:
        raise ValidationError(
            "All vectors of one observation must have the same length",
            {"lengths": [len(vector) for vector in vectors]},
        )


def vector_symbol(vectors: Sequence[Sequence[float]]) -> str:
    """Name of the element-wise float64 sum, hashed over numpy's default ``str()`` text.

    The text (8-digit precision, padding, line wrapping at 75 columns, summarisation above 1000
    elements) is part of the name, so it must come from numpy itself, never a hand formatter.
    Callers validate first with :func:`validate_vectors`.
    """
    import numpy as np

    total = np.asarray(vectors[0], dtype=np.float64)
    for vector in vectors[1:]:
        total = total + np.asarray(vector, dtype=np.float64)
    return VECTOR_PREFIX + hashlib.sha1(str(total).encode("utf-8")).hexdigest()
