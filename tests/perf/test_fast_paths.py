"""The shortcuts the hot path takes give the same results as the plain way."""

from __future__ import annotations

import copy

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from prometheus_client import CollectorRegistry, Histogram

import otel_perf
from otel_perf import attributes as A
from otel_perf import processor as processor_module
from otel_perf import sdk_access
from otel_perf.config import Settings
from otel_perf.metrics import MetricSet, duration_buckets
from otel_perf.pricing import NO_USAGE, PriceTable, Usage
from otel_perf.processor import PerformanceSpanProcessor
from otel_perf.tracking import track


def _varied_spans(pipeline) -> list[ReadableSpan]:  # type: ignore[no-untyped-def]
    for i in range(30):
        with otel_perf.track_generation(
            "generate_image", model=("flux", "imagen", "mystery")[i % 3], provider="p"
        ) as op:
            if i % 4 == 0:
                op.fail("timeout")
            if i % 5 == 0:
                op.set_retry_attempt(2)
                op.set_queue_wait(3.0)
        with otel_perf.track_api_call("/api/x") as call:
            call.set_status_code((200, 503)[i % 2])
        with otel_perf.track_render("still", template_id=f"t{i % 2}") as render:
            if i % 3 == 0:
                render.fail("codec_error")
    for name, attrs in (
        ("chat", {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"}),
        ("x", {"otel_perf.operation": "generate_music", "otel_perf.outcome": "cancelled"}),
    ):
        pipeline.tracer.start_span(name, attributes=attrs).end()
    return list(pipeline.spans())


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in registry.collect()
        if f.name.startswith("otel_perf_")
        for s in f.samples
    }


class _OtherSpan(ReadableSpan):
    """Not exactly the SDK's ReadableSpan: the processor reads it through public properties."""


def test_sdk_layout_is_recognised():
    """On the SDK this package supports, on_end reads span fields directly."""
    assert sdk_access.FIELDS_READABLE is True


def test_direct_field_reads_equal_public_property_reads(pipeline):
    """The same spans through the fast and the public-property path give the same metrics."""
    spans = _varied_spans(pipeline)
    settings = Settings.resolve(env={})
    fast_registry, slow_registry = CollectorRegistry(), CollectorRegistry()
    fast = PerformanceSpanProcessor(registry=fast_registry, settings=settings)
    slow = PerformanceSpanProcessor(registry=slow_registry, settings=settings)
    for span in spans:
        fast.on_end(span)
        other = copy.copy(span)
        other.__class__ = _OtherSpan
        slow.on_end(other)
    fast_samples = _samples(fast_registry)
    assert len(fast_samples) > 50
    assert fast_samples == _samples(slow_registry)


def test_route_cache_bound_keeps_results_right(make_pipeline, monkeypatch):
    """With the route cache emptied every few spans, totals are still exact."""
    monkeypatch.setattr(processor_module, "MAX_ROUTES", 3)
    pipeline = make_pipeline()
    models = [f"m{i % 7}" for i in range(70)]
    for model in models:
        with otel_perf.track_generation("generate_image", model=model):
            pass
    assert len(pipeline.processor._routes) <= 3
    for i in range(7):
        labels = {"operation": "generate_image", "model": f"m{i}", "provider": "", "project": ""}
        unpriced = {"operation": "generate_image", "model": f"m{i}"}
        assert pipeline.value("otel_perf_unpriced_operations_total", **unpriced) == 10
        assert (
            pipeline.value("otel_perf_operation_duration_seconds_count", **labels, status="success")
            == 10
        )


@pytest.mark.parametrize(
    "value", [0.0, 0.05, 0.050000001, 1.0, 2.9999, 3.0, 3.0001, 59.9, 3600.0, 3600.1, 1e9]
)
def test_histogram_buckets_match_prometheus_client(value):
    """A value lands in the same `le` buckets as prometheus_client's Histogram puts it."""
    buckets = duration_buckets([3.0, 5.0])
    reference = Histogram("ref", "ref", buckets=buckets, registry=CollectorRegistry())
    reference.observe(value)
    metrics = MetricSet(CollectorRegistry(), thresholds=[3.0, 5.0])
    metrics.duration.child(("op", "m", "p", "success", "")).observe(value)

    def buckets_of(registry_samples, name):  # type: ignore[no-untyped-def]
        return [(s.labels["le"], s.value) for s in registry_samples if s.name == name]

    ours = [s for f in metrics.duration.collect() for s in f.samples]
    theirs = [s for f in reference.collect() for s in f.samples]
    assert buckets_of(ours, "otel_perf_operation_duration_seconds_bucket") == buckets_of(
        theirs, "ref_bucket"
    )


def test_generation_template_cache_gives_the_same_span(pipeline):
    """A cached track_generation() starts the same span as an uncached one."""
    with otel_perf.track_generation("generate_image", model="Flux", provider="bfl", project="p"):
        pass
    with otel_perf.track_generation("generate_image", model="Flux", provider="bfl", project="p"):
        pass
    with otel_perf.track_generation(
        "generate_image", model="Flux", provider="bfl", project="p", attributes={}
    ):
        pass  # attributes given: never cached
    first, second, uncached = pipeline.spans()
    assert dict(first.attributes) == dict(second.attributes) == dict(uncached.attributes)
    assert first.name == second.name == uncached.name == "generate_image Flux"
    assert track._generation_templates  # the first call was cached


def test_unhashable_model_is_tracked_not_raised(pipeline):
    """A model that cannot be a cache key still works: it is built every time."""
    with otel_perf.track_generation("generate_image", model=["odd"]):  # type: ignore[arg-type]
        pass
    (span,) = pipeline.spans()
    assert span.attributes[A.GEN_AI_REQUEST_MODEL] == "['odd']"


def test_no_usage_estimate_is_cached_and_equal():
    """The cached estimate for no recorded usage is the computed one."""
    table = PriceTable.bundled()
    first = table.estimate("generate_image", "flux")
    assert table.estimate("generate_image", "flux") is first
    assert first == table.estimate("generate_image", "flux", Usage())  # uncached path
    assert table.estimate("generate_image", "unknown-model", NO_USAGE).source == "unpriced"


def test_in_progress_counts_running_spans(pipeline):
    """The in-progress gauge is the number of started, unfinished spans per operation."""
    spans = [
        pipeline.tracer.start_span("r", attributes={A.OPERATION: "render_video"}) for _ in range(3)
    ]
    gauge = "otel_perf_operations_in_progress"
    assert pipeline.value(gauge, operation="render_video") == 3
    spans[0].end()
    spans[1].end()
    assert pipeline.value(gauge, operation="render_video") == 1
    spans[2].end()
    assert pipeline.value(gauge, operation="render_video") == 0


def test_in_progress_past_the_limit_folds_and_counts(make_pipeline):
    """With a tiny limit, in-progress operations fold into __overflow__ and are counted."""
    pipeline = make_pipeline(cardinality_limit=2)
    kinds = ("render_video", "render_still", "api_call")
    spans = [pipeline.tracer.start_span("r", attributes={A.OPERATION: op}) for op in kinds]
    gauge = "otel_perf_operations_in_progress"
    assert pipeline.value(gauge, operation="render_video") == 1
    assert pipeline.value(gauge, operation="__overflow__") == 2
    overflow = "otel_perf_series_overflow_total"
    assert pipeline.value(overflow, metric=gauge) == 2
    for span in spans:
        span.end()
    assert pipeline.value(gauge, operation="__overflow__") == 0


def test_series_api_fails_fast_on_misuse():
    """Negative counter increments and wrong label counts raise, like prometheus_client."""
    metrics = MetricSet(CollectorRegistry())
    with pytest.raises(ValueError):
        metrics.retries.child(("generate_image", "")).inc(-1)
    with pytest.raises(ValueError):
        metrics.retries.child(("generate_image",))
    gauge = metrics.consecutive_api_errors.child(("/x",))
    gauge.inc()
    gauge.inc()
    gauge.dec()
    assert gauge.get() == 1
    gauge.set(0)
    assert gauge.get() == 0


def test_second_metric_set_in_one_registry_is_refused_cleanly():
    """Registering twice raises and leaves the first set's metrics in place."""
    registry = CollectorRegistry()
    first = MetricSet(registry)
    first.retries.child(("generate_image", "")).inc()
    with pytest.raises(ValueError):
        MetricSet(registry)
    assert (
        registry.get_sample_value(
            "otel_perf_retries_total", {"operation": "generate_image", "project": ""}
        )
        == 1
    )


def test_local_stats_read_the_new_series(registry):
    """stats() (TRACK-008 parity) still sums the counters."""
    otel_perf.configure(registry=registry, prometheus_port=None)
    with pytest.raises(RuntimeError):
        with otel_perf.track_render("still"):
            raise RuntimeError("Composition not found")
    with otel_perf.track_api_call("/api/x") as call:
        call.set_status_code(500)
    current = otel_perf.stats()
    assert current.renders_failed == 1
    assert current.api_errors == 1
    assert current.total_errors == 2


def test_open_span_table_is_bounded(make_pipeline, monkeypatch):
    """Spans that never end cannot grow the open-span table past its bound."""
    monkeypatch.setattr(processor_module, "MAX_OPEN_SPANS", 3)
    pipeline = make_pipeline()
    for _ in range(10):
        pipeline.tracer.start_span("leak", attributes={A.OPERATION: "render_video"})
    assert len(pipeline.processor._in_flight) == 3
    assert pipeline.value("otel_perf_operations_in_progress", operation="render_video") == 3


def test_cost_estimate_is_on_the_span_only_for_successes(pipeline):
    """The processor writes the estimate on successful generations, never on failed or
    cancelled ones."""
    assert sdk_access.CAN_ANNOTATE is True  # the SDK this package supports allows it
    with otel_perf.track_generation("generate_image", model="flux") as op:
        op.fail("rate_limit")
    with pytest.raises(KeyboardInterrupt):
        with otel_perf.track_generation("generate_image", model="flux"):
            raise KeyboardInterrupt
    with otel_perf.track_generation("generate_image", model="flux") as op:
        op.set_usage(images=4)
    with otel_perf.track_generation("generate_image", model="flux"):
        pass
    failed, cancelled, four, plain = pipeline.spans()
    for span in (failed, cancelled):
        assert A.COST_USD not in span.attributes and A.COST_SOURCE not in span.attributes
    assert four.attributes[A.COST_USD] == pytest.approx(0.1)  # 4 x Flux Dev $0.025
    assert plain.attributes[A.COST_USD] == 0.025
    assert plain.attributes[A.COST_SOURCE] == "estimated"
    cost = {"operation": "generate_image", "model": "flux", "provider": "", "project": ""}
    assert pipeline.value("otel_perf_cost_usd_total", **cost) == pytest.approx(0.125)


def test_decorator_made_before_configure_uses_the_configured_prices(registry):
    """A tracker built at import time, before configure(pricing=...), costs by the new table."""

    @otel_perf.track_generation("generate_image", model="flux")
    def draw() -> None:
        pass

    otel_perf.configure(
        registry=registry,
        prometheus_port=None,
        pricing={"models": {"flux": {"per_image": 0.5}}},
    )
    draw()
    labels = {"operation": "generate_image", "model": "flux", "provider": "", "project": ""}
    assert registry.get_sample_value("otel_perf_cost_usd_total", labels) == 0.5
