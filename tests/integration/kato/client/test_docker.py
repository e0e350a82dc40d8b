"""`kato.client` against a real manager process and real processor containers; the tests that
take `flavour` run on the sync and the async half."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from kato.client import (
    AuthError,
    CapacityError,
    KatoClient,
    NotFoundError,
    Observation,
    RetryPolicy,
    ValidationError,
)
from session_manager.testing import ManagerProcess
from tests.unit.kato.client.support import Flavour

pytestmark = pytest.mark.docker


def test_the_client_end_to_end(
    start_manager: Callable[..., ManagerProcess], flavour: Flavour
) -> None:
    manager = start_manager()
    with flavour.KatoClient(manager.url) as kato:
        with kato.session(user_id="alice", genes={"max_predictions": 10}) as s:
            s.observe(strings=["hello"], emotives={"joy": 0.5})
            s.observe(strings=["world"])
            s.observe(strings=["again"])
            learned = s.learn()
            assert learned.pattern_name.startswith("PTRN|")
            s.observe(strings=["hello"])
            s.observe(strings=["world"])
            preds = s.predictions()
            assert [p.name for p in preds.predictions] == [learned.pattern_name]
            assert preds.predictions[0].future == [["again"]]
            assert s.pattern(learned.pattern_name).pattern.pattern_data == [
                ["hello"],
                ["world"],
                ["again"],
            ]
            assert s.gene("max_predictions").gene_value == 10
            s.update_genes({"recall_threshold": 0.2})
            assert s.gene("recall_threshold").gene_value == 0.2
            assert s.percept_data().percept_data["strings"] == ["world"]
            assert s.cognition_data().cognition_data["short_term_memory"] == [
                ["hello"],
                ["world"],
            ]
            assert (s.status().stm_length, s.metrics().patterns_learned) == (2, 1)
            state = s.get_state()
            sequence = s.observe_sequence([Observation(strings=["x"])], clear_stm_between=True)
            assert sequence.observations_processed == 1
            s.put_state(state)

            direct = s.direct()
            assert direct.url == s.info.url and direct.url != manager.url
            assert direct.stm().stm == s.stm().stm == [["hello"], ["world"]]
            with s.stream() as ws:  # relayed by the manager
                assert ws.observe(strings=["via-manager"]).time == 6
                assert ws.stm().stm[-1] == ["via-manager"]
            with direct.stream() as ws:  # straight to the container
                ws.send("observe", {"strings": ["direct"]})
                ws.send("get_stm")
                assert [type(a).__name__ for a in (ws.receive(), ws.receive())] == [
                    "ObserveResult",
                    "StmResult",
                ]
            sid = s.session_id
            kept = kato.create_session(user_id="bob")
        with pytest.raises(NotFoundError):
            kato.get_session(sid)  # deleted on leaving the block
        assert [x.session_id for x in kato.list_sessions()] == [kept.session_id]
        kato.delete_session(kept.session_id)
        assert kato.list_sessions() == []


def test_the_error_tree_on_the_real_system(
    start_manager: Callable[..., ManagerProcess], flavour: Flavour
) -> None:
    manager = start_manager(KATO_API_KEY="the-key")
    with flavour.KatoClient(manager.url, api_key="wrong") as intruder:
        with pytest.raises(AuthError) as refused:
            intruder.list_sessions()
        assert (refused.value.status, refused.value.code) == (401, "KATO_UNAUTHORIZED")
        with pytest.raises(AuthError):
            intruder.attach("f" * 32)
    with flavour.KatoClient(manager.url, api_key="the-key") as kato, kato.session() as s:
        with s.stream() as ws:  # the key goes with the WebSocket handshake too
            assert ws.ping().processor_id == s.info.processor_id
        with pytest.raises(ValidationError) as invalid:
            s.observe(vectors=[[1.0], [1.0, 2.0]])
        assert (invalid.value.status, invalid.value.code) == (422, "KATO_VALIDATION_ERROR")
        with pytest.raises(NotFoundError):
            s.pattern("PTRN|0000")
        with pytest.raises(ValidationError) as unknown_gene:
            s.update_genes({"no_such_gene": 1})
        assert unknown_gene.value.code == "KATO_UNKNOWN_GENE"
        with pytest.raises(NotFoundError) as missing:
            kato.attach("f" * 32)
        assert missing.value.code == "KATO_SESSION_NOT_FOUND"
        url = s.direct().url  # the container itself refuses a wrong token
        with flavour.ProcessorClient(url, token="wrong") as intruder, pytest.raises(AuthError):
            intruder.stm()


class _FreeingTransport(httpx.HTTPTransport):
    """Real HTTP; on the first 503 it frees a slot (deletes `victim`) before answering, so a
    retry is certain to find room: no timing involved."""

    def __init__(self, manager_url: str, victim: str) -> None:
        super().__init__()
        self.manager_url, self.victim = manager_url, victim
        self.statuses: list[int] = []
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        with self._lock:
            self.statuses.append(response.status_code)
            if response.status_code == 503 and self.statuses.count(503) == 1:
                with KatoClient(self.manager_url) as admin:
                    admin.delete_session(self.victim)
        return response


def test_a_503_with_retry_after_is_retried_when_asked(
    start_manager: Callable[..., ManagerProcess],
) -> None:
    manager = start_manager(KATO_MAX_SESSIONS="1", KATO_RETRY_AFTER="1", KATO_SPAWN_WAIT="0")
    with KatoClient(manager.url) as kato:
        first = kato.create_session()
        with pytest.raises(CapacityError) as full:
            kato.create_session()  # not idempotent: one try only
        assert (full.value.status, full.value.retry_after) == (503, 1)

    transport = _FreeingTransport(manager.url, first.session_id)
    retry = RetryPolicy(attempts=3, non_idempotent=True)
    with KatoClient(manager.url, retry=retry, transport=transport) as kato:
        second = kato.create_session(user_id="second")
        assert transport.statuses == [503, 201]
        assert [s.session_id for s in kato.list_sessions()] == [second.session_id]
        second.delete()


def test_the_quickstart_example_runs(start_manager: Callable[..., ManagerProcess]) -> None:
    manager = start_manager()
    script = Path(__file__).parents[4] / "examples" / "client_quickstart.py"
    out = subprocess.run(
        [sys.executable, str(script), "--url", manager.url],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    assert "refused as expected: ValidationError KATO_UNKNOWN_GENE" in out
    assert out.rstrip().splitlines()[-3:] == [
        "event 1 session.created status=starting",
        "event 2 session.running status=running",
        "event 3 session.deleted status=deleted",
    ]


def test_the_documented_example_runs(start_manager: Callable[..., ManagerProcess]) -> None:
    manager = start_manager()
    usage = (Path(__file__).parents[4] / "docs" / "usage.md").read_text()
    section = usage[usage.index("## Python client") :]
    code = section[section.index("```python\n") + 10 : section.index("```\n", 10)]
    code = code.replace('"http://127.0.0.1:8080"', repr(manager.url))
    exec(compile(code, "docs/usage.md", "exec"), {})  # our own docs, as a user would run them
    with KatoClient(manager.url) as kato:
        assert kato.list_sessions() == []  # the example cleans up after itself
        kinds = [e.type for e in kato.events(after=0, follow=False)]
    assert kinds == ["session.created", "session.running", "session.deleted"] * 2


def test_export_import_and_fork_through_the_manager(
    start_manager: Callable[..., ManagerProcess], flavour: Flavour
) -> None:
    manager = start_manager()
    with flavour.KatoClient(manager.url) as kato:
        with kato.session(user_id="carol") as original:
            for strings in (["a"], ["b"], ["c"]):
                original.observe(strings=strings)
            original.learn()
            original.observe(strings=["a"])
            original.observe(strings=["b"])
            expected = original.predictions().predictions
            document = b"".join(original.export())
            with original.fork(user_id="dave") as fork:
                assert fork.info.user_id == "dave" and fork.session_id != original.session_id
                assert fork.predictions().predictions == expected
                fork.clear_all()
                assert original.predictions().predictions == expected  # the fork shares nothing
        with kato.import_session(iter([document]), user_id="erin") as imported:
            assert imported.info.user_id == "erin"
            assert imported.predictions().predictions == expected
        with pytest.raises(ValidationError):
            kato.import_session(document[:-10])
        assert kato.list_sessions() == []
