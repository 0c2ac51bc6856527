"""The three dashboards: Cost & efficiency, Render & API health, Project comparison.

Every query goes through :func:`scoped`, which adds the dashboard variables as matchers on
the labels the metric really has (``$service`` is the Prometheus ``job``; ``$project`` only
exists on the cost counter), so a variable never silently matches nothing or everything.
"""

from __future__ import annotations

from typing import Final

from otel_perf import metrics as M
from otel_perf.attributes import GENERATION_OPERATIONS
from otel_perf.monitoring import spanmetrics as S
from otel_perf.monitoring.config import MonitoringConfig
from otel_perf.monitoring.grafana import Dashboard, Panel, Query, Variable
from otel_perf.monitoring.promql import Eq, Matcher, Ne, Re, alternatives, labels_of, number
from otel_perf.monitoring.promql import selector as _selector
from otel_perf.monitoring.rules import RENDER_OPS

RANGE: Final = "$__range"
RATE: Final = "$__rate_interval"
_COUNT: Final = M.OPERATION_DURATION + "_count"
_SUM: Final = M.OPERATION_DURATION + "_sum"
_BUCKET: Final = M.OPERATION_DURATION + "_bucket"
_GENERATIONS: Final = alternatives(GENERATION_OPERATIONS)
#: Dashboard variable -> the label it filters on our metrics and on span metrics.
_VARIABLE_LABELS: Final = {
    "service": ("service_name", "job"),
    "project": ("project", S.PROJECT_LABEL),
    "operation": ("operation", S.OPERATION_LABEL),
    "model": ("model", S.MODEL_LABEL),
}


def scoped(series: str, **fixed: Matcher | tuple[Matcher, ...]) -> str:
    """A selector filtered by every dashboard variable whose label ``series`` carries."""
    labels = labels_of(series)
    matchers: dict[str, Matcher | tuple[Matcher, ...]] = {}
    for variable, candidates in _VARIABLE_LABELS.items():
        for label in candidates:
            if label in labels:
                matchers[label] = Re(f"${variable}")
                break
    for label, matcher in fixed.items():
        current = matchers.get(label)
        if current is None:
            matchers[label] = matcher
        else:
            extra = matcher if isinstance(matcher, tuple) else (matcher,)
            matchers[label] = (*(current if isinstance(current, tuple) else (current,)), *extra)
    return _selector(series, **matchers)


def variables() -> tuple[Variable, ...]:
    """``service`` (the ``job``), ``project``, ``operation`` and ``model``."""
    return (
        Variable("service", "Service", f"label_values({_COUNT}, job)"),
        Variable("project", "Project", f'label_values({M.COST_USD}{{job=~"$service"}}, project)'),
        Variable("operation", "Operation", f'label_values({_COUNT}{{job=~"$service"}}, operation)'),
        Variable(
            "model",
            "Model",
            f'label_values({_COUNT}{{job=~"$service", operation=~"$operation"}}, model)',
        ),
    )


def _ratio_or_zero(numerator: str, denominator: str, *, grouped: bool = False) -> str:
    """``numerator / denominator``: 0 when nothing matched the numerator, no value (not a
    division by zero) when the denominator is 0. ``grouped`` ratios (``sum by``) fall back
    to ``0 * denominator`` so each group keeps its labels."""
    zero = f"0 * {denominator}" if grouped else "vector(0)"
    return f"({numerator} or {zero})\n/\n({denominator} > 0)"


