"""A killed service (SIGKILL: nothing closed, nothing flushed) restarted on the same data directory
answers exactly as before: STM, genes, emotives, time, cached and logged predictions."""

from __future__ import annotations

import threading
from typing import Any

import httpx

from kato.processor.genes import GENES
from tests.integration.kato.services.launcher import Launcher
from tests.integration.kato.services.snapshot import observable_state, teach


def _everything(http: httpx.Client) -> dict[str, Any]:
    return {
        **observable_state(http),
        "all_genes": {name: http.get(f"/gene/{name}").json()["gene_value"] for name in GENES},
        "logged": http.get("/predictions", params={"unique_id": "u-b"}).json()["predictions"],
        "state": http.get("/state").json(),
    }


def test_sigkill_loses_nothing_acknowledged(launcher: Launcher) -> None:
    data_dir = launcher.root / "crash"
    first = launcher.start(data_dir=data_dir, processor_id="crashy")
    with httpx.Client(base_url=first.url) as http:
        teach(http, ["a", "b", "c"], ["a", "b", "d"])
        genes = {"recall_threshold": 0.05, "max_predictions": 9, "smoothness": 7, "sort": False}
        http.post("/genes/update", json={"genes": genes}).raise_for_status()
        http.post("/observe", json={"strings": ["a"], "emotives": {"joy": 0.5}}).raise_for_status()
        http.post("/observe", json={"strings": ["b"], "unique_id": "u-b"}).raise_for_status()
        http.post("/observe", json={"emotives": {"fear": 2.0}}).raise_for_status()
        before = _everything(http)
    assert before["stm"] == [["a"], ["b"]] and before["predictions"] and before["logged"]
    first.kill()

    second = launcher.start(data_dir=data_dir, processor_id="crashy")
    with httpx.Client(base_url=second.url) as http:
        assert _everything(http) == before
        # and it carries on from there: the STM it learns is the one from before the crash
        assert http.post("/observe", json={"strings": ["c"]}).json()["time"] == before["time"] + 1
        learned = http.post("/learn").json()["pattern_name"]
        assert http.get(f"/pattern/{learned}").json()["pattern"]["pattern_data"] == [
            ["a"], ["b"], ["c"]
        ]


def test_sigkill_under_traffic_keeps_every_acknowledged_observation(launcher: Launcher) -> None:
    data_dir = launcher.root / "traffic"
    first = launcher.start(data_dir=data_dir, processor_id="busy")
    acknowledged: list[list[str]] = []
    enough = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=first.url, timeout=10) as http:
            for index in range(100_000):
                event = [f"s{index}"]
                try:
                    http.post("/observe", json={"strings": event}).raise_for_status()
                except httpx.HTTPError:
                    return  # the service was killed mid-request
                acknowledged.append(event)
                if len(acknowledged) == 200:
                    enough.set()

    traffic = threading.Thread(target=client)
    traffic.start()
    assert enough.wait(timeout=120)
    first.kill()
    traffic.join(timeout=30)
    assert not traffic.is_alive()

    second = launcher.start(data_dir=data_dir, processor_id="busy")
    with httpx.Client(base_url=second.url) as http:
        stm = http.get("/stm").json()["stm"]
        time = http.get("/status").json()["time"]
    # Every answered observation is there, in order; the one in flight may or may not be.
    assert stm[: len(acknowledged)] == acknowledged
    assert len(stm) - len(acknowledged) in (0, 1) and time == len(stm)


def test_sigkill_across_wal_checkpoints_loses_nothing(launcher: Launcher) -> None:
    """Checkpoints run after answers (SQLite ``upkeep``, every ``CHECKPOINT_EVERY`` commits):
    killed at any point among them, every acknowledged observation and learn is there."""
    from kato.processor.store.sqlite import CHECKPOINT_EVERY

    data_dir = launcher.root / "checkpoints"
    first = launcher.start(data_dir=data_dir, processor_id="ckpt")
    learned = []
    with httpx.Client(base_url=first.url) as http:
        for index in range(2 * CHECKPOINT_EVERY + 7):
            http.post("/observe", json={"strings": [f"s{index}", "x"]}).raise_for_status()
            if index % 50 == 49:
                learned.append(http.post("/learn").json()["pattern_name"])
        before = _everything(http)
    first.kill()

    second = launcher.start(data_dir=data_dir, processor_id="ckpt")
    with httpx.Client(base_url=second.url) as http:
        after = _everything(http)
        assert after == before
        for name in learned:
            http.get(f"/pattern/{name}").raise_for_status()
