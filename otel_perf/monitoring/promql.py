"""PromQL building blocks checked against the metric contract.

Every selector names a metric from :mod:`otel_perf.metrics` and may only match labels that
metric has (plus the target labels ``job`` and ``instance``, and ``le`` on buckets). A
matcher on a label the metric lacks would match everything silently (``{x=~".*"}`` is true
when ``x`` is absent), so it is refused here instead.

>>> from otel_perf import metrics as M
>>> selector(M.COST_USD, project=Re("$project"))
'otel_perf_cost_usd_total{project=~"$project"}'

Windowed counts go through :func:`increase_exact`, the one builder of "how much happened in
the window" for alert rules, recording rules, dashboards and Grafana-managed rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from otel_perf import metrics as M
from otel_perf.metrics import SPECS_BY_NAME

TARGET_LABELS: Final = ("job", "instance")
#: Labels of the self-monitoring counters (``metrics.SELF_SPECS``), rendered at scrape time
#: (a test checks these against a real scrape).
SELF_METRIC_LABELS: Final = {spec.name: spec.labels for spec in M.SELF_SPECS}
_HISTOGRAM_SUFFIXES: Final = ("_bucket", "_sum", "_count")


def quote(value: str) -> str:
    """A PromQL string literal: backslashes, double quotes and newlines escaped.

    >>> print(quote('x"} or vector(1)'))
    "x\\"} or vector(1)"
    """
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


@dataclass(frozen=True)
class Matcher:
    """One label matcher: ``op`` is ``=``, ``!=``, ``=~`` or ``!~``."""

    op: str
    value: str

    def render(self, label: str) -> str:
        return f"{label}{self.op}{quote(self.value)}"


def Eq(value: str) -> Matcher:
    """``label="value"``."""
    return Matcher("=", value)


def Ne(value: str) -> Matcher:
    """``label!="value"``."""
    return Matcher("!=", value)


def Re(value: str) -> Matcher:
    """``label=~"value"`` (anchored regular expression)."""
    return Matcher("=~", value)


def labels_of(series: str) -> tuple[str, ...]:
    """The labels a series name may carry: its contract labels plus target labels."""
    if series in SELF_METRIC_LABELS:
        return (*SELF_METRIC_LABELS[series], *TARGET_LABELS)
    spec = SPECS_BY_NAME.get(series)
    extra: tuple[str, ...] = ()
    if spec is None:
        for suffix in _HISTOGRAM_SUFFIXES:
            base = series.removesuffix(suffix)
            if base != series and base in SPECS_BY_NAME and SPECS_BY_NAME[base].kind == "histogram":
                spec = SPECS_BY_NAME[base]
                extra = ("le",) if suffix == "_bucket" else ()
                break
    if spec is None:
        raise ValueError(f"{series} is not a series of the otel-perf metric contract")
    return (*spec.labels, *extra, *TARGET_LABELS)


def selector(series: str, **matchers: Matcher | tuple[Matcher, ...] | None) -> str:
    """``series{label<op>"value", ...}``; ``None`` matchers are left out, a tuple of
    matchers puts several on one label."""
    allowed = labels_of(series)
    parts = []
    for label, given in matchers.items():
        if given is None:
            continue
        if label not in allowed:
            raise ValueError(f"{series} has no label {label!r}; it has {', '.join(allowed)}")
        for matcher in given if isinstance(given, tuple) else (given,):
            parts.append(matcher.render(label))
    return f"{series}{{{', '.join(parts)}}}" if parts else series


def alternatives(values: tuple[str, ...] | list[str]) -> str:
    """A regular expression matching exactly one of ``values`` (``a|b|c``)."""
    return "|".join(values)


def number(value: float) -> str:
    """A float as PromQL source: ``0.05``, ``10``, ``0.144`` (no float noise)."""
    return f"{value:.10g}"


def increase_exact(series: str, window: str, lookback: str | None = None) -> str:
    """How much the counter ``series`` grew over ``window``, counting a series born inside
    the window from zero (Prometheus's ``increase()`` drops a new series' first value).

    otel-perf creates a series on its first event, so Prometheus first sees it at 1 (or at
    its first cost), never at 0. Per series, and matched on its full label set (``le`` of a
    bucket included), the result is:

    * existed before the window: its last value in the window minus its last value in the
      ``lookback`` before the window, with no extrapolation (an integer for counts);
    * first seen inside the window: its last value (the series started at zero);
    * reset inside the window: ``increase()``, an estimate; reset at the window's edge (a
      restart between the baseline sample and the first in the window, seen as a negative
      difference): its last value, counted from zero like a new series.

    Aggregate afterwards (``sum by (...) (increase_exact(...))``). ``window`` may be a Grafana
    variable (``$__range``). ``lookback`` defaults to ``window``: a series absent for longer
    than that before the window (a target that was down) counts from zero, which is right
    after a restart. The report uses it too, for targets whose series it must scan
    (``otel_perf.report.collect``).

    >>> print(increase_exact("m", "1h"))
    (
      (
        (last_over_time(m[1h]) - last_over_time(m[1h] offset 1h) >= 0)
        or last_over_time(m[1h])
      )
      unless resets(m[1h]) > 0
    )
    or increase(m[1h])
    """
    before = lookback or window
    last = f"last_over_time({series}[{window}])"
    baseline = f"last_over_time({series}[{before}] offset {window})"
    return (
        f"(\n  (\n    ({last} - {baseline} >= 0)\n    or {last}\n  )\n"
        f"  unless resets({series}[{window}]) > 0\n)\nor increase({series}[{window}])"
    )
