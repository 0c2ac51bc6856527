"""What the dashboards share: Grafana's range variables, the variable-aware selector, ratios.

Every query goes through :func:`scoped`, which adds the dashboard variables as matchers on
the labels the metric really has (``$service`` is the Prometheus ``job``; ``$project`` only
exists on the cost counter), so a variable never silently matches nothing or everything.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Final
from urllib.parse import quote

from otel_perf import metrics as M
from otel_perf.attributes import GENERATION_OPERATIONS
from otel_perf.monitoring.definition import MonitoringConfig
from otel_perf.monitoring.grafana import Panel, Variable
from otel_perf.monitoring.promql import Matcher, Ne, Re, alternatives, labels_of
from otel_perf.monitoring.promql import selector as _selector
from otel_perf.monitoring.rules import window_total

RANGE: Final = "$__range"
RATE: Final = "$__rate_interval"
COUNT: Final = M.OPERATION_DURATION + "_count"
SUM: Final = M.OPERATION_DURATION + "_sum"
BUCKET: Final = M.OPERATION_DURATION + "_bucket"
GENERATIONS: Final = alternatives(GENERATION_OPERATIONS)
#: Dashboard variable -> the label it filters on.
_VARIABLE_LABELS: Final = {
    "service": ("job",),
    "project": ("project",),
    "operation": ("operation",),
    "model": ("model",),
}


def scoped(
    series: str, *, common_with: str | None = None, **fixed: Matcher | tuple[Matcher, ...]
) -> str:
    """A selector filtered by every dashboard variable whose label ``series`` carries (and,
    with ``common_with``, that other series carries too: both sides of a ratio must be
    filtered alike, or selecting a project shrinks only one of them)."""
    labels = labels_of(series)
    if common_with is not None:
        labels = tuple(label for label in labels if label in labels_of(common_with))
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
        Variable("service", "Service", f"label_values({COUNT}, job)"),
        Variable("project", "Project", f'label_values({COUNT}{{job=~"$service"}}, project)'),
        Variable("operation", "Operation", f'label_values({COUNT}{{job=~"$service"}}, operation)'),
        Variable(
            "model",
            "Model",
            f'label_values({COUNT}{{job=~"$service", operation=~"$operation"}}, model)',
        ),
    )


def ratio_or_zero(numerator: str, denominator: str, *, grouped: bool = False) -> str:
    """``numerator / denominator``: 0 when nothing matched the numerator, no value (not a
    division by zero) when the denominator is 0. ``grouped`` ratios (``sum by``) fall back
    to ``0 * denominator`` so each group keeps its labels."""
    zero = f"0 * {denominator}" if grouped else "vector(0)"
    return f"({numerator} or {zero})\n/\n({denominator} > 0)"


def window_days(config: MonitoringConfig) -> str:
    return f"{config.cost_window_seconds / 86400:g} days"


def total(
    series: str,
    by: tuple[str, ...] = (),
    window: str = RANGE,
    /,
    *,
    common_with: str | None = None,
    **fixed: Matcher | tuple[Matcher, ...],
) -> str:
    """How much ``series`` (scoped by the variables) grew over ``window``, summed by
    ``by``: the generator's one windowed-count builder, so a series born inside the
    time range counts from zero."""
    return window_total(
        series, window, by, selected=scoped(series, common_with=common_with, **fixed)
    )


def scoped_ratio(
    numerator: str,
    denominator: str,
    top: dict[str, Matcher | tuple[Matcher, ...]] | None = None,
    bottom: dict[str, Matcher | tuple[Matcher, ...]] | None = None,
) -> str:
    """``total(numerator{top}) / total(denominator{bottom})`` over the time range, both
    sides filtered by the same variables (those both series carry), 0 when nothing matched
    the numerator.

    >>> top, bottom = scoped_ratio(COUNT, COUNT, {"status": Re("error")}).split("\\n/\\n")
    >>> 'status=~"error"' in top, "status" in bottom
    (True, False)
    """
    return ratio_or_zero(
        total(numerator, common_with=denominator, **(top or {})),
        total(denominator, common_with=numerator, **(bottom or {})),
    )


def with_links(
    config: MonitoringConfig, panels: tuple[Panel, ...], *, health: bool
) -> tuple[Panel, ...]:
    """Every panel with its drill-downs: the health dashboard (unless on it) and the
    traces behind it in Tempo (failed ones for error and failure panels)."""
    linked = []
    for panel in panels:
        failing = any(word in panel.title.lower() for word in ("error", "fail"))
        query = '{ resource.service.name =~ "${service:regex}"' + (
            " && status = error }" if failing else " }"
        )
        links = dashboard_links(config, trace_query=query)
        linked.append(replace(panel, links=links[1:] if health else links))
    return tuple(linked)


def dashboard_links(config: MonitoringConfig, *, trace_query: str) -> tuple[dict[str, Any], ...]:
    """Panel drill-downs: the health dashboard (time range and variables kept) and the
    matching traces in Tempo's Explore view."""
    g = config.grafana
    panes = {
        "t": {
            "datasource": g.tempo.uid,
            "queries": [
                {
                    "refId": "A",
                    "datasource": {"type": "tempo", "uid": g.tempo.uid},
                    "queryType": "traceql",
                    "query": trace_query,
                }
            ],
            "range": {"from": "${__from}", "to": "${__to}"},
        }
    }
    explore = "/explore?schemaVersion=1&orgId=1&panes=" + quote(
        json.dumps(panes, separators=(",", ":")), safe="${}_"
    )
    return (
        {
            "title": "Render & API health",
            "url": f"/d/{g.dashboards.health}?${{__url_time_range}}&${{__all_variables}}",
        },
        {"title": "Traces in Tempo", "url": explore, "targetBlank": True},
    )


def budget_cost(config: MonitoringConfig) -> str:
    """Each project's cost over the budget window, as OtelPerfProjectCostHigh counts it
    (a whole-project total: only the service and project variables apply)."""
    return window_total(
        M.COST_USD,
        config.cost.window,
        ("project",),
        hourly="cost_usd",
        job=Re("$service"),
        project=(Re("$project"), Ne("")),
    )
