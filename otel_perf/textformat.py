"""Rendering a registry as Prometheus text (0.0.4) or OpenMetrics (1.0) for a scrape.

``prometheus_client``'s encoders build a ``Sample`` per line and format each one through
several generic steps (about 20 µs a line here), so a histogram with thousands of label
sets takes seconds. otel-perf's own metrics arrive as :class:`~otel_perf.metrics.SeriesFamily`
snapshots and are rendered here from templates computed once per metric and format: one
``%`` formatting call per series. Every other collector in the registry (process metrics,
the user's own) still goes through ``prometheus_client``'s encoder, in registry order.

>>> from prometheus_client import CollectorRegistry
>>> body, content_type = generate(CollectorRegistry(), "application/openmetrics-text")
>>> body
b'# EOF\\n'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import accumulate, chain, repeat
from typing import Any, Final

from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.utils import floatToGoString

from otel_perf.metrics import LimitedMetric, Row, SeriesFamily
from otel_perf.selfmonitor import report_internal_error

OPENMETRICS: Final = "application/openmetrics-text"
_EOF: Final = "# EOF\n"


def generate(
    registry: Any, accept_header: str | None = None, params: dict[str, list[str]] | None = None
) -> tuple[bytes, str]:
    """The exposition body of ``registry`` and its content type, negotiated from ``Accept``.

    ``params`` are the query parameters; ``name[]`` restricts the output to those metric
    names (rendered by ``prometheus_client``, as its own handler does).
    """
    encoder, content_type = choose_encoder(accept_header or "")
    if params and "name[]" in params:
        return encoder(registry.restricted_registry(params["name[]"])), content_type
    openmetrics = content_type.startswith(OPENMETRICS)
    parts: list[str] = []
    others: list[Metric] = []
    for family in registry.collect():
        if isinstance(family, SeriesFamily):
            if others:
                parts.append(_generic(encoder, others, openmetrics))
                others = []
            try:
                parts.append(render(family, openmetrics))
            except Exception as exc:  # one bad family never takes the scrape down
                report_internal_error("exposition", exc)
        else:
            others.append(family)
    if others:
        parts.append(_generic(encoder, others, openmetrics))
    if openmetrics:
        parts.append(_EOF)
    return "".join(parts).encode("utf-8"), content_type


def render(family: SeriesFamily, openmetrics: bool) -> str:
    """One of otel-perf's metric families as exposition text."""
    source = family.source
    templates = source.render_cache.get(openmetrics)
    if templates is None:
        templates = source.render_cache[openmetrics] = _templates(source, openmetrics)
    header, line = templates
    if not family.rows:
        return header
    if source.kind == "histogram":
        body = _histogram_lines(source, family.rows, line, openmetrics)
    else:
        body = [line % (series.text or _label_text(source, series), _number(value))
                for series, value in family.rows]  # fmt: skip
    return header + "".join(body)


