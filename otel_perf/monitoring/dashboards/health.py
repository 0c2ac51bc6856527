"""Render & API health (TRACK-008): render failures, API errors, slowness, latency."""

from __future__ import annotations

from otel_perf import metrics as M
from otel_perf.monitoring.dashboards.common import (
    BUCKET,
    COUNT,
    RATE,
    scoped,
    scoped_ratio,
    total,
    variables,
    with_links,
)
from otel_perf.monitoring.definition import MonitoringConfig
from otel_perf.monitoring.grafana import Dashboard, Panel, Query
from otel_perf.monitoring.promql import Eq, Re, number
from otel_perf.monitoring.rules import (
    RENDER_OPS,
    budget_remaining_record,
    error_ratio_record,
    pct,
)


def health_dashboard(config: MonitoringConfig) -> Dashboard:
    """TRACK-008: render failures, API errors, slow operations, latency."""
    consecutive = config.alerts.consecutive_api_errors.threshold
    renders = Re(RENDER_OPS)
    panels = (
        Panel(
            "timeseries",
            "Render failures by reason",
            "Failed renders per minute by "
            "classified reason (timeout, memory_exceeded, codec_error, ...).",
            "cpm",
            (
                Query(
                    f"sum by (reason) (rate({scoped(M.RENDER_FAILURES)}[{RATE}])) * 60",
                    legend="{{reason}}",
                ),
            ),
            width=12,
            height=8,
        ),
        Panel(
            "table",
            "Render failures by template",
            "Failed renders per template, type and "
            "reason in the time range (OtelPerfTemplateFailing fires above "
            f"{number(config.alerts.template_failing.threshold)} per "
            f"{config.alerts.template_failing.window}).",
            "short",
            (
                Query(
                    f"sort_desc({total(M.RENDER_FAILURES, ('template', 'render_type', 'reason'))}"
                    "\n> 0)",
                    table=True,
                ),
            ),
            width=12,
            height=8,
            transformations=(
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {"Time": True},
                        "renameByName": {"Value": "failures"},
                    },
                },
                {"id": "sortBy", "options": {"sort": [{"field": "failures", "desc": True}]}},
            ),
        ),
        Panel(
            "timeseries",
            "API errors by endpoint and status",
            "Failed API calls per minute "
            "by route template and HTTP status (empty status: no response).",
            "cpm",
            (
                Query(
                    f"sum by (endpoint, status_code) (rate({scoped(M.API_ERRORS)}[{RATE}])) * 60",
                    legend="{{endpoint}} {{status_code}}",
                ),
            ),
            width=12,
            height=8,
        ),
        Panel(
            "bargauge",
            "Consecutive API errors by endpoint",
            "Current streak of failed "
            "calls per route; a success resets it (OtelPerfConsecutiveApiErrors fires at "
            f"{number(consecutive)}).",
            "short",
            (
                Query(
                    f"max by (endpoint) ({scoped(M.API_CONSECUTIVE_ERRORS)})",
                    legend="{{endpoint}}",
                    instant=True,
                ),
            ),
            width=12,
            height=8,
            min=0,
            thresholds=(("green", None), ("orange", 1), ("red", consecutive)),
        ),
        Panel(
            "timeseries",
            "Slow operations by type",
            "Operations per minute that exceeded their slow threshold, by operation.",
            "cpm",
            (
                Query(
                    f"sum by (operation) (rate({scoped(M.SLOW_OPERATIONS)}[{RATE}])) * 60",
                    legend="{{operation}}",
                ),
            ),
            width=8,
            height=8,
        ),
        Panel(
            "timeseries",
            "Slowness factor",
            "Duration divided by threshold for slow "
            "operations: median and 95th percentile by operation.",
            "suffix:×",
            (
                Query(
                    f"histogram_quantile(0.5, sum by (le, operation) (rate("
                    f"{scoped(M.SLOWNESS_RATIO + '_bucket')}[{RATE}])))",
                    legend="{{operation}} p50",
                ),
                Query(
                    f"histogram_quantile(0.95, sum by (le, operation) (rate("
                    f"{scoped(M.SLOWNESS_RATIO + '_bucket')}[{RATE}])))",
                    legend="{{operation}} p95",
                ),
            ),
            width=8,
            height=8,
        ),
        Panel(
            "gauge",
            "Slow share of completed renders",
            "Slow renders / completed renders "
            "in the time range (OtelPerfSlowRenders fires above "
            f"{config.alerts.slow_renders.threshold:.0%} over "
            f"{config.alerts.slow_renders.window}).",
            "percentunit",
            (
                Query(
                    scoped_ratio(
                        M.SLOW_OPERATIONS,
                        COUNT,
                        {"operation": renders},
                        {"operation": renders, "status": Eq("success")},
                    ),
                    instant=True,
                ),
            ),
            width=8,
            height=8,
            min=0,
            max=1,
            thresholds=(("green", None), ("red", config.alerts.slow_renders.threshold)),
        ),
        Panel(
            "timeseries",
            "Latency percentiles",
            "50th, 95th and 99th percentile duration by "
            "operation; exemplars (dots) link to the trace in Tempo.",
            "s",
            tuple(
                Query(
                    f"histogram_quantile({q}, sum by (le, operation) (rate("
                    f"{scoped(BUCKET)}[{RATE}])))",
                    legend=f"{{{{operation}}}} p{p}",
                    exemplar=True,
                )
                for q, p in ((0.5, 50), (0.95, 95), (0.99, 99))
            ),
            width=16,
            height=9,
        ),
        Panel(
            "timeseries",
            "Operations in progress",
            "Operations started and not yet "
            "finished, by operation (OtelPerfOperationsStuck fires when they never finish).",
            "short",
            (
                Query(
                    f"sum by (operation) ({scoped(M.OPERATIONS_IN_PROGRESS)})",
                    legend="{{operation}}",
                ),
            ),
            width=8,
            height=9,
        ),
        Panel(
            "stat",
            f"Error budget left ({config.slo.period} SLO)",
            f"Share of the {pct(config.slo.target)} success SLO's error budget left over the "
            f"last {config.slo.period}, per service (from the hourly records; below 0: "
            "overspent). The burn-rate alerts page long before it runs out.",
            "percentunit",
            (
                Query(
                    f'{budget_remaining_record(config.slo.period)}{{job=~"$service"}}',
                    legend="{{job}}",
                    instant=True,
                ),
            ),
            width=8,
            height=8,
            max=1,
            thresholds=(("red", None), ("orange", 0), ("green", 0.25)),
        ),
        Panel(
            "timeseries",
            f"Success over the {config.slo.period} SLO period",
            f"Successful / all operations over the last {config.slo.period} per service, "
            f"against the {pct(config.slo.target)} target (from the hourly records).",
            "percentunit",
            (
                Query(
                    f'1 - {error_ratio_record(config.slo.period)}{{job=~"$service"}}',
                    legend="{{job}}",
                ),
                Query(f"vector({number(config.slo.target)})", legend="target"),
            ),
            width=16,
            height=8,
            min=0,
            max=1,
        ),
    )
    linked = with_links(config, panels, health=True)
    return Dashboard(
        uid=config.grafana.dashboards.health,
        title="otel-perf / Render & API health",
        description="TRACK-008: render failures, API errors, slow operations and latency.",
        panels=linked,
        variables=variables(),
        datasource_name=config.grafana.prometheus.name,
        datasource_uid=config.grafana.prometheus.uid,
    )
