"""Grafana provisioning files: datasources, the dashboards provider, and alerting.

Grafana alert rules are converted from the same :class:`~otel_perf.monitoring.rules.AlertRule`
objects as the Prometheus rules, the way Grafana itself imports Prometheus rules: query A is
the PromQL expression, B is true for every series A returns, C is the condition ``B > 0``.
Which path pages is one config key (``grafana.alerting``): the other path's rules are
paused (Grafana) or never sent (Prometheus has no Alertmanager then), so one condition
never pages twice.
"""

from __future__ import annotations

import re
from typing import Any, Final

from otel_perf.monitoring.definition import MonitoringConfig
from otel_perf.monitoring.durations import seconds
from otel_perf.monitoring.rules import AlertRule, alerting_rules

DASHBOARDS_PATH: Final = "/etc/grafana/dashboards/otel-perf"
EXPRESSION_UID: Final = "__expr__"
_VALUE: Final = re.compile(r"\$value\b")


def datasources(config: MonitoringConfig, *, prometheus_url: str, tempo_url: str) -> dict[str, Any]:
    """Prometheus (exemplars link to Tempo by ``trace_id``) and Tempo (links back)."""
    g = config.grafana
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": g.prometheus.name,
                "uid": g.prometheus.uid,
                "type": "prometheus",
                "access": "proxy",
                "url": prometheus_url,
                "isDefault": True,
                "editable": False,
                "jsonData": {
                    "httpMethod": "POST",
                    "timeInterval": config.prometheus.scrape_interval,
                    "exemplarTraceIdDestinations": [
                        {"name": "trace_id", "datasourceUid": g.tempo.uid}
                    ],
                },
            },
            {
                "name": g.tempo.name,
                "uid": g.tempo.uid,
                "type": "tempo",
                "access": "proxy",
                "url": tempo_url,
                "editable": False,
                "jsonData": {
                    "tracesToMetrics": {"datasourceUid": g.prometheus.uid},
                    "serviceMap": {"datasourceUid": g.prometheus.uid},
                    "nodeGraph": {"enabled": True},
                },
            },
        ],
    }


def dashboard_provider(config: MonitoringConfig) -> dict[str, Any]:
    """The file provider that loads ``grafana/dashboards/*.json`` into one folder."""
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "otel-perf",
                "orgId": 1,
                "folder": config.grafana.folder,
                "folderUid": config.grafana.folder,
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 30,
                "options": {"path": DASHBOARDS_PATH, "foldersFromFilesStructure": False},
            }
        ],
    }


def grafana_annotation(text: str) -> str:
    """A Prometheus annotation template in Grafana's dialect (``$value`` is per query)."""
    return _VALUE.sub("$values.A.Value", text)


def _grafana_rule(config: MonitoringConfig, rule: AlertRule, paused: bool) -> dict[str, Any]:
    expression = {"type": "__expr__", "uid": EXPRESSION_UID}
    lookback = int(max(600, seconds(config.prometheus.evaluation_interval) * 10))
    return {
        "uid": rule.uid,
        "title": rule.name,
        "condition": "C",
        "data": [
            {
                "refId": "A",
                "datasourceUid": config.grafana.prometheus.uid,
                "relativeTimeRange": {"from": lookback, "to": 0},
                "model": {"refId": "A", "expr": rule.expr, "instant": True, "range": False},
            },
            {
                "refId": "B",
                "datasourceUid": EXPRESSION_UID,
                "relativeTimeRange": {"from": 0, "to": 0},
                "model": {
                    "refId": "B",
                    "type": "math",
                    "datasource": expression,
                    "expression": "is_number($A) || is_nan($A) || is_inf($A)",
                },
            },
            {
                "refId": "C",
                "datasourceUid": EXPRESSION_UID,
                "relativeTimeRange": {"from": 0, "to": 0},
                "model": {
                    "refId": "C",
                    "type": "threshold",
                    "datasource": expression,
                    "expression": "B",
                    "conditions": [{"evaluator": {"type": "gt", "params": [0]}}],
                },
            },
        ],
        "noDataState": "OK",
        "execErrState": "Error",
        "for": rule.for_,
        "isPaused": paused,
        "labels": rule.all_labels,
        "annotations": {
            "summary": grafana_annotation(rule.summary),
            "description": grafana_annotation(rule.description),
            "runbook_url": rule.runbook_url,
        },
    }


def alert_rules(config: MonitoringConfig) -> dict[str, Any]:
    """Grafana-managed copies of every alert, paused unless ``grafana.alerting: grafana``."""
    paused = config.grafana.alerting != "grafana"
    return {
        "apiVersion": 1,
        "groups": [
            {
                "orgId": 1,
                "name": group.name,
                "folder": config.grafana.alert_folder,
                "interval": config.prometheus.evaluation_interval,
                "rules": [
                    _grafana_rule(config, rule, paused)
                    for rule in group.rules
                    if isinstance(rule, AlertRule)
                ],
            }
            for group in alerting_rules(config)
        ],
    }


def notification_routing(config: MonitoringConfig, *, alertmanager_url: str) -> dict[str, Any]:
    """Grafana's notifications go to the stack's Alertmanager, which routes by severity."""
    return {
        "apiVersion": 1,
        "contactPoints": [
            {
                "orgId": 1,
                "name": "otel-perf-alertmanager",
                "receivers": [
                    {
                        "uid": "otel-perf-alertmanager",
                        "type": "prometheus-alertmanager",
                        "settings": {"url": alertmanager_url},
                        "disableResolveMessage": False,
                    }
                ],
            }
        ],
        "policies": [
            {
                "orgId": 1,
                "receiver": "otel-perf-alertmanager",
                "group_by": ["grafana_folder", "alertname"],
            }
        ],
    }
