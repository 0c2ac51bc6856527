"""The report's PromQL: ``--selector`` parsing and scoped selectors, on top of the one
PromQL builder, :mod:`otel_perf.monitoring.promql` (matchers checked against the metric
contract, string literals, :func:`~otel_perf.monitoring.promql.increase_exact`).

>>> selector("otel_perf_cost_usd_total", {"operation": "generate_image"}, project="a")
'otel_perf_cost_usd_total{operation="generate_image", project="a"}'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final

from otel_perf.monitoring.promql import Eq, labels_of, quote
from otel_perf.monitoring.promql import selector as contract_selector

__all__ = ["has_project_label", "matcher_label", "parse_selector", "quote", "selector"]


def has_project_label(metric: str) -> bool:
    """True when the metric (a contract name, with or without a histogram suffix) is per project."""
    try:
        return "project" in labels_of(metric)
    except ValueError:  # not an otel-perf series
        return False


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
    """``metric{label="value", ...}`` for a series of the metric contract; ``project`` is
    applied only where the metric has it; ``scope`` (from :func:`parse_selector`, or target
    matchers) is added as given."""
    pairs = {k: Eq(v) for k, v in sorted((matchers or {}).items())}
    if project is not None and has_project_label(metric):
        pairs["project"] = Eq(project)
    built = contract_selector(metric, **pairs)
    if not scope:
        return built
    parts = [p for p in (built[len(metric) + 1 : -1], *scope) if p]
    return f"{metric}{{{', '.join(parts)}}}"


def matcher_label(matcher: str) -> str:
    """The label a matcher string (from :func:`parse_selector`) matches on.

    >>> matcher_label('env=~"prod|staging"')
    'env'
    """
    for i, ch in enumerate(matcher):
        if ch in "=!":
            return matcher[:i].strip()
    return matcher
