"""Prometheus rule files, ``prometheus.yml`` and ``alertmanager.yml`` as data.

The scrape targets and Alertmanager addresses are parameters: the compose stack passes
service names, the end-to-end test passes ``127.0.0.1`` ports, and both get the same rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from otel_perf.monitoring.definition import MonitoringConfig
from otel_perf.monitoring.durations import seconds
from otel_perf.monitoring.rules import (
    SEVERITIES,
    TELEMETRY_ABSENT,
    WATCHDOG,
    WATCHDOG_SEVERITY,
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
    return {"groups": [_group(g) for g in groups]}


def _group(group: RuleGroup) -> dict[str, Any]:
    data: dict[str, Any] = {"name": group.name}
    if group.interval:
        data["interval"] = group.interval
    data["rules"] = [_rule(r) for r in group.rules]
    return data


def _rule(rule: AlertRule | RecordingRule) -> dict[str, Any]:
    if isinstance(rule, RecordingRule):
        return {"record": rule.record, "expr": rule.expr}
    data: dict[str, Any] = {"alert": rule.name, "expr": rule.expr, "for": rule.for_}
    if rule.keep_firing_for != "0s":
        data["keep_firing_for"] = rule.keep_firing_for
    return {
        **data,
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
    """The Alertmanager receiver of one severity (``none``: the Watchdog's)."""
    return "otel-perf-watchdog" if severity == WATCHDOG_SEVERITY else f"otel-perf-{severity}"


def inhibit_rules() -> list[dict[str, Any]]:
    """What a firing alert mutes, so one failure pages once:

    * for the same job and alert, critical mutes warning and info, warning mutes info (the
      burn-rate pairs); other alerts of the job still notify, each names its own action;
    * OtelPerfHighErrorRate mutes OtelPerfSuccessRateLow (the same failures, seen twice),
      and the per-project error-rate alert the same project's success-rate alert;
    * OtelPerfTelemetryAbsent mutes every other alert of that job: with no data, burn
      rates and ratios describe the past, not the outage.
    """
    return [
        {
            "source_matchers": ['severity="critical"'],
            "target_matchers": ['severity=~"warning|info"'],
            "equal": ["alertname", "job"],
        },
        {
            "source_matchers": ['severity="warning"'],
            "target_matchers": ['severity="info"'],
            "equal": ["alertname", "job"],
        },
        {
            "source_matchers": ['alertname="OtelPerfHighErrorRate"'],
            "target_matchers": ['alertname="OtelPerfSuccessRateLow"'],
            "equal": ["job"],
        },
        {
            "source_matchers": ['alertname="OtelPerfProjectHighErrorRate"'],
            "target_matchers": ['alertname="OtelPerfProjectSuccessRateLow"'],
            "equal": ["job", "project"],
        },
        {
            "source_matchers": [f'alertname="{TELEMETRY_ABSENT}"'],
            "target_matchers": [f'alertname!="{TELEMETRY_ABSENT}"', f'alertname!="{WATCHDOG}"'],
            "equal": ["job"],
        },
    ]


def alertmanager_config(config: MonitoringConfig) -> dict[str, Any]:
    """``alertmanager.yml``: one receiver per severity, the Watchdog's own, inhibitions.

    A receiver without webhooks is valid: its alerts are visible in the Alertmanager UI
    until you add your pager, chat or ticket integration (``alertmanager.*_webhooks``).
    """
    am = config.alertmanager
    webhooks = {
        "critical": am.critical_webhooks,
        "warning": am.warning_webhooks,
        "info": am.info_webhooks,
        WATCHDOG_SEVERITY: am.watchdog_webhooks,
    }
    receivers = []
    for severity, urls in webhooks.items():
        receiver: dict[str, Any] = {"name": receiver_name(severity)}
        if urls:
            receiver["webhook_configs"] = [{"url": url, "send_resolved": True} for url in urls]
        receivers.append(receiver)
    watchdog_route = {
        "matchers": [f'alertname="{WATCHDOG}"'],
        "receiver": receiver_name(WATCHDOG_SEVERITY),
        "group_wait": "0s",
        "group_interval": am.watchdog_repeat_interval,
        "repeat_interval": am.watchdog_repeat_interval,
    }
    return {
        "route": {
            "receiver": receiver_name("warning"),
            "group_by": ["alertname", "job", "severity"],
            "group_wait": am.group_wait,
            "group_interval": am.group_interval,
            "repeat_interval": am.repeat_interval,
            "routes": [
                watchdog_route,
                *(
                    {"matchers": [f'severity="{severity}"'], "receiver": receiver_name(severity)}
                    for severity in SEVERITIES
                ),
            ],
        },
        "inhibit_rules": inhibit_rules(),
        "receivers": receivers,
    }
