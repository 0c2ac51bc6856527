"""Cost & efficiency (Story 6.2 AC3): cost summary, time analysis, efficiency, errors."""

from __future__ import annotations

from otel_perf import metrics as M
from otel_perf.monitoring.dashboards.common import (
    COUNT,
    GENERATIONS,
    RATE,
    SUM,
    budget_cost,
    scoped,
    scoped_ratio,
    total,
    variables,
    window_days,
    with_links,
)
from otel_perf.monitoring.definition import MonitoringConfig
from otel_perf.monitoring.grafana import Dashboard, Panel, Query
from otel_perf.monitoring.promql import Eq, Re, number


def cost_dashboard(config: MonitoringConfig) -> Dashboard:
    """Story 6.2 AC3: cost, time, efficiency and errors."""
    budget = config.cost
    success = Eq("success")
    panels = (
        Panel(
            "stat",
            "Total cost",
            "Cost of the selected operations in the time range "
            "(provider-reported, else estimated from the price table).",
            "currencyUSD",
            (Query(total(M.COST_USD), instant=True),),
            width=6,
            height=5,
        ),
        Panel(
            "stat",
            f"Projected cost over {budget.window}",
            f"Spend rate over the time range, extrapolated to the {window_days(config)} "
            f"budget window (budget ${budget.budget_usd:.2f} per project).",
            "currencyUSD",
            (
                Query(
                    f"{total(M.COST_USD)}\n/ $__range_s * {number(config.cost_window_seconds)}",
                    instant=True,
                ),
            ),
            width=6,
            height=5,
        ),
        Panel(
            "gauge",
            "Success rate",
            "Successful operations / all attempts in the time range "
            "(cancelled operations are neither).",
            "percentunit",
            (Query("1 - " + scoped_ratio(COUNT, COUNT, {"status": Eq("error")}), instant=True),),
            width=6,
            height=5,
            min=0,
            max=1,
            thresholds=(
                ("red", None),
                ("orange", config.alerts.success_rate_low.threshold),
                ("green", config.slo.target),
            ),
        ),
        Panel(
            "stat",
            "Unpriced operations",
            "Generations on a model without a price: their "
            "cost is missing from every total here. Add the model to the price table.",
            "short",
            (Query(f"{total(M.UNPRICED_OPERATIONS)}\nor vector(0)", instant=True),),
            width=6,
            height=5,
            thresholds=(("green", None), ("orange", 1)),
        ),
        Panel(
            "piechart",
            "Cost by operation",
            "Share of cost per operation type (image, video, audio, ...) in the time range.",
            "currencyUSD",
            (Query(total(M.COST_USD, ("operation",)), legend="{{operation}}", instant=True),),
            width=8,
            height=9,
        ),
        Panel(
            "bargauge",
            "Cost by model",
            "Cost per model in the time range: compare models doing the same operation.",
            "currencyUSD",
            (
                Query(
                    f"sort_desc({total(M.COST_USD, ('model',))})", legend="{{model}}", instant=True
                ),
            ),
            width=8,
            height=9,
        ),
        Panel(
            "bargauge",
            "Budget used by project",
            f"Each project's cost over the last "
            f"{budget.window} as a share of its ${budget.budget_usd:.2f} budget "
            f"(OtelPerfProjectCostHigh fires above 100%).",
            "percentunit",
            (
                Query(
                    f"sort_desc(\n{budget_cost(config)}\n/ {number(budget.budget_usd)})",
                    legend="{{project}}",
                    instant=True,
                ),
            ),
            width=8,
            height=9,
            min=0,
            max=1,
            thresholds=(("green", None), ("orange", 0.8), ("red", 1)),
        ),
        Panel(
            "barchart",
            "Time spent by operation",
            "Total seconds spent in each operation "
            "type in the time range (successes and failures).",
            "s",
            (Query(f"sort_desc({total(SUM, ('operation',))})", table=True),),
            width=12,
            height=9,
            options={"xField": "operation"},
        ),
        Panel(
            "timeseries",
            "Average time per operation",
            "Mean duration of successful operations, by operation type.",
            "s",
            (
                Query(
                    f"sum by (operation) (rate({scoped(SUM, status=success)}[{RATE}]))\n/\n"
                    f"(sum by (operation) (rate({scoped(COUNT, status=success)}[{RATE}])) > 0)",
                    legend="{{operation}}",
                ),
            ),
            width=12,
            height=9,
        ),
        Panel(
            "timeseries",
            "Generations per hour",
            "Image, video and audio generations attempted per hour, by operation.",
            "suffix: gen/h",
            (
                Query(
                    f"sum by (operation) (rate({scoped(COUNT, operation=Re(GENERATIONS))}"
                    f"[{RATE}])) * 3600",
                    legend="{{operation}}",
                ),
            ),
            width=8,
            height=8,
        ),
        Panel(
            "stat",
            "Retries per success",
            "Retry attempts per successful operation in the "
            "time range (Story 6.2: average retries per successful generation).",
            "short",
            (Query(scoped_ratio(M.RETRIES, COUNT, bottom={"status": success}), instant=True),),
            width=4,
            height=8,
            thresholds=(("green", None), ("orange", 0.5), ("red", 1.5)),
            options={"graphMode": "none"},
        ),
        Panel(
            "timeseries",
            "Queue wait",
            "Time operations waited in a provider queue before "
            "starting: median, 95th percentile and mean.",
            "s",
            (
                Query(
                    f"histogram_quantile(0.5, sum by (le) (rate("
                    f"{scoped(M.QUEUE_WAIT + '_bucket')}[{RATE}])))",
                    legend="p50",
                ),
                Query(
                    f"histogram_quantile(0.95, sum by (le) (rate("
                    f"{scoped(M.QUEUE_WAIT + '_bucket')}[{RATE}])))",
                    legend="p95",
                ),
                Query(
                    f"sum(rate({scoped(M.QUEUE_WAIT + '_sum')}[{RATE}]))\n/\n"
                    f"(sum(rate({scoped(M.QUEUE_WAIT + '_count')}[{RATE}])) > 0)",
                    legend="mean",
                ),
            ),
            width=12,
            height=8,
        ),
        Panel(
            "timeseries",
            "Error trend",
            "Failed operations per minute by error class.",
            "cpm",
            (
                Query(
                    f"sum by (error_type) (rate({scoped(M.OPERATION_ERRORS)}[{RATE}])) * 60",
                    legend="{{error_type}}",
                ),
            ),
            width=12,
            height=8,
        ),
        Panel(
            "stat",
            "Error rate",
            "Failed operations / all attempts in the time range.",
            "percentunit",
            (Query(scoped_ratio(COUNT, COUNT, {"status": Eq("error")}), instant=True),),
            width=4,
            height=8,
            thresholds=(("green", None), ("red", config.alerts.high_error_rate.threshold)),
        ),
        Panel(
            "stat",
            "Total errors",
            "Failed operations in the time range.",
            "short",
            (Query(f"{total(M.OPERATION_ERRORS)}\nor vector(0)", instant=True),),
            width=4,
            height=8,
            thresholds=(("green", None), ("orange", 1)),
        ),
        Panel(
            "table",
            "Recent error classes",
            "The ten most frequent error classes in the "
            "time range, by operation and model. Individual failures (with their trace) "
            "are in Tempo via the latency exemplars.",
            "short",
            (
                Query(
                    f"topk(10, {total(M.OPERATION_ERRORS, ('operation', 'model', 'error_type'))}"
                    "\n> 0)",
                    table=True,
                ),
            ),
            width=16,
            height=8,
            transformations=(
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {"Time": True},
                        "renameByName": {"Value": "errors"},
                    },
                },
                {"id": "sortBy", "options": {"sort": [{"field": "errors", "desc": True}]}},
            ),
        ),
    )
    linked = with_links(config, panels, health=False)
    return Dashboard(
        uid=config.grafana.dashboards.cost,
        title="otel-perf / Cost & efficiency",
        description="Story 6.2 AC3: cost summary, time analysis, efficiency and error trends.",
        panels=linked,
        variables=variables(),
        datasource_name=config.grafana.prometheus.name,
        datasource_uid=config.grafana.prometheus.uid,
    )
