"""`GET /sessions` in pages (both prefixes): the default and bounded `limit`, cursors that walk
every session once, a malformed cursor refused, the `user_id` and `status` filters, a user
token's pages holding its own sessions only and full, and a stable order while sessions are
created and deleted between pages."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from session_manager.paging import DEFAULT_LIMIT, MAX_LIMIT
from session_manager.registry import SessionRecord
from tests.unit.session_manager.api.test_access import KEY, OPERATOR, SECRET, bearer
from tests.unit.session_manager.support import service_of

PREFIXES = ("/sessions", "/v2/sessions")


@pytest.fixture
def keyed(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(api_key=KEY, jwt_secret=SECRET)


def _add(
    client: TestClient, count: int, *, user: str | None = None, **changes: object
) -> list[str]:
    """`count` records written to the registry (no container: hibernated unless changed), each
    created a second after the last one; their ids in creation order."""
    registry = service_of(client).registry
    existing = len(registry.ids())
    ids = []
    for index in range(count):
        created = 1000.0 + existing + index
        record = SessionRecord(
            session_id=uuid.uuid4().hex,
            processor_id=uuid.uuid4().hex[:12],
            user_id=user,
            status="hibernated",
            created_at=created,
            last_activity=created,
        ).with_changes(**changes)
        registry.put(record)
        ids.append(record.session_id)
    return ids


def _walk(
    client: TestClient,
    path: str = "/sessions",
    headers: dict[str, str] | None = None,
    **params: object,
) -> list[list[str]]:
    """Every page's session ids, following `next_cursor` to the end."""
    pages: list[list[str]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        answer = client.get(path, params=query, headers=headers or {})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pages.append([s["session_id"] for s in body["sessions"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 1000


@pytest.mark.parametrize("path", PREFIXES)
def test_cursors_walk_every_session_once_in_creation_order(client: TestClient, path: str) -> None:
    ids = _add(client, 25)
    pages = _walk(client, path, limit=10)
    assert [len(page) for page in pages] == [10, 10, 5]
    assert [sid for page in pages for sid in page] == ids


def test_a_page_that_ends_the_listing_has_no_next_cursor(client: TestClient) -> None:
    ids = _add(client, 10)
    assert _walk(client, limit=10) == [ids]  # exactly full: the last page says so at once
    assert _walk(client, limit=11) == [ids]


def test_the_default_page_holds_100_and_limit_is_bounded(client: TestClient) -> None:
    assert DEFAULT_LIMIT == 100 and MAX_LIMIT == 1000
    _add(client, DEFAULT_LIMIT + 1)
    first = client.get("/sessions").json()
    assert len(first["sessions"]) == DEFAULT_LIMIT and first["next_cursor"]
    assert len(client.get("/sessions", params={"limit": MAX_LIMIT}).json()["sessions"]) == 101
    for limit in (0, -1, MAX_LIMIT + 1, "many"):
        answer = client.get("/sessions", params={"limit": limit})
        assert answer.status_code == 422, limit
        assert answer.json()["error"]["code"] == "KATO_VALIDATION_ERROR"


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "e30",  # {}
        "WzEsMl0",  # [1,2]
        "WyJ4IiwiMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAiXQ",  # ["x", "<a session id>"]
        "WzEsIm5vdC1hbi1pZCJd",  # [1,"not-an-id"]
        "WzEsIjAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwIiwzXQ",  # three items
        "_w",  # not UTF-8
    ],
)
def test_a_malformed_cursor_is_a_validation_error(client: TestClient, cursor: str) -> None:
    for path in PREFIXES:
        answer = client.get(path, params={"cursor": cursor})
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["code"] == "KATO_VALIDATION_ERROR"
        assert error["message"].startswith("malformed cursor")
        assert error["details"]["cursor"] == cursor


@pytest.mark.parametrize("cursor", ["", "a b", "x" * 201, "a+b/c="])
def test_a_cursor_not_of_base64url_is_refused_by_the_schema(
    client: TestClient, cursor: str
) -> None:
    answer = client.get("/sessions", params={"cursor": cursor})
    assert answer.status_code == 422
    assert answer.json()["error"]["details"]["errors"][0]["loc"] == ["query", "cursor"]


def test_status_and_user_filters_apply_before_the_page_is_cut(client: TestClient) -> None:
    hibernated = _add(client, 5, user="alice")
    _add(client, 7, user="bob")
    stopped = _add(client, 4, user="alice", status="stopped")
    assert _walk(client, user_id="alice", limit=3) == [
        hibernated[:3],
        hibernated[3:] + stopped[:1],
        stopped[1:],
    ]
    assert _walk(client, status="stopped", limit=2) == [stopped[:2], stopped[2:]]
    assert _walk(client, status="stopped", user_id="bob") == [[]]
    assert sum(map(len, _walk(client, status="hibernated", limit=4))) == 12


def test_an_unknown_status_is_a_validation_error(client: TestClient) -> None:
    answer = client.get("/sessions", params={"status": "paused"})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "KATO_VALIDATION_ERROR"
    assert "hibernated" in answer.json()["error"]["details"]["errors"][0]["msg"]


def test_a_user_token_pages_through_its_own_sessions_only(keyed: TestClient) -> None:
    mine = []
    for _ in range(4):  # interleaved with others': a post-filter would make short pages
        _add(keyed, 3, user="bob")
        mine += _add(keyed, 2, user="alice")
        _add(keyed, 1)
    pages = _walk(keyed, headers=bearer("alice"), limit=3)
    assert pages == [mine[:3], mine[3:6], mine[6:]]
    assert _walk(keyed, headers=bearer("alice"), user_id="alice", limit=8) == [mine]
    refused = keyed.get("/sessions", params={"user_id": "bob"}, headers=bearer("alice"))
    assert refused.status_code == 403
    # Another's cursor gives nothing of theirs: the filter is in the query, not in the cursor.
    operator_page = keyed.get("/sessions", params={"limit": 1}, headers=OPERATOR).json()
    after_theirs = _walk(keyed, headers=bearer("alice"), cursor=operator_page["next_cursor"])
    assert [sid for page in after_theirs for sid in page] == mine
    only = _walk(keyed, headers=bearer("alice", sid=mine[4]), limit=1)
    assert only == [[mine[4]]]


def test_pages_stay_in_order_while_sessions_come_and_go(client: TestClient) -> None:
    ids = _add(client, 9)
    first = client.get("/sessions", params={"limit": 4}).json()
    assert [s["session_id"] for s in first["sessions"]] == ids[:4]
    newer = _add(client, 3)  # created after the walk began: they sort last
    service_of(client).registry.delete(ids[1])  # already seen
    service_of(client).registry.delete(ids[6])  # not seen yet: never shown
    rest = _walk(client, limit=4, cursor=first["next_cursor"])
    assert [sid for page in rest for sid in page] == ids[4:6] + ids[7:] + newer


def test_sessions_created_in_the_same_instant_keep_one_order(client: TestClient) -> None:
    registry = service_of(client).registry
    ids = sorted(uuid.uuid4().hex for _ in range(6))
    for sid in reversed(ids):
        registry.put(SessionRecord(sid, sid[:12], None, "hibernated", 5.0, 5.0))
    assert [sid for page in _walk(client, limit=4) for sid in page] == ids
