"""End to end: real Prometheus and Alertmanager, rules from the generator, the demo as load.

Two stacks run side by side, each with its own Prometheus, Alertmanager and webhook
receiver, all rendered from ``e2e-monitoring.yaml`` (the shipped rules with short windows):
a failing demo run must page through Alertmanager, a healthy one must raise nothing. The
failing stack then answers every dashboard query, and both hold the ledger's totals.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from otel_perf import metrics as M
from otel_perf.monitoring import config_from_mapping
from otel_perf.monitoring.config import MonitoringConfig
from otel_perf.monitoring.dashboards import dashboards
from otel_perf.monitoring.grafana import render_dashboard
from otel_perf.monitoring.prometheus import (
    ScrapeJob,
    alertmanager_config,
    prometheus_config,
    rule_files,
)
from otel_perf.monitoring.rules import operations_record
from otel_perf.monitoring.serialize import to_yaml
from tests.conftest import require_tool
from tests.support.servers import (
    Alertmanager,
    DemoProcess,
    Prometheus,
    WebhookReceiver,
    free_port,
    wait_until,
)

pytestmark = [pytest.mark.prometheus, pytest.mark.alertmanager]

JOB = "otel-perf-demo"
FAILING_ARGS = ("--profile", "failing", "--seed", "42", "--count", "300", "--speed", "100",
                "--projects", "alpha,beta", "--hold", "300")  # fmt: skip
HEALTHY_ARGS = ("--profile", "healthy", "--seed", "7", "--count", "60", "--speed", "20",
                "--projects", "h1,h2,h3", "--hold", "300")  # fmt: skip
# What the failing workload must page for (OtelPerfUnpricedOperations is added when the
# ledger shows unpriced generations; OtelPerfTelemetryAbsent comes when the demo stops).
FAILING_ALERTS = {
    "OtelPerfHighErrorRate",
    "OtelPerfApiDegradation",
    "OtelPerfSlowRenders",
    "OtelPerfTemplateFailing",
    "OtelPerfConsecutiveApiErrors",
    "OtelPerfSuccessRateLow",
    "OtelPerfProjectCostHigh",
    "OtelPerfErrorBudgetBurn",
}


def e2e_config(webhook_url: str) -> MonitoringConfig:
    """The short-window test config, every severity routed to ``webhook_url``."""
    data = yaml.safe_load((Path(__file__).parent / "e2e-monitoring.yaml").read_text())
    data["prometheus"]["service_job"] = JOB
    for severity in ("critical", "warning", "info"):
        data["alertmanager"][f"{severity}_webhooks"] = [f"{webhook_url}/{severity}"]
    return config_from_mapping(data)


@dataclass
class Stack:
    """One Prometheus + Alertmanager + webhook receiver scraping one demo process."""

    config: MonitoringConfig
    webhook: WebhookReceiver
    alertmanager: Alertmanager
    prometheus: Prometheus
    demo: DemoProcess
    ledger: dict[str, Any]

    def stop(self) -> None:
        for part in (self.prometheus, self.alertmanager, self.demo):
            part.stop()
        self.webhook.stop()


def start_stack(workdir: Path, demo_args: tuple[str, ...]) -> Stack:
    """Render rules and configs with the generator, start the servers, then the demo."""
    workdir.mkdir(parents=True)
    webhook = WebhookReceiver()
    config = e2e_config(webhook.url)
    (workdir / "rules").mkdir()
    for name, content in rule_files(config).items():
        (workdir / "rules" / name).write_text(to_yaml(content))
    (workdir / "alertmanager.yml").write_text(to_yaml(alertmanager_config(config)))
    alertmanager = Alertmanager(workdir / "alertmanager.yml", workdir)
    demo_port = free_port()
    (workdir / "prometheus.yml").write_text(
        to_yaml(
            prometheus_config(
                config,
                jobs=(ScrapeJob(JOB, (f"127.0.0.1:{demo_port}",)),),
                alertmanagers=(f"127.0.0.1:{alertmanager.port}",),
                rule_globs=(str(workdir / "rules" / "*.yml"),),
            )
        )
    )
    prometheus = Prometheus(workdir / "prometheus.yml", workdir)
    demo = DemoProcess(workdir, *demo_args, port=demo_port)
    return Stack(config, webhook, alertmanager, prometheus, demo, {})


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Stack]]:
    """The failing and the healthy stack, run concurrently; both demos finished."""
    require_tool("prometheus")
    require_tool("prometheus-alertmanager")
    root = tmp_path_factory.mktemp("ops-e2e")
    started: dict[str, Stack] = {}
    try:
        started["failing"] = start_stack(root / "failing", FAILING_ARGS)
        started["healthy"] = start_stack(root / "healthy", HEALTHY_ARGS)
        for stack in started.values():
            stack.ledger = stack.demo.wait_ledger(timeout=120)
            stack.prometheus.wait_for_scrape_after(time.time())
        yield started
    finally:
        for stack in started.values():
            stack.stop()


def _delivered(stack: Stack) -> list[dict[str, Any]]:
    """Every alert of every notification, with the receiver it was routed to."""
    return [
        {**alert, "receiver": note["receiver"]}
        for note in list(stack.webhook.notifications)
        for alert in note.get("alerts", [])
    ]


def test_failing_run_pages_the_expected_alerts_through_alertmanager(stacks):
    """Each expected alert reaches the webhook, routed by severity, fully annotated."""
    stack = stacks["failing"]
    expected = set(FAILING_ALERTS)
    if stack.ledger["expected"].get(M.UNPRICED_OPERATIONS):
        expected.add("OtelPerfUnpricedOperations")
    costs: dict[str, float] = {}
    for sample in stack.ledger["expected"][M.COST_USD]:
        project = sample["labels"]["project"]
        costs[project] = costs.get(project, 0.0) + sample["value"]
    assert max(costs.values()) > stack.config.cost.budget_usd  # the workload is over budget
    over_budget = {p for p, usd in costs.items() if usd > stack.config.cost.budget_usd}

    def paged_projects() -> set[str]:
        return {a["labels"]["project"] for a in _delivered(stack)
                if a["labels"]["alertname"] == "OtelPerfProjectCostHigh"}  # fmt: skip

    wait_until(lambda: expected <= stack.webhook.alert_names()
               and paged_projects() == over_budget, 60,
               what=f"alerts {sorted(expected)} and cost alerts for {sorted(over_budget)}")  # fmt: skip
    assert stack.webhook.alert_names() == expected
    for alert in _delivered(stack):
        severity = alert["labels"]["severity"]
        assert alert["receiver"] == f"otel-perf-{severity}"
        annotations = alert["annotations"]
        assert annotations["runbook_url"].startswith("docs/runbooks.md#otelperf")
        assert annotations["summary"] and "{{" not in annotations["description"]
        if alert["labels"]["alertname"] != "OtelPerfProjectCostHigh":
            assert alert["labels"]["job"] == JOB


def test_healthy_run_raises_no_alert(stacks):
    """While the rules saw traffic well above the low-traffic guard, no alert was ever even
    pending (Prometheus's ALERTS series keeps every pending or firing moment)."""
    stack = stacks["healthy"]
    assert stack.ledger["summary"]["failed"] == 0
    assert stack.ledger["summary"]["operations"] == 60
    seen = stack.prometheus.value(f"max_over_time({operations_record('30s')}[10m])")
    assert seen is not None and seen >= stack.config.slo.min_operations
    for project_usd in _costs_by_project(stack).values():
        assert 0 < project_usd < stack.config.cost.budget_usd
    time.sleep(3)  # a few more evaluations, and Alertmanager's group wait
    assert stack.prometheus.query("max_over_time(ALERTS[10m])") == []
    assert stack.prometheus.alerts() == []
    assert stack.webhook.notifications == []


def _costs_by_project(stack: Stack) -> dict[str, float]:
    costs: dict[str, float] = {}
    for sample in stack.ledger["expected"].get(M.COST_USD, []):
        project = sample["labels"]["project"]
        costs[project] = costs.get(project, 0.0) + sample["value"]
    return costs


@pytest.mark.parametrize("run", ["failing", "healthy"])
def test_prometheus_totals_match_the_demo_ledger(stacks, run: str):
    """Every counter and histogram count/sum Prometheus holds equals the ledger, no extras."""
    stack = stacks[run]
    compared = 0
    for name, samples in stack.ledger["expected"].items():
        got = {
            frozenset((k, v) for k, v in r["metric"].items()
                      if k not in ("__name__", "job", "instance")): float(r["value"][1])
            for r in stack.prometheus.query(name)
        }  # fmt: skip
        # Prometheus stores no empty labels: model="" on a render is simply absent.
        want = {frozenset((k, v) for k, v in s["labels"].items() if v): s["value"]
                for s in samples}  # fmt: skip
        assert set(got) == set(want), name
        for labels, value in want.items():
            assert got[labels] == pytest.approx(value, rel=1e-9, abs=1e-12), (name, labels)
            compared += 1
    assert compared >= 40


def _substitute(expr: str, config: MonitoringConfig) -> str:
    """Grafana's variables as a dashboard with everything selected would send them."""
    for variable, value in {
        "$__rate_interval": "5m",
        "$__range": "10m",
        "$service": JOB,
        "$project": ".*",
        "$operation": ".*",
        "$model": ".*",
    }.items():
        expr = expr.replace(variable, value)
    assert "$__" not in expr and not re.search(r"\$[a-z]", expr), expr
    return expr


def _targets(config: MonitoringConfig) -> list[tuple[str, str, str]]:
    return [
        (dashboard["uid"], panel["title"], target["expr"])
        for dashboard in (render_dashboard(d) for d in dashboards(config))
        for panel in dashboard["panels"]
        for target in panel["targets"]
    ]


def test_every_dashboard_query_returns_data(stacks):
    """Each panel query of every dashboard, variables substituted, returns finite values."""
    stack = stacks["failing"]
    targets = _targets(stack.config)
    empty = []
    for uid, title, expr in targets:
        result = stack.prometheus.query(_substitute(expr, stack.config))
        values = [float(r["value"][1]) for r in result]
        if not any(math.isfinite(v) for v in values):
            empty.append(f"{uid} / {title}: {expr}")
    assert empty == []
    assert len(targets) >= 35


def test_dashboard_variables_offer_the_demo_values(stacks):
    """service, project, operation and model list what the demo produced."""
    stack = stacks["failing"]
    dashboard = render_dashboard(dashboards(stack.config)[0])
    offered: dict[str, set[str]] = {}
    for variable in dashboard["templating"]["list"][1:]:
        match = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["definition"])
        assert match is not None
        selector = _substitute(match.group(1), stack.config)
        series = stack.prometheus.api("series", **{"match[]": selector})
        offered[variable["name"]] = {s.get(match.group(2), "") for s in series}
    assert offered["service"] == {JOB}
    assert offered["project"] == {"alpha", "beta"}
    assert {"generate_image", "render_video", "api_call"} <= offered["operation"]
    assert {"flux", "imagen", "veo"} <= offered["model"]


