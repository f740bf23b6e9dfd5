"""The Grafana dashboard under ``docker/`` uses only metric names that exist: every PromQL
expression is read from the JSON, its metric names picked out, and each checked against what
the control plane's and the agent's registries really expose when scraped. The Prometheus
scrape config points at the ports the two sides serve them on."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest

from aios.agent.pipeline.metrics import PipelineMetrics
from aios.agent.sources.camera import StreamState
from aios.agent.sources.capture import StreamStatus
from aios.agent.telemetry.metrics_endpoint import AgentMetricsEndpoint
from aios.agent.transport.memory import MemoryTransport
from aios.controlplane.db import migrate
from aios.controlplane.db.engine import create_engine
from aios.controlplane.live.hub import LiveHub
from aios.controlplane.system.metrics import ControlPlaneMetrics
from aios.controlplane.telemetry.ingest import IngestService
from tests.controlplane.conftest import make_settings
from tests.deploy.manifests import DOCKER
from tests.prometheus_text import Scrape

DASHBOARDS = DOCKER / "grafana" / "dashboards"
PROMETHEUS = DOCKER / "prometheus" / "prometheus.yml"

# PromQL words that are not metric names: functions, aggregations, keywords.
PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
    "count_values", "group", "by", "without", "on", "ignoring", "group_left", "group_right",
    "and", "or", "unless", "bool", "offset", "rate", "irate", "increase", "delta", "idelta",
    "deriv", "histogram_quantile", "time", "vector", "scalar", "abs", "ceil", "floor", "round",
    "clamp", "clamp_min", "clamp_max", "absent", "changes", "resets", "label_replace",
    "label_join", "avg_over_time", "max_over_time", "min_over_time", "sum_over_time",
    "count_over_time", "last_over_time", "quantile_over_time", "sort", "sort_desc", "timestamp",
}  # fmt: skip
STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
MATCHERS = re.compile(r"\{[^}]*\}")
RANGE = re.compile(r"\[[^\]]*\]")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
NUMBER = re.compile(r"\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b")


def metric_names(expr: str) -> set[str]:
    """The metric names of a PromQL expression (label names and values, ranges, groupings,
    functions and keywords removed)."""
    rest = STRING.sub(" ", expr)
    rest = MATCHERS.sub(" ", rest)
    rest = RANGE.sub(" ", rest)
    rest = GROUPING.sub(" ", rest)
    rest = NUMBER.sub(" ", rest)
    return {name for name in IDENTIFIER.findall(rest) if name not in PROMQL_WORDS}


def expressions(node: Any) -> Iterator[str]:
    """Every ``expr`` (panel targets) and templating ``query`` in a dashboard, at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in {"expr", "query"} and isinstance(value, str):
                yield value
            else:
                yield from expressions(value)
    elif isinstance(node, list):
        for item in node:
            yield from expressions(item)


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("sum(rate(aios_a_total[5m]))", {"aios_a_total"}),
        ('max by (status) (aios_devices{status="online"})', {"aios_devices"}),
        (
            "histogram_quantile(0.95, sum by (le, route) (rate(aios_b_bucket[5m])))",
            {"aios_b_bucket"},
        ),
        ("time() - max(aios_c)", {"aios_c"}),
        ("sum(rate(x_sum[5m])) / sum(rate(x_count[5m]))", {"x_sum", "x_count"}),
        ('sum by (route) (rate(h{status=~"5.."}[5m]))', {"h"}),
    ],
)
def test_metric_names_of_an_expression(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


class FixedGpu:
    name = "fixed"

    def utilization(self) -> float | None:
        return 42.0

    def close(self) -> None:
        return None


async def controlplane_scrape(tmp_path: Path) -> Scrape:
    """A scrape of the control plane's registry with an ingest and a migrated database."""
    settings = make_settings(
        tmp_path, AIOS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'aios.db'}"
    )
    engine = create_engine(settings)
    try:
        await migrate.upgrade(engine)
        async with engine.begin() as conn:
            await conn.exec_driver_sql(
                "INSERT INTO organizations (id, name, created_at, updated_at) "
                "VALUES ('o1', 'o', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
            await conn.exec_driver_sql(
                "INSERT INTO devices (id, org_id, name, status, tags, created_at, updated_at) "
                "VALUES ('d1', 'o1', 'd', 'online', '[]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        ingest = IngestService(settings, engine)
        ingest.stats.last_commit_at = 1.8e9
        ingest.stats.dead_letters["not_json"] += 1
        metrics = ControlPlaneMetrics(engine, ingest, LiveHub(engine))
        metrics.observe_flush(10, 0.01)
        metrics.observe_request("GET", "/health", 200, 0.001)
        await metrics.refresh()
        return Scrape(metrics.render().decode())
    finally:
        await engine.dispose()


def agent_scrape() -> Scrape:
    metrics = PipelineMetrics()
    metrics.streams["cam1"] = lambda: StreamStatus("cam1", StreamState.STREAMING, 10.0, 0, None)
    endpoint = AgentMetricsEndpoint(MemoryTransport(), lambda: ("p", 3, metrics), FixedGpu())
    endpoint.observe_inference("cam1", 0.02, 0.03)
    return Scrape(generate_latest(endpoint.registry).decode())


def test_dashboards_use_only_metrics_that_exist(tmp_path: Path) -> None:
    exposed = asyncio.run(controlplane_scrape(tmp_path)).sample_names()
    exposed |= agent_scrape().sample_names()
    files = sorted(DASHBOARDS.glob("*.json"))
    assert files, f"no dashboard in {DASHBOARDS}"
    used: set[str] = set()
    for path in files:
        dashboard = json.loads(path.read_text())
        exprs = list(expressions(dashboard))
        assert len(exprs) >= 20, path
        for expr in exprs:
            names = metric_names(expr)
            assert names, f"{path.name}: no metric in {expr!r}"
            missing = names - exposed
            assert not missing, f"{path.name}: {expr!r} uses {sorted(missing)}"
            used |= names
    # both sides are on the dashboard
    assert any(n.startswith("aios_agent_") for n in used)
    assert any(n.startswith("aios_ingest_") for n in used)


def test_dashboard_datasource_is_the_provisioned_one() -> None:
    provisioned = yaml.safe_load(
        (DOCKER / "grafana" / "provisioning" / "datasources" / "prometheus.yaml").read_text()
    )
    uids = {d["uid"] for d in provisioned["datasources"]}
    for path in DASHBOARDS.glob("*.json"):
        text = path.read_text()
        found = set(re.findall(r'"uid":\s*"(aios-[^"]+)"', text)) - {"aios-overview"}
        assert found <= uids, (path.name, found)


def test_prometheus_scrapes_the_ports_the_two_sides_serve() -> None:
    config = yaml.safe_load(PROMETHEUS.read_text())
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    }
    agent_config = yaml.safe_load((DOCKER / "agent.yaml").read_text())
    agent_port = agent_config["metrics_listen"].rsplit(":", 1)[1]
    assert targets["aios-agent"] == [f"agent:{agent_port}"]
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    api_port = compose["services"]["controlplane"]["ports"][0].split(":")[-1]
    assert targets["aios-controlplane"] == [f"controlplane:{api_port}"]
