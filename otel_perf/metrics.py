"""The metric contract: names, labels, buckets, and the series behind them.

This module is the single source of truth for metric names; dashboards and alert rules in
``otel_perf.monitoring`` are built from these constants.

Each metric is a :class:`LimitedMetric`, a ``prometheus_client`` collector of our own rather
than a ``prometheus_client`` ``Counter``/``Histogram``: a label set is a plain series object
(a float, or a list of bucket counts) guarded by **one lock shared by the whole set**; the
span processor queues its updates and they are applied in batches under that lock (see
``MetricSet.apply_pending``), instead of one lock per value per span, and a histogram
observation is a ``bisect`` instead of a loop over buckets. Scrapes apply the queue, copy
the series under the lock and render outside it (``otel_perf.textformat``).

The store has one boundary and two backends. The processor hands it :class:`SpanUpdate`
records (``MetricSet.pending``); :func:`apply_updates` applies them. In memory (one process)
that is all; with ``PROMETHEUS_MULTIPROC_DIR`` every series also writes its value through
to this process's file (``otel_perf.multiprocess``), and the exposition reads the aggregate
of every process's files instead of this process's series.

Reading (for exporters): :meth:`MetricSet.families` returns, per metric, a
:class:`SeriesFamily` whose ``source`` is the :class:`LimitedMetric` (``spec.name``,
``kind``, ``spec.labels``, ``bounds``) and whose ``rows`` are ``(series, value)`` or
``(series, bucket_counts, sum, exemplars)`` with ``series.labels`` the label values in
``spec.labels`` order; bucket counts are per bucket (not cumulative), +Inf last. That is
this process's view; in multiprocess mode ``otel_perf.aggregate.Aggregate.families()``
returns the sum over every process in the same shape (``handle.exposition_registry.aggregate``).
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, Final, NamedTuple

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Exemplar, Sample
from prometheus_client.utils import floatToGoString

from otel_perf import selfmonitor

PREFIX: Final = "otel_perf_"
OVERFLOW: Final = "__overflow__"

# Names as exposed (counters carry `_total` in the exposition).
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
#: Queued span updates that make the span queueing them apply the queue (in memory).
APPLY_EVERY: Final = 256

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
    #: The OTLP unit. None adds a suffix in the Prometheus translation: ``s`` maps to
    #: ``seconds``, already the last name token; ``1`` adds ``_ratio`` to gauges only; a
    #: unit in braces is an annotation and adds nothing.
    unit: str


# `project` (a low-cardinality label: project names, never user ids) is on the metrics a
# per-project report needs: cost, and the duration histogram, error and retry counters from
# which total time, error rate, success rate and retries per success follow per project.
# Route-, template- and threshold-level metrics stay fleet-wide to bound cardinality.
SPECS: Final = (
    MetricSpec(OPERATION_DURATION, "histogram", ("operation", "model", "provider", "status", "project"),
               "Duration of tracked operations in seconds, by outcome.", "s"),
    MetricSpec(OPERATION_ERRORS, "counter", ("operation", "model", "provider", "error_type", "project"),
               "Failed operations by classified error type.", "{error}"),
    MetricSpec(SLOW_OPERATIONS, "counter", ("operation", "model"),
               "Operations slower than their configured threshold.", "{operation}"),
    MetricSpec(SLOWNESS_RATIO, "histogram", ("operation",),
               "Duration divided by threshold, observed for slow operations only.", "1"),
    MetricSpec(RENDER_FAILURES, "counter", ("render_type", "reason", "template"),
               "Failed renders by classified reason and template.", "{render}"),
    MetricSpec(API_ERRORS, "counter", ("endpoint", "status_code", "error_type"),
               "Failed API calls by route template, HTTP status and error type.", "{call}"),
    MetricSpec(COST_USD, "counter", ("operation", "model", "provider", "project"),
               "Cost of operations in US dollars (provider-reported or estimated).", "{USD}"),
    MetricSpec(UNPRICED_OPERATIONS, "counter", ("operation", "model"),
               "Generations whose cost is unknown: no price for the model or operation.", "{operation}"),
    MetricSpec(RETRIES, "counter", ("operation", "project"),
               "Operations that were retry attempts (retry attempt number > 0).", "{retry}"),
    MetricSpec(QUEUE_WAIT, "histogram", ("operation",),
               "Time spent queued before an operation started, in seconds.", "s"),
    MetricSpec(API_CONSECUTIVE_ERRORS, "gauge", ("endpoint",),
               "Consecutive failed calls per API route; reset to 0 by a success.", "{error}"),
    MetricSpec(OPERATIONS_IN_PROGRESS, "gauge", ("operation",),
               "Operations started and not yet finished.", "{operation}"),
    MetricSpec(CANCELLED_OPERATIONS, "counter", ("operation",),
               "Operations ended by cancellation (not counted as errors).", "{operation}"),
)  # fmt: skip

SPECS_BY_NAME: Final = {spec.name: spec for spec in SPECS}

#: otel-perf's own counters, rendered at scrape time (not in ``SPECS``: they are not
#: derived from spans and are never folded by the cardinality limit), one label each.
SELF_SPECS: Final = (
    MetricSpec(SERIES_OVERFLOW, "counter", ("metric",),
               "Label sets folded into __overflow__ by the cardinality limit.", "{update}"),
    MetricSpec(INTERNAL_ERRORS, "counter", ("stage",),
               "Errors inside otel-perf, caught so they never reach user code.", "{error}"),
    MetricSpec(INVALID_VALUES, "counter", ("field",),
               "Values ignored because they were NaN, negative or of the wrong type.", "{value}"),
)  # fmt: skip


def duration_buckets(thresholds: Iterable[float]) -> tuple[float, ...]:
    """The base duration buckets with every slow threshold added."""
    return tuple(sorted({*BASE_DURATION_BUCKETS, *(float(t) for t in thresholds)}))


class OverflowCounts:
    """Per-metric count of label sets folded into ``__overflow__``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}
        #: Incremented on every fold, so a file backend syncs only when something changed.
        self.changes = 0

    def inc(self, metric_name: str) -> None:
        with self._lock:
            self.counts[metric_name] = self.counts.get(metric_name, 0) + 1
            self.changes += 1

    def reset_after_fork(self) -> None:
        """Forget the parent's counts; a new lock (the parent's may have been held)."""
        self._lock = threading.Lock()
        self.counts = {}
        self.changes = 0


