"""Replay the recorded reference scenarios (spec Appendix B) through the HTTP API.

Each op becomes the HTTP call a client would make; the result is reduced to the fields the
recording holds, so ``replay_case(...) == expected`` compares field for field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

CASES_FILE = Path("/work/shared/spec/kato_reference_cases.json")

DEFAULT_GENES = {
    "recall_threshold": 0.1,
    "max_predictions": 100,
    "max_pattern_length": 0,
    "persistence": 5,
    "sort": True,
}


def load_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(CASES_FILE.read_text())["cases"]
    return cases


def reset(http: httpx.Client) -> None:
    """A fresh processor: empty memory and default genes (clear-all keeps genes, QUIRK-22)."""
    http.post("/clear-all").raise_for_status()
    http.post("/genes/update", json={"genes": DEFAULT_GENES}).raise_for_status()


def _stm(http: httpx.Client) -> Any:
    return http.get("/stm").raise_for_status().json()["stm"]


def run_op(http: httpx.Client, op: dict[str, Any]) -> Any:
    kind = op["op"]
    if kind == "observe":
        body = {key: op[key] for key in ("strings", "vectors", "emotives") if key in op}
        result = http.post("/observe", json=body).raise_for_status().json()
        return {
            "auto_learned_pattern": result["auto_learned_pattern"],
            "time": result["time"],
            "stm": _stm(http),
        }
    if kind == "learn":
        name = http.post("/learn").raise_for_status().json()["pattern_name"]
        return {"pattern_name": name, "stm": _stm(http)}
    if kind in ("clear_stm", "clear_all"):
        path = "/clear-stm" if kind == "clear_stm" else "/clear-all"
        return {"message": http.post(path).raise_for_status().json()["message"]}
    if kind == "set_genes":
        answer = http.post("/genes/update", json={"genes": op["genes"]}).raise_for_status()
        return {"message": answer.json()["message"]}
    if kind == "predictions":
        return {"predictions": http.get("/predictions").raise_for_status().json()["predictions"]}
    if kind == "pattern":
        answer = http.get(f"/pattern/{quote(op['name'], safe='')}")
        return None if answer.status_code == 404 else answer.raise_for_status().json()["pattern"]
    raise ValueError(f"unknown op {kind!r}")


def replay_case(http: httpx.Client, case: dict[str, Any]) -> list[Any]:
    reset(http)
    return [run_op(http, op) for op in case["ops"]]