def _window_days(config: MonitoringConfig) -> str:
    return f"{config.cost_window_seconds / 86400:g} days"


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
            (Query(f"sum(increase({scoped(M.COST_USD)}[{RANGE}]))", instant=True),),
            width=6,
            height=5,
        ),
        Panel(
            "stat",
            f"Projected cost over {budget.window}",
            f"Spend rate over the time range, extrapolated to the {_window_days(config)} "
            f"budget window (budget ${budget.budget_usd:.2f} per project).",
            "currencyUSD",
            (
                Query(
                    f"sum(rate({scoped(M.COST_USD)}[{RANGE}])) * "
                    f"{number(config.cost_window_seconds)}",
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
            (
                Query(
                    "1 - "
                    + _ratio_or_zero(
                        f"sum(increase({scoped(_COUNT, status=Eq('error'))}[{RANGE}]))",
                        f"sum(increase({scoped(_COUNT)}[{RANGE}]))",
                    ),
                    instant=True,
                ),
            ),
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
            (
                Query(
                    f"sum(increase({scoped(M.UNPRICED_OPERATIONS)}[{RANGE}])) or vector(0)",
                    instant=True,
                ),
            ),
            width=6,
            height=5,
            thresholds=(("green", None), ("orange", 1)),
        ),
        Panel(
            "piechart",
            "Cost by operation",
            "Share of cost per operation type (image, video, audio, ...) in the time range.",
            "currencyUSD",
            (
                Query(
                    f"sum by (operation) (increase({scoped(M.COST_USD)}[{RANGE}]))",
                    legend="{{operation}}",
                    instant=True,
                ),
            ),
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
                    f"sort_desc(sum by (model) (increase({scoped(M.COST_USD)}[{RANGE}])))",
                    legend="{{model}}",
                    instant=True,
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
                    f"sort_desc(sum by (project) (increase("
                    f"{scoped(M.COST_USD, project=Ne(''))}[{budget.window}])) / "
                    f"{number(budget.budget_usd)})",
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
            (
                Query(
                    f"sort_desc(sum by (operation) (increase({scoped(_SUM)}[{RANGE}])))", table=True
                ),
            ),
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
                    f"sum by (operation) (rate({scoped(_SUM, status=success)}[{RATE}]))\n/\n"
                    f"(sum by (operation) (rate({scoped(_COUNT, status=success)}[{RATE}])) > 0)",
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
                    f"sum by (operation) (rate({scoped(_COUNT, operation=Re(_GENERATIONS))}"
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
            (
                Query(
                    _ratio_or_zero(
                        f"sum(increase({scoped(M.RETRIES)}[{RANGE}]))",
                        f"sum(increase({scoped(_COUNT, status=success)}[{RANGE}]))",
                    ),
                    instant=True,
                ),
            ),
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
            (
                Query(
                    _ratio_or_zero(
                        f"sum(increase({scoped(_COUNT, status=Eq('error'))}[{RANGE}]))",
                        f"sum(increase({scoped(_COUNT)}[{RANGE}]))",
                    ),
                    instant=True,
                ),
            ),
            width=4,
            height=8,
            thresholds=(("green", None), ("red", config.alerts.high_error_rate.threshold)),
        ),
        Panel(
            "stat",
            "Total errors",
            "Failed operations in the time range.",
            "short",
            (
                Query(
                    f"sum(increase({scoped(M.OPERATION_ERRORS)}[{RANGE}])) or vector(0)",
                    instant=True,
                ),
            ),
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
                    f"topk(10, sum by (operation, model, error_type) (increase("
                    f"{scoped(M.OPERATION_ERRORS)}[{RANGE}])) > 0)",
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
    return Dashboard(
        uid=config.grafana.dashboards.cost,
        title="otel-perf / Cost & efficiency",
        description="Story 6.2 AC3: cost summary, time analysis, efficiency and error trends.",
        panels=panels,
        variables=variables(),
        datasource_name=config.grafana.prometheus.name,
        datasource_uid=config.grafana.prometheus.uid,
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
                    f"sort_desc(sum by (template, render_type, reason) (increase("
                    f"{scoped(M.RENDER_FAILURES)}[{RANGE}])) > 0)",
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
                    _ratio_or_zero(
                        f"sum(increase({scoped(M.SLOW_OPERATIONS, operation=renders)}[{RANGE}]))",
                        f"sum(increase({scoped(_COUNT, operation=renders, status=Eq('success'))}"
                        f"[{RANGE}]))",
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
                    f"{scoped(_BUCKET)}[{RATE}])))",
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
    )
    return Dashboard(
        uid=config.grafana.dashboards.health,
        title="otel-perf / Render & API health",
        description="TRACK-008: render failures, API errors, slow operations and latency.",
        panels=panels,
        variables=variables(),
        datasource_name=config.grafana.prometheus.name,
        datasource_uid=config.grafana.prometheus.uid,
    )


def _by_project(expr: str) -> str:
    """Span-metrics series summed by their project attribute, relabelled ``project``."""
    return f'sum by (project) (label_replace({expr}, "project", "$1", "{S.PROJECT_LABEL}", "(.*)"))'


def projects_dashboard(config: MonitoringConfig) -> Dashboard:
    """Story 6.2 AC5: one sortable row per project."""
    budget = config.cost
    ours = Ne("")  # our spans carry otel_perf.operation; others are left out
    calls = scoped(S.CALLS, **{S.OPERATION_LABEL: ours})
    errors = scoped(S.CALLS, **{S.OPERATION_LABEL: ours, "status_code": Eq(S.STATUS_ERROR)})
    duration = scoped(S.DURATION + "_sum", **{S.OPERATION_LABEL: ours})
    error_ratio = _ratio_or_zero(
        _by_project(f"increase({errors}[{RANGE}])"),
        _by_project(f"increase({calls}[{RANGE}])"),
        grouped=True,
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
        "One row per project; click a header to sort. Cost comes from "
        "otel-perf's cost counter; time, error rate and success rate from the Collector's "
        "span metrics (otel-perf's own duration and error metrics carry no project label).",
        "currencyUSD",
        (
            Query(f"sum by (project) (increase({scoped(M.COST_USD)}[{RANGE}]))", table=True),
            Query(
                f"sum by (project) (increase({scoped(M.COST_USD)}[{budget.window}])) / "
                f"{number(budget.budget_usd)}",
                table=True,
            ),
            Query(_by_project(f"increase({duration}[{RANGE}])"), table=True),
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
            (
                Query(
                    f"sort_desc(sum by (project) (increase({scoped(M.COST_USD)}[{RANGE}])))",
                    table=True,
                ),
            ),
            width=12,
            height=9,
            options={"xField": "project"},
        ),
        Panel(
            "timeseries",
            "Spend rate by project",
            "Dollars per hour spent by each project "
            "(a rising line is a project heading for its budget).",
            "currencyUSD",
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
            "Failed / all operations per project, from the Collector's span metrics.",
            "percentunit",
            (
                Query(
                    _by_project(f"rate({errors}[{RATE}])")
                    + "\n/\n("
                    + _by_project(f"rate({calls}[{RATE}])")
                    + " > 0)",
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
            (
                Query(
                    f"sum by (operation) (increase({scoped(M.COST_USD)}[{RANGE}]))",
                    legend="{{operation}}",
                    instant=True,
                ),
            ),
            width=12,
            height=9,
        ),
    )
    return Dashboard(
        uid=config.grafana.dashboards.projects,
        title="otel-perf / Project comparison",
        description="Story 6.2 AC5: cost, time, error rate and success rate per project.",
        panels=panels,
        variables=variables(),
        datasource_name=config.grafana.prometheus.name,
        datasource_uid=config.grafana.prometheus.uid,
    )


def dashboards(config: MonitoringConfig) -> tuple[Dashboard, ...]:
    """All dashboards, in the order they are listed."""
    return (cost_dashboard(config), health_dashboard(config), projects_dashboard(config))
