"""Project comparison (Story 6.2 AC5): one sortable row per project."""

from __future__ import annotations

from otel_perf import metrics as M
from otel_perf.monitoring.dashboards.common import (
    COUNT,
    RATE,
    SUM,
    budget_cost,
    ratio_or_zero,
    scoped,
    total,
    variables,
    with_links,
)
from otel_perf.monitoring.definition import MonitoringConfig
from otel_perf.monitoring.grafana import Dashboard, Panel, Query
from otel_perf.monitoring.promql import Eq, number


def projects_dashboard(config: MonitoringConfig) -> Dashboard:
    """Story 6.2 AC5: one sortable row per project."""
    budget = config.cost
    error_ratio = ratio_or_zero(
        total(COUNT, ("project",), status=Eq("error")), total(COUNT, ("project",)), grouped=True
    )
    columns = {
        "Value #A": ("Total cost", "currencyUSD"),
        "Value #B": ("Budget used", "percentunit"),
        "Value #C": ("Total time", "s"),
        "Value #D": ("Error rate", "percentunit"),
        "Value #E": ("Success rate", "percentunit"),
    }
    table = Panel(
        "table",
        "Projects",
        "One row per project; click a header to sort. Total time is the time spent in "
        "tracked operations (successes and failures); rates are over all attempts in the "
        "time range; budget used is cost over the budget window.",
        "currencyUSD",
        (
            Query(total(M.COST_USD, ("project",)), table=True),
            Query(f"{budget_cost(config)}\n/ {number(budget.budget_usd)}", table=True),
            Query(total(SUM, ("project",)), table=True),
            Query(error_ratio, table=True),
            Query(f"1 - ({error_ratio})", table=True),
        ),
        width=24,
        height=10,
        transformations=(
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True},
                    "renameByName": {key: title for key, (title, _unit) in columns.items()},
                },
            },
            {"id": "sortBy", "options": {"sort": [{"field": "Total cost", "desc": True}]}},
        ),
        overrides=tuple(
            {
                "matcher": {"id": "byName", "options": title},
                "properties": [{"id": "unit", "value": unit}],
            }
            for title, unit in columns.values()
        ),
    )
    panels = (
        table,
        Panel(
            "barchart",
            "Cost by project",
            "Total cost per project in the time range.",
            "currencyUSD",
            (Query(f"sort_desc({total(M.COST_USD, ('project',))})", table=True),),
            width=12,
            height=9,
            options={"xField": "project"},
        ),
        Panel(
            "timeseries",
            "Spend rate by project",
            "Dollars per hour spent by each project "
            "(a rising line is a project heading for its budget).",
            "suffix: $/h",
            (
                Query(
                    f"sum by (project) (rate({scoped(M.COST_USD)}[{RATE}])) * 3600",
                    legend="{{project}}",
                ),
            ),
            width=12,
            height=9,
        ),
        Panel(
            "timeseries",
            "Error rate by project",
            "Failed / all operations per project.",
            "percentunit",
            (
                Query(
                    f"sum by (project) (rate({scoped(COUNT, status=Eq('error'))}[{RATE}]))\n/\n"
                    f"(sum by (project) (rate({scoped(COUNT)}[{RATE}])) > 0)",
                    legend="{{project}}",
                ),
            ),
            width=12,
            height=9,
            min=0,
            max=1,
        ),
        Panel(
            "piechart",
            "Cost share by operation",
            "How the selected projects' cost splits across operation types.",
            "currencyUSD",
            (Query(total(M.COST_USD, ("operation",)), legend="{{operation}}", instant=True),),
            width=12,
            height=9,
        ),
    )
    linked = with_links(config, panels, health=False)
    return Dashboard(
        uid=config.grafana.dashboards.projects,
        title="otel-perf / Project comparison",
        description="Story 6.2 AC5: cost, time, error rate and success rate per project.",
        panels=linked,
        variables=variables(),
        datasource_name=config.grafana.prometheus.name,
        datasource_uid=config.grafana.prometheus.uid,
    )
