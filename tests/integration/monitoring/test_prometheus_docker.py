"""A real Prometheus, configured from deploy/prometheus/prometheus.yml, scrapes a real manager
(real engine, one session, some proxied requests): every query of the Grafana dashboard and
every recording rule returns data, every series name a rule or panel reads (alerts too) exists,
and every rule evaluates without error."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from kato.web.wait import WaitTimeout, wait_until
from session_manager.testing import ManagerProcess
from tests.integration.monitoring.prometheus import (
    EXAMPLE_CONFIG,
    RULES,
    PrometheusProcess,
    dashboard_queries,
    require,
    rule_expressions,
    series_names,
)

pytestmark = pytest.mark.docker

KEY = "monitoring-test-key"


def _config(manager: ManagerProcess, key_file: Path) -> dict[str, Any]:
    """The example config, pointed at `manager` with its key, scraping every second."""
    config: dict[str, Any] = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["rule_files"] = [str(RULES)]
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [f"127.0.0.1:{manager.port}"]}]
        job["scrape_timeout"] = "1s"
        job["authorization"] = {"credentials_file": str(key_file)}
    return config


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[[dict[str, Any]], PrometheusProcess]]:
    """Start Prometheus on a config; stopped at the end whatever happens."""
    binary = require("prometheus")
    started: list[PrometheusProcess] = []

    def start(config: dict[str, Any]) -> PrometheusProcess:
        process = PrometheusProcess(binary, tmp_path / "prometheus", config)
        started.append(process)
        return process.start(timeout=60)

    try:
        yield start
    finally:
        for process in started:
            process.stop()


def _traffic(manager: ManagerProcess) -> None:
    """One session and a few proxied requests, so every series the dashboard draws exists."""
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=manager.url, headers=headers, timeout=120) as client:
        created = client.post("/session/create", json={})
        assert created.status_code == 201, created.text
        session = created.json()["session_id"]
        for strings in (["a"], ["b"], ["c"]):
            answer = client.post(f"/session/{session}/observe", json={"strings": strings})
            assert answer.status_code == 200, answer.text
        assert client.get(f"/session/{session}/stm").status_code == 200


def test_every_dashboard_query_and_recording_rule_returns_data(
    start_manager: Callable[..., ManagerProcess],
    prometheus: Callable[[dict[str, Any]], PrometheusProcess],
    tmp_path: Path,
) -> None:
    manager = start_manager(KATO_API_KEY=KEY)
    _traffic(manager)
    key_file = tmp_path / "kato-api-key"
    key_file.write_text(KEY)
    server = prometheus(_config(manager, key_file))

    queries = dashboard_queries() + rule_expressions() + series_names()
    assert len(queries) > 80  # the files were read, not skipped
    missing = list(queries)

    def all_answer() -> bool:
        missing[:] = [query for query in missing if not server.answers(query)]
        return not missing

    try:
        wait_until("every query returns data", all_answer, timeout=120, interval=1)
    except WaitTimeout:
        pytest.fail("no data for:\n" + "\n".join(f"  {q.where}: {q.expr}" for q in missing))

    def every_rule_evaluated() -> list[dict[str, Any]] | None:
        rules = server.rules()
        never = "0001-01-01T00:00:00Z"  # Prometheus's "not yet"
        return rules if all(rule["lastEvaluation"] != never for rule in rules) else None

    rules = wait_until("every rule evaluated", every_rule_evaluated, timeout=60, interval=1)
    assert {rule["name"]: rule.get("lastError") for rule in rules if rule["health"] != "ok"} == {}
    groups = yaml.safe_load(RULES.read_text())["groups"]
    assert len(rules) == sum(len(group["rules"]) for group in groups)
