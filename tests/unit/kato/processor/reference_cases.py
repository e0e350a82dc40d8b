"""Loader and op-replay for the 75 recorded reference scenarios (spec Appendix B).

Reusable by any driver (in-process here; HTTP in the service tests): implement
:class:`CaseDriver` and call :func:`replay`, then compare with :func:`expected_results`.
Result shapes follow the file's ``conventions``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

CASES_FILE = Path("/work/shared/spec/kato_reference_cases.json")


class CaseDriver(Protocol):
    """One fresh processor with default genes, driven through some interface."""

    def observe(
        self, strings: list[str], vectors: list[list[float]], emotives: dict[str, float]
    ) -> str | None:
        """Observe; return ``auto_learned_pattern``."""

    def time(self) -> int: ...

    def stm(self) -> list[list[str]]: ...

    def learn(self) -> str: ...

    def clear_stm(self) -> None: ...

    def clear_all(self) -> None: ...

    def set_genes(self, genes: dict[str, Any]) -> None: ...

    def predictions(self) -> list[dict[str, Any]]:
        """Cached predictions, names prefixed ``PTRN|``."""

    def pattern(self, name: str) -> dict[str, Any] | None:
        """Pattern record as returned by GET /pattern, None if absent."""


def load_cases() -> list[dict[str, Any]]:
    """All cases of the reference file."""
    return list(json.loads(CASES_FILE.read_text())["cases"])


def expected_results(case: dict[str, Any], *, exhaustive: bool) -> list[Any]:
    """Expected per-op results; exhaustive mode uses ``expected_exhaustive`` when present."""
    if exhaustive and "expected_exhaustive" in case:
        return list(case["expected_exhaustive"])
    return list(case["expected"])


def replay(case: dict[str, Any], driver: CaseDriver) -> list[Any]:
    """Run every op of ``case`` and return results shaped like ``expected``."""
    results: list[Any] = []
    for op in case["ops"]:
        kind = op["op"]
        if kind == "observe":
            auto = driver.observe(
                op.get("strings", []), op.get("vectors", []), op.get("emotives", {})
            )
            results.append(
                {"auto_learned_pattern": auto, "time": driver.time(), "stm": driver.stm()}
            )
        elif kind == "learn":
            results.append({"pattern_name": driver.learn(), "stm": driver.stm()})
        elif kind == "clear_stm":
            driver.clear_stm()
            results.append({"message": "stm-cleared"})
        elif kind == "clear_all":
            driver.clear_all()
            results.append({"message": "all-cleared"})
        elif kind == "set_genes":
            driver.set_genes(op["genes"])
            results.append({"message": "genes-updated"})
        elif kind == "predictions":
            results.append({"predictions": driver.predictions()})
        elif kind == "pattern":
            results.append(driver.pattern(op["name"]))
        else:
            raise ValueError(f"unknown op {kind!r}")
    return results
