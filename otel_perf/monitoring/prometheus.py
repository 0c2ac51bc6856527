"""Prometheus rule files, ``prometheus.yml`` and ``alertmanager.yml`` as data.

The scrape targets and Alertmanager addresses are parameters: the compose stack passes
service names, the end-to-end test passes ``127.0.0.1`` ports, and both get the same rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from otel_perf.monitoring.config import MonitoringConfig
from otel_perf.monitoring.durations import seconds
from otel_perf.monitoring.rules import (
    SEVERITIES,
    AlertRule,
    RecordingRule,
    RuleGroup,
    alerting_rules,
    recording_rules,
)


@dataclass(frozen=True)
class ScrapeJob:
    """One scrape job of ``prometheus.yml``."""

    name: str
    targets: tuple[str, ...]
    honor_labels: bool = False


def rule_file(groups: Sequence[RuleGroup]) -> dict[str, Any]:
    """A Prometheus rule file (``groups:``) from rule groups."""
    return {"groups": [{"name": g.name, "rules": [_rule(r) for r in g.rules]} for g in groups]}


def _rule(rule: AlertRule | RecordingRule) -> dict[str, Any]:
    if isinstance(rule, RecordingRule):
        return {"record": rule.record, "expr": rule.expr}
    return {
        "alert": rule.name,
        "expr": rule.expr,
        "for": rule.for_,
        "labels": rule.all_labels,
        "annotations": {
            "summary": rule.summary,
            "description": rule.description,
            "runbook_url": rule.runbook_url,
        },
    }


def rule_files(config: MonitoringConfig) -> dict[str, dict[str, Any]]:
    """File name (under ``prometheus/rules/``) to content."""
    return {
        "otel-perf-recording.yml": rule_file(recording_rules(config)),
        "otel-perf-alerts.yml": rule_file(alerting_rules(config)),
    }


def prometheus_config(
    config: MonitoringConfig,
    *,
    jobs: Sequence[ScrapeJob],
    alertmanagers: Sequence[str],
    rule_globs: Sequence[str],
) -> dict[str, Any]:
    """``prometheus.yml``. Alertmanagers are left out when Grafana is the alerting path."""
    p = config.prometheus
    # The timeout may not exceed the interval (Prometheus refuses the config otherwise).
    timeout = p.scrape_interval if seconds(p.scrape_interval) < 10 else "10s"
    data: dict[str, Any] = {
        "global": {
            "scrape_interval": p.scrape_interval,
            "scrape_timeout": timeout,
            "evaluation_interval": p.evaluation_interval,
        },
        "rule_files": list(rule_globs),
    }
    if config.grafana.alerting == "prometheus" and alertmanagers:
        data["alerting"] = {
            "alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]
        }
    data["scrape_configs"] = [_job(job) for job in jobs]
    return data


def _job(job: ScrapeJob) -> dict[str, Any]:
    data: dict[str, Any] = {"job_name": job.name}
    if job.honor_labels:
        data["honor_labels"] = True
    data["static_configs"] = [{"targets": list(job.targets)}]
    return data


def receiver_name(severity: str) -> str:
    """The Alertmanager receiver of one severity."""
    return f"otel-perf-{severity}"


def alertmanager_config(config: MonitoringConfig) -> dict[str, Any]:
    """``alertmanager.yml``: one receiver per severity, critical inhibits the rest.

    A receiver without webhooks is valid: its alerts are visible in the Alertmanager UI
    until you add your pager, chat or ticket integration (``alertmanager.*_webhooks``).
    """
    am = config.alertmanager
    webhooks = {
        "critical": am.critical_webhooks,
        "warning": am.warning_webhooks,
        "info": am.info_webhooks,
    }
    receivers = []
    for severity in SEVERITIES:
        receiver: dict[str, Any] = {"name": receiver_name(severity)}
        if webhooks[severity]:
            receiver["webhook_configs"] = [
                {"url": url, "send_resolved": True} for url in webhooks[severity]
            ]
        receivers.append(receiver)
    return {
        "route": {
            "receiver": receiver_name("warning"),
            "group_by": ["alertname", "job", "severity"],
            "group_wait": am.group_wait,
            "group_interval": am.group_interval,
            "repeat_interval": am.repeat_interval,
            "routes": [
                {"matchers": [f'severity="{severity}"'], "receiver": receiver_name(severity)}
                for severity in SEVERITIES
            ],
        },
        "inhibit_rules": [
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity=~"warning|info"'],
                "equal": ["alertname", "job"],
            }
        ],
        "receivers": receivers,
    }
