"""The `flavour` fixture of the client unit tests: each test that takes it runs on both halves."""

from tests.unit.kato.client.support import flavour  # noqa: F401  (fixture)
