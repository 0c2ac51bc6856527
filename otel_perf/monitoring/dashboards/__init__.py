"""The three dashboards: Cost & efficiency, Render & API health, Project comparison."""

from __future__ import annotations

from otel_perf.monitoring.dashboards.cost import cost_dashboard
from otel_perf.monitoring.dashboards.health import health_dashboard
from otel_perf.monitoring.dashboards.projects import projects_dashboard
from otel_perf.monitoring.definition import MonitoringConfig
from otel_perf.monitoring.grafana import Dashboard

__all__ = ["cost_dashboard", "dashboards", "health_dashboard", "projects_dashboard"]


def dashboards(config: MonitoringConfig) -> tuple[Dashboard, ...]:
    """All dashboards, in the order they are listed."""
    return (cost_dashboard(config), health_dashboard(config), projects_dashboard(config))
