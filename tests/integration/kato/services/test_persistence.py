"""Long-term memory and short-term state survive a restart; GET/PUT /state carries the state
across processes by itself (here with KATO_PERSIST_STATE=false, so only the snapshot can)."""

from __future__ import annotations

import httpx

from tests.integration.kato.services.launcher import Launcher
from tests.integration.kato.services.snapshot import observable_state, teach


def test_restart_keeps_patterns_and_predictions(launcher: Launcher) -> None:
    data_dir = launcher.root / "kept"
    first = launcher.start(data_dir=data_dir, processor_id="durable")
    with httpx.Client(base_url=first.url) as http:
        names = teach(http, ["a", "b", "c"], ["a", "b", "d"], ["x", "b", "c"])
        for symbol in ("a", "b"):
            http.post("/observe", json={"strings": [symbol]}).raise_for_status()
        predictions = http.get("/predictions").json()["predictions"]
        patterns = [http.get(f"/pattern/{name}").json() for name in names]
    assert len(predictions) == 3
    first.stop()

    second = launcher.start(data_dir=data_dir, processor_id="durable")
    with httpx.Client(base_url=second.url) as http:
        assert http.get("/metrics").json()["patterns_learned"] == 3
        assert [http.get(f"/pattern/{name}").json() for name in names] == patterns
        assert http.get("/stm").json()["stm"] == [["a"], ["b"]]  # persisted short-term state
        assert http.get("/predictions").json()["predictions"] == predictions
        http.post("/clear-stm").raise_for_status()
        for symbol in ("a", "b"):
            http.post("/observe", json={"strings": [symbol]}).raise_for_status()
        assert http.get("/predictions").json()["predictions"] == predictions


def test_state_round_trip_across_processes(launcher: Launcher) -> None:
    data_dir = launcher.root / "hibernate"
    first = launcher.start(data_dir=data_dir, processor_id="sleeper")
    with httpx.Client(base_url=first.url) as http:
        teach(http, ["a", "b", "c"])
        http.post("/genes/update", json={"genes": {"recall_threshold": 0.3}}).raise_for_status()
        http.post("/observe", json={"strings": ["a"], "emotives": {"joy": 2.0}}).raise_for_status()
        http.post("/observe", json={"strings": ["b"], "unique_id": "u1"}).raise_for_status()
        snapshot = http.get("/state").raise_for_status().json()
        before = observable_state(http)
        logged = http.get("/predictions", params={"unique_id": "u1"}).json()
    first.stop()

    second = launcher.start(data_dir=data_dir, processor_id="sleeper", KATO_PERSIST_STATE="false")
    with httpx.Client(base_url=second.url) as http:
        assert observable_state(http) != before
        answer = http.put("/state", json=snapshot)
        assert answer.status_code == 200 and answer.json()["message"] == "state-restored"
        assert observable_state(http) == before
        assert http.get("/state").json() == snapshot
        assert http.get("/predictions", params={"unique_id": "u1"}).json() == logged
        # and it carries on exactly where it left off
        result = http.post("/observe", json={"strings": ["c"]}).json()
        assert result["time"] == before["time"] + 1
        assert http.post("/learn").json()["pattern_name"].startswith("PTRN|")
