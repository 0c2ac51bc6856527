"""Render every ops file from one config; write them, or report drift from what is on disk.

>>> from otel_perf.monitoring.definition import MonitoringConfig
>>> files = render_all(MonitoringConfig())
>>> "prometheus/rules/otel-perf-alerts.yml" in files
True
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from otel_perf.monitoring import collector as C
from otel_perf.monitoring import compose as K
from otel_perf.monitoring import provisioning as G
from otel_perf.monitoring.dashboards import dashboards
from otel_perf.monitoring.definition import MonitoringConfig
from otel_perf.monitoring.grafana import render_dashboard
from otel_perf.monitoring.prometheus_files import (
    ScrapeJob,
    alertmanager_config,
    prometheus_config,
    rule_files,
)
from otel_perf.monitoring.rules import all_alerts
from otel_perf.monitoring.serialize import to_json, to_yaml
from otel_perf.reference_tables import REFERENCE_PATH, render_reference

RULES_DIR: Final = "prometheus/rules"


def stack_jobs(config: MonitoringConfig) -> tuple[ScrapeJob, ...]:
    """What the compose stack's Prometheus scrapes (service names as hosts)."""
    return (
        ScrapeJob(config.prometheus.service_job, (f"demo:{K.DEMO_PORT}",)),
        ScrapeJob("otel-collector", (f"otel-collector:{C.SELF_METRICS_PORT}",)),
        # honor_labels keeps the job/instance the Collector derives from service.name.
        ScrapeJob("otel-collector-spanmetrics", (f"otel-collector:{C.SPANMETRICS_PORT}",), True),
        ScrapeJob("prometheus", (f"localhost:{K.PROMETHEUS_PORT}",)),
        ScrapeJob("alertmanager", (f"alertmanager:{K.ALERTMANAGER_PORT}",)),
        ScrapeJob("tempo", (f"tempo:{C.TEMPO_HTTP_PORT}",)),
        ScrapeJob("grafana", (f"grafana:{K.GRAFANA_PORT}",)),
    )


def render_all(config: MonitoringConfig) -> dict[str, str]:
    """Relative path -> file content, for every generated file."""
    files: dict[str, str] = {}
    for name, content in rule_files(config).items():
        files[f"{RULES_DIR}/{name}"] = to_yaml(content)
    files["prometheus/prometheus.yml"] = to_yaml(
        prometheus_config(
            config,
            jobs=stack_jobs(config),
            alertmanagers=(f"alertmanager:{K.ALERTMANAGER_PORT}",),
            rule_globs=("/etc/prometheus/rules/*.yml",),
        )
    )
    files["alertmanager/alertmanager.yml"] = to_yaml(alertmanager_config(config))
    files["grafana/provisioning/datasources/otel-perf.yaml"] = to_yaml(
        G.datasources(
            config,
            prometheus_url=f"http://prometheus:{K.PROMETHEUS_PORT}",
            tempo_url=f"http://tempo:{C.TEMPO_HTTP_PORT}",
        )
    )
    files["grafana/provisioning/dashboards/otel-perf.yaml"] = to_yaml(G.dashboard_provider(config))
    files["grafana/provisioning/alerting/otel-perf-rules.yaml"] = to_yaml(G.alert_rules(config))
    files["grafana/provisioning/alerting/otel-perf-notifications.yaml"] = to_yaml(
        G.notification_routing(
            config, alertmanager_url=f"http://alertmanager:{K.ALERTMANAGER_PORT}"
        )
    )
    for dashboard in dashboards(config):
        files[f"grafana/dashboards/{dashboard.uid}.json"] = to_json(render_dashboard(dashboard))
    files["collector-config/otelcol.yaml"] = to_yaml(
        C.collector_config(
            tempo_endpoint=f"tempo:{C.TEMPO_OTLP_GRPC_PORT}",
            memory_limit_mib=config.stack.collector_memory_limit_mib,
        )
    )
    files["tempo/tempo.yaml"] = to_yaml(C.tempo_config(retention=config.prometheus.retention))
    files["docker-compose.yml"] = to_yaml(K.compose(config))
    files[REFERENCE_PATH] = render_reference(all_alerts(config))
    return files


def write_files(files: dict[str, str], out: Path) -> list[str]:
    """Write ``files`` under ``out``; returns the paths whose content changed."""
    changed = []
    for relative, content in files.items():
        path = out / relative
        if path.exists() and path.read_text() == content:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        changed.append(relative)
    return changed


def drift(files: dict[str, str], out: Path) -> list[str]:
    """Paths under ``out`` that are missing or differ from ``files``."""
    return [
        relative
        for relative, content in files.items()
        if not (out / relative).exists() or (out / relative).read_text() != content
    ]
