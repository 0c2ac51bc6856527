"""Pushing otel-perf's metrics over OTLP (``OTEL_METRICS_EXPORTER=otlp``).

For fleets scraped through a Collector and for short jobs that end between two scrapes.
The pusher reads the same store ``/metrics`` renders (``MetricSet`` snapshots, queued span
updates applied first) and hands it, as OpenTelemetry ``MetricsData``, to the SDK's OTLP
metric exporter (``http/protobuf`` or ``grpc``), which reads the standard
``OTEL_EXPORTER_OTLP_METRICS_*`` / ``OTEL_EXPORTER_OTLP_*`` variables itself.

* Counters become monotonic cumulative Sums, histograms explicit-bucket Histograms with the
  ``/metrics`` bounds, gauges Gauges; attributes are the ``/metrics`` labels.
* Metric names are the ``/metrics`` names themselves (``otel_perf_cost_usd_total``) and units
  are chosen so that no translation adds a suffix (``s`` on names ending in ``_seconds``,
  ``1`` on the ratio histogram, ``{annotations}`` elsewhere): the Collector's Prometheus
  exporters and Prometheus's own OTLP receiver yield exactly the contract names under every
  translation strategy (see docs/otlp.md).
* Cumulative, every ``OTEL_METRIC_EXPORT_INTERVAL``; a last push at ``shutdown()``, at
  interpreter exit and at the end of a ``multiprocessing`` child (which skips ``atexit``),
  so a job that never calls ``shutdown()`` is still counted.
* A forked child starts its own stream: new ``service.instance.id`` (see
  :mod:`otel_perf.resource`), new start time, a new exporter (no connection shared with the
  parent) and its own push thread.

Why not the SDK's ``MeterProvider`` and ``PeriodicExportingMetricReader``: the Python SDK has
no ``MetricProducer`` (a reader only collects from its provider's own instruments), and a
histogram cannot be observed asynchronously. So the push loop here is small and uses the
exporter's public interface only.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing.util
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, Final

from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from otel_perf import metrics as M
from otel_perf import selfmonitor
from otel_perf.config import Settings
from otel_perf.optional_deps import GRPC_METRIC_EXPORTER, import_optional
from otel_perf.resource import ProcessResource
from otel_perf.version import __version__

logger = logging.getLogger("otel_perf")

SCOPE: Final = InstrumentationScope("otel_perf", __version__)
_CUMULATIVE: Final = AggregationTemporality.CUMULATIVE

#: OTLP units, from the metric contract (``MetricSpec.unit``).
UNITS: Final = {spec.name: spec.unit for spec in (*M.SPECS, *M.SELF_SPECS)}


def metrics_data(
    metric_set: M.MetricSet, resource: ProcessResource, start_ns: int, now_ns: int
) -> MetricsData | None:
    """The store as one cumulative OTLP batch, or ``None`` when no series exists yet."""
    metric_set.apply_pending()  # snapshot() applies them too; explicit, as reads must
    out: list[Metric] = []
    for limited in metric_set.all.values():
        rows = limited.snapshot()
        if rows:
            out.append(_metric(limited, rows, start_ns, now_ns))
    self_counts = (
        dict(metric_set.overflows.counts),
        selfmonitor.internal_error_counts(),
        selfmonitor.invalid_value_counts(),
    )
    for spec, counts in zip(M.SELF_SPECS, self_counts, strict=True):
        if counts:
            (label,) = spec.labels
            points = [
                NumberDataPoint({label: key}, start_ns, now_ns, float(count))
                for key, count in sorted(dict(counts).items())
            ]
            out.append(_sum(spec.name, spec.help, points))
    if not out:
        return None
    scope = ScopeMetrics(scope=SCOPE, metrics=out, schema_url="")
    return MetricsData(
        [ResourceMetrics(resource=resource.resource, scope_metrics=[scope], schema_url="")]
    )


def _metric(limited: M.LimitedMetric, rows: list[M.Row], start_ns: int, now_ns: int) -> Metric:
    names = limited.spec.labels
    if limited.kind == "histogram":
        bounds = limited.bounds
        points = [
            HistogramDataPoint(
                attributes=dict(zip(names, series.labels, strict=True)),
                start_time_unix_nano=start_ns,
                time_unix_nano=now_ns,
                count=sum(counts),
                sum=total,
                bucket_counts=counts,
                explicit_bounds=bounds,
                # The store keeps no min/max; None leaves the optional OTLP fields unset.
                min=None,  # type: ignore[arg-type]
                max=None,  # type: ignore[arg-type]
            )
            for series, counts, total, _exemplars in rows
        ]
        data: Any = Histogram(data_points=points, aggregation_temporality=_CUMULATIVE)
        return Metric(limited.name, limited.spec.help, UNITS[limited.name], data)
    number_points = [
        NumberDataPoint(dict(zip(names, series.labels, strict=True)), start_ns, now_ns, value)
        for series, value in rows
    ]
    if limited.kind == "gauge":
        return Metric(
            limited.name, limited.spec.help, UNITS[limited.name], Gauge(data_points=number_points)
        )
    return _sum(limited.name, limited.spec.help, number_points)


def _sum(name: str, doc: str, points: list[NumberDataPoint]) -> Metric:
    data = Sum(data_points=points, aggregation_temporality=_CUMULATIVE, is_monotonic=True)
    return Metric(name, doc, UNITS[name], data)


def otlp_exporter(protocol: str) -> MetricExporter:
    """The SDK's OTLP metric exporter for ``protocol``, configured from the environment."""
    if protocol == "grpc":
        grpc = import_optional(GRPC_METRIC_EXPORTER, "grpc", "otlp_metrics_protocol='grpc'")
        exporter: MetricExporter = grpc.OTLPMetricExporter()
        return exporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter()


