"""Fixtures every unit test tree may use."""

from tests.spans import spans  # noqa: F401  (fixture: tracing on, spans in memory)