# --- Series: one label set each -------------------------------------------------------------
#
# Public methods (inc, dec, set, observe) take the set's lock. The underscore variants do
# not: the span processor calls them while holding the lock once for all of a span's updates.


class CounterSeries:
    """One label set of a counter."""

    __slots__ = ("_lock", "labels", "text", "value")

    def __init__(self, labels: tuple[str, ...], lock: threading.Lock) -> None:
        self.labels = labels
        self.value = 0.0
        self.text: str | None = None  # rendered labels, filled by the first scrape
        self._lock = lock

    def inc(self, amount: float = 1.0) -> None:
        """Add ``amount`` (>= 0; a negative amount raises ``ValueError``)."""
        if amount < 0:
            raise ValueError("counters can only be incremented by non-negative amounts")
        with self._lock:
            self._inc(amount)

    def _inc(self, amount: float = 1.0) -> None:
        self.value += amount

    def get(self) -> float:
        return self.value


class GaugeSeries(CounterSeries):
    """One label set of a gauge."""

    __slots__ = ()

    def inc(self, amount: float = 1.0) -> None:
        with self._lock:
            self._inc(amount)

    def dec(self, amount: float = 1.0) -> None:
        with self._lock:
            self._dec(amount)

    def _dec(self, amount: float = 1.0) -> None:
        self.value -= amount

    def set(self, value: float) -> None:
        with self._lock:
            self._set(value)

    def _set(self, value: float) -> None:
        self.value = float(value)


