"""A real Prometheus on loopback for the monitoring tests, and the queries to ask it.

`PrometheusProcess` runs Debian's `prometheus` binary (scripts/ensure-prometheus.sh) on a free
port with its config and TSDB in a temporary directory: never the package's system service.
`dashboard_queries` and `rule_expressions` read deploy/grafana/kato.json and
deploy/prometheus/rules.yml, Grafana's template variables substituted as Grafana would with
"All" selected.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from kato.web.launcher import ServerProcess

__all__ = [
    "DASHBOARD",
    "EXAMPLE_CONFIG",
    "RULES",
    "RULES_TEST",
    "PrometheusProcess",
    "Query",
    "dashboard_queries",
    "require",
    "rule_expressions",
    "series_names",
]

ROOT = Path(__file__).resolve().parents[3]
DASHBOARD = ROOT / "deploy" / "grafana" / "kato.json"
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
RULES_TEST = ROOT / "deploy" / "prometheus" / "rules_test.yml"
EXAMPLE_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"

#: Grafana's interval variables, as a short dashboard range would set them.
_BUILTINS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "5m"}
#: A multi-value variable with "All" selected inside a regex matcher (allValue ".*").
_ALL = re.compile(r'=~"\$\{?\w+\}?"')
#: Our series names (no label is called kato_…) and Prometheus's `up`.
_SERIES_NAME = re.compile(r"\b(kato[_:][a-z0-9_:]+|up(?=\{))")
_LABEL_VALUES = re.compile(r"label_values\((?P<selector>.+),\s*(?P<label>\w+)\)")


def require(binary: str) -> str:
    """The binary's path, or skip saying how to install it."""
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"no {binary}: run scripts/ensure-prometheus.sh (make integration does)")
    return path


@dataclass(frozen=True)
class Query:
    """One PromQL expression (`label` is set for a `label_values` template query)."""

    where: str
    expr: str
    label: str | None = None


def substitute(expr: str) -> str:
    for name, value in _BUILTINS.items():
        expr = expr.replace(name, value)
    expr = _ALL.sub('=~".*"', expr)
    assert "$" not in expr, f"a template variable the test does not know: {expr}"
    return expr


def dashboard_queries(path: Path = DASHBOARD) -> list[Query]:
    """Every panel target and every template variable query of the dashboard."""
    dashboard = json.loads(path.read_text())
    queries = [
        Query(f"panel {panel['title']!r} {target['refId']}", substitute(target["expr"]))
        for panel in _panels(dashboard["panels"])
        for target in panel.get("targets", [])
    ]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        match = _LABEL_VALUES.fullmatch(variable["query"]["query"])
        assert match, f"variable {variable['name']}: not a label_values query"
        queries.append(
            Query(
                f"variable {variable['name']}",
                substitute(match["selector"]),
                match["label"],
            )
        )
    return queries


def rule_expressions(path: Path = RULES) -> list[Query]:
    """Every recording rule's expression, and the series it records."""
    groups = yaml.safe_load(path.read_text())["groups"]
    queries: list[Query] = []
    for group in groups:
        for rule in group["rules"]:
            if "record" in rule:
                queries.append(Query(f"rule {rule['record']}", rule["expr"]))
                queries.append(Query(f"recorded {rule['record']}", rule["record"]))
    return queries


def series_names(path: Path = RULES, dashboard: Path = DASHBOARD) -> list[Query]:
    """One query per series name any rule (alerts too) or dashboard query reads: each must
    exist, so no alert watches a metric the manager does not export."""
    groups = yaml.safe_load(path.read_text())["groups"]
    exprs = [rule["expr"] for group in groups for rule in group["rules"]]
    exprs += [query.expr for query in dashboard_queries(dashboard)]
    names = sorted({name for expr in exprs for name in _SERIES_NAME.findall(expr)})
    return [Query(f"series {name}", f'count({{__name__="{name}"}})') for name in names]


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


class PrometheusProcess(ServerProcess):
    """`prometheus` on `127.0.0.1:<free port>`, config and TSDB under `directory`."""

    name = "prometheus"
    ready_path = "/-/ready"

    def __init__(self, binary: str, directory: Path, config: dict[str, Any]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        config_path = directory / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(config))
        super().__init__([binary], {}, directory / "prometheus.log")
        self.command += [
            f"--config.file={config_path}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]

    def answers(self, query: Query) -> bool:
        """True when `query` returns at least one series (or label value) now."""
        if query.label is None:
            url, params = "/api/v1/query", {"query": query.expr}
        else:
            url, params = f"/api/v1/label/{query.label}/values", {"match[]": query.expr}
        answer = httpx.get(f"{self.url}{url}", params=params, timeout=10)
        body = answer.json()
        assert answer.status_code == 200 and body["status"] == "success", (query, body)
        data = body["data"]
        return bool(data["result"] if query.label is None else data)

    def rules(self) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.url}/api/v1/rules", timeout=10)
        answer.raise_for_status()
        return [rule for group in answer.json()["data"]["groups"] for rule in group["rules"]]
