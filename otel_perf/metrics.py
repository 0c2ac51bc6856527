"""The metric contract: names, labels, buckets, and the cardinality limiter.

This module is the single source of truth for metric names; dashboards and alert rules in
``otel_perf.monitoring`` are built from these constants.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from otel_perf import selfmonitor

PREFIX: Final = "otel_perf_"
OVERFLOW: Final = "__overflow__"

# Names as exposed (counters carry `_total` in the exposition; prometheus_client adds it).
OPERATION_DURATION: Final = "otel_perf_operation_duration_seconds"
OPERATION_ERRORS: Final = "otel_perf_operation_errors_total"
SLOW_OPERATIONS: Final = "otel_perf_slow_operations_total"
SLOWNESS_RATIO: Final = "otel_perf_slowness_ratio"
RENDER_FAILURES: Final = "otel_perf_render_failures_total"
API_ERRORS: Final = "otel_perf_api_errors_total"
COST_USD: Final = "otel_perf_cost_usd_total"
UNPRICED_OPERATIONS: Final = "otel_perf_unpriced_operations_total"
RETRIES: Final = "otel_perf_retries_total"
QUEUE_WAIT: Final = "otel_perf_queue_wait_seconds"
API_CONSECUTIVE_ERRORS: Final = "otel_perf_api_consecutive_errors"
OPERATIONS_IN_PROGRESS: Final = "otel_perf_operations_in_progress"
CANCELLED_OPERATIONS: Final = "otel_perf_cancelled_operations_total"
SERIES_OVERFLOW: Final = "otel_perf_series_overflow_total"
INTERNAL_ERRORS: Final = "otel_perf_internal_errors_total"
INVALID_VALUES: Final = "otel_perf_invalid_values_total"

DEFAULT_CARDINALITY_LIMIT: Final = 2000

#: Duration buckets in seconds: sub-second API calls up to hour-long video jobs. The
#: configured slow thresholds are merged in so "slower than threshold" is exact.
BASE_DURATION_BUCKETS: Final = (
    0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
    90.0, 120.0, 180.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0,
)  # fmt: skip
SLOWNESS_BUCKETS: Final = (1.0, 1.1, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0)
QUEUE_WAIT_BUCKETS: Final = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


@dataclass(frozen=True)
class MetricSpec:
    """One metric of the contract."""

    name: str
    kind: str  # "counter" | "histogram" | "gauge"
    labels: tuple[str, ...]
    help: str


# `project` (a low-cardinality label: project names, never user ids) is on the metrics a
# per-project report needs: cost, and the duration histogram, error and retry counters from
# which total time, error rate, success rate and retries per success follow per project.
# Route-, template- and threshold-level metrics stay fleet-wide to bound cardinality.
SPECS: Final = (
    MetricSpec(OPERATION_DURATION, "histogram", ("operation", "model", "provider", "status", "project"),
               "Duration of tracked operations in seconds, by outcome."),
    MetricSpec(OPERATION_ERRORS, "counter", ("operation", "model", "provider", "error_type", "project"),
               "Failed operations by classified error type."),
    MetricSpec(SLOW_OPERATIONS, "counter", ("operation", "model"),
               "Operations slower than their configured threshold."),
    MetricSpec(SLOWNESS_RATIO, "histogram", ("operation",),
               "Duration divided by threshold, observed for slow operations only."),
    MetricSpec(RENDER_FAILURES, "counter", ("render_type", "reason", "template"),
               "Failed renders by classified reason and template."),
    MetricSpec(API_ERRORS, "counter", ("endpoint", "status_code", "error_type"),
               "Failed API calls by route template, HTTP status and error type."),
    MetricSpec(COST_USD, "counter", ("operation", "model", "provider", "project"),
               "Cost of operations in US dollars (provider-reported or estimated)."),
    MetricSpec(UNPRICED_OPERATIONS, "counter", ("operation", "model"),
               "Generations whose cost is unknown: no price for the model or operation."),
    MetricSpec(RETRIES, "counter", ("operation", "project"),
               "Operations that were retry attempts (retry attempt number > 0)."),
    MetricSpec(QUEUE_WAIT, "histogram", ("operation",),
               "Time spent queued before an operation started, in seconds."),
    MetricSpec(API_CONSECUTIVE_ERRORS, "gauge", ("endpoint",),
               "Consecutive failed calls per API route; reset to 0 by a success."),
    MetricSpec(OPERATIONS_IN_PROGRESS, "gauge", ("operation",),
               "Operations started and not yet finished."),
    MetricSpec(CANCELLED_OPERATIONS, "counter", ("operation",),
               "Operations ended by cancellation (not counted as errors)."),
)  # fmt: skip

SPECS_BY_NAME: Final = {spec.name: spec for spec in SPECS}


def duration_buckets(thresholds: Iterable[float]) -> tuple[float, ...]:
    """The base duration buckets with every slow threshold added."""
    return tuple(sorted({*BASE_DURATION_BUCKETS, *(float(t) for t in thresholds)}))


class OverflowCounts:
    """Per-metric count of label sets folded into ``__overflow__``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def inc(self, metric_name: str) -> None:
        with self._lock:
            self.counts[metric_name] = self.counts.get(metric_name, 0) + 1


