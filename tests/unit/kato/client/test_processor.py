"""`ProcessorClient` and the WebSocket helper on the real processor service, each test on the
sync and the async half (`flavour`)."""

from __future__ import annotations

import pytest

from kato.client import AuthError, KatoError, NotFoundError, Observation, ValidationError
from kato.web.launcher import ThreadServer
from tests.unit.kato.client.support import TOKEN, Flavour


def test_every_endpoint_answers_typed_results(service: ThreadServer, flavour: Flavour) -> None:
    with flavour.ProcessorClient(service.url, TOKEN) as kato:
        assert kato.health().status == "healthy"
        first = kato.observe(strings=["a"], emotives={"joy": 0.5}, unique_id="obs-1")
        assert (first.status, first.unique_id, first.processor_id) == (
            "okay",
            "obs-1",
            "client-unit",
        )
        kato.observe(strings=["b"])
        kato.observe(strings=["c"])
        assert kato.stm().stm == [["a"], ["b"], ["c"]]
        learned = kato.learn()
        assert learned.pattern_name.startswith("PTRN|")
        pattern = kato.pattern(learned.pattern_name).pattern
        assert (pattern.pattern_data, pattern.frequency) == ([["a"], ["b"], ["c"]], 1)
        assert (
            kato.pattern(learned.pattern_name.removeprefix("PTRN|")).pattern.name
            == learned.pattern_name
        )
        kato.observe(strings=["a"])
        kato.observe(strings=["b"])
        predictions = kato.predictions().predictions
        assert [p.name for p in predictions] == [learned.pattern_name]
        assert predictions[0].future == [["c"]] and predictions[0].matches == ["a", "b"]
        assert kato.predictions(unique_id="obs-1").processor_id == "client-unit"
        assert kato.percept_data().percept_data["strings"] == ["b"]
        assert kato.cognition_data().cognition_data["short_term_memory"] == [["a"], ["b"]]
        assert kato.update_genes({"max_predictions": 3}).message == "genes-updated"
        assert kato.gene("max_predictions").gene_value == 3
        status = kato.status()
        assert (status.stm_length, status.time) == (2, 5)
        metrics = kato.metrics()
        assert (metrics.observations_processed, metrics.patterns_learned) == (5, 1)
        state = kato.get_state()
        assert kato.clear_stm().message == "stm-cleared"
        assert kato.put_state(state).message == "state-restored"
        assert kato.stm().stm == [["a"], ["b"]]
        sequence = kato.observe_sequence(
            [Observation(strings=["x"]), {"strings": ["y"]}], learn_at_end=True
        )
        assert sequence.observations_processed == 2 and len(sequence.patterns_learned) == 1
        assert [r.time for r in sequence.individual_results] == [6, 7]
        assert kato.clear_all().message == "all-cleared"
        assert kato.metrics().patterns_learned == 0


def test_errors_come_as_the_error_tree(service: ThreadServer, flavour: Flavour) -> None:
    with flavour.ProcessorClient(service.url, TOKEN) as kato:
        with pytest.raises(NotFoundError) as missing:
            kato.pattern("PTRN|nope")
        assert missing.value.status == 404 and missing.value.code.startswith("KATO_")
        with pytest.raises(ValidationError) as unknown:
            kato.update_genes({"no_such_gene": 1})
        assert unknown.value.code == "KATO_UNKNOWN_GENE"
        with pytest.raises(ValidationError) as invalid:
            kato.observe(vectors=[[1.0], [1.0, 2.0]])
        assert invalid.value.status == 422
    with flavour.ProcessorClient(service.url, "wrong") as intruder, pytest.raises(AuthError):
        intruder.stm()


def test_the_websocket_helper_sends_operations_and_yields_answers(
    service: ThreadServer, flavour: Flavour
) -> None:
    with flavour.ProcessorClient(service.url, TOKEN) as kato, kato.stream() as ws:
        assert ws.ping().processor_id == "client-unit"
        assert ws.observe(strings=["a"]).time == 1
        ws.send("observe", {"strings": ["b"]})
        ws.send("learn")
        ws.send("get_stm")
        answers = [ws.receive() for _ in range(3)]
        assert answers[0].time == 2
        assert answers[1].pattern_name.startswith("PTRN|")
        assert answers[2].stm == []
        ws.observe(strings=["a"])
        ws.observe(strings=["b"])
        assert [p.name for p in ws.predictions().predictions] == [answers[1].pattern_name]
        with pytest.raises(ValidationError):
            ws.observe(vectors=[[1.0], [1.0, 2.0]])
        assert ws.stm().stm == [["a"], ["b"]]  # an error reply leaves the socket open
        with pytest.raises(KatoError) as unknown:
            ws.request("dance")
        assert unknown.value.code == "KATO_UNKNOWN_MESSAGE_TYPE"
        assert ws.clear_stm().message == "stm-cleared"
        assert ws.clear_all().message == "all-cleared"


def test_the_websocket_needs_the_token(service: ThreadServer, flavour: Flavour) -> None:
    with flavour.ProcessorClient(service.url, "wrong") as kato, pytest.raises(AuthError):
        kato.stream().__enter__()
