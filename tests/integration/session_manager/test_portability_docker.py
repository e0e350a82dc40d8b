"""Portable sessions on the real engine: export → delete → import, fork → diverge, and exports of
hibernated sessions, through the real manager and real processor containers."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest

from session_manager.testing import ManagerProcess
from tests.integration.session_manager.docker_support import (
    containers_of,
    create_session,
    paused,
    session_client,
    volumes_of,
    wait_for_status,
)

pytestmark = pytest.mark.docker


def _teach(proxied: httpx.Client, *sequences: list[str], emotives: dict[str, float]) -> list[str]:
    names = []
    for sequence in sequences:
        for symbol in sequence:
            body = {"strings": [symbol], "emotives": emotives}
            proxied.post("/observe", json=body).raise_for_status()
        names.append(proxied.post("/learn").raise_for_status().json()["pattern_name"])
    return names


def _learn_many(proxied: httpx.Client, count: int) -> None:
    """``count`` two-symbol patterns (one per observation) in requests of 1,000."""
    rng = random.Random(count)
    vocabulary = [f"w{i}" for i in range(300)] + ["b", "c"]
    for start in range(0, count, 1000):
        observations = [
            {"strings": rng.sample(vocabulary, 2)} for _ in range(min(1000, count - start))
        ]
        body = {"observations": observations, "learn_after_each": True}
        proxied.post("/observe-sequence", json=body).raise_for_status()


def _answers(proxied: httpx.Client, names: list[str]) -> dict[str, Any]:
    """What a client sees of a session (processor ids aside)."""
    return {
        "stm": proxied.get("/stm").json()["stm"],
        "predictions": proxied.get("/predictions").json()["predictions"],
        "patterns": [
            proxied.get(f"/pattern/{quote(name, safe='')}").json().get("pattern") for name in names
        ],
        "genes": {
            gene: proxied.get(f"/gene/{gene}").json()["gene_value"]
            for gene in ("recall_threshold", "max_predictions", "persistence")
        },
        "time": proxied.get("/status").json()["time"],
        "cognition": proxied.get("/cognition-data").json()["cognition_data"],
    }


def _records(export: bytes) -> list[bytes]:
    """The records of an export (the header names its source, so it differs by design)."""
    return export.splitlines()[1:-1]


def test_learn_export_delete_import_answers_the_same(
    start_manager: Callable[..., ManagerProcess], test_labels: dict[str, str]
) -> None:
    manager = start_manager()
    with manager.client() as http:
        original = create_session(http, user_id="alice")
    sid = original["session_id"]
    with session_client(manager, sid) as proxied:
        proxied.post("/genes/update", json={"genes": {"recall_threshold": 0.2}}).raise_for_status()
        _learn_many(proxied, 2000)
        names = _teach(
            proxied, ["a", "b", "c", "d"], ["b", "c", "e"], ["x", "b", "c"], emotives={"joy": 0.4}
        )
        for symbol in ("b", "c"):
            proxied.post("/observe", json={"strings": [symbol]}).raise_for_status()
        before = _answers(proxied, names)
    assert len(before["predictions"]) > 10, "the test needs many predictions to compare"
    with manager.client() as http:
        exported = http.get(f"/session/{sid}/export")
        assert exported.status_code == 200
        data = exported.content
        assert orjson.loads(data.splitlines()[0])["counts"]["patterns"] > 1900
        assert http.delete(f"/session/{sid}").status_code == 204
        assert containers_of(test_labels, original["processor_id"]) == []

        for offset in random.Random(1).sample(range(len(data)), 3):
            refused = http.post("/session/import", content=data[:offset])
            assert refused.status_code == 422, refused.text
            assert refused.json()["error"]["code"] == "KATO_INVALID_EXPORT"
        assert http.get("/sessions").json() == {"sessions": [], "next_cursor": None}

        imported = http.post("/session/import", params={"user_id": "alice"}, content=data)
        assert imported.status_code == 201, imported.text
        view = imported.json()
    assert view["user_id"] == "alice" and view["status"] == "running"
    with session_client(manager, view["session_id"]) as proxied:
        assert _answers(proxied, names) == before
    with manager.client() as http:
        again = http.get(f"/session/{view['session_id']}/export").content
    assert _records(again) == _records(data)


def test_fork_copies_then_both_diverge(
    start_manager: Callable[..., ManagerProcess], test_labels: dict[str, str]
) -> None:
    manager = start_manager()
    with manager.client() as http:
        source = create_session(http, user_id="bob")
    sid = source["session_id"]
    with session_client(manager, sid) as proxied:
        shared = _teach(proxied, ["a", "b", "c"], emotives={})
        proxied.post("/observe", json={"strings": ["a"]}).raise_for_status()
        proxied.post("/observe", json={"strings": ["b"]}).raise_for_status()
        before = _answers(proxied, shared)
    with manager.client() as http:
        forked = http.post(f"/session/{sid}/fork")
        assert forked.status_code == 201, forked.text
        fork = forked.json()
        assert http.get(f"/session/{sid}").json()["status"] == "running"
    fid = fork["session_id"]
    assert fork["user_id"] == "bob" and fork["processor_id"] != source["processor_id"]
    with session_client(manager, sid) as one, session_client(manager, fid) as two:
        assert _answers(two, shared) == before
        assert _answers(one, shared) == before  # the source is untouched
        only_source = _teach(one, ["s1", "s2"], emotives={})
        only_fork = _teach(two, ["f1", "f2"], emotives={"joy": 1.0})
        pattern = "/pattern/{}"
        assert one.get(pattern.format(quote(only_fork[0], safe=""))).status_code == 404
        assert two.get(pattern.format(quote(only_source[0], safe=""))).status_code == 404
        assert one.get(pattern.format(quote(only_source[0], safe=""))).status_code == 200
        assert one.get("/status").json()["time"] != 0 and two.get("/stm").json()["stm"] == []
        one.post("/observe", json={"strings": ["a"]}).raise_for_status()
        assert one.get("/stm").json()["stm"] == [["a"]] and two.get("/stm").json()["stm"] == []
    # Separate containers and separate data volumes: nothing is shared.
    assert len(containers_of(test_labels, source["processor_id"])) == 1
    assert len(containers_of(test_labels, fork["processor_id"])) == 1
    assert len(volumes_of(test_labels, fork["processor_id"])) == 1
    with manager.client() as http:
        exports = [http.get(f"/session/{s}/export").content for s in (sid, fid)]
    header = [orjson.loads(export.splitlines()[0])["counts"] for export in exports]
    assert header == [{"patterns": 2, "symbols": 5}, {"patterns": 2, "symbols": 5}]
    assert _records(exports[0]) != _records(exports[1])


def test_a_hibernated_session_is_woken_to_export(
    start_manager: Callable[..., ManagerProcess],
) -> None:
    manager = start_manager(KATO_IDLE_TIMEOUT="2", KATO_REAP_INTERVAL="0.5")
    with manager.client() as http:
        sid = create_session(http)["session_id"]
    with session_client(manager, sid) as proxied:
        (name,) = _teach(proxied, ["h", "i"], emotives={})
    with manager.client() as http:
        wait_for_status(http, sid, "hibernated")
        exported = http.get(f"/session/{sid}/export")
        assert exported.status_code == 200
        assert name.removeprefix("PTRN|").encode() in exported.content
        assert http.get(f"/session/{sid}").json()["status"] == "running"


def test_export_and_fork_of_a_paused_container_are_504_as_in_the_proxy(
    start_manager: Callable[..., ManagerProcess], test_labels: dict[str, str]
) -> None:

    manager = start_manager(KATO_PROXY_TIMEOUT="2", KATO_RECONCILE_INTERVAL="3600")
    with manager.client() as http:
        session = create_session(http)
        sid, pid = session["session_id"], session["processor_id"]
        with paused(test_labels, pid):
            exported = http.get(f"/session/{sid}/export")
            forked = http.post(f"/session/{sid}/fork")
        for answer in (exported, forked):
            assert answer.status_code == 504, answer.text
            assert answer.json()["error"]["code"] == "KATO_UPSTREAM_TIMEOUT"
        assert [view["session_id"] for view in http.get("/sessions").json()["sessions"]] == [sid]
        refused = http.post("/session/import", content=b'{"truncated": ')
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "KATO_INVALID_EXPORT"
        assert len(http.get("/sessions").json()["sessions"]) == 1
