"""Everything the report needs, fetched from Prometheus in one pass.

Queries are built from the metric contract; ``project`` is matched only on the metrics that
carry it (the others are fleet-wide and the report says so). Label values are scrubbed as
they arrive, so no later stage can print a secret or an e-mail address that slipped into a
label.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from otel_perf import metrics as M
from otel_perf.redact import scrub
from otel_perf.report import promql
from otel_perf.report.prometheus import PrometheusClient, PrometheusError, Sample
from otel_perf.report.timerange import TimeRange, iso

DUR_COUNT: Final = M.OPERATION_DURATION + "_count"
DUR_SUM: Final = M.OPERATION_DURATION + "_sum"
_EXTENT_POINTS: Final = 100
TREND_POINTS: Final = 60
EXPORT_OPERATION: Final = "export_timeline"

#: (field, metric, labels to keep): the window totals the report is computed from.
WINDOW_QUERIES: Final = (
    ("cost", M.COST_USD, ("operation", "model", "provider", "project")),
    ("duration_count", DUR_COUNT, ("operation", "model", "provider", "status", "project")),
    ("duration_sum", DUR_SUM, ("operation", "model", "provider", "status", "project")),
    ("errors", M.OPERATION_ERRORS, ("operation", "model", "error_type", "project")),
    ("retries", M.RETRIES, ("operation", "project")),
    ("unpriced", M.UNPRICED_OPERATIONS, ("operation", "model")),
    ("render_failures", M.RENDER_FAILURES, ("render_type", "reason", "template")),
    ("api_errors", M.API_ERRORS, ("endpoint", "status_code", "error_type")),
    ("slow", M.SLOW_OPERATIONS, ("operation", "model")),
    ("slowness_sum", M.SLOWNESS_RATIO + "_sum", ("operation",)),
    ("slowness_count", M.SLOWNESS_RATIO + "_count", ("operation",)),
    ("queue_sum", M.QUEUE_WAIT + "_sum", ("operation",)),
    ("queue_count", M.QUEUE_WAIT + "_count", ("operation",)),
)


class NoDataError(PrometheusError):
    """Prometheus answered but holds no otel-perf samples for the range (and project)."""


@dataclass(frozen=True)
class Extent:
    """First and last sample time of otel-perf data inside the range (unix seconds)."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return max(self.end - self.start, 0.0)


@dataclass
class RawData:
    """Window totals by label set, plus trends over the observed extent."""

    range: TimeRange
    project: str | None
    extent: Extent
    retention_seconds: float
    totals: dict[str, list[Sample]] = field(default_factory=dict)
    trend_step: float = 0.0
    error_trend: list[tuple[float, float]] = field(default_factory=list)
    operation_trend: list[tuple[float, float]] = field(default_factory=list)
    export_count_trend: list[tuple[float, float]] = field(default_factory=list)
    export_sum_trend: list[tuple[float, float]] = field(default_factory=list)

    def rows(self, name: str) -> list[Sample]:
        return self.totals.get(name, [])

    @property
    def fleet_wide(self) -> tuple[str, ...]:
        """Metrics read for every project because they carry no project label."""
        if self.project is None:
            return ()
        return tuple(m for _, m, _ in WINDOW_QUERIES if not promql.has_project_label(m))


def collect(
    client: PrometheusClient,
    window: TimeRange,
    *,
    project: str | None = None,
    retention_seconds: float,
) -> RawData:
    """Query Prometheus for everything the report shows; ``NoDataError`` when empty."""
    presence = promql.selector(DUR_COUNT, project=project)
    extent = find_extent(client, presence, window)
    if extent is None:
        scope = f" for project {project!r}" if project is not None else ""
        raise NoDataError(
            f"Prometheus at {client.url} holds no otel-perf data{scope} between "
            f"{iso(window.start)} and {iso(window.end)} (metric {DUR_COUNT}); check that it "
            "scrapes the service's /metrics endpoint and that the range is right"
        )
    data = RawData(window, project, extent, retention_seconds)
    for name, metric, labels in WINDOW_QUERIES:
        series = promql.selector(metric, project=project)
        expr = promql.sum_by(labels, promql.exact_increase(series, window.seconds))
        data.totals[name] = _scrubbed(client.query(expr, at=window.end))
    _collect_trends(client, data)
    return data


def _collect_trends(client: PrometheusClient, data: RawData) -> None:
    """Per-bin counts over the observed extent; the bins tile it, so they add up to the totals."""
    extent, project = data.extent, data.project
    step = float(max(math.ceil(extent.seconds / TREND_POINTS), 1))
    data.trend_step = step
    end = extent.start + step * math.ceil(extent.seconds / step)
    errors = promql.selector(DUR_COUNT, {"status": "error"}, project=project)
    every = promql.selector(DUR_COUNT, project=project)
    exports = {"operation": EXPORT_OPERATION, "status": "success"}
    count = promql.selector(DUR_COUNT, exports, project=project)
    total = promql.selector(DUR_SUM, exports, project=project)
    for attr, series in (
        ("error_trend", errors),
        ("operation_trend", every),
        ("export_count_trend", count),
        ("export_sum_trend", total),
    ):
        expr = promql.sum_by((), promql.exact_increase(series, step, lookback=max(step, 300.0)))
        result = client.query_range(expr, extent.start, end, step)
        points = result[0].points if result else []
        setattr(data, attr, _dense(points, extent.start, end, step))


def _dense(
    points: Sequence[tuple[float, float]], start: float, end: float, step: float
) -> list[tuple[float, float]]:
    """Every bin of the trend, with 0 where Prometheus returned no point."""
    by_time = {round(t, 3): v for t, v in points}
    count = round((end - start) / step) + 1
    return [(start + i * step, by_time.get(round(start + i * step, 3), 0.0)) for i in range(count)]


def find_extent(client: PrometheusClient, series: str, window: TimeRange) -> Extent | None:
    """First and last sample of ``series`` in the range, to a second, or ``None``.

    Coarse-to-fine: count samples per bin over the range, then refine the first and the
    last non-empty bin until bins are a second wide.
    """
    first = _edge(client, series, window.start, window.end, first=True)
    if first is None:
        return None
    last = _edge(client, series, window.start, window.end, first=False)
    return Extent(first, first if last is None else max(last, first))


def _edge(
    client: PrometheusClient, series: str, lo: float, hi: float, *, first: bool
) -> float | None:
    while True:
        step = float(max(math.ceil((hi - lo) / _EXTENT_POINTS), 1))
        bins = math.ceil((hi - lo) / step)  # the last bin reaches hi, so no sample is missed
        expr = promql.samples_in_bins(series, step)
        result = client.query_range(expr, lo + step, lo + step * bins, step)
        times = [t for t, v in (result[0].points if result else []) if v > 0]
        if not times:
            return None
        t = min(times) if first else max(times)
        if step <= 1:
            return t - step if first else t
        lo, hi = t - step, t


def _scrubbed(samples: list[Sample]) -> list[Sample]:
    return [
        Sample({k: scrub(v) for k, v in s.labels.items()}, s.value)
        for s in samples
        if math.isfinite(s.value)
    ]
