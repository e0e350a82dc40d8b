"""KatoProcessor: the facade the service embeds (spec §2–§6).

Every public method either succeeds or raises a :class:`~kato.processor.errors.KatoError` and
leaves the processor exactly as it was: inputs are validated first, the next state is computed
into locals, the store is written (the only step that can fail afterwards), and only then are the
new values installed. Not thread-safe: the service serialises calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kato.processor import search
from kato.processor.config import ProcessorConfig
from kato.processor.emotives import mean_emotives
from kato.processor.errors import (
    GeneNotFoundError,
    KatoError,
    PatternNotFoundError,
    StorageError,
    ValidationError,
)
from kato.processor.genes import initial_values, validate_updates
from kato.processor.knowledge import KnowledgeBase
from kato.processor.naming import bare, prefixed, sorted_symbols
from kato.processor.observation import Observation, ObserveResult
from kato.processor.portability import MemoryImage
from kato.processor.prediction import Prediction
from kato.processor.state import Percept, SessionState, export_state, parse_state
from kato.processor.store.base import PatternStore, StoreSnapshot
from kato.processor.store.records import pattern_document
from kato.processor.vectors import validate_vectors, vector_symbol


class KatoProcessor:
    """One KATO processor: STM, learning, predictions, genes, over one pattern store."""

    def __init__(self, config: ProcessorConfig, store: PatternStore) -> None:
        self.processor_id = config.processor_id
        self.name = config.name
        self._config = config
        self._store = store
        self._state = SessionState(genes=initial_values(config))
        self._kb = KnowledgeBase.from_snapshot(self._guarded(store.load))

    # -- observation -------------------------------------------------------------------------

    def observe(self, obs: Observation) -> ObserveResult:
        """Process one observation (spec §2.2). ``time`` advances only once it validated."""
        if not obs.unique_id:
            raise ValidationError("unique_id must not be empty")
        if obs.vectors:
            validate_vectors(obs.vectors)
        state = self._state
        genes = state.genes
        event = [vector_symbol(obs.vectors)] if obs.vectors else []
        event += sorted_symbols(obs.strings, genes["sort"])
        accumulator = state.accumulator
        if obs.emotives:
            accumulator = [*accumulator, dict(obs.emotives)]
        current = mean_emotives(accumulator) if obs.emotives else state.current_emotives
        stm = [*state.stm, event] if event else state.stm
        predictions = state.predictions
        if obs.strings or obs.vectors:
            predictions = self._predict(stm)
        auto: str | None = None
        limit = genes["max_pattern_length"]
        if limit > 0 and len(stm) >= limit:
            auto = self._learn_events(stm, accumulator)
            stm = [stm[-1]] if len(stm) > 1 else []
            accumulator = []
        # Nothing below can fail: install the new state.
        state.time += 1
        state.percept = Percept(list(obs.strings), [list(v) for v in obs.vectors],
                                dict(obs.emotives))
        state.last_symbols = event
        state.stm = stm
        state.accumulator = accumulator
        state.current_emotives = current
        if obs.strings or obs.vectors:
            state.predictions = predictions
            state.record_predictions(obs.unique_id, predictions, self._config.prediction_log_size)
        return ObserveResult(auto, state.time, obs.unique_id)

    def _predict(self, stm: Sequence[Sequence[str]]) -> list[Prediction]:
        flat = [symbol for event in stm for symbol in event]
        genes = self._state.genes
        if len(flat) < 2 or not genes["predict"]:
            return []
        return search.generate(
            self._kb,
            flat,
            recall_threshold=genes["recall_threshold"],
            max_predictions=genes["max_predictions"],
            exhaustive=self._config.exhaustive_search,
        )

    # -- learning ----------------------------------------------------------------------------

    def learn(self) -> str:
        """Learn the STM as one pattern: ``"PTRN|…"``, or ``""`` below two symbols.

        STM and the emotive accumulator are cleared only after the pattern is stored
        (QUIRK-18 fix); cached predictions and ``current_emotives`` stay (QUIRK-12).
        """
        name = self._learn_events(self._state.stm, self._state.accumulator)
        self._state.stm = []
        self._state.accumulator = []
        return name

    def _learn_events(
        self, events: Sequence[Sequence[str]], accumulator: Sequence[Mapping[str, float]]
    ) -> str:
        """Persist then index ``events``; ``""`` (and no write) below two symbols."""
        if sum(len(event) for event in events) < 2:
            return ""
        plan = self._kb.plan_learn(events, mean_emotives(accumulator), self._config.persistence)
        self._guarded(lambda: self._store.save_learn(plan.pattern, plan.symbols, plan.totals))
        self._kb.apply(plan)
        return prefixed(plan.pattern.name)

    def clear_stm(self) -> None:
        """Forget short-term state (spec §4.6); time, genes, patterns and the log stay."""
        self._state.reset_short_term()

    def clear_all(self) -> None:
        """Forget everything except the genes (QUIRK-22): store, index, log, STM, time."""
        self._guarded(self._store.clear)
        self._kb = KnowledgeBase()
        self._state.reset_short_term()
        self._state.log.clear()
        self._state.time = 0

    # -- reads -------------------------------------------------------------------------------

    def get_predictions(self, unique_id: str | None = None) -> list[dict[str, Any]]:
        """Cached list of the last observation with content, or the logged list of an id."""
        if unique_id is not None:
            return self._state.logged(unique_id)
        return [prediction.to_dict() for prediction in self._state.predictions]

    @property
    def log_pending(self) -> bool:
        """Whether :meth:`compact_log` has work to do."""
        return self._state.log_pending

    def compact_log(self) -> None:
        """Pack recently logged predictions into their compact form (same reads, less memory).

        Logging keeps the objects so an observation pays nothing for it; the service calls this
        after answering. Without it the log simply stays as objects, as before.
        """
        self._state.compact_log()

    def get_pattern(self, pattern_id: str) -> dict[str, Any]:
        """Stored record of a pattern named with or without ``PTRN|``."""
        pattern = self._kb.patterns.get(bare(pattern_id))
        if pattern is None:
            raise PatternNotFoundError(pattern_id)
        return {**pattern_document(pattern.record), "name": prefixed(pattern.name)}

    @property
    def stm(self) -> list[list[str]]:
        return [list(event) for event in self._state.stm]

    @property
    def time(self) -> int:
        return self._state.time

    @property
    def pattern_count(self) -> int:
        return len(self._kb.patterns)

    def percept_data(self) -> dict[str, Any]:
        """Echo of the last observation input (spec §7.11), ``{}`` after a clear."""
        percept = self._state.percept
        if percept is None:
            return {}
        return {
            **percept.to_dict(),
            "path": [f"{self.name}-{self.processor_id}-process"],
            "metadata": {},
        }

    def cognition_data(self) -> dict[str, Any]:
        """Spec §7.12 inner object; prediction names always ``PTRN|…`` (QUIRK-11 fix)."""
        state = self._state
        return {
            "predictions": [prediction.to_dict() for prediction in state.predictions],
            "emotives": dict(state.current_emotives),
            "symbols": list(state.last_symbols),
            "command": "",
            "metadata": {},
            "path": [],
            "strings": [],
            "vectors": [],
            "short_term_memory": self.stm,
        }

    # -- genes -------------------------------------------------------------------------------

    def update_genes(self, genes: Mapping[str, Any]) -> None:
        """Validate every entry, then apply them all (atomic, QUIRK-8 fix)."""
        self._state.genes.update(validate_updates(genes))

    def get_gene(self, name: str) -> Any:
        """Value of a gene or of the read-only names of spec §6.3."""
        fixed = {"id": self.processor_id, "kb_id": self.processor_id, "name": self.name,
                 "time": self._state.time, "SORT": self._state.genes["sort"]}
        if name in fixed:
            return fixed[name]
        if name in self._state.genes:
            return self._state.genes[name]
        raise GeneNotFoundError(name)

    # -- snapshot ----------------------------------------------------------------------------

    def export_state(self) -> dict[str, Any]:
        """JSON-serialisable snapshot of all in-memory state (not the store)."""
        return export_state(self._state)

    def import_state(self, state: Mapping[str, Any]) -> None:
        """Replace all in-memory state by a snapshot, validated in full first."""
        self._state = parse_state(state)

    # -- portability (export / import of the whole memory) ---------------------------------

    def memory_image(self) -> MemoryImage:
        """Everything this processor holds, for an export. Cheap: the image refers to the
        (immutable) records themselves, so it stays valid while the processor moves on."""
        kb = self._kb
        return MemoryImage(
            [pattern.record for pattern in kb.patterns.values()],
            list(kb.symbols.values()),
            kb.totals,
            self.export_state(),
        )

    def replace_memory(self, image: MemoryImage) -> None:
        """Replace long-term memory and in-memory state by ``image`` (an import), atomically:
        the state is validated and the new index built first, then the store is replaced in
        one step; a failure anywhere leaves the processor exactly as it was."""
        state = parse_state(image.state)
        snapshot = StoreSnapshot(list(image.patterns), list(image.symbols), image.totals)
        kb = KnowledgeBase.from_snapshot(snapshot)
        self._guarded(lambda: self._store.replace_all(snapshot))
        self._kb = kb
        self._state = state

    def close(self) -> None:
        """Close the store; the processor must not be used afterwards."""
        self._store.close()

    @staticmethod
    def _guarded(operation: Any) -> Any:
        """Run a store operation; anything it raises surfaces as a StorageError."""
        try:
            return operation()
        except KatoError:
            raise
        except Exception as error:
            raise StorageError(f"Storage failed: {error}", {"error": type(error).__name__}) \
                from error
