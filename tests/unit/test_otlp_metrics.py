"""OTLP push: its settings, the store as OTLP data, names that survive the Prometheus
translation, and the pusher's flush, failure and fork behaviour."""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    Sum,
)
from prometheus_client import CollectorRegistry

import otel_perf
from otel_perf import metrics as M
from otel_perf import selfmonitor, tracking
from otel_perf.config import Settings
from otel_perf.otlp_metrics import UNITS, OtlpMetricsPusher, metrics_data
from otel_perf.resource import ProcessResource

SEC = 1_000_000_000


class RecordingExporter(MetricExporter):
    """A MetricExporter keeping what it is given (the OTLP wire is tested in integration)."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.batches: list[MetricsData] = []
        self.fail = fail
        self.closed = False

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kw: Any) -> Any:
        if self.fail:
            raise ConnectionError("collector down")
        self.batches.append(metrics_data)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kw: Any) -> None:
        self.closed = True


def _record(pipeline: Any) -> None:
    """Two generations with a known cost, a failed one, one render (explicit times)."""
    t = pipeline.tracer
    for i, (cost, seconds) in enumerate(((0.04, 7.0), (0.06, 0.3))):
        span = t.start_span(
            "generate_image flux",
            attributes={"otel_perf.operation": "generate_image", "gen_ai.request.model": "flux",
                        "otel_perf.cost.usd": cost, "otel_perf.project": "alpha"},
            start_time=(100 + i) * SEC,
        )  # fmt: skip
        span.end(end_time=int((100 + i + seconds) * SEC))
    failed = t.start_span(
        "generate_image flux",
        attributes={"otel_perf.operation": "generate_image", "gen_ai.request.model": "flux",
                    "error.type": "rate_limit"},
        start_time=200 * SEC,
    )  # fmt: skip
    from opentelemetry.trace import Status, StatusCode

    failed.set_status(Status(StatusCode.ERROR))
    failed.end(end_time=201 * SEC)


def _by_name(data: MetricsData) -> dict[str, Any]:
    (rm,) = data.resource_metrics
    (sm,) = rm.scope_metrics
    assert sm.scope.name == "otel_perf"
    return {m.name: m for m in sm.metrics}


# --- Settings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("prometheus", ("prometheus",)), ("otlp", ("otlp",)), ("none", ("prometheus",)),
     ("otlp,prometheus", ("otlp", "prometheus")), (" OTLP , prometheus ", ("otlp", "prometheus"))],
)  # fmt: skip
def test_metrics_exporter_values(raw: str, expected: tuple[str, ...]) -> None:
    assert Settings.resolve(env={"OTEL_METRICS_EXPORTER": raw}).metrics_exporter == expected
    assert Settings.resolve(env={}, metrics_exporter=raw).metrics_exporter == expected


def test_metrics_settings_defaults_and_environment() -> None:
    s = Settings.resolve(env={})
    assert (s.metrics_exporter, s.otlp_metrics_protocol) == (("prometheus",), "http/protobuf")
    assert (s.metric_export_interval, s.metric_export_timeout) == (60.0, 30.0)
    s = Settings.resolve(
        env={"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
             "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc",
             "OTEL_METRIC_EXPORT_INTERVAL": "1500", "OTEL_METRIC_EXPORT_TIMEOUT": "250"}
    )  # fmt: skip
    assert (s.otlp_metrics_protocol, s.metric_export_interval, s.metric_export_timeout) == (
        "grpc", 1.5, 0.25,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "raw", "field", "default"),
    [("OTEL_METRICS_EXPORTER", "console", "metrics_exporter", ("prometheus",)),
     ("OTEL_METRICS_EXPORTER", "otlp,none", "metrics_exporter", ("prometheus",)),
     ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json", "otlp_metrics_protocol", "http/protobuf"),
     ("OTEL_METRIC_EXPORT_INTERVAL", "0", "metric_export_interval", 60.0),
     ("OTEL_METRIC_EXPORT_TIMEOUT", "soon", "metric_export_timeout", 30.0)],
)  # fmt: skip
def test_bad_environment_values_are_logged_and_defaulted(
    caplog: pytest.LogCaptureFixture, name: str, raw: str, field: str, default: Any
) -> None:
    with caplog.at_level(logging.WARNING, logger="otel_perf"):
        s = Settings.resolve(env={name: raw})
    assert getattr(s, field) == default
    assert name in caplog.text and repr(raw) in caplog.text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"metrics_exporter": "otel"}, r"metrics_exporter: accepted values: prometheus, otlp"),
     ({"metrics_exporter": ["otlp", 3]}, "metrics_exporter"),
     ({"otlp_metrics_protocol": "http/json"}, "otlp_metrics_protocol: accepted values"),
     ({"metric_export_interval": 0}, "metric_export_interval"),
     ({"metric_export_timeout": "30"}, "metric_export_timeout")],
)  # fmt: skip
def test_bad_configure_arguments_raise_naming_the_setting(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        otel_perf.configure(registry=CollectorRegistry(), prometheus_port=None, **kwargs)


def test_otlp_only_starts_no_server_and_pushes_at_shutdown(monkeypatch: Any) -> None:
    """metrics_exporter="otlp": no /metrics server; shutdown() pushes the last values."""
    exporter = RecordingExporter()
    monkeypatch.setattr("otel_perf.otlp_metrics.otlp_exporter", lambda protocol: exporter)
    handle = otel_perf.configure(
        registry=CollectorRegistry(), prometheus_port=0, metrics_exporter="otlp",
        metric_export_interval=3600,
    )  # fmt: skip
    assert handle.metrics_url is None
    with tracking.track_generation("generate_image", model="flux", project="p") as h:
        h.set_cost(0.25)
    handle.shutdown()
    handle.shutdown()
    assert exporter.closed and len(exporter.batches) == 1
    cost = _by_name(exporter.batches[0])[M.COST_USD]
    assert [p.value for p in cost.data.data_points] == [0.25]


# --- The store as OTLP data --------------------------------------------------------------


def test_store_becomes_cumulative_otlp_with_the_same_values(pipeline: Any) -> None:
    """Counters -> monotonic cumulative Sums, histograms -> the same buckets, gauges -> Gauges."""
    _record(pipeline)
    assert pipeline.processor.metrics.pending, "updates are still queued: the push applies them"
    resource = ProcessResource("svc")
    data = metrics_data(pipeline.processor.metrics, resource, 5 * SEC, 10 * SEC)
    assert data is not None
    assert data.resource_metrics[0].resource.attributes["service.name"] == "svc"
    got = _by_name(data)
    for name, metric in got.items():
        assert metric.unit == UNITS[name]
    cost = got[M.COST_USD]
    assert isinstance(cost.data, Sum) and cost.data.is_monotonic
    assert cost.data.aggregation_temporality is AggregationTemporality.CUMULATIVE
    (point,) = cost.data.data_points
    assert point.value == pytest.approx(0.10) and point.start_time_unix_nano == 5 * SEC
    assert point.attributes["project"] == "alpha"
    assert point.value == pipeline.value(M.COST_USD, **point.attributes)  # as /metrics has it
    duration = got[M.OPERATION_DURATION]
    assert isinstance(duration.data, Histogram)
    by_status = {p.attributes["status"]: p for p in duration.data.data_points}
    ok = by_status["success"]
    bounds = pipeline.processor.metrics.duration.bounds
    assert tuple(ok.explicit_bounds) == bounds and len(ok.bucket_counts) == len(bounds) + 1
    assert (ok.count, ok.sum) == (2, pytest.approx(7.3))
    assert ok.bucket_counts[bounds.index(0.5)] == 1 and ok.bucket_counts[bounds.index(10.0)] == 1
    assert by_status["error"].count == 1
    errors = got[M.OPERATION_ERRORS].data.data_points
    assert [(p.attributes["error_type"], p.value) for p in errors] == [("rate_limit", 1.0)]
    in_progress = got[M.OPERATIONS_IN_PROGRESS]
    assert isinstance(in_progress.data, Gauge)
    assert {p.value for p in in_progress.data.data_points} == {0.0}


def test_empty_store_sends_nothing(registry: CollectorRegistry) -> None:
    metric_set = M.MetricSet(registry)
    assert metrics_data(metric_set, ProcessResource(None), 0, 1) is None


def test_self_metrics_are_pushed_too(pipeline: Any) -> None:
    selfmonitor.report_internal_error("test_stage")
    data = metrics_data(pipeline.processor.metrics, ProcessResource(None), 0, 1)
    assert data is not None
    points = _by_name(data)[M.INTERNAL_ERRORS].data.data_points
    assert [(p.attributes, p.value) for p in points] == [({"stage": "test_stage"}, 1.0)]


# --- Names through the Prometheus translation --------------------------------------------
#
# The rules of github.com/prometheus/otlptranslator (the Collector's prometheus and
# prometheusremotewrite exporters and Prometheus's own OTLP receiver share them), reduced
# to what decides a name: units map to words unless in braces, the unit word is appended
# unless already a token (escaping) or a suffix (no escaping), `_total` for monotonic sums,
# `_ratio` for unit "1" gauges.
_UNIT_WORDS = {"s": "seconds", "ms": "milliseconds", "By": "bytes", "1": "", "%": "percent"}


def _translated(name: str, unit: str, kind: str, strategy: str) -> str:
    word = "" if "{" in unit else _UNIT_WORDS.get(unit, unit)
    if strategy == "UnderscoreEscapingWithSuffixes":
        tokens = [t for t in re.split(r"[^a-zA-Z0-9:]+", name) if t]
        if word and word not in tokens:
            tokens.append(word)
        if kind == "counter":
            tokens = [t for t in tokens if t != "total"] + ["total"]
        if unit == "1" and kind == "gauge":
            tokens = [t for t in tokens if t != "ratio"] + ["ratio"]
        return "_".join(tokens)
    if strategy == "NoUTF8EscapingWithSuffixes":
        suffixes = []
        if unit == "1" and kind == "gauge":
            name, suffixes = name.removesuffix("_ratio"), ["ratio"]
        if kind == "counter":
            name, suffixes = name.removesuffix("_total"), ["total", *suffixes]
        if word and not name.endswith(word):
            name += "_" + word
        return "_".join([name, *suffixes])
    return name  # the strategies without suffixes keep a name that is already escaped


@pytest.mark.parametrize(
    "strategy",
    ["UnderscoreEscapingWithSuffixes", "UnderscoreEscapingWithoutSuffixes",
     "NoUTF8EscapingWithSuffixes", "NoTranslation"],
)  # fmt: skip
@pytest.mark.parametrize("spec", M.SPECS, ids=lambda s: s.name)
def test_pushed_names_arrive_as_the_contract_names(spec: M.MetricSpec, strategy: str) -> None:
    assert _translated(spec.name, UNITS[spec.name], spec.kind, strategy) == spec.name


def test_every_pushed_metric_has_a_unit() -> None:
    names: Sequence[str] = [s.name for s in M.SPECS]
    names = [*names, M.SERIES_OVERFLOW, M.INTERNAL_ERRORS, M.INVALID_VALUES]
    assert set(UNITS) == set(names)


# --- The pusher --------------------------------------------------------------------------


def test_pusher_failures_never_raise_and_are_counted(pipeline: Any) -> None:
    _record(pipeline)
    exporter = RecordingExporter(fail=True)
    pusher = OtlpMetricsPusher(
        pipeline.processor.metrics, ProcessResource(None), interval=3600,
        exporter_factory=lambda: exporter,
    )  # fmt: skip
    pusher.start()
    assert pusher.push() is False
    pusher.shutdown()
    assert selfmonitor.internal_error_counts().get("otlp_push", 0) >= 2


def test_pusher_pushes_every_interval(pipeline: Any) -> None:
    _record(pipeline)
    exporter = RecordingExporter()
    pushed = threading.Event()
    original = exporter.export

    def export(data: MetricsData, timeout_millis: float = 10_000, **kw: Any) -> Any:
        result = original(data, timeout_millis)
        if len(exporter.batches) >= 2:
            pushed.set()
        return result

    exporter.export = export  # type: ignore[method-assign]
    pusher = OtlpMetricsPusher(
        pipeline.processor.metrics, ProcessResource(None), interval=0.01,
        exporter_factory=lambda: exporter,
    )  # fmt: skip
    pusher.start()
    assert pushed.wait(30)
    pusher.shutdown()
    starts = {
        p.start_time_unix_nano
        for batch in exporter.batches
        for p in _by_name(batch)[M.COST_USD].data.data_points
    }
    assert len(starts) == 1  # one cumulative stream


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.e2e
def test_forked_child_gets_its_own_identity_exporter_and_thread(pipeline: Any) -> None:
    """A forked child: new service.instance.id, new start time, new exporter, a push thread."""
    made: list[RecordingExporter] = []

    def factory() -> RecordingExporter:
        made.append(RecordingExporter())
        return made[-1]

    resource = ProcessResource("svc")
    pusher = OtlpMetricsPusher(
        pipeline.processor.metrics, resource, interval=3600, exporter_factory=factory
    )
    pusher.start()
    parent_id = resource.attributes["service.instance.id"]
    parent_start = pusher._start_ns
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child reports and leaves without running pytest's teardown
        ok = (
            resource.attributes["service.instance.id"] != parent_id
            and pusher._start_ns > parent_start
            and len(made) == 2
            and pusher._thread is not None
            and pusher._thread.is_alive()
        )
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.close(read)
    os.waitpid(pid, 0)
    pusher.shutdown()
    assert answer == b"1"
    assert resource.attributes["service.instance.id"] == parent_id
