"""Value objects crossing the processor boundary: one observation in, one result out."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Observation:
    """One observation, already typed by the caller (floats for vectors and emotives).

    ``unique_id`` must be non-empty: the service generates one when the client sends none.
    """

    strings: list[str]
    vectors: list[list[float]]
    emotives: dict[str, float]
    unique_id: str


@dataclass(frozen=True)
class ObserveResult:
    """``auto_learned_pattern`` is None (no auto-learn), ``"PTRN|…"``, or ``""`` (QUIRK-17)."""

    auto_learned_pattern: str | None
    time: int
    unique_id: str
