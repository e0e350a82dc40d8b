"""All a client can observe of a processor: proof that a failed request changed nothing."""

from __future__ import annotations

from typing import Any

import httpx


def observable_state(http: httpx.Client) -> dict[str, Any]:
    status = http.get("/status").json()
    metrics = http.get("/metrics").json()
    return {
        "stm": http.get("/stm").json()["stm"],
        "time": status["time"],
        "patterns": metrics["patterns_learned"],
        "predictions": http.get("/predictions").json()["predictions"],
        "percept": http.get("/percept-data").json()["percept_data"],
        "cognition": http.get("/cognition-data").json()["cognition_data"],
        "genes": {
            name: http.get(f"/gene/{name}").json()["gene_value"]
            for name in ("recall_threshold", "max_predictions", "max_pattern_length", "sort")
        },
    }


def teach(http: httpx.Client, *sequences: list[str]) -> list[str]:
    """Learn each sequence (one symbol per event); returns the pattern names."""
    names = []
    for sequence in sequences:
        for symbol in sequence:
            http.post("/observe", json={"strings": [symbol]}).raise_for_status()
        names.append(http.post("/learn").raise_for_status().json()["pattern_name"])
    return names
