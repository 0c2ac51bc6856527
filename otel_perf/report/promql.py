"""PromQL for the report, built from the metric contract in ``otel_perf.metrics``.

Counters are turned into "how much happened in the window" without ``increase()``'s
extrapolation, so a report over a finished demo run equals the run's ledger exactly:

* a series that existed before the window: last value in the window minus the last value
  in the ``BASELINE_LOOKBACK`` before it;
* a series born inside the window (a process started, a label set first seen): its last
  value (counters start at zero);
* a series that was reset (a process restarted) around the window: Prometheus's own
  reset-aware ``increase()``, an estimate.

>>> exact_increase('otel_perf_cost_usd_total{project="a"}', 3600)  # doctest: +ELLIPSIS
'(((last_over_time(otel_perf_cost_usd_total{project="a"}[3600s]) - ...'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from otel_perf.metrics import SPECS_BY_NAME

#: How far before the window a series' baseline value is looked for.
BASELINE_LOOKBACK: Final = 86400


def has_project_label(metric: str) -> bool:
    """True when the metric (a contract name, with or without a histogram suffix) is per project."""
    for suffix in ("_count", "_sum", "_bucket"):
        if metric.endswith(suffix) and metric.removesuffix(suffix) in SPECS_BY_NAME:
            metric = metric.removesuffix(suffix)
            break
    spec = SPECS_BY_NAME.get(metric)
    return spec is not None and "project" in spec.labels


def quote(value: str) -> str:
    """A PromQL string literal."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


_MATCHER: Final = re.compile(
    r"""\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\\\]|\\\\.)*"|'(?:[^'\\\\]|\\\\.)*')\s*(,|$)"""
)


def parse_selector(text: str | None) -> tuple[str, ...]:
    """PromQL label matchers (``job="media-api",env=~"prod|staging"``) as a tuple of
    matcher strings; ``ValueError`` naming the first thing that is not one.

    >>> parse_selector('job="media-api", env!="dev"')
    ('job="media-api"', 'env!="dev"')
    """
    if text is None or not text.strip():
        return ()
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    out, pos = [], 0
    while pos < len(body):
        match = _MATCHER.match(body, pos)
        if match is None or match.end() == pos:
            raise ValueError(
                f"--selector: expected PromQL label matchers such as "
                f'job="media-api",env="prod"; cannot read {body[pos : pos + 40]!r}'
            )
        name, op, value = match.group(1), match.group(2), match.group(3)
        if name == "__name__":
            raise ValueError("--selector: __name__ is chosen by the report, not the selector")
        out.append(f"{name}{op}{value}")
        pos = match.end()
        if match.group(4) == "" and pos < len(body):
            raise ValueError(f"--selector: expected ',' before {body[pos : pos + 40]!r}")
    return tuple(out)


def selector(
    metric: str,
    matchers: Mapping[str, str] | None = None,
    *,
    project: str | None = None,
    scope: Sequence[str] = (),
) -> str:
    """``metric{label="value",...}``; ``project`` is applied only where the metric has it;
    ``scope`` (from :func:`parse_selector`) is added as given."""
    pairs = dict(matchers or {})
    if project is not None and has_project_label(metric):
        pairs["project"] = project
    parts = [f"{k}={quote(v)}" for k, v in sorted(pairs.items())] + list(scope)
    inner = ",".join(parts)
    return f"{metric}{{{inner}}}" if inner else metric


def _dur(seconds: float) -> str:
    return f"{max(round(seconds), 1)}s"


def exact_increase(series: str, window: float, lookback: float = BASELINE_LOOKBACK) -> str:
    """How much the counter ``series`` grew in the ``window`` seconds before the evaluation
    time, without extrapolation (see the module docstring)."""
    w, lb, both = _dur(window), _dur(lookback), _dur(window + lookback)
    last = f"last_over_time({series}[{w}])"
    baseline = f"last_over_time({series}[{lb}] offset {w})"
    return (
        f"((({last} - {baseline}) or {last})"
        f" unless (resets({series}[{both}]) > 0))"
        f" or increase({series}[{w}])"
    )


def sum_by(labels: Iterable[str], expr: str) -> str:
    """``sum by (labels) (expr)``; a plain ``sum`` when ``labels`` is empty."""
    names = ", ".join(labels)
    return f"sum by ({names}) ({expr})" if names else f"sum({expr})"


def samples_in_bins(series: str, step: float) -> str:
    """How many samples of ``series`` fall in each ``step``-second bin (data extent search)."""
    return f"sum(count_over_time({series}[{_dur(step)}]))"