class OtlpMetricsPusher:
    """Pushes the metric set every ``interval`` seconds, and once more when stopped.

    >>> pusher = OtlpMetricsPusher(metric_set, resource, interval=15.0)  # doctest: +SKIP
    >>> pusher.start(); pusher.shutdown()  # doctest: +SKIP
    """

    def __init__(
        self,
        metric_set: M.MetricSet,
        resource: ProcessResource,
        *,
        interval: float = 60.0,
        timeout: float = 30.0,
        exporter_factory: Callable[[], MetricExporter] | None = None,
    ) -> None:
        self._metrics = metric_set
        self._resource = resource
        self._interval = interval
        self._timeout = timeout
        self._factory = exporter_factory or (lambda: otlp_exporter("http/protobuf"))
        self._closed = False
        self._running = False
        self._reinit()
        ref = weakref.ref(self)

        def after_fork_in_child() -> None:
            current = ref()
            if current is not None:
                current._after_fork()

        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=after_fork_in_child)

    def _reinit(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._exporter: MetricExporter | None = None
        self._start_ns = time.time_ns()

    def start(self) -> None:
        """Start the push thread and the at-exit push."""
        self._running = True
        # Created now, not at the first push: at interpreter exit the exporters cannot be
        # built any more (the gRPC one starts threads).
        self._exporter = self._new_exporter()
        atexit.register(self._at_exit)
        # multiprocessing's children end in os._exit(), which skips atexit; they run the
        # multiprocessing finalizers instead (Pool workers recycled by maxtasksperchild).
        multiprocessing.util.register_after_fork(self, OtlpMetricsPusher._finalize_with_process)
        if multiprocessing.parent_process() is not None:  # configured in such a child
            self._finalize_with_process(self)
        self._start_thread()

    @staticmethod
    def _finalize_with_process(pusher: OtlpMetricsPusher) -> None:
        multiprocessing.util.Finalize(pusher, pusher.shutdown, exitpriority=10)

    def _new_exporter(self) -> MetricExporter | None:
        try:
            return self._factory()
        except Exception as exc:
            selfmonitor.report_internal_error("otlp_exporter", exc)
            return None

    def _start_thread(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="otel-perf-otlp-metrics", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.push()

    def push(self) -> bool:
        """Export the current values now; ``True`` when there was nothing to send or it was
        accepted. Never raises."""
        try:
            with self._lock:
                data = metrics_data(self._metrics, self._resource, self._start_ns, time.time_ns())
                if data is None:
                    return True
                if self._exporter is None:
                    return False
                with suppress_instrumentation():  # no client spans for our own requests
                    result = self._exporter.export(data, timeout_millis=self._timeout * 1000)
                return result is MetricExportResult.SUCCESS
        except Exception as exc:  # never into the host application
            selfmonitor.report_internal_error("otlp_push", exc)
            return False

    def shutdown(self) -> None:
        """Stop the thread, push one last time, close the exporter. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self._at_exit)
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self._timeout)
        if self._running:
            self.push()
        self._running = False
        exporter, self._exporter = self._exporter, None
        if exporter is not None:
            try:
                exporter.shutdown(timeout_millis=self._timeout * 1000)
            except Exception as exc:
                selfmonitor.report_internal_error("otlp_shutdown", exc)

    def _at_exit(self) -> None:
        self.shutdown()

    def _after_fork(self) -> None:
        # The parent's thread and lock holder do not exist here, and its connections are
        # not ours to use: the inherited exporter is dropped unclosed, a new one made.
        self._reinit()
        if self._running and not self._closed:
            self._exporter = self._new_exporter()
            self._start_thread()


def start(settings: Settings, metric_set: M.MetricSet, resource: ProcessResource) -> Any:
    """The running pusher when ``settings`` ask for OTLP metrics, else ``None``."""
    if "otlp" not in settings.metrics_exporter:
        return None
    protocol = settings.otlp_metrics_protocol
    pusher = OtlpMetricsPusher(
        metric_set,
        resource,
        interval=settings.metric_export_interval,
        timeout=settings.metric_export_timeout,
        exporter_factory=lambda: otlp_exporter(protocol),
    )
    pusher.start()
    return pusher


__all__ = ["UNITS", "OtlpMetricsPusher", "metrics_data", "otlp_exporter", "start"]
