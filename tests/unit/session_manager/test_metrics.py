"""The manager's own gauges: `kato_engine_up` (a bounded ping per scrape) and
`kato_max_sessions`; the alerts in deploy/prometheus/rules.yml are built on them."""

from __future__ import annotations

import threading
from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from container_manager import EngineUnavailableError, FakeBackend
from session_manager.metrics import ManagerMetrics


def _value(text: str, name: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    raise AssertionError(f"{name} not in the exposition")


def _engine_up(ping: Callable[[], None], timeout: float = 5.0) -> ManagerMetrics:
    metrics = ManagerMetrics()
    metrics.watch_engine(ping, timeout)
    return metrics


def test_engine_up_when_the_ping_answers() -> None:
    assert _value(_engine_up(lambda: None).render().decode(), "kato_engine_up") == 1


def test_engine_down_when_the_ping_fails() -> None:
    def unreachable() -> None:
        raise EngineUnavailableError("cannot reach the Docker engine")

    assert _value(_engine_up(unreachable).render().decode(), "kato_engine_up") == 0


def test_a_hung_ping_is_down_after_the_timeout_and_is_not_started_twice() -> None:
    release = threading.Event()
    calls: list[int] = []

    def hung() -> None:
        calls.append(1)
        release.wait()

    metrics = _engine_up(hung, timeout=0.05)
    try:
        assert _value(metrics.render().decode(), "kato_engine_up") == 0
        assert _value(metrics.render().decode(), "kato_engine_up") == 0
        assert len(calls) == 1  # the second scrape waited on the first ping
    finally:
        release.set()


def test_the_app_reports_engine_and_capacity(
    make_client: Callable[..., TestClient], fake: FakeBackend
) -> None:
    client = make_client(max_sessions=7)
    text = client.get("/metrics").text
    assert _value(text, "kato_max_sessions") == 7
    assert _value(text, "kato_engine_up") == 1

    def unreachable() -> None:
        raise EngineUnavailableError("cannot reach the Docker engine")

    fake.ping = unreachable  # type: ignore[method-assign]
    assert _value(client.get("/metrics").text, "kato_engine_up") == 0


def test_known_label_values_are_exported_at_zero_from_the_start(client: TestClient) -> None:
    text = client.get("/metrics").text
    for line in (
        'kato_spawns_total{outcome="error",reason="wake"} 0.0',
        'kato_reap_failures_total{kind="hibernation"} 0.0',
        'kato_reaps_total{kind="expiry"} 0.0',
        'kato_pool_claims_total{result="miss"} 0.0',
        'kato_webhook_deliveries_total{outcome="dropped"} 0.0',
        'kato_admission_wait_seconds_count{outcome="refused"} 0.0',
    ):
        assert line in text