class LimitedMetric:
    """A labelled metric whose number of exposed label sets is bounded by ``limit``.

    Children are cached by label tuple so the hot path is one dictionary lookup. Once
    ``limit - 1`` label sets exist, new ones fold into one child whose every label is
    ``__overflow__`` (so at most ``limit`` sets are exposed); each fold is counted in
    ``otel_perf_series_overflow_total{metric=...}``.
    """

    __slots__ = (
        "_children",
        "_limit",
        "_lock",
        "_metric",
        "_name",
        "_overflow_child",
        "_overflows",
    )

    def __init__(self, metric: Any, name: str, limit: int, overflows: OverflowCounts) -> None:
        self._metric = metric
        self._name = name
        self._limit = max(limit - 1, 0)
        self._children: dict[tuple[str, ...], Any] = {}
        self._lock = threading.Lock()
        self._overflow_child: Any = None
        self._overflows = overflows

    def child(self, labels: tuple[str, ...]) -> Any:
        """The metric child for ``labels``, or the overflow child past the limit."""
        child = self._children.get(labels)
        if child is not None:
            return child
        return self._new_child(labels)

    def _new_child(self, labels: tuple[str, ...]) -> Any:
        with self._lock:
            child = self._children.get(labels)
            if child is not None:
                return child
            if len(self._children) < self._limit:
                child = self._metric.labels(*labels)
                self._children[labels] = child
                return child
            if self._overflow_child is None:
                self._overflow_child = self._metric.labels(*([OVERFLOW] * len(labels)))
            overflow_child = self._overflow_child
        self._overflows.inc(self._name)
        return overflow_child

    @property
    def metric(self) -> Any:
        """The underlying prometheus_client metric."""
        return self._metric

    @property
    def series_count(self) -> int:
        """Label sets currently exposed, the overflow set included."""
        return len(self._children) + (self._overflow_child is not None)


class _SelfMetricsCollector(Collector):
    """Renders overflow, internal-error and invalid-value counts at scrape time."""

    def __init__(self, overflows: OverflowCounts) -> None:
        self._overflows = overflows

    def collect(self) -> Iterable[CounterMetricFamily]:
        families = (
            (SERIES_OVERFLOW, "Label sets folded into __overflow__ by the cardinality limit.",
             "metric", self._overflows.counts),
            (INTERNAL_ERRORS, "Errors inside otel-perf, caught so they never reach user code.",
             "stage", selfmonitor.internal_error_counts()),
            (INVALID_VALUES, "Values ignored because they were NaN, negative or of the wrong type.",
             "field", selfmonitor.invalid_value_counts()),
        )  # fmt: skip
        for name, doc, label, counts in families:
            family = CounterMetricFamily(name.removesuffix("_total"), doc, labels=(label,))
            for value, count in sorted(dict(counts).items()):
                family.add_metric((value,), count)
            yield family


class MetricSet:
    """Every otel-perf metric, registered in one ``CollectorRegistry``.

    >>> from prometheus_client import CollectorRegistry
    >>> metrics = MetricSet(CollectorRegistry(), thresholds=[5.0])
    >>> metrics.retries.child(("generate_image", "my-project")).inc()
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        thresholds: Sequence[float] = (),
        cardinality_limit: int = DEFAULT_CARDINALITY_LIMIT,
    ) -> None:
        self.registry = registry
        self.overflows = OverflowCounts()
        self._registered: list[Collector] = []
        buckets = {
            OPERATION_DURATION: duration_buckets(thresholds),
            SLOWNESS_RATIO: SLOWNESS_BUCKETS,
            QUEUE_WAIT: QUEUE_WAIT_BUCKETS,
        }
        limited: dict[str, LimitedMetric] = {}
        for spec in SPECS:
            metric = _build(spec, buckets.get(spec.name), registry)
            self._registered.append(metric)
            limited[spec.name] = LimitedMetric(metric, spec.name, cardinality_limit, self.overflows)
        self.duration = limited[OPERATION_DURATION]
        self.errors = limited[OPERATION_ERRORS]
        self.slow = limited[SLOW_OPERATIONS]
        self.slowness = limited[SLOWNESS_RATIO]
        self.render_failures = limited[RENDER_FAILURES]
        self.api_errors = limited[API_ERRORS]
        self.cost = limited[COST_USD]
        self.unpriced = limited[UNPRICED_OPERATIONS]
        self.retries = limited[RETRIES]
        self.queue_wait = limited[QUEUE_WAIT]
        self.consecutive_api_errors = limited[API_CONSECUTIVE_ERRORS]
        self.in_progress = limited[OPERATIONS_IN_PROGRESS]
        self.cancelled = limited[CANCELLED_OPERATIONS]
        self.all: dict[str, LimitedMetric] = limited
        self_metrics = _SelfMetricsCollector(self.overflows)
        registry.register(self_metrics)
        self._registered.append(self_metrics)

    def unregister(self) -> None:
        """Remove every metric of this set from its registry (used by ``shutdown()``)."""
        for collector in self._registered:
            try:
                self.registry.unregister(collector)
            except KeyError:
                pass
        self._registered.clear()


def _build(spec: MetricSpec, buckets: Sequence[float] | None, registry: CollectorRegistry) -> Any:
    if spec.kind == "counter":
        return Counter(spec.name.removesuffix("_total"), spec.help, spec.labels, registry=registry)
    if spec.kind == "gauge":
        return Gauge(spec.name, spec.help, spec.labels, registry=registry)
    return Histogram(
        spec.name, spec.help, spec.labels, registry=registry, buckets=tuple(buckets or ())
    )
