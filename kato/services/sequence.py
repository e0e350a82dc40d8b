"""``POST /observe-sequence`` (spec §7.4): many observations under one lock acquisition.

The whole request is validated before the first observation is processed, so a malformed
element changes nothing. A processor failure part-way (only storage can fail by then) stops the
batch with that error; observations already processed stay processed, as upstream, and the
error's details say how far it got (`observations_processed`, `patterns_learned`) so a client
knows where to resume.
"""

from __future__ import annotations

from typing import Any

from kato.processor.errors import KatoError
from kato.processor.naming import bare
from kato.services.gate import ProcessorGate
from kato.services.models import ObserveSequenceRequest


def run_sequence(gate: ProcessorGate, request: ObserveSequenceRequest) -> dict[str, Any]:
    """Observe, optionally learn/clear, and report like upstream (with fresh prediction objects)."""
    learned: list[str] = []
    results: list[dict[str, Any]] = []
    try:
        return _run(gate, request, learned, results)
    except KatoError as error:
        error.details.update(observations_processed=len(results), patterns_learned=learned)
        raise


def _run(
    gate: ProcessorGate,
    request: ObserveSequenceRequest,
    learned: list[str],
    results: list[dict[str, Any]],
) -> dict[str, Any]:
    processor = gate.processor
    for index, data in enumerate(request.observations):
        if index > 0 and request.clear_stm_between:
            processor.clear_stm()
        results.append(gate.observe_result(data, f"batch-obs-{index}"))
        if request.learn_after_each:
            name = processor.learn()
            if name:
                learned.append(name)
    # Cached at the last observation; learning does not replace the cache (QUIRK-12). Fresh
    # objects with PTRN| names, so adding pattern_name leaves the cache alone (QUIRK-11 fixed).
    final = processor.get_predictions()
    if request.learn_at_end and not request.clear_stm_between:
        name = processor.learn()
        if name:
            learned.append(name)
    final_predictions: list[dict[str, Any]] | None = None
    if not (request.clear_stm_between and request.learn_after_each):
        final_predictions = [{**p, "pattern_name": bare(p["name"])} for p in final]
    return {
        "status": "okay",
        "processor_id": gate.processor_id,
        "observations_processed": len(results),
        "patterns_learned": learned,
        "individual_results": results,
        "final_predictions": final_predictions,
    }