def test_latency_exemplars_carry_trace_ids(stacks):
    """The duration histogram's exemplars reached Prometheus with 32-hex-digit trace ids."""
    stack = stacks["failing"]
    now = time.time()
    data = stack.prometheus.api("query_exemplars", query=M.OPERATION_DURATION + "_bucket",
                                start=now - 600, end=now)  # fmt: skip
    trace_ids = {e["labels"]["trace_id"] for series in data for e in series["exemplars"]}
    assert len(trace_ids) >= 10
    assert all(re.fullmatch(r"[0-9a-f]{32}", t) for t in trace_ids)


def test_stopped_service_raises_telemetry_absent(stacks):
    """When the demo stops being scrapeable, OtelPerfTelemetryAbsent reaches the webhook."""
    stack = stacks["failing"]
    stack.demo.stop()
    wait_until(lambda: "OtelPerfTelemetryAbsent" in stack.webhook.alert_names(), 30,
               what="OtelPerfTelemetryAbsent")  # fmt: skip
    absent = [a for a in _delivered(stack)
              if a["labels"]["alertname"] == "OtelPerfTelemetryAbsent"]  # fmt: skip
    assert absent[0]["labels"]["instance"] == f"127.0.0.1:{stack.demo.port}"
    assert absent[0]["receiver"] == "otel-perf-warning"
