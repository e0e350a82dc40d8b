"""Start-up configuration of one processor: every gene's initial value plus engine switches."""

from __future__ import annotations

from dataclasses import dataclass

from kato.processor.errors import ValidationError


@dataclass(frozen=True)
class ProcessorConfig:
    """Immutable start-up values; runtime gene changes live in the processor, not here.

    ``exhaustive_search`` turns off the reference candidate pre-filter (spec §5.2, QUIRK-1), i.e.
    upstream's ``KATO_USE_INDEXING=false``. ``prediction_log_size`` bounds the in-memory log of
    predictions by observation id (QUIRK-21). ``persistence`` is the emotive window size and, as
    upstream (QUIRK-7), only the start-up value governs it. ``persist_state`` keeps the
    short-term state on the store (restored when the store is opened again, so a crash loses
    nothing acknowledged); off, it lives in memory only, as upstream.
    """

    processor_id: str
    name: str = "KatoProcessor"
    max_pattern_length: int = 0
    persistence: int = 5
    recall_threshold: float = 0.1
    max_predictions: int = 100
    sort: bool = True
    exhaustive_search: bool = False
    prediction_log_size: int = 1000
    persist_state: bool = True
    smoothness: int = 3
    quiescence: int = 3
    search_depth: int = 10
    auto_act_method: str = "none"
    auto_act_threshold: float = 0.8
    always_update_frequencies: bool = False
    process_predictions: bool = True
    indexer_type: str = "VI"

    def __post_init__(self) -> None:
        """Gene fields are checked by the gene table when the processor starts; the engine
        switches are checked here."""
        if isinstance(self.prediction_log_size, bool) or not isinstance(
            self.prediction_log_size, int
        ) or self.prediction_log_size < 0:
            raise ValidationError(
                "prediction_log_size must be a non-negative integer",
                {"prediction_log_size": self.prediction_log_size},
            )
