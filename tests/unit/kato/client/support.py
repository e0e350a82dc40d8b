"""Helpers of the client unit tests (a unique module name: `conftest` is ambiguous)."""

from __future__ import annotations

TOKEN = "processor-token"