class HistogramSeries:
    """One label set of a histogram: per-bucket (not cumulative) counts, sum, exemplars."""

    __slots__ = ("_bounds", "_lock", "counts", "exemplars", "labels", "sum", "text")

    def __init__(
        self, labels: tuple[str, ...], lock: threading.Lock, bounds: tuple[float, ...]
    ) -> None:
        self.labels = labels
        self._bounds = bounds  # upper bounds without +Inf; counts has one slot more
        self._lock = lock
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        # The latest (trace_id, value, unix_time_ns) by bucket index, allocated on first
        # use; sparse because most buckets of a series never see an exemplar.
        self.exemplars: dict[int, tuple[int, float, int]] | None = None
        self.text: tuple[str, str, str] | None = None  # all labels, before and after `le`

    def observe(self, value: float, trace_id: int = 0, time_ns: int = 0) -> None:
        """Record ``value``; a non-zero ``trace_id`` becomes the bucket's exemplar."""
        with self._lock:
            self._observe(value, trace_id, time_ns)

    def _observe(self, value: float, trace_id: int = 0, time_ns: int = 0) -> None:
        i = bisect_left(self._bounds, value)  # first bound >= value: Prometheus' `le`
        self.counts[i] += 1
        self.sum += value
        if trace_id:
            exemplars = self.exemplars
            if exemplars is None:
                exemplars = self.exemplars = {}
            exemplars[i] = (trace_id, value, time_ns)


# Past the limit every update lands on one overflow series per metric; each is counted.


class _OverflowCounter(CounterSeries):
    __slots__ = ("_fold",)
    _fold: Callable[[], None]

    def _inc(self, amount: float = 1.0) -> None:
        self._fold()
        self.value += amount


class _OverflowGauge(GaugeSeries):
    __slots__ = ("_fold",)
    _fold: Callable[[], None]

    def _inc(self, amount: float = 1.0) -> None:
        self._fold()
        self.value += amount

    def _set(self, value: float) -> None:
        self._fold()
        self.value = float(value)


class _OverflowHistogram(HistogramSeries):
    __slots__ = ("_fold",)
    _fold: Callable[[], None]

    def _observe(self, value: float, trace_id: int = 0, time_ns: int = 0) -> None:
        self._fold()
        HistogramSeries._observe(self, value, trace_id, time_ns)


#: A series copied for one scrape: (series, value) or (series, counts, sum, exemplars).
Row = tuple[Any, ...]