class _Families:
    """A stand-in registry that yields the given families, for ``prometheus_client``'s encoders."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def _generic(encoder: Callable[[Any], bytes], families: list[Metric], openmetrics: bool) -> str:
    try:
        text = encoder(_Families(families)).decode("utf-8")
    except Exception:
        if len(families) == 1:  # this family cannot be rendered (a label text it refuses)
            report_internal_error("exposition", None)
            return ""
        return "".join(_generic(encoder, [family], openmetrics) for family in families)
    return text.removesuffix(_EOF) if openmetrics else text


def _templates(metric: LimitedMetric, openmetrics: bool) -> tuple[str, str]:
    exposed = metric.family_name
    if metric.kind == "counter" and not openmetrics:
        exposed += "_total"  # the 0.0.4 text format names the family after its samples
    doc = metric.spec.help.replace("\\", r"\\").replace("\n", r"\n")
    if openmetrics:
        doc = doc.replace('"', r"\"")
    header = f"# HELP {exposed} {doc}\n# TYPE {exposed} {metric.kind}\n"
    if metric.kind == "counter":
        return header, metric.family_name + "_total{%s} %s\n"
    if metric.kind == "gauge":
        return header, metric.name + "{%s} %s\n"
    # One template per series: a bucket line per bound, then _count and _sum. Labels are
    # in name order, as prometheus_client writes them, so `le` sits between the labels
    # before and after it. A bucket line takes (labels before, labels after, cumulative
    # count) and, in OpenMetrics, an exemplar suffix.
    exemplar = "%s" if openmetrics else ""
    buckets = "".join(f'{metric.name}_bucket{{%sle="{le}"%s}} %d{exemplar}\n' for le in metric.le)
    return header, buckets + f"{metric.name}_count{{%s}} %d\n{metric.name}_sum{{%s}} %s\n"


def _histogram_lines(
    metric: LimitedMetric, rows: Iterable[Row], template: str, openmetrics: bool
) -> list[str]:
    no_exemplars = ("",) * len(metric.le)
    out = []
    for series, counts, total, exemplars in rows:
        text, before, after = series.text or _histogram_label_text(metric, series)
        cumulative = list(accumulate(counts))
        # Interleave labels, counts (and exemplars) in C: zip/chain do per-line work
        # without a Python-level loop, which is most of the saving over generic rendering.
        if openmetrics:
            suffixes: Sequence[str] = no_exemplars
            if exemplars:
                suffixes = list(no_exemplars)
                for i, exemplar in exemplars.items():
                    suffixes[i] = _exemplar(exemplar)
            args = chain.from_iterable(zip(repeat(before), repeat(after), cumulative, suffixes))
        else:
            args = chain.from_iterable(zip(repeat(before), repeat(after), cumulative))
        out.append(template % (*args, text, cumulative[-1], text, _number(total)))
    return out


def _exemplar(exemplar: tuple[int, float, int]) -> str:
    trace_id, value, time_ns = exemplar
    return f' # {{trace_id="{trace_id:032x}"}} {floatToGoString(value)} {time_ns / 1e9}'  # type: ignore[no-untyped-call]


def _label_text(metric: LimitedMetric, series: Any) -> str:
    text = ",".join(_label_pairs(metric, series))
    series.text = text  # cached on the series; a race only computes the same string twice
    return text


def _histogram_label_text(metric: LimitedMetric, series: Any) -> tuple[str, str, str]:
    """All labels, and those sorting before and after `le`, each with its comma."""
    pairs = _label_pairs(metric, series)
    at = sum(1 for name in metric.spec.labels if name < "le")
    before = "".join(pair + "," for pair in pairs[:at])
    after = "".join("," + pair for pair in pairs[at:])
    text = (",".join(pairs), before, after)
    series.text = text
    return text


def _label_pairs(metric: LimitedMetric, series: Any) -> list[str]:
    pairs = zip(metric.spec.labels, series.labels, strict=True)
    return [f'{name}="{_escape(value)}"' for name, value in sorted(pairs)]


def _escape(value: str) -> str:
    """A label value as the text formats write it: backslash, quote and newline escaped,
    other control characters and lone surrogates (not encodable as UTF-8) replaced by
    U+FFFD, so no label text can make the scrape body invalid."""
    if not value.isprintable():
        value = value.translate(_UNPRINTABLE)
        value = _SURROGATE.sub("\ufffd", value)
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


# C0/C1 control characters other than newline (escaped as \n) become U+FFFD.
_UNPRINTABLE: Final = {c: "\ufffd" for c in (*range(0x20), *range(0x7F, 0xA0)) if c != 0x0A}
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def _number(value: float) -> str:
    # repr() is what floatToGoString returns for ordinary magnitudes; it only differs
    # (Go-style exponents, +Inf, NaN) outside this range, and NaN fails both comparisons.
    if -1e6 < value < 1e6:
        return repr(value)
    return floatToGoString(value)  # type: ignore[no-any-return, no-untyped-call]
