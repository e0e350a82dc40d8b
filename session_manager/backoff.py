"""Exponential back-off, one formula (`delay`): the reaper's per-session `Backoff` and the
webhook worker's retries both use it.

A session whose `GET /state` fails (a paused or wedged container, a state the processor
cannot serialise) is retried after `base`, then 2x, 4x, ... up to `cap` seconds, so it never
costs the reaper more than one bounded attempt per back-off period and never blocks others.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Backoff", "delay"]


def delay(attempts: int, base: float, cap: float) -> float:
    """Wait after failure number `attempts` (1, 2, …): base, 2·base, 4·base, … capped at `cap`
    (the exponent is clamped, so no count overflows a float)."""
    return float(min(cap, base * 2 ** min(max(attempts, 1) - 1, 62)))


@dataclass
class _Failures:
    count: int
    retry_at: float


class Backoff:
    """Per-key back-off: how long the reaper leaves a session alone after a failure."""

    def __init__(self, base: float, cap: float) -> None:
        self.base = base
        self.cap = cap
        self._failures: dict[str, _Failures] = {}

    def ready(self, key: str, now: float) -> bool:
        """True unless `key` failed and its back-off period has not passed yet."""
        failures = self._failures.get(key)
        return failures is None or now >= failures.retry_at

    def failed(self, key: str, now: float) -> int:
        """Count one more failure of `key`; returns how many in a row."""
        count = self._failures[key].count + 1 if key in self._failures else 1
        self._failures[key] = _Failures(count, now + delay(count, self.base, self.cap))
        return count

    def clear(self, key: str) -> None:
        self._failures.pop(key, None)
