"""What the dashboards share: Grafana's range variables, the variable-aware selector, ratios.

Every query goes through :func:`scoped`, which adds the dashboard variables as matchers on
the labels the metric really has (``$service`` is the Prometheus ``job``; ``$project`` only
exists on the cost counter), so a variable never silently matches nothing or everything.
"""

from __future__ import annotations

from typing import Final

from otel_perf import metrics as M
from otel_perf.attributes import GENERATION_OPERATIONS
from otel_perf.monitoring.config import MonitoringConfig
from otel_perf.monitoring.grafana import Variable
from otel_perf.monitoring.promql import Matcher, Re, alternatives, labels_of
from otel_perf.monitoring.promql import selector as _selector

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
