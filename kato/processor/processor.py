"""KatoProcessor: the facade the service embeds (spec §2–§6).

Every public method either succeeds or raises a :class:`~kato.processor.errors.KatoError` and
leaves the processor exactly as it was: inputs are validated first, the next state is computed
into locals, the store is written (the only step that can fail afterwards), and only then are the
new values installed. Not thread-safe: the service serialises calls.

Unless ``ProcessorConfig.persist_state`` is off, the short-term state (what ``export_state``
holds) is persisted through the store by every mutating call, in the transaction of its learn or
clear where there is one (:mod:`kato.processor.durable`), and restored when a processor opens the
same store again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from kato.processor import durable, search
from kato.processor.config import ProcessorConfig
from kato.processor.emotives import mean_emotives
from kato.processor.errors import (
    GeneNotFoundError,
    InvalidStateError,
    KatoError,
    PatternNotFoundError,
    StorageError,
    ValidationError,
)
from kato.processor.genes import initial_values, validate_updates
from kato.processor.knowledge import KnowledgeBase, LearnPlan
from kato.processor.naming import bare, prefixed, sorted_symbols
from kato.processor.observation import Observation, ObserveResult
from kato.processor.portability import MemoryImage
from kato.processor.prediction import Prediction
from kato.processor.state import Percept, SessionState, export_state, parse_state
from kato.processor.store.base import PatternStore, StateWrite, StoreSnapshot
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
        #: Why the persisted short-term state could not be restored (the processor then starts
        #: fresh and overwrites it); None when it was restored or there was none.
        self.restore_error: str | None = None
        self._restore()

    def _restore(self) -> None:
        stored = self._guarded(self._store.load_state)
        if not self._config.persist_state:
            if stored.parts or stored.log:  # never resume from a stale state if turned on again
                self._guarded(lambda: self._store.save_state(StateWrite(reset=True)))
            return
        try:
            restored = durable.restore(stored)
        except InvalidStateError as error:
            self.restore_error = error.message
            self._guarded(lambda: self._store.save_state(durable.full_write(self._state)))
            return
        if restored is not None:
            self._state = restored

    # -- observation -------------------------------------------------------------------------

    def observe(self, obs: Observation) -> ObserveResult:
        """Process one observation (spec §2.2). ``time`` advances only once it validated."""
        if not obs.unique_id:
            raise ValidationError("unique_id must not be empty")
        if obs.vectors:
            validate_vectors(obs.vectors)
        state = self._state
        genes = state.genes
        content = bool(obs.strings or obs.vectors)
        event = [vector_symbol(obs.vectors)] if obs.vectors else []
        event += sorted_symbols(obs.strings, genes["sort"])
        accumulator = state.accumulator
        if obs.emotives:
            accumulator = [*accumulator, dict(obs.emotives)]
        current = mean_emotives(accumulator) if obs.emotives else state.current_emotives
        stm = [*state.stm, event] if event else state.stm
        predictions = self._predict(stm) if content else state.predictions
        plan: LearnPlan | None = None
        auto: str | None = None
        limit = genes["max_pattern_length"]
        if limit > 0 and len(stm) >= limit:
            plan = self._plan(stm, accumulator)
            auto = prefixed(plan.pattern.name) if plan else ""
            stm = [stm[-1]] if len(stm) > 1 else []
            accumulator = []
        following = replace(
            state,
            time=state.time + 1,
            stm=stm,
            accumulator=accumulator,
            current_emotives=current,
            last_symbols=event,
            predictions=predictions,
            percept=Percept(list(obs.strings), [list(v) for v in obs.vectors], dict(obs.emotives)),
        )
        bound = self._config.prediction_log_size
        change: StateWrite | None = None
        if self._config.persist_state:
            parts = {durable.CORE: durable.core_part(following)}
            logged: list[tuple[str, bytes]] = []
            if content:
                blob = durable.encode_predictions(predictions)
                if state.logs(obs.unique_id, predictions, bound):
                    logged.append((obs.unique_id, blob))
                    blob = durable.logged_reference(obs.unique_id)
                parts[durable.PREDICTIONS] = blob
            change = StateWrite(parts, logged, state.evicted(bound, len(logged)))
        self._commit(plan, change)
        # Nothing below can fail: install the new state.
        self._install(plan, following)
        if content:
            following.record_predictions(obs.unique_id, predictions, bound)
        return ObserveResult(auto, following.time, obs.unique_id)

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
        (QUIRK-18 fix), in the same transaction; cached predictions and ``current_emotives``
        stay (QUIRK-12).
        """
        plan = self._plan(self._state.stm, self._state.accumulator)
        following = replace(self._state, stm=[], accumulator=[])
        self._commit(plan, self._core_change(following))
        self._install(plan, following)
        return prefixed(plan.pattern.name) if plan else ""

    def _plan(
        self, events: Sequence[Sequence[str]], accumulator: Sequence[Mapping[str, float]]
    ) -> LearnPlan | None:
        """The records of learning ``events``; None (nothing to store) below two symbols."""
        if sum(len(event) for event in events) < 2:
            return None
        return self._kb.plan_learn(events, mean_emotives(accumulator), self._config.persistence)

    def _core_change(self, following: SessionState) -> StateWrite | None:
        """The state change of a request that leaves predictions and the log alone."""
        if not self._config.persist_state:
            return None
        return StateWrite({durable.CORE: durable.core_part(following)})

    def _commit(self, plan: LearnPlan | None, change: StateWrite | None) -> None:
        """Persist a learn and the request's state change together (the only step that fails)."""
        if plan is not None:
            self._guarded(
                lambda: self._store.save_learn(plan.pattern, plan.symbols, plan.totals, change)
            )
        elif change is not None:
            self._guarded(lambda: self._store.save_state(change))

    def _install(self, plan: LearnPlan | None, following: SessionState) -> None:
        if plan is not None:
            self._kb.apply(plan)
        self._state = following

    def clear_stm(self) -> None:
        """Forget short-term state (spec §4.6); time, genes, patterns and the log stay."""
        following = replace(self._state)
        following.reset_short_term()
        change = self._core_change(following)
        if change is not None:
            empty = durable.encode_predictions([])
            change = replace(change, parts={**change.parts, durable.PREDICTIONS: empty})
        self._commit(None, change)
        self._state = following

    def clear_all(self) -> None:
        """Forget everything except the genes (QUIRK-22): store, index, log, STM, time."""
        following = SessionState(genes=dict(self._state.genes))
        change = durable.full_write(following) if self._config.persist_state else None
        self._guarded(lambda: self._store.clear(change))
        self._kb = KnowledgeBase()
        self._state = following

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

    @property
    def upkeep_due(self) -> bool:
        """Whether :meth:`upkeep` has work to do."""
        return self._state.log_pending or self._store.upkeep_due

    def upkeep(self) -> None:
        """What the service runs after answering: :meth:`compact_log` and the store's upkeep
        (:meth:`~kato.processor.store.base.PatternStore.upkeep`). Changes nothing any call
        returns; without it the log stays as objects and the store does its upkeep itself."""
        self._state.compact_log()
        if self._store.upkeep_due:
            self._store.upkeep()

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
        following = replace(self._state, genes={**self._state.genes, **validate_updates(genes)})
        self._commit(None, self._core_change(following))
        self._state = following

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
        following = parse_state(state)
        if self._config.persist_state:
            self._guarded(lambda: self._store.save_state(durable.full_write(following)))
        self._state = following

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
        one step, with the persisted short-term state; a failure anywhere leaves the processor
        exactly as it was."""
        state = parse_state(image.state)
        snapshot = StoreSnapshot(list(image.patterns), list(image.symbols), image.totals)
        kb = KnowledgeBase.from_snapshot(snapshot)
        write = durable.full_write(state) if self._config.persist_state else None
        self._guarded(lambda: self._store.replace_all(snapshot, write))
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