class LimitedMetric(Collector):
    """A labelled metric whose number of exposed label sets is bounded by ``limit``.

    Series are cached by label tuple so the hot path is one dictionary lookup. Once
    ``limit - 1`` label sets exist, new ones fold into one series whose every label is
    ``__overflow__`` (so at most ``limit`` sets are exposed); each update folded that way
    is counted in ``otel_perf_series_overflow_total{metric=...}``.
    """

    def __init__(
        self,
        spec: MetricSpec,
        limit: int,
        overflows: OverflowCounts,
        lock: threading.Lock,
        buckets: Sequence[float] = (),
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.kind = spec.kind
        #: The OpenMetrics family name (a counter's without ``_total``).
        self.family_name = spec.name.removesuffix("_total") if spec.kind == "counter" else spec.name
        self.bounds = tuple(float(b) for b in buckets if b != float("inf"))
        #: ``le`` label values, +Inf included, formatted once.
        self.le = tuple(floatToGoString(b) for b in (*self.bounds, float("inf")))  # type: ignore[no-untyped-call]
        self._limit = max(limit - 1, 0)
        self._children: dict[tuple[str, ...], Any] = {}
        self._lock = lock
        self._overflow_child: Any = None
        self._overflows = overflows
        self.render_cache: dict[Any, Any] = {}  # per-format templates (otel_perf.textformat)
        self.before_read: Callable[[], None] = _nothing  # MetricSet.apply_pending
        self._live: Callable[[], Iterable[Any]] | None = None
        #: The file backend (``otel_perf.multiprocess.FileStore``) or None: in memory.
        self.store: Any = None

    def forget_series(self, lock: threading.Lock, overflows: OverflowCounts) -> None:
        """Drop every series (a forked child starts from zero, with new locks)."""
        self._lock = lock
        self._overflows = overflows
        self._children = {}
        self._overflow_child = None

    def child(self, labels: tuple[str, ...]) -> Any:
        """The series for ``labels``, or the overflow series past the limit."""
        child = self._children.get(labels)
        if child is not None:
            return child
        return self._new_child(labels)

    def _new_child(self, labels: tuple[str, ...]) -> Any:
        if len(labels) != len(self.spec.labels):
            raise ValueError(f"{self.name}: expected labels {self.spec.labels}, got {labels}")
        with self._lock:
            child = self._children.get(labels)
            if child is not None:
                return child
            if len(self._children) < self._limit:
                child = self._series(tuple(str(v) for v in labels), overflow=False)
                self._children[labels] = child
                return child
            if self._overflow_child is None:
                self._overflow_child = self._series((OVERFLOW,) * len(labels), overflow=True)
            return self._overflow_child  # its updates count the folds

    def _series(self, labels: tuple[str, ...], overflow: bool) -> Any:
        series: Any
        if self.store is not None:
            series = self.store.series(self, labels, overflow)
        elif self.kind == "histogram":
            cls = _OverflowHistogram if overflow else HistogramSeries
            series = cls(labels, self._lock, self.bounds)
        elif self.kind == "gauge":
            series = (_OverflowGauge if overflow else GaugeSeries)(labels, self._lock)
        else:
            series = (_OverflowCounter if overflow else CounterSeries)(labels, self._lock)
        if overflow:
            series._fold = self._fold
        return series

    def _fold(self) -> None:
        self._overflows.inc(self.name)

    @property
    def metric(self) -> LimitedMetric:
        """The collector itself (kept for callers written against the old wrapper)."""
        return self

    @property
    def series_count(self) -> int:
        """Label sets currently exposed, the overflow set included."""
        return len(self._children) + (self._overflow_child is not None)

    # --- Scrape side ----------------------------------------------------------------------

    def snapshot(self) -> list[Row]:
        """Every series' values, copied under the lock (the rendering happens outside it)."""
        self.before_read()
        with self._lock:
            series = list(self._children.values())
            if self._overflow_child is not None:
                series.append(self._overflow_child)
            if self.kind == "histogram":
                return [
                    (s, s.counts[:], s.sum, None if s.exemplars is None else s.exemplars.copy())
                    for s in series
                ]
            if self._live is None:
                return [(s, s.value) for s in series]
            live = Counter(self._live())
            return [(s, s.value + live.get(s, 0)) for s in series]

    def exemplars(self) -> dict[tuple[str, ...], dict[int, tuple[int, float, int]]]:
        """A histogram's exemplars by label values (a copy; series without any left out)."""
        with self._lock:
            series = list(self._children.values())
            if self._overflow_child is not None:
                series.append(self._overflow_child)
            return {s.labels: s.exemplars.copy() for s in series if s.exemplars}

    def count_live(self, source: Callable[[], Iterable[Any]]) -> None:
        """Add to each series, at scrape time, how often it occurs in ``source()``.

        The in-progress gauge uses this: the processor keeps the series of every running
        span in a dict anyway, so counting that dict when scraped replaces an increment
        and a decrement under the lock for every span.
        """
        self._live = source

    def is_overflow(self, series: Any) -> bool:
        """Whether ``series`` is the one past-the-limit label sets fold into."""
        return series is not None and series is self._overflow_child

    def describe(self) -> Iterable[Metric]:
        """The family without samples, so the registry can detect duplicate names."""
        return [_FAMILY_TYPES[self.kind](self.family_name, self.spec.help, labels=self.spec.labels)]

    def collect(self) -> Iterable[Metric]:
        return [SeriesFamily(self, self.snapshot())]

    def samples(self, rows: list[Row]) -> list[Sample]:
        """``prometheus_client`` samples for ``rows`` (for its encoders and test helpers)."""
        names = self.spec.labels
        out: list[Sample] = []
        if self.kind != "histogram":
            sample_name = self.family_name + "_total" if self.kind == "counter" else self.name
            for series, value in rows:
                out.append(Sample(sample_name, dict(zip(names, series.labels, strict=True)), value))
            return out
        bucket, le_values = self.name + "_bucket", self.le
        for series, counts, total, exemplars in rows:
            labels = dict(zip(names, series.labels, strict=True))
            cumulative = list(accumulate(counts))
            for i, count in enumerate(cumulative):
                exemplar = None
                if exemplars is not None and i in exemplars:
                    trace_id, value, time_ns = exemplars[i]
                    exemplar = Exemplar(
                        {"trace_id": format(trace_id, "032x")}, value, time_ns / 1e9
                    )
                out.append(
                    Sample(bucket, {**labels, "le": le_values[i]}, float(count), None, exemplar)
                )
            out.append(Sample(self.name + "_count", labels, float(cumulative[-1])))
            out.append(Sample(self.name + "_sum", labels, total))
        return out


def _nothing() -> None:
    pass


_FAMILY_TYPES: Final[dict[str, Callable[..., Metric]]] = {
    "counter": CounterMetricFamily,
    "gauge": GaugeMetricFamily,
    "histogram": HistogramMetricFamily,
}


class SeriesFamily(Metric):
    """One scrape's snapshot of a :class:`LimitedMetric`.

    ``samples`` are built only when something reads them (``registry.get_sample_value``,
    ``prometheus_client``'s encoders): otel-perf's own exposition renders ``rows`` straight
    to text, which is where a scrape of many series saves its time.
    """

    def __init__(self, source: LimitedMetric, rows: list[Row]) -> None:
        self._samples: list[Sample] | None = None  # before Metric.__init__ assigns samples
        super().__init__(source.family_name, source.spec.help, source.kind)
        self.source = source
        self.rows = rows

    @property
    def samples(self) -> list[Sample]:
        if self._samples is None:
            self._samples = self.source.samples(self.rows)
        return self._samples

    @samples.setter
    def samples(self, value: list[Sample]) -> None:
        self._samples = list(value) if value else None


class _SelfMetricsCollector(Collector):
    """Renders overflow, internal-error and invalid-value counts at scrape time."""

    def __init__(self, overflows: OverflowCounts) -> None:
        self._overflows = overflows

    def collect(self) -> Iterable[CounterMetricFamily]:
        counts = (
            self._overflows.counts,
            selfmonitor.internal_error_counts(),
            selfmonitor.invalid_value_counts(),
        )
        for spec, by_label in zip(SELF_SPECS, counts, strict=True):
            yield self_family(spec, dict(by_label))


def self_family(spec: MetricSpec, counts: Mapping[str, float]) -> CounterMetricFamily:
    """One self-monitoring counter (a :data:`SELF_SPECS` entry) as a scrape-time family."""
    family = CounterMetricFamily(spec.name.removesuffix("_total"), spec.help, labels=spec.labels)
    for value, count in sorted(counts.items()):
        family.add_metric((value,), count)
    return family


class SpanUpdate(NamedTuple):
    """What one finished span changes: the series it updates (resolved by the processor,
    ``None`` when not updated) and the values. Built once per span, applied under the
    store's lock by :func:`apply_updates`."""

    timed: Any  # duration histogram series (status success or error)
    duration: float  # seconds
    trace_id: int  # exemplar trace id, 0 for none
    end: int  # end time, unix ns (the exemplar's timestamp)
    slow: Any  # slow-operations counter series
    slowness: Any  # slowness-ratio histogram series (with ``slow``)
    ratio: float  # duration / threshold
    errors: Any  # operation-errors counter series
    render_failure: Any  # render-failures counter series (with ``errors``)
    api_error: Any  # api-errors counter series (with ``errors``)
    consecutive: Any  # consecutive-API-errors gauge series
    failed: bool  # raises ``consecutive`` by one, else resets it to 0
    unpriced: Any  # unpriced-operations counter series
    cost: Any  # cost counter series
    usd: float  # what ``cost`` grows by
    retries: Any  # retries counter series
    queue_wait: Any  # queue-wait histogram series
    wait: float  # seconds queued (with ``queue_wait``)


def apply_updates(pending: deque[SpanUpdate]) -> None:
    """Apply queued span updates; the caller holds the store's lock (``MetricSet.lock``)."""
    popleft = pending.popleft
    while pending:  # only the lock holder takes items out, so this cannot race
        (timed, duration, trace_id, end, slow, slowness, ratio, errors, render_failure,
         api_error, consecutive, failed, unpriced, cost, usd, retries, queue_wait,
         wait) = popleft()  # fmt: skip
        try:
            if timed is not None:
                timed._observe(duration, trace_id, end)
            if slow is not None:
                slow._inc()
                slowness._observe(ratio)
            if errors is not None:
                errors._inc()
                if render_failure is not None:
                    render_failure._inc()
                if api_error is not None:
                    api_error._inc()
            if consecutive is not None:
                if failed:
                    consecutive._inc()
                else:
                    consecutive._set(0)
            if unpriced is not None:
                unpriced._inc()
            elif cost is not None:
                cost._inc(usd)
            if retries is not None:
                retries._inc()
            if queue_wait is not None:
                queue_wait._observe(wait)
        except Exception as exc:  # one bad update must not stop the others
            selfmonitor.report_internal_error("apply", exc)


class MetricSet:
    """Every otel-perf metric, registered in one ``CollectorRegistry``.

    ``lock`` guards every series of the set; hold it to apply several updates at once
    through the series' underscore methods.

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
        store: Any = None,
    ) -> None:
        self.registry = registry
        self.cardinality_limit = cardinality_limit
        self.overflows = OverflowCounts()
        self.lock = threading.Lock()
        #: Updates handed over without the lock, applied by ``apply_pending`` (see there).
        self.pending: deque[SpanUpdate] = deque()
        #: The multiprocess file backend (``otel_perf.multiprocess.FileStore``) or None.
        self.store = store
        #: Queued updates that make the span queueing them apply the queue: with files,
        #: every one, so another process's scrape sees every finished span.
        self.apply_every = 1 if store is not None else APPLY_EVERY
        self._registered: list[Collector] = []
        buckets = {
            OPERATION_DURATION: duration_buckets(thresholds),
            SLOWNESS_RATIO: SLOWNESS_BUCKETS,
            QUEUE_WAIT: QUEUE_WAIT_BUCKETS,
        }
        limited: dict[str, LimitedMetric] = {}
        try:
            for spec in SPECS:
                metric = LimitedMetric(
                    spec, cardinality_limit, self.overflows, self.lock, buckets.get(spec.name, ())
                )
                registry.register(metric)
                self._registered.append(metric)
                limited[spec.name] = metric
            self_metrics = _SelfMetricsCollector(self.overflows)
            registry.register(self_metrics)
            self._registered.append(self_metrics)
        except ValueError:
            self.unregister()  # leave the registry as it was
            raise
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
        for metric in limited.values():
            metric.before_read = self.apply_pending
            metric.store = store
        if store is not None:
            store.attach(self)

    def move(self, series: Any, delta: float) -> None:
        """Add ``delta`` to a gauge series of the file backend (the in-progress gauge)."""
        with self.lock:
            series._move(delta)

    def families(self) -> list[SeriesFamily]:
        """This process's snapshot of every metric (the read API; see the module docstring)."""
        return [SeriesFamily(metric, metric.snapshot()) for metric in self.all.values()]

    def reset_after_fork(self) -> None:
        """In a forked child: new locks, nothing queued, no series (the parent's values are
        the parent's), and with files, this process's own files."""
        self.lock = threading.Lock()
        self.pending.clear()
        self.overflows.reset_after_fork()
        for metric in self.all.values():
            metric.forget_series(self.lock, self.overflows)
        if self.store is not None:
            self.store.reopen()

    def apply_pending(self, blocking: bool = True) -> None:
        """Apply the updates waiting in ``pending``, under the lock.

        Why a queue: with one lock taken by every span, threads convoy on it together with
        the GIL (a thread preempted while holding it makes the others block and hand the
        GIL back and forth), which halved throughput with two threads. ``deque.append`` is
        atomic, so a span hands its updates over without any lock; whoever passes a
        threshold, and every read of the metrics, applies them. Reads therefore always see
        every finished span; the queue stays short.
        """
        if not self.pending:
            return
        store = self.store
        if not self.lock.acquire(blocking or store is not None):
            return  # another thread is applying them right now
        try:
            apply_updates(self.pending)
            if store is not None:
                store.sync_self_metrics()
        finally:
            self.lock.release()

    def unregister(self) -> None:
        """Remove every metric of this set from its registry (used by ``shutdown()``)."""
        for collector in self._registered:
            try:
                self.registry.unregister(collector)
            except KeyError:
                pass
        self._registered.clear()
